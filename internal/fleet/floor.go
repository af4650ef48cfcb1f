package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/e6coord/e6coord/cache"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	redisstore "github.com/e6coord/e6coord/cache/redis"
)

// subscribeFloor subscribes to channel, the channel on which the store's
// compare-and-swap publishes a scope's record, with a client of its own
// made from rawURL: no coordinator and no store, only go-redis, the floor
// of the hop a switch makes to this process. It calls seen with each
// record's generation and the time the message arrived, taken as the
// subscription's read returns, on the goroutine that reads the
// connection. The subscription is confirmed when subscribeFloor returns;
// stop ends it.
func subscribeFloor(ctx context.Context, rawURL, channel string, seen func(gen uint64, at int64)) (stop func(), err error) {
	rdb, err := redisstore.OpenClient(rawURL)
	if err != nil {
		return nil, fmt.Errorf("fleet: floor subscriber: %w", err)
	}
	var sub *goredis.PubSub
	if cc, ok := rdb.(*goredis.ClusterClient); ok {
		sub = cc.SSubscribe(ctx, channel) // the store publishes with SPUBLISH on a cluster
	} else {
		sub = rdb.Subscribe(ctx, channel)
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := sub.Receive(sctx); err != nil { // the subscription's confirmation: the connection is dialled
		sub.Close()
		rdb.Close()
		return nil, fmt.Errorf("fleet: floor subscriber: %w", err)
	}
	rctx, stopReading := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		failures := 0
		for {
			m, err := sub.ReceiveMessage(rctx)
			at := time.Now().UnixNano()
			if err != nil {
				if rctx.Err() != nil {
					return
				}
				// go-redis reconnects the subscription; while Redis is
				// down, each attempt waits a backoff.
				failures++
				t := time.NewTimer(cache.Backoff(failures-1, 10*time.Millisecond, time.Second))
				select {
				case <-t.C:
				case <-rctx.Done():
					t.Stop()
					return
				}
				continue
			}
			failures = 0
			var rec struct {
				Generation uint64 `json:"generation"`
			}
			if json.Unmarshal([]byte(m.Payload), &rec) == nil && rec.Generation > 0 {
				seen(rec.Generation, at)
			}
		}
	}()
	return func() {
		stopReading()
		sub.Close()
		<-done
		rdb.Close()
	}, nil
}

// commandCounter is a go-redis hook that counts the commands a client
// sends (a script is one command, whatever it runs on the server), and
// notes when each compare-and-swap on its channel is sent.
type commandCounter struct {
	n atomic.Int64

	// channel is the scope's channel, the last argument of the store's
	// compare-and-swap script; empty until set.
	channel atomic.Pointer[string]
	mu      sync.Mutex
	casSent map[uint64]int64 // the new generation of a swap: when it was last sent, unix ns
}

func (c *commandCounter) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (c *commandCounter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		c.n.Add(1)
		c.noteSwap(cmd.Args())
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		for _, cmd := range cmds {
			c.noteSwap(cmd.Args())
		}
		return next(ctx, cmds)
	}
}

// noteSwap notes the time now under the new generation if args are those
// of the store's compare-and-swap script (EVALSHA or EVAL, whose
// arguments end with the new generation, the record and the channel).
func (c *commandCounter) noteSwap(args []any) {
	ch := c.channel.Load()
	if ch == nil || len(args) < 4 {
		return
	}
	if last, ok := args[len(args)-1].(string); !ok || last != *ch {
		return
	}
	now := time.Now().UnixNano()
	s, ok := args[len(args)-3].(string)
	if !ok {
		return
	}
	gen, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return
	}
	c.mu.Lock()
	if c.casSent == nil {
		c.casSent = map[uint64]int64{}
	}
	c.casSent[gen] = now
	c.mu.Unlock()
}

// sentAt returns when the swap to generation gen was last sent, unix ns;
// 0 if it was not, or for a nil counter.
func (c *commandCounter) sentAt(gen uint64) int64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.casSent[gen]
}

// openCounted opens the Redis store of rawURL, as client.Open does, on a
// client that counts its commands. Closing the store closes the client.
func openCounted(rawURL string) (store *redisstore.Store, counter *commandCounter, err error) {
	store, err = redisstore.Open(rawURL, redisstore.Options{})
	if err != nil {
		return nil, nil, err
	}
	counter = &commandCounter{}
	store.Client().AddHook(counter)
	return store, counter, nil
}

// count returns the commands counted; 0 for a nil counter.
func (c *commandCounter) count() int64 {
	if c == nil {
		return 0
	}
	return c.n.Load()
}
