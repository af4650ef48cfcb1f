package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/e6coord/e6coord/cache"
	redisstore "github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/redistest"
)

// TestKilledWithPins: under the Drain policy, a quarter of the
// fleet's processes hold pins on blue (their queries held by the engine
// between prepare and execute) when a switch to green is announced and
// accepted; the pins hold the switch. Those processes are SIGKILLed: their
// pins expire, the switch completes and every survivor adopts green (the
// times from the kill are reported against PinTTL + 1 s). The survivors'
// queries, held at prepare meanwhile (they pin nothing, so that only the
// dead processes' pins hold the drain), then finish on the colour they
// were prepared with, and new ones run on green: none fails, none
// carries two colours.
func TestKilledWithPins(t *testing.T) {
	if testing.Short() {
		t.Skip("fleets of processes")
	}
	redistest.Require(t)
	const (
		n       = 8
		victims = n / 4
		workers = 3
		pinTTL  = 2 * time.Second
		budget  = pinTTL + time.Second
		// victimSQL is the victims' query, by which the engine knows
		// their sessions.
		victimSQL = "SELECT * FROM demo.numbers LIMIT 999"
	)
	r := redistest.Start(t)
	g := newGate(victimSQL)
	var tl timeline
	srv := newEngine(t, enginetest.Overlap, 0, tl.track(cache.Blue), func(o *enginetest.Options) {
		o.ServerOptions = append(o.ServerOptions, grpc.ChainUnaryInterceptor(g.intercept))
	})
	clock := clockOf(srv)
	procs := startWorkersEach(t, n, func(i int) spec {
		sp := spec{
			Engine: srv.Addr(), RedisURL: r.URL(), Workers: workers, Policy: "drain",
			StatusEvery: 20 * time.Millisecond, PinTTL: pinTTL,
		}
		if i < victims {
			sp.Query = victimSQL
		}
		return sp
	})
	// Registered after the workers, so it runs before their cleanup waits
	// for them: held queries must be let go first.
	t.Cleanup(g.releaseAll)
	obs := observe(procs)
	pids := procs.PIDs()
	survivors := pids[victims:]
	obs.waitUntil(t, "workers ready", 30*time.Second, func() bool { return len(obs.ready) == n })

	// Every victim's query held after its pin, every survivor's before.
	g.start()
	g.waitHeld(t, victims*workers, (n-victims)*workers)
	store, err := redisstore.Open(r.URL(), redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	scope := cache.Scope{Engine: srv.Addr()}
	ctx := context.Background()
	// Pins and releases reach the store in the background, within
	// PinDelay and a round trip: wait for the store to hold the victims'
	// pins alone.
	waitPins(t, r.URL(), srv.Addr(), fmt.Sprintf("%d blue, the victims' alone (invalid scenario)", victims*workers),
		func(c cache.PinCounts) bool { return c.Blue == victims*workers && c.Green == 0 })

	// A switch is announced and accepted; the pins hold it (Drain).
	watcher := openConn(t, srv, r.URL())
	announceHeld(t, srv, watcher, "invalid scenario: ")

	killedAt := time.Now()
	for i := range victims {
		if err := procs.Kill(i); err != nil {
			t.Fatal(err)
		}
	}
	waitRecord(t, watcher, "green active", hangAfter(budget), func(st cache.State) bool { return st.Active == cache.Green })
	switched := time.Since(killedAt)
	var adopted time.Time
	obs.waitUntil(t, "every survivor on green", hangAfter(budget), func() bool {
		var ok bool
		adopted, ok = firstAdoptions(obs, survivors, killedAt, cache.Green)
		return ok
	})
	t.Logf("the dead processes' pins expired and the switch completed %v after the kill; every survivor on green after %v (PinTTL %v, budget %v)",
		switched, adopted.Sub(killedAt), pinTTL, budget)

	// The survivors' held queries go on, on blue, which they were
	// prepared with; once none is pinned to blue, the engine serves green
	// alone, and the survivors run on.
	g.releaseSurvivors()
	g.waitCleared(t)
	// No new query pins blue now: the pins left are being released.
	obs.waitUntil(t, "no query pinned to blue", 20*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		c, err := store.Count(ctx, scope)
		return err == nil && c.Blue == 0
	})
	// The engine ends the switch once, besides, no query runs on blue as
	// it sees them: a pin reaches the store in the background.
	if !finishDrained(t, srv, cache.Blue) {
		t.Fatalf("no switch to finish: %s", srv.State())
	}
	clock.arm()
	obs.waitUntil(t, "every survivor's queries on green alone", 20*time.Second, func() bool {
		return loadedPeers(clock, 5) >= len(survivors)
	})

	procs.Stop()
	obs.waitUntil(t, "every survivor's summary", 30*time.Second, func() bool { return len(obs.summaries) == len(survivors) })
	sum := checkFleet(t, obs, srv, &tl)
	if sum.WrongStrategy != 0 || sum.Replays != 0 {
		t.Errorf("the survivors met %d 456s and replayed %d queries, want none: their held queries finish on blue, the rest run on green", sum.WrongStrategy, sum.Replays)
	}
	t.Logf("survivors: queries %d, probes %d, replays %d, 456s %d, store errors %d; engine switches %d",
		sum.Queries, sum.Probes, sum.Replays, sum.WrongStrategy, sum.StoreErrors, srv.State().Switches)
	logFigures(t, figures{"switch_after_kill_ms": ms(switched), "survivors_on_green_ms": ms(adopted.Sub(killedAt)),
		"budget_ms": ms(budget), "queries": sum.Queries})
}

// firstAdoptions reports whether every process in pids reported a change
// to colour c after since, and returns the latest of their first ones.
// The caller holds obs.mu.
func firstAdoptions(obs *observer, pids []int, since time.Time, c cache.Strategy) (time.Time, bool) {
	first := map[int]time.Time{}
	for _, ch := range obs.changes {
		seen := time.Unix(0, ch.SeenAtNs)
		if _, ok := first[ch.PID]; !ok && ch.Active == c.String() && seen.After(since) {
			first[ch.PID] = seen
		}
	}
	var last time.Time
	for _, pid := range pids {
		at, ok := first[pid]
		if !ok {
			return last, false
		}
		last = later(last, at)
	}
	return last, true
}

// loadedPeers returns how many client connections the armed clock has
// seen at least min prepares from.
func loadedPeers(q *queryClock, min int) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, c := range q.perPeer {
		if c >= min {
			n++
		}
	}
	return n
}

// gate is a server interceptor of the fake engine that holds queries,
// once started: the victims' (known by their SQL, then by their sessions)
// at execute, after their pin, and the others' at prepare, before any
// pin. It tracks the survivors' held queries until they are cleared.
type gate struct {
	victimSQL string

	mu        sync.Mutex
	holding   bool
	victimIDs map[string]bool // the victims' sessions
	held      [2]int          // queries held now: [0] survivors', [1] victims'
	tracked   map[string]bool // the survivors' held queries, until cleared
	releasing bool            // the survivors' queries were let go
	changed   chan struct{}   // closed and replaced when held or tracked changes
	survivors chan struct{}   // closed to let the survivors' queries go
	victims   chan struct{}   // closed to let the victims' queries go
	once      [2]sync.Once
}

func newGate(victimSQL string) *gate {
	return &gate{victimSQL: victimSQL, victimIDs: map[string]bool{}, tracked: map[string]bool{},
		changed: make(chan struct{}), survivors: make(chan struct{}), victims: make(chan struct{})}
}

func (g *gate) intercept(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	switch m := req.(type) {
	case *e6xpb.PrepareStatementV2Request:
		if m.GetQueryString() == g.victimSQL {
			g.mu.Lock()
			g.victimIDs[m.GetSessionId()] = true
			g.mu.Unlock()
			break
		}
		if !g.hold(ctx, false) {
			break
		}
		resp, err := handler(ctx, req)
		if p, ok := resp.(*e6xpb.PrepareStatementResponse); ok && err == nil {
			g.mu.Lock()
			g.tracked[p.GetQueryId()] = true
			g.mu.Unlock()
		}
		return resp, err
	case *e6xpb.ExecuteStatementV2Request:
		g.mu.Lock()
		victim := g.victimIDs[m.GetSessionId()]
		g.mu.Unlock()
		if victim {
			g.hold(ctx, true)
		}
	case *e6xpb.ClearOrCancelQueryRequest:
		g.mu.Lock()
		if g.tracked[m.GetQueryId()] {
			delete(g.tracked, m.GetQueryId())
			g.changedLocked()
		}
		g.mu.Unlock()
	}
	return handler(ctx, req)
}

func (g *gate) start() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.holding = true
}

// hold holds a call of a victim's query or a survivor's, once started and
// until the survivors are let go, until the gate lets it go or its caller
// gives up (a killed process). It reports whether it held the call.
func (g *gate) hold(ctx context.Context, victim bool) bool {
	g.mu.Lock()
	if !g.holding || (!victim && g.releasing) {
		g.mu.Unlock()
		return false
	}
	i, release := 0, g.survivors
	if victim {
		i, release = 1, g.victims
	}
	g.held[i]++
	g.changedLocked()
	g.mu.Unlock()
	select {
	case <-release:
	case <-ctx.Done():
	}
	g.mu.Lock()
	g.held[i]--
	g.changedLocked()
	g.mu.Unlock()
	return true
}

// changedLocked wakes the waiters; g.mu is held.
func (g *gate) changedLocked() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// wait waits until cond, called under g.mu, holds, or fails the test as
// invalid after 30 s.
func (g *gate) wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		g.mu.Lock()
		ok, ch := cond(), g.changed
		g.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			g.mu.Lock()
			defer g.mu.Unlock()
			t.Fatalf("invalid scenario: not %s after 30s: held %v, tracked %d", what, g.held, len(g.tracked))
		}
	}
}

// waitHeld waits until exactly the given numbers of queries are held.
func (g *gate) waitHeld(t *testing.T, victims, survivors int) {
	t.Helper()
	g.wait(t, "all queries held", func() bool { return g.held[1] == victims && g.held[0] == survivors })
}

// waitCleared waits until every survivor's query that was held has been
// let go and cleared.
func (g *gate) waitCleared(t *testing.T) {
	t.Helper()
	g.wait(t, "every held query cleared", func() bool { return g.held[0] == 0 && len(g.tracked) == 0 })
}

func (g *gate) releaseSurvivors() {
	g.once[0].Do(func() {
		g.mu.Lock()
		g.releasing = true
		g.mu.Unlock()
		close(g.survivors)
	})
}

func (g *gate) releaseAll() {
	g.releaseSurvivors()
	g.once[1].Do(func() { close(g.victims) })
}
