package integration

import (
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/fleet"
	"github.com/e6coord/e6coord/internal/redistest"
)

// TestSilentCutEveryProcess: every process's link to Redis is cut
// silently for 5 s while the engine switches four times on its own
// schedule (each switch overlapping until the queries on the old colour
// are done), then healed. Every process detects the cut, learns each
// colour from the engine alone (it is on the engine's colour before the
// heal), and after the heal the fleet is back on the store, on the
// engine's colour, at one generation; then it switches together again.
// The times of detection and of agreement after the heal are reported
// against detectBudget and healBudget. No query fails, none
// carries two colours, no process flips back or goes back a generation.
func TestSilentCutEveryProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("fleets of processes")
	}
	redistest.Require(t)
	const (
		n        = 8
		workers  = 3
		cutFor   = 5 * time.Second
		switches = 4
		period   = time.Second
		overlap  = period / 4
		// minQueries is the least every process must run during the cut
		// for the scenario to be under load.
		minQueries = 10
	)
	r := redistest.Start(t)
	p := redistest.NewProxy(t, r.Addr()) // every process's link goes through it
	var tl timeline
	srv := newEngine(t, enginetest.Overlap, 0, tl.track(cache.Blue))
	clock := clockOf(srv)
	procs := startWorkers(t, n, spec{
		Engine: srv.Addr(), RedisURL: "redis://" + p.Addr() + "/0", Workers: workers, Policy: "eager",
		StatusEvery: 20 * time.Millisecond, PinTTL: 3 * time.Second,
	})
	obs := observe(procs)
	pids := procs.PIDs()
	obs.waitUntil(t, "workers ready", 30*time.Second, func() bool { return len(obs.ready) == n })
	switchFleet(t, obs, srv, pids, cache.Green) // coordinated before the cut

	clock.arm()
	cutAt := time.Now()
	p.Cut()
	scheduled, begins := schedule(t, srv, switches, period, overlap, clock.drained)
	var detected time.Time
	obs.waitUntil(t, "every process degraded", hangAfter(detectBudget), func() bool {
		var ok bool
		detected, ok = obs.allStatus(pids, cutAt, func(r fleet.Report) bool { return r.Degraded })
		return ok
	})
	detect := detected.Sub(cutAt)
	t.Logf("cut detected by every process after %v (budget %v)", detect, detectBudget)
	waitClosed(t, obs, "the engine's switches during the cut", cutFor+10*time.Second, scheduled)
	// Cut off from the store, each process learns the last colour from
	// the engine alone; the cut lasts until then, and cutFor at least.
	final := strategy(srv.State().Active)
	last := (*begins)[len(*begins)-1]
	obs.waitUntil(t, "every process on "+final.String()+" during the cut", 10*time.Second, func() bool {
		_, ok := firstAdoptions(obs, pids, last, final)
		return ok
	})
	if left := time.Until(cutAt.Add(cutFor)); left > 0 {
		<-time.After(left) // the cut lasts cutFor
	}

	healAt := time.Now()
	perPeer := clock.disarm()
	if got := tl.switchesBetween(cutAt, healAt); got < switches {
		t.Fatalf("invalid scenario: the engine made %d switches during the cut, want %d", got, switches)
	}
	loaded := 0
	for _, q := range perPeer {
		if q >= minQueries {
			loaded++
		}
	}
	if loaded < n {
		t.Fatalf("invalid scenario: %d of %d processes ran %d queries during the cut (by connection: %v)", loaded, n, minQueries, perPeer)
	}
	// Cut off from the store, each process learnt every colour from the
	// engine: before the heal it is on the engine's colour.
	obs.mu.Lock()
	var learnt []int
	for _, pid := range pids {
		c, ok := lastChangeBefore(obs, pid, healAt)
		during := 0
		for _, ch := range obs.changes {
			if ch.PID == pid && time.Unix(0, ch.SeenAtNs).After(cutAt) && time.Unix(0, ch.SeenAtNs).Before(healAt) {
				during++
			}
		}
		learnt = append(learnt, during)
		if !ok || c.Active != final.String() || !time.Unix(0, c.SeenAtNs).After(cutAt) {
			t.Errorf("pid %d: last change before the heal %+v, want an adoption of %s during the cut", pid, c, final)
		}
	}
	obs.mu.Unlock()
	t.Logf("the cut lasted %v; the engine made %d switches; the processes adopted %v colour changes each; queries by connection %v",
		healAt.Sub(cutAt), switches, learnt, perPeer)

	p.Heal()
	var back time.Time
	obs.waitUntil(t, "every process back on the store", hangAfter(healBudget), func() bool {
		var ok bool
		back, ok = obs.allStatus(pids, healAt, func(r fleet.Report) bool { return !r.Degraded })
		return ok
	})
	at, gen := agreedOn(t, obs, pids, healAt, final, hangAfter(healBudget))
	t.Logf("after the heal: every process on the store after %v, all on %s at generation %d after %v (budget %v)",
		back.Sub(healAt), final, gen, at.Sub(healAt), healBudget)
	obs.mu.Lock()
	if back := relapses(obs, pids, healAt); len(back) > 0 {
		t.Logf("processes back to degraded after they had reached the store again (times, by pid): %v", back)
	}
	obs.mu.Unlock()

	// Coordinated again: a switch reaches every process, above the
	// generation they agreed on.
	if next := switchFleet(t, obs, srv, pids, final.Other()); next <= gen {
		t.Errorf("switch after the heal at generation %d, not above %d", next, gen)
	}

	procs.Stop()
	obs.waitUntil(t, "every summary", 30*time.Second, func() bool { return len(obs.summaries) == n })
	sum := checkFleet(t, obs, srv, &tl)
	t.Logf("queries %d, engine switches %d, probes %d, replays %d, 456s %d, store errors %d",
		sum.Queries, srv.State().Switches, sum.Probes, sum.Replays, sum.WrongStrategy, sum.StoreErrors)
	logFigures(t, figures{"detect_ms": ms(detect), "detect_budget_ms": ms(detectBudget),
		"back_on_store_ms": ms(back.Sub(healAt)), "agreed_ms": ms(at.Sub(healAt)), "heal_budget_ms": ms(healBudget),
		"queries": sum.Queries, "wrong_strategy": sum.WrongStrategy})
}
