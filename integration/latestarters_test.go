package integration

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/fleet"
	"github.com/e6coord/e6coord/internal/redistest"
)

// TestLateStarters: processes that start late join the fleet
// without failing a query.
//
// announced-switch: a fleet has adopted green during an Overlap switch the
// engine still announces; processes started then use green from their
// first call (not one call of theirs carries blue), and go on switching
// with the fleet.
//
// store-unreachable: half the fleet starts with its link to Redis cut, the
// other half on Redis; the engine switches three times (each switch
// overlapping until the queries on the old colour are done). The cut-off half runs
// queries uncoordinated (degraded) without failing and learns each colour
// from the engine; once the link heals, the whole fleet is on the store at
// one generation, and its next switch is committed once for all.
//
// redis-down: the fleet starts while Redis is down (nothing listens on its
// port); the engine switches three times; Redis comes up, empty, and the
// fleet is on it at one generation.
//
// The time the fleet takes to join the store is reported against
// healBudget.
//
// None of them fails a query, runs one on two colours, or flips back.
func TestLateStarters(t *testing.T) {
	if testing.Short() {
		t.Skip("fleets of processes")
	}
	redistest.Require(t)
	t.Run("backend=redis/scenario=announced-switch", testLateDuringSwitch)
	t.Run("backend=redis/scenario=store-unreachable", func(t *testing.T) { testLateWithoutStore(t, false) })
	t.Run("backend=redis/scenario=redis-down", func(t *testing.T) { testLateWithoutStore(t, true) })
}

func testLateDuringSwitch(t *testing.T) {
	const n, late = 4, 4
	r := redistest.Start(t)
	var tl timeline
	var colours peerColours
	srv := newEngine(t, enginetest.Overlap, 0, tl.track(cache.Blue), colours.option)
	sp := spec{
		Engine: srv.Addr(), RedisURL: r.URL(), Workers: 3, Policy: "eager",
		StatusEvery: 20 * time.Millisecond, PinTTL: 3 * time.Second,
	}
	procs := startWorkers(t, n, sp)
	obs := observe(procs)
	pids := procs.PIDs()
	obs.waitUntil(t, "workers ready", 30*time.Second, func() bool { return len(obs.ready) == n })

	began := time.Now()
	if err := srv.BeginSwitch(enginetest.Green); err != nil {
		t.Fatal(err)
	}
	var gen uint64
	obs.waitUntil(t, "the fleet on green", 20*time.Second, func() bool {
		var ok bool
		_, ok = firstAdoptions(obs, pids, began, cache.Green)
		for _, c := range obs.changes {
			if c.Active == cache.Green.String() {
				gen = max(gen, c.Generation)
			}
		}
		return ok
	})
	if st := srv.State(); !st.Overlapping || st.Pending != enginetest.Green {
		t.Fatalf("invalid scenario: the engine is not in its switch to green: %s", st)
	}

	known := colours.seen()
	startedAt := time.Now()
	lateProcs := startWorkers(t, late, sp)
	lobs := observe(lateProcs)
	lpids := lateProcs.PIDs()
	lobs.waitUntil(t, "late workers ready", 30*time.Second, func() bool { return len(lobs.ready) == late })
	lobs.mu.Lock()
	for _, pid := range lpids {
		if rd := lobs.ready[pid]; rd.Active != cache.Green.String() || rd.Generation < gen {
			t.Errorf("late pid %d ready on %s at generation %d, want green at %d or later", pid, rd.Active, rd.Generation, gen)
		}
	}
	lobs.mu.Unlock()
	lobs.waitUntil(t, "every late process running queries", 20*time.Second, func() bool {
		return colours.newPeers(known, 10) >= late
	})
	newCalls := colours.callsOf(known)
	readyIn := time.Since(startedAt)
	t.Logf("late processes, started %v after the switch began, running queries on green %v after they started; their calls by colour: %v",
		startedAt.Sub(began), readyIn, newCalls)
	for addr, c := range newCalls {
		if c.first != "green" || c.other > 0 || c.blue > 0 {
			t.Errorf("late process at %s: first call on %q, %d calls on blue, %d on no or another colour; want all on green", addr, c.first, c.blue, c.other)
		}
	}
	if len(newCalls) < late {
		t.Fatalf("invalid scenario: calls from %d late processes, want %d", len(newCalls), late)
	}

	// The switch ends, and the next one reaches old and late processes.
	if !finishDrained(t, srv, cache.Blue) {
		t.Fatalf("no switch to finish: %s", srv.State())
	}
	began = time.Now()
	if err := srv.BeginSwitch(enginetest.Blue); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		obs  *observer
		pids []int
	}{{obs, pids}, {lobs, lpids}} {
		f.obs.waitUntil(t, "every process on blue", 20*time.Second, func() bool {
			_, ok := firstAdoptions(f.obs, f.pids, began, cache.Blue)
			return ok
		})
	}
	finishDrained(t, srv, cache.Green)

	procs.Stop()
	lateProcs.Stop()
	obs.waitUntil(t, "every summary", 30*time.Second, func() bool { return len(obs.summaries) == n })
	lobs.waitUntil(t, "every late summary", 30*time.Second, func() bool { return len(lobs.summaries) == late })
	sum := checkFleet(t, obs, srv, &tl)
	lsum := checkFleet(t, lobs, srv, &tl)
	t.Logf("first processes: queries %d, probes %d, replays %d, 456s %d; late ones: queries %d, probes %d, replays %d, 456s %d",
		sum.Queries, sum.Probes, sum.Replays, sum.WrongStrategy, lsum.Queries, lsum.Probes, lsum.Replays, lsum.WrongStrategy)
	logFigures(t, figures{"late_ready_ms": ms(readyIn), "queries": sum.Queries + lsum.Queries,
		"wrong_strategy": sum.WrongStrategy + lsum.WrongStrategy})
}

// testLateWithoutStore starts a fleet half of which cannot reach Redis (its
// link is cut), or all of which (down: Redis is not running), lets the
// engine switch three times, then gives them Redis.
func testLateWithoutStore(t *testing.T, down bool) {
	const (
		n        = 8
		switches = 3
		period   = time.Second
		overlap  = 300 * time.Millisecond
		// minQueries is the least every process must run while it cannot
		// reach the store, for the scenario to be under load.
		minQueries = 5
	)
	r := redistest.Start(t)
	p := redistest.NewProxy(t, r.Addr())
	cutOff := n / 2 // processes 0..cutOff-1 reach Redis through p
	if down {
		r.Kill()
		cutOff = n
	} else {
		p.Cut()
	}
	var tl timeline
	srv := newEngine(t, enginetest.Overlap, 0, tl.track(cache.Blue))
	clock := clockOf(srv)
	procs := startWorkersEach(t, n, func(i int) spec {
		sp := spec{
			Engine: srv.Addr(), RedisURL: r.URL(), Workers: 3, Policy: "eager",
			StatusEvery: 20 * time.Millisecond, PinTTL: 3 * time.Second,
		}
		if i < cutOff && !down {
			sp.RedisURL = "redis://" + p.Addr() + "/0"
		}
		return sp
	})
	obs := observe(procs)
	pids := procs.PIDs()
	obs.waitUntil(t, "workers ready", 30*time.Second, func() bool { return len(obs.ready) == n })
	obs.waitUntil(t, "the cut-off processes degraded", hangAfter(detectBudget), func() bool {
		_, ok := obs.allStatus(pids[:cutOff], time.Time{}, func(r fleet.Report) bool { return r.Degraded })
		return ok
	})

	clock.arm()
	scheduled, begins := schedule(t, srv, switches, period, overlap, clock.drained)
	waitClosed(t, obs, "the engine's switches", switches*period+20*time.Second, scheduled)
	final := strategy(srv.State().Active)
	// Cut off from the store, each process learns the last colour from
	// the engine alone.
	last := (*begins)[len(*begins)-1]
	obs.waitUntil(t, "every cut-off process on "+final.String(), 10*time.Second, func() bool {
		_, ok := firstAdoptions(obs, pids[:cutOff], last, final)
		return ok
	})
	perPeer := clock.disarm()
	loaded := 0
	for _, q := range perPeer {
		if q >= minQueries {
			loaded++
		}
	}
	if loaded < n {
		t.Fatalf("invalid scenario: %d of %d processes ran %d queries during the switches (by connection: %v)", loaded, n, minQueries, perPeer)
	}
	obs.mu.Lock()
	for i, pid := range pids[:cutOff] {
		sts := obs.status[pid]
		if len(sts) == 0 || !sts[len(sts)-1].Degraded {
			t.Fatalf("invalid scenario: cut-off process %d (pid %d) is not degraded before the store comes", i, pid)
		}
	}
	obs.mu.Unlock()
	t.Logf("%d processes cut off from the store ran queries, by connection: %v", cutOff, perPeer)

	if down {
		r.Restart()
	} else {
		p.Heal()
	}
	upAt := time.Now()
	at, gen := agreedOn(t, obs, pids, upAt, final, hangAfter(healBudget))
	t.Logf("every process on the store, on %s at generation %d, %v after it came (budget %v)", final, gen, at.Sub(upAt), healBudget)
	obs.mu.Lock()
	if back := relapses(obs, pids, upAt); len(back) > 0 {
		t.Logf("processes back to degraded after they had reached the store again (times, by pid): %v", back)
	}
	obs.mu.Unlock()

	// The next switch is committed once, for the whole fleet.
	next := switchFleet(t, obs, srv, pids, final.Other())
	obs.mu.Lock()
	for _, c := range obs.changes {
		if c.Active == final.Other().String() && time.Unix(0, c.SeenAtNs).After(at) && c.Generation != next {
			t.Errorf("pid %d adopted %s at generation %d, the fleet at %d", c.PID, c.Active, c.Generation, next)
		}
	}
	obs.mu.Unlock()

	procs.Stop()
	obs.waitUntil(t, "every summary", 30*time.Second, func() bool { return len(obs.summaries) == n })
	sum := checkFleet(t, obs, srv, &tl)
	for i, pid := range pids {
		st := obs.summaries[pid]
		t.Logf("process %d (pid %d, cut off %v): %d queries, longest %v, probes %d, 456s %d", i, pid, i < cutOff, st.Queries, time.Duration(st.MaxQueryNs), st.Probes, st.WrongStrategy)
	}
	t.Logf("queries %d, engine switches %d, probes %d, replays %d, 456s %d, store errors %d, never reached the store %d",
		sum.Queries, srv.State().Switches, sum.Probes, sum.Replays, sum.WrongStrategy, sum.StoreErrors, sum.StoreUnreached)
	logFigures(t, figures{"joined_store_ms": ms(at.Sub(upAt)), "heal_budget_ms": ms(healBudget),
		"queries": sum.Queries, "wrong_strategy": sum.WrongStrategy})
}

// peerColours is a server interceptor of the fake engine that records,
// for each client connection (each worker process has one), the colours
// its engine calls carried.
type peerColours struct {
	mu    sync.Mutex
	calls map[string]*colourCalls
}

type colourCalls struct {
	first              string // the strategy header of the first call
	blue, green, other int
}

func (pc *peerColours) option(o *enginetest.Options) {
	pc.calls = map[string]*colourCalls{}
	o.ServerOptions = append(o.ServerOptions, grpc.ChainUnaryInterceptor(pc.intercept))
}

func (pc *peerColours) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	from := ""
	if p, ok := peer.FromContext(ctx); ok {
		from = p.Addr.String()
	}
	header := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("strategy"); len(v) > 0 {
			header = v[0]
		}
	}
	pc.mu.Lock()
	c := pc.calls[from]
	if c == nil {
		c = &colourCalls{first: header}
		pc.calls[from] = c
	}
	switch header {
	case "blue":
		c.blue++
	case "green":
		c.green++
	default:
		c.other++
	}
	pc.mu.Unlock()
	return handler(ctx, req)
}

// seen returns the connections seen so far.
func (pc *peerColours) seen() map[string]bool {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	s := map[string]bool{}
	for addr := range pc.calls {
		s[addr] = true
	}
	return s
}

// newPeers counts the connections not in known with at least min calls.
func (pc *peerColours) newPeers(known map[string]bool, min int) int {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	n := 0
	for addr, c := range pc.calls {
		if !known[addr] && c.blue+c.green+c.other >= min {
			n++
		}
	}
	return n
}

// callsOf returns the calls of the connections not in known.
func (pc *peerColours) callsOf(known map[string]bool) map[string]colourCalls {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	m := map[string]colourCalls{}
	for addr, c := range pc.calls {
		if !known[addr] {
			m[addr] = *c
		}
	}
	return m
}
