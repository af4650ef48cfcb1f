package redis_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/cachetest"
	redisstore "github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/coordinator"
	"github.com/e6coord/e6coord/coordinator/coordinatortest"
)

// Coordinators on hosts whose clocks are 30 s ahead of and behind the Redis
// server's share one scope through Redis: the record's times are the
// server's, a Drain switch waits for the slow host's live pin however
// skewed the host judging its timeout, and the pin outlives every host's
// idea of its lease.
func TestCoordinatorsWithSkewedClocks(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	m := miniredis.RunT(t)
	clock := cachetest.NewClock(t0)
	clock.OnSet(m.SetTime)
	m.SetTime(t0)
	scope := cache.Scope{Cluster: "skew", Engine: "engine:1"}

	var mu sync.Mutex
	accept := map[cache.Strategy]bool{cache.Blue: true}
	probe := func(_ context.Context, s cache.Strategy) error {
		mu.Lock()
		defer mu.Unlock()
		if !accept[s] {
			return coordinator.ErrWrongStrategy
		}
		return nil
	}
	open := func(skew time.Duration) *coordinator.Coordinator {
		c := goredis.NewClient(&goredis.Options{Addr: m.Addr(), ContextTimeoutEnabled: true})
		st := redisstore.New(c, redisstore.Options{})
		co, err := coordinator.New(st, probe, coordinator.Config{
			Scope: scope, Policy: coordinator.Drain, DrainTimeout: time.Minute, PinTTL: 5 * time.Minute,
			RefreshInterval: -1,
			Now:             func() time.Time { return clock.Now().Add(skew) },
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			co.Close()
			st.Close()
			c.Close()
		})
		return co
	}
	fast, slow, exact := open(30*time.Second), open(-30*time.Second), open(0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if s, err := slow.Resolve(ctx); err != nil || s != cache.Blue {
		t.Fatalf("slow.Resolve() = %v, %v", s, err)
	}
	if got := slow.Snapshot().ConfirmedAt; !got.Equal(t0) {
		t.Errorf("ConfirmedAt stamped by the slow host = %v, want the server's %v", got, t0)
	}
	if err := slow.Pin("q", cache.Blue); err != nil {
		t.Fatal(err)
	}
	if err := coordinatortest.Sync(ctx, slow); err != nil { // the pin is written in the background
		t.Fatal(err)
	}
	mu.Lock()
	accept[cache.Green] = true
	mu.Unlock()
	slow.Announce("green")
	st, err := coordinatortest.WaitFor(ctx, slow, func(st cache.State) bool { return st.Pending == cache.Green && !st.AcceptedAt.IsZero() })
	if err != nil {
		t.Fatalf("green not accepted: %v (%s)", err, st)
	}
	if !st.AcceptedAt.Equal(t0) {
		t.Errorf("AcceptedAt stamped by the slow host = %v, want the server's %v", st.AcceptedAt, t0)
	}

	// 40 s on by the server's clock: by its own, the fast host is 70 s past
	// the slow host's acceptance, beyond DrainTimeout.
	clock.Advance(40 * time.Second)
	for _, c := range []*coordinator.Coordinator{fast, exact, slow} {
		if err := coordinatortest.Refresh(ctx, c); err != nil {
			t.Fatal(err)
		}
		if st := c.Snapshot(); st.Active != cache.Blue || st.Pending != cache.Green {
			t.Fatalf("after 40 s with a live pin: %s; want blue held by the drain", st)
		}
	}
	slow.Release("q")
	if err := coordinatortest.Sync(ctx, slow); err != nil {
		t.Fatal(err)
	}
	if err := coordinatortest.Refresh(ctx, fast); err != nil {
		t.Fatal(err)
	}
	if st, err := coordinatortest.WaitFor(ctx, slow, func(st cache.State) bool { return st.Active == cache.Green }); err != nil {
		t.Fatalf("green not active after the pin went: %v (%s)", err, st)
	}
}
