package redis_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/cachetest"
	"github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/internal/redistest"
)

func TestMain(m *testing.M) {
	// go-redis's tryDial, which a pool starts after failed dials, sleeps
	// up to a second before it sees the pool closed.
	goleak.VerifyTestMain(m, redistest.IgnoreDial)
}

// makeStore returns a cachetest.MakeStore over a fresh client of addr for
// each subtest. When m is set, the server at addr is m, and its clock
// follows the suite's.
func makeStore(addr string, m *miniredis.Miniredis) cachetest.MakeStore {
	return func(t *testing.T, clock *cachetest.Clock) (cache.Store, func()) {
		if m != nil {
			clock.OnSet(m.SetTime)
		}
		c := goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: true})
		s := redis.New(c, redis.Options{Timeout: 2 * time.Second})
		return s, func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close() error = %v", err)
			}
			if err := c.Close(); err != nil {
				t.Errorf("client Close() error = %v", err)
			}
		}
	}
}

func TestConformanceMiniredis(t *testing.T) {
	m := miniredis.RunT(t)
	cachetest.Run(t, makeStore(m.Addr(), m))
}

// TestConformanceRedisServer runs the suite on one real redis-server, whose
// clock (TIME) the suite reads and waits for: each subtest uses scopes of
// its own.
func TestConformanceRedisServer(t *testing.T) {
	redistest.Require(t)
	srv := redistest.Start(t)
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	defer c.Close()
	cachetest.RunRealTime(t, func(ctx context.Context) (time.Time, error) { return c.Time(ctx).Result() }, makeStore(srv.Addr(), nil))
}

// backends runs fn on miniredis and, when installed, on redis-server, each
// with a client of its own.
func backends(t *testing.T, fn func(t *testing.T, c *goredis.Client)) {
	t.Run("backend=miniredis", func(t *testing.T) {
		m := miniredis.RunT(t)
		c := goredis.NewClient(&goredis.Options{Addr: m.Addr()})
		defer c.Close()
		fn(t, c)
	})
	t.Run("backend=redis-server", func(t *testing.T) {
		redistest.Require(t)
		srv := redistest.Start(t)
		c := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
		defer c.Close()
		fn(t, c)
	})
}

var scope = cache.Scope{Cluster: "c", Engine: "e:1"}

// TestKeyLayout checks the documented names of a scope's keys, and that a
// swap publishes on the scope's channel.
func TestKeyLayout(t *testing.T) {
	backends(t, func(t *testing.T, c *goredis.Client) {
		ctx := t.Context()
		s := redis.New(c, redis.Options{Prefix: "tenant"})
		defer s.Close()
		odd := cache.Scope{Cluster: "a/b%", Engine: "{x}:1"}
		for _, tt := range []struct {
			scope cache.Scope
			tag   string
		}{
			{scope, "{c/e:1}"},
			{odd, "{a%2Fb%25/%7Bx%7D:1}"},
			{cache.Scope{Engine: "e:1"}, "{/e:1}"},
		} {
			ps := c.Subscribe(ctx, "tenant:"+tt.tag+":events")
			if _, err := ps.Receive(ctx); err != nil {
				t.Fatalf("subscribe: %v", err)
			}
			if _, err := s.CompareAndSwap(ctx, tt.scope, 0, cache.State{Active: cache.Blue, Generation: 3}); err != nil {
				t.Fatalf("CompareAndSwap(%v) error = %v", tt.scope, err)
			}
			if err := cachetest.Pin(ctx, s, tt.scope, cache.Green, time.Minute, "q"); err != nil {
				t.Fatalf("Pin(%v) error = %v", tt.scope, err)
			}
			if err := s.AcquireProbeLease(ctx, tt.scope, "me", time.Minute); err != nil {
				t.Fatalf("AcquireProbeLease(%v) error = %v", tt.scope, err)
			}
			base := "tenant:" + tt.tag + ":"
			if got, err := c.HGet(ctx, base+"record", "gen").Result(); err != nil || got != "3" {
				t.Errorf("HGET %srecord gen = %q, %v; want \"3\"", base, got, err)
			}
			if got, err := c.ZScore(ctx, base+"pins:green", "q").Result(); err != nil || got <= 0 {
				t.Errorf("ZSCORE %spins:green q = %v, %v; want an expiry", base, got, err)
			}
			if err := c.ZScore(ctx, base+"pins:blue", "q").Err(); !errors.Is(err, goredis.Nil) {
				t.Errorf("ZSCORE %spins:blue q error = %v, want nil reply: a pin is in its colour's zset alone", base, err)
			}
			if got, err := c.HGet(ctx, base+"lease", "holder").Result(); err != nil || got != "me" {
				t.Errorf("HGET %slease holder = %q, %v; want \"me\"", base, got, err)
			}
			msg, err := ps.ReceiveMessage(ctx)
			if err != nil {
				t.Fatalf("receive the swap's event: %v", err)
			}
			if want := `"generation":3`; !strings.Contains(msg.Payload, want) {
				t.Errorf("event payload = %s, want it to hold %s", msg.Payload, want)
			}
			ps.Close()
		}
	})
}

// TestLoadInvalidColour writes a record with a colour that is not blue or
// green directly, as a corrupt or newer writer would.
func TestLoadInvalidColour(t *testing.T) {
	backends(t, func(t *testing.T, c *goredis.Client) {
		ctx := t.Context()
		s := redis.New(c, redis.Options{})
		defer s.Close()
		key := "e6coord:{c/e:1}:record"
		data := `{"active":"purple","pending":"green","generation":7,"changed_at":1700000000123,"changed_by":"other"}`
		if err := c.HSet(ctx, key, "gen", "7", "data", data).Err(); err != nil {
			t.Fatal(err)
		}
		got, err := s.Load(ctx, scope)
		if !errors.Is(err, cache.ErrInvalidStrategy) {
			t.Fatalf("Load() error = %v, want one wrapping %v", err, cache.ErrInvalidStrategy)
		}
		want := cache.State{Active: cache.Unknown, Pending: cache.Green, Generation: 7,
			ChangedAt: time.UnixMilli(1700000000123), ChangedBy: "other"}
		if got.Active != want.Active || got.Pending != want.Pending || got.Generation != want.Generation ||
			!got.ChangedAt.Equal(want.ChangedAt) || got.ChangedBy != want.ChangedBy {
			t.Fatalf("Load() = %+v, want %+v", got, want)
		}

		// The caller may overwrite it with a swap on its generation.
		fixed := cache.State{Active: cache.Green, Generation: 8}
		if _, err := s.CompareAndSwap(ctx, scope, 7, fixed); err != nil {
			t.Fatalf("CompareAndSwap(7) over the corrupt record error = %v", err)
		}
		if got, err := s.Load(ctx, scope); err != nil || got.Active != cache.Green || got.Generation != 8 {
			t.Fatalf("Load() after the fix = %+v, %v; want green at generation 8", got, err)
		}
	})
}

// TestLoadCorrupt checks records that cannot be decoded at all.
func TestLoadCorrupt(t *testing.T) {
	backends(t, func(t *testing.T, c *goredis.Client) {
		ctx := t.Context()
		s := redis.New(c, redis.Options{})
		defer s.Close()
		key := "e6coord:{c/e:1}:record"
		for _, fields := range [][]string{
			{"gen", "7", "data", "not json"},
			{"gen", "seven", "data", `{"active":"blue"}`},
		} {
			if err := c.HSet(ctx, key, fields).Err(); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Load(ctx, scope); err == nil || errors.Is(err, cache.ErrNotFound) {
				t.Errorf("Load() of %q = %+v, %v; want a decode error", fields, got, err)
			}
		}
	})
}

// countHook counts the commands a client sends, by name.
type countHook struct {
	mu    sync.Mutex // guards names
	names []string
}

func (h *countHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *countHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		h.mu.Lock()
		h.names = append(h.names, cmd.Name())
		h.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (h *countHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		h.mu.Lock()
		for _, cmd := range cmds {
			h.names = append(h.names, cmd.Name())
		}
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

// take returns the names counted since the last take.
func (h *countHook) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.names
	h.names = nil
	return n
}

// TestRoundTrips checks the budget of DESIGN.md: a pin, a release, a load
// and a swap are one command each once the scripts are loaded, and so is
// every other call (Time: one TIME).
func TestRoundTrips(t *testing.T) {
	backends(t, func(t *testing.T, c *goredis.Client) {
		ctx := t.Context()
		hook := &countHook{}
		c.AddHook(hook)
		s := redis.New(c, redis.Options{})
		defer s.Close()
		ops := []struct {
			name string
			want string
			call func(round int) error
		}{
			{"Pin", "evalsha", func(int) error { return cachetest.Pin(ctx, s, scope, cache.Blue, time.Minute, "q") }},
			{"Lookup", "evalsha", func(int) error { _, err := s.Lookup(ctx, scope, "q"); return err }},
			{"Renew", "evalsha", func(int) error { _, err := s.Renew(ctx, scope, time.Minute, "q", "r"); return err }},
			{"Count", "evalsha", func(int) error { _, err := s.Count(ctx, scope); return err }},
			{"Release", "evalsha", func(int) error { _, err := cachetest.Release(ctx, s, scope, "q", "r", "s"); return err }},
			{"CompareAndSwap", "evalsha", func(round int) error {
				_, err := s.CompareAndSwap(ctx, scope, uint64(round), cache.State{Active: cache.Blue, Generation: uint64(round + 1)})
				return err
			}},
			{"Load", "hmget", func(int) error { _, err := s.Load(ctx, scope); return err }},
			{"AcquireProbeLease", "evalsha", func(int) error { return s.AcquireProbeLease(ctx, scope, "me", time.Minute) }},
			{"ReleaseProbeLease", "evalsha", func(int) error { return s.ReleaseProbeLease(ctx, scope, "me") }},
			{"Time", "time", func(int) error { _, err := s.Time(ctx); return err }},
		}
		for round := range 3 { // round 0 loads the scripts
			for _, op := range ops {
				if err := op.call(round); err != nil {
					t.Fatalf("round %d: %s error = %v", round, op.name, err)
				}
				got := hook.take()
				if round == 0 {
					continue
				}
				if len(got) != 1 || got[0] != op.want {
					t.Errorf("round %d: %s sent %q, want one %q", round, op.name, got, op.want)
				} else if round == 1 {
					t.Logf("%s: %d command (%s)", op.name, len(got), got[0])
				}
			}
		}
	})
}

// callerDeadline is the deadline of the caller's context in the timeout
// tests, a hundred times the store's timeout there or more: the store's
// own timeout must end a call to a server that does not answer, long before
// the caller's deadline, which only catches a store that would wait on.
const callerDeadline = 10 * time.Second

// TestTimeout checks that a call to a server that does not answer, and a
// watch's subscription, fail at the store's timeout, not the caller's
// later deadline, with an error that wraps context.DeadlineExceeded.
func TestTimeout(t *testing.T) {
	redistest.Require(t)
	srv := redistest.Start(t)
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	defer c.Close()
	const timeout = 100 * time.Millisecond
	s := redis.New(c, redis.Options{Timeout: timeout})
	defer s.Close()
	if err := cachetest.Pin(t.Context(), s, scope, cache.Blue, time.Minute, "q"); err != nil { // connects, loads the script
		t.Fatalf("Pin() error = %v", err)
	}
	srv.Pause()
	defer srv.Resume()
	for _, call := range []struct {
		name string
		do   func(ctx context.Context) error
	}{
		{"Load()", func(ctx context.Context) error { _, err := s.Load(ctx, scope); return err }},
		{"Watch()", func(ctx context.Context) error { _, err := s.Watch(ctx, scope); return err }},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), callerDeadline)
		start := time.Now()
		err := call.do(ctx)
		late := ctx.Err()
		cancel()
		t.Logf("%s on a paused server failed after %v (timeout %v): %v", call.name, time.Since(start).Round(time.Millisecond), timeout, err)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s on a paused server error = %v, want one wrapping %v", call.name, err, context.DeadlineExceeded)
		}
		if late != nil {
			t.Errorf("%s on a paused server returned only after the caller's %v deadline: want the store's %v timeout to end it", call.name, callerDeadline, timeout)
		}
	}
}

// TestWatchTimeoutSentinelsDown checks that a watch through Sentinel fails
// at the store's timeout, not the caller's later deadline, when no
// sentinel answers, even after other calls: go-redis's background dials
// then hold a lock, while they ask the sentinels, that a subscription's
// dial waits on past its deadline. That wait lasts a few hundred
// milliseconds here, which the caller's deadline does not catch;
// TestWatchTimeoutSubscribeBlocks checks, with a Subscribe that blocks
// until released, that Watch does not wait for it.
func TestWatchTimeoutSentinelsDown(t *testing.T) {
	const timeout = 200 * time.Millisecond
	s, err := redis.Open("redis+sentinel://127.0.0.1:1,127.0.0.1:2/m", redis.Options{Timeout: timeout})
	if err != nil {
		t.Fatalf("Open() error = %v", err)
	}
	defer s.Close()
	for round := range 2 {
		if _, err := s.Load(t.Context(), scope); err == nil {
			t.Fatal("Load() with no sentinel up error = nil, want one")
		}
		ctx, cancel := context.WithTimeout(t.Context(), callerDeadline)
		start := time.Now()
		ch, err := s.Watch(ctx, scope)
		t.Logf("round %d: Watch() failed after %v (timeout %v): %v", round, time.Since(start).Round(time.Millisecond), timeout, err)
		late := ctx.Err()
		cancel()
		if err == nil {
			for range ch {
			}
			t.Fatalf("round %d: Watch() with no sentinel up error = nil, want one", round)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("round %d: Watch() error = %v, want one wrapping %v", round, err, context.DeadlineExceeded)
		}
		if late != nil {
			t.Errorf("round %d: Watch() returned only after the caller's %v deadline: want the store's %v timeout to end it", round, callerDeadline, timeout)
		}
	}
}

// blockingSubscribe is a client whose Subscribe blocks until release is
// closed, whatever its context says, as go-redis's does when its dial waits
// on a lock (see TestWatchTimeoutSentinelsDown).
type blockingSubscribe struct {
	goredis.UniversalClient
	release chan struct{}
}

func (c blockingSubscribe) Subscribe(ctx context.Context, channels ...string) *goredis.PubSub {
	<-c.release
	return c.UniversalClient.Subscribe(ctx, channels...)
}

// TestWatchTimeoutSubscribeBlocks checks that Watch fails at the store's
// timeout even when the client's Subscribe blocks past it, and that Close
// then waits for the blocked subscription and closes it.
func TestWatchTimeoutSubscribeBlocks(t *testing.T) {
	const timeout = 100 * time.Millisecond
	m := miniredis.RunT(t)
	c := goredis.NewClient(&goredis.Options{Addr: m.Addr(), ContextTimeoutEnabled: true})
	defer c.Close()
	release := make(chan struct{})
	s := redis.New(blockingSubscribe{c, release}, redis.Options{Timeout: timeout})
	ctx, cancel := context.WithTimeout(t.Context(), callerDeadline)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := s.Watch(ctx, scope)
		errc <- err
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Watch() error = %v, want one wrapping %v", err, context.DeadlineExceeded)
		}
		if ctx.Err() != nil {
			t.Errorf("Watch() returned only after the caller's %v deadline: want the store's %v timeout to end it", callerDeadline, timeout)
		}
	case <-time.After(callerDeadline + waitTimeout):
		t.Errorf("Watch() still waits for a Subscribe that blocks, %v after it began", callerDeadline+waitTimeout)
	}
	close(release)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close() error = %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("Close() did not return within %v of the subscription's release", waitTimeout)
	}
	if chans := m.PubSubChannels("*"); len(chans) != 0 {
		t.Errorf("channels subscribed after Close: %q, want none", chans)
	}
}

// TestClosed checks that a closed store fails every call with ErrClosed and
// leaves a client it did not make open.
func TestClosed(t *testing.T) {
	m := miniredis.RunT(t)
	c := goredis.NewClient(&goredis.Options{Addr: m.Addr()})
	defer c.Close()
	s := redis.New(c, redis.Options{})
	ch, err := s.Watch(t.Context(), scope)
	if err != nil {
		t.Fatalf("Watch() error = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() error = %v", err)
	}
	select {
	case _, ok := <-ch:
		if ok {
			t.Error("watch channel sent a record after Close, want it closed")
		}
	default:
		t.Error("watch channel not closed when Close returns")
	}
	ctx := t.Context()
	calls := map[string]func() error{
		"Close":             s.Close,
		"Load":              func() error { _, err := s.Load(ctx, scope); return err },
		"Watch":             func() error { _, err := s.Watch(ctx, scope); return err },
		"Pin":               func() error { return cachetest.Pin(ctx, s, scope, cache.Blue, time.Minute, "q") },
		"Count":             func() error { _, err := s.Count(ctx, scope); return err },
		"AcquireProbeLease": func() error { return s.AcquireProbeLease(ctx, scope, "a", time.Minute) },
		"Time":              func() error { _, err := s.Time(ctx); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, cache.ErrClosed) {
			t.Errorf("%s after Close error = %v, want one wrapping %v", name, err, cache.ErrClosed)
		}
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Errorf("the client is unusable after the store's Close: %v", err)
	}
}

// benchStore returns a store on a redis-server when one is installed
// (real), else on miniredis, and its client.
func benchStore(b *testing.B) (s *redis.Store, c *goredis.Client, real bool) {
	var addr string
	if real = redistest.Available(); real {
		addr = redistest.Start(b).Addr()
	} else {
		addr = miniredis.RunT(b).Addr()
	}
	c = goredis.NewClient(&goredis.Options{Addr: addr})
	b.Cleanup(func() { c.Close() })
	s = redis.New(c, redis.Options{})
	b.Cleanup(func() { s.Close() })
	return s, c, real
}

// BenchmarkPinRelease measures a query's share of store round trips: one
// pin and one release.
func BenchmarkPinRelease(b *testing.B) {
	s, _, _ := benchStore(b)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if err := cachetest.Pin(ctx, s, scope, cache.Blue, time.Minute, "q"); err != nil {
			b.Fatal(err)
		}
		if _, err := cachetest.Release(ctx, s, scope, "q"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWritePinsBatch measures one batch of the pin loop as a busy
// process writes it: eight new pins and eight releases in one call, among
// a few hundred live pins of the fleet. With a redis-server it also
// reports the server's CPU time per write (server-µs/op, from INFO's
// used_cpu_user and used_cpu_sys), the part of the cost a fleet sharing
// the server's machine pays.
func BenchmarkWritePinsBatch(b *testing.B) {
	s, c, real := benchStore(b)
	ctx := b.Context()
	const live, batch = 256, 8
	var w cache.PinWrite
	for i := range live {
		w.Blue = append(w.Blue, fmt.Sprintf("live-%d", i))
	}
	if _, err := s.WritePins(ctx, scope, time.Minute, w); err != nil {
		b.Fatal(err)
	}
	serverCPU := func() float64 {
		info, err := c.Info(ctx, "cpu").Result()
		if err != nil {
			b.Fatal(err)
		}
		var sum float64
		for line := range strings.SplitSeq(info, "\r\n") {
			for _, field := range []string{"used_cpu_user:", "used_cpu_sys:"} {
				if v, ok := strings.CutPrefix(line, field); ok {
					f, err := strconv.ParseFloat(v, 64)
					if err != nil {
						b.Fatal(err)
					}
					sum += f
				}
			}
		}
		return sum
	}
	ids := func(n int) []string {
		out := make([]string, batch)
		for i := range out {
			out[i] = fmt.Sprintf("q-%d-%d", n, i)
		}
		return out
	}
	var cpu0 float64
	if real {
		cpu0 = serverCPU()
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, err := s.WritePins(ctx, scope, time.Minute, cache.PinWrite{Blue: ids(n + 1), Release: ids(n)}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if real {
		b.ReportMetric((serverCPU()-cpu0)*1e6/float64(n), "server-µs/op")
	}
}
