package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	redisstore "github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/coordinator/coordinatortest"
	"github.com/e6coord/e6coord/internal/redistest"
)

// commandCounter counts the commands a go-redis client sends.
type commandCounter struct {
	mu         sync.Mutex
	names      map[string]int
	total      int
	heartbeats int // the watch's own PUBLISHes, which no call makes
}

func (c *commandCounter) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (c *commandCounter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		c.add(cmd)
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		for _, cmd := range cmds {
			c.add(cmd)
		}
		return next(ctx, cmds)
	}
}

// add counts cmd, but for the heartbeats the store's watch publishes on a
// channel of its own every HeartbeatInterval, whatever the calls do.
func (c *commandCounter) add(cmd goredis.Cmder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if args := cmd.Args(); (cmd.Name() == "publish" || cmd.Name() == "spublish") && len(args) > 1 &&
		strings.Contains(fmt.Sprint(args[1]), ":heartbeat:") {
		c.heartbeats++
		return
	}
	c.names[cmd.Name()]++
	c.total++
}

func (c *commandCounter) take() (int, map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	total, names := c.total, c.names
	c.total, c.names = 0, map[string]int{}
	return total, names
}

// TestRedisCommandsPerQuery counts the Redis commands of a query (at most
// one to pin it and one to release it, shared with the queries pinned and
// released meanwhile) and of a call not tied to a query, or of any call of
// a query but those two (none).
func TestRedisCommandsPerQuery(t *testing.T) {
	redistest.Require(t)
	r := redistest.Start(t)
	srv := newEngine(t, enginetest.Overlap, 0)
	counter := &commandCounter{names: map[string]int{}}
	rdb := goredis.NewClient(&goredis.Options{Addr: r.Addr(), ContextTimeoutEnabled: true})
	rdb.AddHook(counter)
	store := redisstore.New(rdb, redisstore.Options{})
	t.Cleanup(func() {
		store.Close()
		rdb.Close()
	})
	conn := openConn(t, srv, "", func(cfg *client.Config) {
		cfg.Store = store
		cfg.Coordination.RefreshInterval = -1 // no background refresh in the count
		cfg.Coordination.PinTTL = time.Hour   // no renewal in the count
	})
	ctx := context.Background()
	query := func() {
		rows, err := conn.Query(ctx, "SELECT * FROM demo.numbers")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next(ctx) {
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	sync := func() {
		if err := coordinatortest.Sync(ctx, conn.Coordinator()); err != nil { // pins are written in the background
			t.Fatal(err)
		}
	}
	query() // detection, script loading
	sync()
	counter.take()

	const n = 100
	before := srv.Counts().Calls
	for range n {
		query()
	}
	calls := srv.Counts().Calls - before
	sync()
	total, names := counter.take()
	t.Logf("%d queries (%d engine calls): %d Redis commands %v, %.2f per query, %.2f per call beyond pin and release",
		n, calls, total, names, float64(total)/n, float64(total-2*n)/float64(calls))
	if total > 2*n {
		t.Errorf("%d commands for %d queries, want at most 2 per query", total, n)
	}

	for range n {
		if _, err := conn.Schemas(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if total, names := counter.take(); total != 0 {
		t.Errorf("%d calls not tied to a query sent %d Redis commands %v, want none", n, total, names)
	}
}
