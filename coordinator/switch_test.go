package coordinator_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/cachetest"
	"github.com/e6coord/e6coord/coordinator"
)

// accepted reports whether the record's pending colour is want and accepted.
func accepted(want cache.Strategy) func(cache.State) bool {
	return func(st cache.State) bool { return st.Pending == want && !st.AcceptedAt.IsZero() }
}

func active(want cache.Strategy) func(cache.State) bool {
	return func(st cache.State) bool { return st.Active == want && !st.Pending.Valid() }
}

// §4, §5: an announced colour the probe rejects is pending, never active.
func TestAnnouncedButRejectedNeverActive(t *testing.T) {
	e := newEnv(t, cache.Blue)
	c := e.coord()
	resolve(t, c, cache.Blue)
	e.eng.forgetProbes()
	c.Announce("GREEN ")
	e.eng.waitProbe(t, cache.Green)
	waitFor(t, c, "pending green", func(st cache.State) bool { return st.Pending == cache.Green })
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := c.Snapshot()
	if st.Active != cache.Blue || !st.AcceptedAt.IsZero() {
		t.Fatalf("record = %s, want blue active and green not accepted", st)
	}
	if got := c.Strategy(); got != cache.Blue {
		t.Errorf("Strategy() = %v, want blue", got)
	}
	if got := c.Stats().Announcements; got != 1 {
		t.Errorf("Announcements = %d, want 1", got)
	}
	// Announcing it again costs nothing.
	before := e.eng.total()
	for range 100 {
		c.Announce("green")
	}
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := e.eng.total(); n != before {
		t.Errorf("repeated announcements probed %d more times", n-before)
	}
}

// §4: values that are not blue or green are ignored and counted.
func TestInvalidAnnouncementIgnored(t *testing.T) {
	e := newEnv(t, cache.Blue)
	c := e.coord()
	resolve(t, c, cache.Blue)
	gen := c.Snapshot().Generation
	for _, v := range []string{"", "purple", "blue-green", "b1ue"} {
		c.Announce(v)
	}
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.Stats().InvalidStrategies; got != 4 {
		t.Errorf("InvalidStrategies = %d, want 4", got)
	}
	if st := c.Snapshot(); st.Generation != gen || st.Pending.Valid() {
		t.Errorf("record changed to %s", st)
	}
	if err := c.Pin(context.Background(), "q", cache.Unknown); err == nil {
		t.Error("Pin with no colour succeeded")
	}
}

// §5 Eager: new queries move as soon as the engine accepts the colour;
// pinned queries keep theirs.
func TestEagerSwitchesAtOnce(t *testing.T) {
	e := newEnv(t, cache.Blue)
	c := e.coord()
	resolve(t, c, cache.Blue)
	ctx := context.Background()
	if err := pinSynced(ctx, c, "q1", cache.Blue); err != nil {
		t.Fatal(err)
	}
	before := e.eng.callsOf(cache.Green)
	e.eng.set(cache.Blue, cache.Green) // overlap
	c.Announce("green")
	st := waitFor(t, c, "green active", active(cache.Green))
	if got := c.Strategy(); got != cache.Green {
		t.Errorf("Strategy() = %v, want green", got)
	}
	if st.ConfirmedAt.IsZero() {
		t.Error("switched colour has no confirmation time")
	}
	// §3: the pinned query still holds blue.
	pin, err := e.store.Lookup(ctx, scope, "q1")
	if err != nil || pin.Strategy != cache.Blue {
		t.Errorf("Lookup(q1) = %+v, %v; want blue", pin, err)
	}
	if got := c.Stats().Switches; got != 1 {
		t.Errorf("Switches = %d, want 1", got)
	}
	// §Performance: one probe for the switch.
	if n := e.eng.callsOf(cache.Green) - before; n != 1 {
		t.Errorf("green probes = %d, want 1", n)
	}
}

// §5 Drain: new queries keep the old colour until its last pin anywhere in
// the fleet is released.
func TestDrainSwitchesWhenLastOldPinReleased(t *testing.T) {
	e := newEnv(t, cache.Blue)
	a, b := e.coord(drain), e.coord(drain)
	resolve(t, a, cache.Blue)
	resolve(t, b, cache.Blue)
	ctx := context.Background()
	for _, p := range []struct {
		c  *coordinator.Coordinator
		id string
	}{{a, "a1"}, {a, "a2"}, {b, "b1"}} {
		if err := pinSynced(ctx, p.c, p.id, cache.Blue); err != nil {
			t.Fatal(err)
		}
	}
	before := e.eng.callsOf(cache.Green)
	e.eng.set(cache.Blue, cache.Green)
	a.Announce("green")
	waitFor(t, b, "green accepted, seen by b", accepted(cache.Green))

	for _, step := range []struct {
		c  *coordinator.Coordinator
		id string
	}{{a, "a1"}, {b, "b1"}} {
		releaseSynced(t, ctx, step.c, step.id)
		if err := a.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if got := a.Strategy(); got != cache.Blue {
			t.Fatalf("after releasing %s with old pins left: Strategy() = %v, want blue", step.id, got)
		}
	}
	// A new query in the drain still gets blue; it holds the switch too.
	if err := pinSynced(ctx, b, "b2", b.Strategy()); err != nil {
		t.Fatal(err)
	}
	releaseSynced(t, ctx, a, "a2")
	if err := a.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := a.Snapshot().Active; got != cache.Blue {
		t.Fatalf("switched with b2 still on blue")
	}
	releaseSynced(t, ctx, b, "b2")
	waitFor(t, a, "green active on a", active(cache.Green))
	waitFor(t, b, "green active on b", active(cache.Green))
	if n := e.eng.callsOf(cache.Green) - before; n != 1 {
		t.Errorf("green probes = %d, want 1", n)
	}
}

// §5 Drain: DrainTimeout after acceptance, the switch happens anyway.
func TestDrainTimeout(t *testing.T) {
	e := newEnv(t, cache.Blue)
	c := e.coord(drain, func(cfg *coordinator.Config) { cfg.DrainTimeout = 10 * time.Second })
	resolve(t, c, cache.Blue)
	ctx := context.Background()
	if err := pinSynced(ctx, c, "q", cache.Blue); err != nil {
		t.Fatal(err)
	}
	e.eng.set(cache.Blue, cache.Green)
	c.Announce("green")
	waitFor(t, c, "green accepted", accepted(cache.Green))
	e.clock.Advance(9 * time.Second)
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.Snapshot().Active; got != cache.Blue {
		t.Fatalf("active before the drain timeout = %v, want blue", got)
	}
	e.clock.Advance(time.Second)
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if st := c.Snapshot(); !active(cache.Green)(st) {
		t.Fatalf("record at the drain timeout = %s, want green active", st)
	}
}

// §3: a crashed process's pins expire with their lease and stop holding a
// Drain switch.
func TestCrashedHolderPinsExpire(t *testing.T) {
	e := newEnv(t, cache.Blue)
	c := e.coord(drain, func(cfg *coordinator.Config) { cfg.DrainTimeout = time.Hour })
	resolve(t, c, cache.Blue)
	ctx := context.Background()
	// A process pinned a query and died: nobody renews or releases it.
	if err := cachetest.Pin(ctx, e.store, scope, cache.Blue, 30*time.Second, "dead-1"); err != nil {
		t.Fatal(err)
	}
	e.eng.set(cache.Blue, cache.Green)
	c.Announce("green")
	waitFor(t, c, "green accepted", accepted(cache.Green))
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.Snapshot().Active; got != cache.Blue {
		t.Fatalf("switched while the dead pin is live")
	}
	e.clock.Advance(31 * time.Second)
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if st := c.Snapshot(); !active(cache.Green)(st) {
		t.Fatalf("record after the lease = %s, want green active", st)
	}
}

// §7: every change reaches the other processes; generations never go
// backwards in any of them.
func TestGenerationsNeverDecrease(t *testing.T) {
	e := newEnv(t, cache.Blue)
	var mu sync.Mutex
	seen := map[int][]uint64{}
	watch := func(i int) func(*coordinator.Config) {
		return func(cfg *coordinator.Config) {
			cfg.Policy = coordinator.Eager
			cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil)).With("c", i)
			cfg.OnChange = func(old, new cache.State) {
				mu.Lock()
				defer mu.Unlock()
				if new.Generation <= old.Generation {
					t.Errorf("coordinator %d: generation %d after %d", i, new.Generation, old.Generation)
				}
				seen[i] = append(seen[i], new.Generation)
			}
		}
	}
	coords := []*coordinator.Coordinator{e.coord(watch(0)), e.coord(watch(1)), e.coord(watch(2))}
	resolve(t, coords[0], cache.Blue)
	colour := cache.Blue
	for i := range 6 {
		next := colour.Other()
		e.eng.set(colour, next)
		coords[i%3].Announce(next.String())
		for _, c := range coords {
			waitFor(t, c, next.String()+" active", active(next))
		}
		colour = next
	}
	final := coords[0].Snapshot().Generation
	for _, c := range coords {
		c.Close() // waits for the watchers' last reports
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range coords {
		gens := seen[i]
		if len(gens) == 0 || gens[len(gens)-1] != final {
			t.Errorf("coordinator %d saw %v, want to end at %d", i, gens, final)
		}
	}
}

// §7: a coordinator that starts late adopts the fleet's record without
// probing.
func TestLateStarterAdoptsRecord(t *testing.T) {
	e := newEnv(t, cache.Green)
	resolve(t, e.coord(), cache.Green)
	probes := e.eng.total()
	late := e.coord()
	resolve(t, late, cache.Green)
	if n := e.eng.total(); n != probes {
		t.Errorf("late starter probed %d times", n-probes)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// §5, §6: when the engine ends an overlap, a rejection of the old colour
// switches to the pending colour it accepted, without another probe.
func TestOverlapEndSwitchesWithoutProbe(t *testing.T) {
	e := newEnv(t, cache.Blue)
	c := e.coord(drain)
	resolve(t, c, cache.Blue)
	ctx := context.Background()
	if err := pinSynced(ctx, c, "q", cache.Blue); err != nil {
		t.Fatal(err)
	}
	e.eng.set(cache.Blue, cache.Green)
	c.Announce("green")
	waitFor(t, c, "green accepted", accepted(cache.Green))
	probes := e.eng.total()

	e.eng.set(cache.Green) // the overlap ends
	c.Invalidate(cache.Blue)
	resolve(t, c, cache.Green)
	if n := e.eng.total() - probes; n != 0 {
		t.Errorf("probes after the overlap ended = %d, want 0", n)
	}
	if st := c.Snapshot(); !active(cache.Green)(st) {
		t.Errorf("record %s, want green active", st)
	}
	// The pinned query keeps blue; its pin goes on holding nothing up.
	if pin, err := e.store.Lookup(ctx, scope, "q"); err != nil || pin.Strategy != cache.Blue {
		t.Errorf("Lookup(q) = %+v, %v; want blue", pin, err)
	}
}

// §5: a pending colour the engine stops announcing is dropped after
// PendingTTL, and the fleet stops probing it; announcing it again keeps it.
func TestWithdrawnPendingExpires(t *testing.T) {
	const ttl = time.Minute
	e := newEnv(t, cache.Blue) // green is never accepted
	c := e.coord(func(cfg *coordinator.Config) {
		cfg.PendingTTL, cfg.PendingProbeInterval = ttl, 5*time.Second
	})
	resolve(t, c, cache.Blue)
	ctx := context.Background()
	c.Announce("green")
	waitFor(t, c, "green probed and rejected", func(st cache.State) bool {
		return st.Pending == cache.Green && !st.ProbedAt.IsZero()
	})

	// Announced again after half the TTL: the record's AnnouncedAt moves.
	e.clock.Advance(ttl / 2)
	c.Announce("green")
	st := waitFor(t, c, "AnnouncedAt refreshed", func(st cache.State) bool { return st.AnnouncedAt.Equal(e.clock.Now()) })
	e.clock.Advance(ttl * 3 / 4) // past the first announcement's TTL
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.Snapshot(); got.Pending != cache.Green {
		t.Fatalf("after %v with a re-announcement %v ago: %s; want green still pending", ttl*5/4, ttl*3/4, got)
	}

	// Not announced for the TTL: dropped.
	e.clock.Advance(ttl / 4)
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.Snapshot(); got.Pending.Valid() || got.Active != cache.Blue {
		t.Fatalf("after the TTL: %s; want blue with nothing pending (was %s)", got, st)
	}
	if n := c.Stats().Withdrawn; n != 1 {
		t.Errorf("Withdrawn = %d, want 1", n)
	}
	probes := e.eng.total()
	for range 3 {
		e.clock.Advance(10 * time.Second) // past PendingProbeInterval
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.eng.total() - probes; n != 0 {
		t.Errorf("probes after the pending colour was dropped = %d, want 0", n)
	}
}

// §5: the default policy moves new calls to an accepted colour at once,
// while a query pinned to the old colour is still running.
func TestDefaultPolicyIsEager(t *testing.T) {
	if p, err := coordinator.ParsePolicy(""); err != nil || p != coordinator.Eager {
		t.Errorf(`ParsePolicy("") = %v, %v; want eager`, p, err)
	}
	e := newEnv(t, cache.Blue)
	c := e.coord()
	if p := c.Config().Policy; p != coordinator.Eager {
		t.Fatalf("default Policy = %v, want eager", p)
	}
	resolve(t, c, cache.Blue)
	ctx := context.Background()
	if err := pinSynced(ctx, c, "q", cache.Blue); err != nil {
		t.Fatal(err)
	}
	e.eng.set(cache.Blue, cache.Green)
	c.Announce("green")
	waitFor(t, c, "green active with a blue pin held", active(cache.Green))
	if got := c.Strategy(); got != cache.Green {
		t.Errorf("Strategy() = %v, want green for new calls", got)
	}
	if pin, err := e.store.Lookup(ctx, scope, "q"); err != nil || pin.Strategy != cache.Blue {
		t.Errorf("pinned query: %+v, %v; want it kept on blue", pin, err)
	}
}
