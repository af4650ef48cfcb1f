package redis_test

import (
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/internal/redistest"
)

// silentDropBudget is DESIGN.md's bound on detecting a silent network drop.
const silentDropBudget = 2 * time.Second

// waitTimeout bounds every wait for a watch event or close.
const waitTimeout = 5 * time.Second

// wantEvent fails the test unless the next value of ch, within
// waitTimeout, is a record of generation gen.
func wantEvent(t *testing.T, ch <-chan cache.State, gen uint64) {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case st, ok := <-ch:
		if !ok {
			t.Fatalf("watch channel closed, want generation %d", gen)
		}
		if st.Generation != gen {
			t.Fatalf("watch sent generation %d (%v), want %d", st.Generation, st, gen)
		}
	case <-timer.C:
		t.Fatalf("no watch event within %v, want generation %d", waitTimeout, gen)
	}
}

// waitClosed fails the test unless ch is closed within waitTimeout, and
// returns when it was seen closed.
func waitClosed(t *testing.T, ch <-chan cache.State) time.Time {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case st, ok := <-ch:
			if !ok {
				return time.Now()
			}
			t.Logf("watch sent %v before closing", st)
		case <-timer.C:
			t.Fatalf("watch channel not closed within %v", waitTimeout)
			return time.Time{}
		}
	}
}

// TestWatchLostConnection checks that a watch whose connection goes silent
// (a network drop that closes nothing, or a hung server) or fails closes its
// channel, with the default heartbeat. How soon, by the wall clock, is
// logged: TestWatchHeartbeatUnheard checks the deadline on a clock of its
// own.
func TestWatchLostConnection(t *testing.T) {
	redistest.Require(t)
	for _, tt := range []struct {
		name  string
		fault func(*redistest.Server, *redistest.Proxy)
	}{
		{"fault=network-drop", func(_ *redistest.Server, p *redistest.Proxy) { p.Cut() }},
		{"fault=server-paused", func(srv *redistest.Server, _ *redistest.Proxy) { srv.Pause() }},
		{"fault=server-killed", func(srv *redistest.Server, _ *redistest.Proxy) { srv.Kill() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			srv := redistest.Start(t)
			p := redistest.NewProxy(t, srv.Addr())
			c := goredis.NewClient(&goredis.Options{Addr: p.Addr(), ContextTimeoutEnabled: true})
			defer c.Close()
			s := redis.New(c, redis.Options{})
			defer s.Close()

			ch, err := s.Watch(ctx, scope)
			if err != nil {
				t.Fatalf("Watch() error = %v", err)
			}
			if _, err := s.CompareAndSwap(ctx, scope, 0, cache.State{Active: cache.Blue, Generation: 1}); err != nil {
				t.Fatalf("CompareAndSwap() error = %v", err)
			}
			wantEvent(t, ch, 1)

			start := time.Now()
			tt.fault(srv, p)
			d := waitClosedWithin(t, ch, 10*silentDropBudget).Sub(start)
			t.Logf("watch closed %v after the fault (budget %v, heartbeat timeout %v)",
				d.Round(time.Millisecond), silentDropBudget, redis.DefaultHeartbeatTimeout)
		})
	}
}

// waitClosedWithin is waitClosed with a deadline of d.
func waitClosedWithin(t *testing.T, ch <-chan cache.State, d time.Duration) time.Time {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case st, ok := <-ch:
			if !ok {
				return time.Now()
			}
			t.Logf("watch sent %v before closing", st)
		case <-timer.C:
			t.Fatalf("watch channel not closed within %v", d)
			return time.Time{}
		}
	}
}

// TestWatchHeartbeatKeepsIdleWatch checks that its heartbeats keep a
// healthy idle subscription alive far beyond the heartbeat timeout. The
// watch's clock is the test's: it advances by one interval once the
// heartbeat of the last has been heard, twenty times, five heartbeat
// timeouts in all, so that the load of the machine cannot make a heartbeat
// late.
func TestWatchHeartbeatKeepsIdleWatch(t *testing.T) {
	backends(t, func(t *testing.T, c *goredis.Client) {
		ctx := t.Context()
		const interval, timeout = 10 * time.Millisecond, 40 * time.Millisecond
		s := redis.New(c, redis.Options{HeartbeatInterval: interval, HeartbeatTimeout: timeout, Timeout: waitTimeout})
		defer s.Close()
		ch := idleThroughHeartbeats(t, s, scope, interval)
		if _, err := s.CompareAndSwap(ctx, scope, 0, cache.State{Active: cache.Green, Generation: 1}); err != nil {
			t.Fatalf("CompareAndSwap() error = %v", err)
		}
		wantEvent(t, ch, 1)
	})
}

// idleThroughHeartbeats opens a watch of scope on s, on a fake watch
// clock, and moves the clock one interval at a time, twenty times, each
// step once the heartbeat of the step before was published and heard; the
// idle watch must send nothing meanwhile. It returns the watch's channel.
func idleThroughHeartbeats(t *testing.T, s *redis.Store, sc cache.Scope, interval time.Duration) <-chan cache.State {
	t.Helper()
	clk, tr := newFakeClock(), newWatchTrace(t)
	redis.SetWatchClock(s, clk)
	redis.SetWatchHook(s, tr.hook)
	ch, err := s.Watch(t.Context(), sc)
	if err != nil {
		t.Fatalf("Watch() error = %v", err)
	}
	tr.want("published") // Watch returns once the first one is heard
	tr.want("heard")
	for i := range 20 {
		clk.Advance(interval)
		tr.want("published")
		tr.want("heard")
		select {
		case st, ok := <-ch:
			t.Fatalf("idle watch sent %v (open: %v) after %v, want nothing", st, ok, time.Duration(i+1)*interval)
		default:
		}
	}
	return ch
}

// TestWatchSkipsStaleAndBadMessages publishes, between two swaps, messages
// no watcher may deliver: an older generation, the same one, garbage, and
// an invalid colour.
func TestWatchSkipsStaleAndBadMessages(t *testing.T) {
	backends(t, func(t *testing.T, c *goredis.Client) {
		ctx := t.Context()
		s := redis.New(c, redis.Options{})
		defer s.Close()
		ch, err := s.Watch(ctx, scope)
		if err != nil {
			t.Fatalf("Watch() error = %v", err)
		}
		if _, err := s.CompareAndSwap(ctx, scope, 0, cache.State{Active: cache.Blue, Generation: 5}); err != nil {
			t.Fatalf("CompareAndSwap() error = %v", err)
		}
		wantEvent(t, ch, 5)
		channel := "e6coord:{c/e:1}:events"
		for _, msg := range []string{
			`{"active":"green","generation":3}`,
			`{"active":"green","generation":5}`,
			`not json`,
			`{"active":"purple","generation":100}`,
		} {
			if err := c.Publish(ctx, channel, msg).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.CompareAndSwap(ctx, scope, 5, cache.State{Active: cache.Green, Generation: 6}); err != nil {
			t.Fatalf("CompareAndSwap() error = %v", err)
		}
		wantEvent(t, ch, 6)
	})
}

// TestWatchNewestWins checks that a reader that does not keep up gets the
// newest record, never an older one after it.
func TestWatchNewestWins(t *testing.T) {
	m := miniredis.RunT(t)
	c := goredis.NewClient(&goredis.Options{Addr: m.Addr()})
	defer c.Close()
	s := redis.New(c, redis.Options{})
	defer s.Close()
	ctx := t.Context()
	ch, err := s.Watch(ctx, scope)
	if err != nil {
		t.Fatalf("Watch() error = %v", err)
	}
	const n = 50
	for gen := uint64(1); gen <= n; gen++ {
		if _, err := s.CompareAndSwap(ctx, scope, gen-1, cache.State{Active: cache.Strategies[gen%2], Generation: gen}); err != nil {
			t.Fatalf("CompareAndSwap(%d) error = %v", gen, err)
		}
	}
	var last uint64
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for last < n {
		select {
		case st, ok := <-ch:
			if !ok {
				t.Fatalf("watch closed after generation %d", last)
			}
			if st.Generation <= last {
				t.Fatalf("watch sent generation %d after %d", st.Generation, last)
			}
			last = st.Generation
		case <-timer.C:
			t.Fatalf("watch stuck at generation %d of %d", last, n)
		}
	}
}
