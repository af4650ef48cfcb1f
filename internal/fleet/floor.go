package fleet

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	redisstore "github.com/e6coord/e6coord/cache/redis"
)

// subscribeFloor subscribes to cfg.FloorChannel with a go-redis client of
// cfg.FloorURL (no coordinator, no store: the floor of a pub/sub hop) and
// calls seen with each message's payload, a unix time in nanoseconds, and
// the time it arrived. The subscription is made when it returns. publish
// sends the time now to the channel, from a goroutine of its own; stop
// ends the subscription.
func subscribeFloor(ctx context.Context, cfg Config, seen func(sent, at int64)) (publish, stop func(), err error) {
	rdb, err := redisstore.OpenClient(cfg.FloorURL)
	if err != nil {
		return nil, nil, fmt.Errorf("fleet: floor subscriber: %w", err)
	}
	sub := rdb.Subscribe(ctx, cfg.FloorChannel)
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := sub.Receive(sctx); err != nil { // the subscription's confirmation
		sub.Close()
		rdb.Close()
		return nil, nil, fmt.Errorf("fleet: floor subscriber: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range sub.Channel(goredis.WithChannelSize(1024)) {
			at := time.Now().UnixNano()
			if sent, err := strconv.ParseInt(m.Payload, 10, 64); err == nil {
				seen(sent, at)
			}
		}
	}()
	var pubs sync.WaitGroup
	publish = func() {
		at := strconv.FormatInt(time.Now().UnixNano(), 10)
		pubs.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			_ = rdb.Publish(pctx, cfg.FloorChannel, at).Err() // a lost one is a missing sample
		})
	}
	return publish, func() {
		pubs.Wait()
		sub.Close()
		<-done
		rdb.Close()
	}, nil
}

// commandCounter is a go-redis hook that counts the commands a client
// sends: a script is one command, whatever it runs on the server.
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (c *commandCounter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// openCounted opens the Redis store of rawURL, as client.Open does, on a
// client that counts its commands; close closes both.
func openCounted(rawURL string) (store *redisstore.Store, counter *commandCounter, close func(), err error) {
	rdb, err := redisstore.OpenClient(rawURL)
	if err != nil {
		return nil, nil, nil, err
	}
	counter = &commandCounter{}
	rdb.AddHook(counter)
	store = redisstore.New(rdb, redisstore.Options{})
	return store, counter, func() {
		store.Close()
		rdb.Close()
	}, nil
}

// count returns the commands counted; 0 for a nil counter.
func (c *commandCounter) count() int64 {
	if c == nil {
		return 0
	}
	return c.n.Load()
}
