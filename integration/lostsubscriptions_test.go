package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/redistest"
)

// TestLostSubscriptions: a quarter of the fleet silently loses its
// change subscription (it stays up and answers heartbeats, but delivers
// nothing), then the engine switches four times, under the default Eager
// policy on an Overlap engine. The deaf processes still adopt every colour
// while the engine serves both (each switch ends only once every process
// has adopted the new colour and the queries on the old one are done),
// and the whole fleet ends on the store on the last colour; no query
// fails, none carries two colours, and no process sees more than one 456
// per switch. How long after a switch began each process adopted it is
// reported against adoptBudget.
func TestLostSubscriptions(t *testing.T) {
	if testing.Short() {
		t.Skip("fleets of processes")
	}
	redistest.Require(t)
	const (
		n        = 8
		deaf     = n / 4
		switches = 4
		// adoptBudget is how long after a switch begins every process,
		// deaf or not, should have adopted it: the overlap window of an
		// engine. Reported, not asserted.
		adoptBudget = 1500 * time.Millisecond
	)
	r := redistest.Start(t)
	var tl timeline
	srv := newEngine(t, enginetest.Overlap, 0, tl.track(cache.Blue))
	dir := t.TempDir()
	side := func(i int) string { return filepath.Join(dir, fmt.Sprintf("worker-%d.jsonl", i)) }
	procs := startWorkersEach(t, n, func(i int) spec {
		return spec{
			Engine: srv.Addr(), RedisURL: r.URL(), Workers: 3, Policy: "eager",
			StatusEvery: 20 * time.Millisecond, PinTTL: 3 * time.Second,
			DeafOnSignal: i < deaf, SideFile: side(i),
		}
	})
	obs := observe(procs)
	pids := procs.PIDs()
	obs.waitUntil(t, "workers ready", 30*time.Second, func() bool { return len(obs.ready) == n })
	switchFleet(t, obs, srv, pids, cache.Green) // every process hears this one

	for i := range deaf {
		if err := syscall.Kill(pids[i], syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
	}
	for i := range deaf {
		waitSide(t, side(i), "deaf")
	}
	t.Logf("the subscriptions of pids %v went deaf", pids[:deaf])

	// The engine's switches: each overlaps until every process, deaf or
	// not, has adopted the new colour (the engine serves both meanwhile,
	// so none can learn it from a 456), and the engine's queries on the
	// old colour are done, so that a 456 can only come from a process
	// that did not know the colour (not from a query that outlived the
	// overlap).
	var begins, finishes []time.Time
	for range switches {
		from := strategy(srv.State().Active)
		began := time.Now()
		begins = append(begins, began)
		if err := srv.BeginSwitch(colourOf(from.Other())); err != nil {
			t.Fatal(err)
		}
		obs.waitUntil(t, "every process on "+from.Other().String()+" while the engine serves both colours",
			hangAfter(adoptBudget), func() bool {
				_, ok := firstAdoptions(obs, pids, began, from.Other())
				return ok
			})
		if !finishDrained(t, srv, from) {
			t.Fatalf("no switch to finish: %s", srv.State())
		}
		finishes = append(finishes, time.Now())
	}
	final := strategy(srv.State().Active)
	last := begins[len(begins)-1]
	at := convergedOn(t, obs, pids, last, final, 0, 20*time.Second)
	t.Logf("every process on the store and on %s %v after the last switch began", final, at.Sub(last))

	// How long after each switch began each process adopted it.
	obs.mu.Lock()
	lags := map[bool][]time.Duration{} // by deafness
	for k, began := range begins {
		colour := final
		if (switches-1-k)%2 == 1 {
			colour = final.Other()
		}
		for i, pid := range pids {
			adopted := time.Time{}
			for _, c := range obs.changes {
				seen := time.Unix(0, c.SeenAtNs)
				if c.PID == pid && c.Active == colour.String() && seen.After(began) {
					adopted = seen
					break
				}
			}
			if adopted.IsZero() || !adopted.Before(finishes[k]) {
				t.Errorf("switch %d to %s: pid %d (deaf %v) did not adopt it before the engine finished it (adopted at %v)",
					k+1, colour, pid, i < deaf, adopted)
				continue
			}
			lags[i < deaf] = append(lags[i < deaf], adopted.Sub(began))
		}
	}
	obs.mu.Unlock()
	f := figures{"adopt_budget_ms": ms(adoptBudget)}
	for _, d := range []bool{true, false} {
		l := lags[d]
		slices.Sort(l)
		if len(l) > 0 {
			t.Logf("deaf %v: adopted %d switches after the engine began them: median %v, max %v (budget %v)",
				d, len(l), l[len(l)/2], l[len(l)-1], adoptBudget)
			f[fmt.Sprintf("deaf_%v_adopt_p50_ms", d)] = ms(l[len(l)/2])
			f[fmt.Sprintf("deaf_%v_adopt_max_ms", d)] = ms(l[len(l)-1])
		}
	}
	for k := range finishes {
		t.Logf("switch %d: the old colour drained, and the engine finished it, %v after it began", k+1, finishes[k].Sub(begins[k]))
	}

	procs.Stop()
	obs.waitUntil(t, "every summary", 30*time.Second, func() bool { return len(obs.summaries) == n })
	sum := checkFleet(t, obs, srv, &tl)
	total := switches + 1 // and the one before the subscriptions went deaf
	for i, pid := range pids {
		s := obs.summaries[pid]
		t.Logf("pid %d (deaf %v): %d queries, %d 456s over %d switches, %d replays, %d probes",
			pid, i < deaf, s.Queries, s.WrongStrategy, total, s.Replays, s.Probes)
		if s.WrongStrategy > int64(total) {
			t.Errorf("pid %d (deaf %v): %d 456s over %d switches, want at most one per switch", pid, i < deaf, s.WrongStrategy, total)
		}
		if s.Queries < int64(total) {
			t.Fatalf("invalid scenario: pid %d ran %d queries over %d switches", pid, s.Queries, total)
		}
	}
	for i := range deaf {
		end := waitSide(t, side(i), "end")
		t.Logf("pid %d: its deaf subscription swallowed %d records", end.PID, end.Swallowed)
		if end.Swallowed < switches {
			t.Fatalf("invalid scenario: pid %d's deaf subscription swallowed %d records over %d switches", end.PID, end.Swallowed, switches)
		}
	}
	t.Logf("queries %d, engine switches %d, probes %d, replays %d, 456s %d, store errors %d",
		sum.Queries, srv.State().Switches, sum.Probes, sum.Replays, sum.WrongStrategy, sum.StoreErrors)
	f["queries"], f["wrong_strategy"] = sum.Queries, sum.WrongStrategy
	logFigures(t, f)
}

// waitSide waits until the side file at path holds a report of event, and
// returns it.
func waitSide(t *testing.T, path, event string) sideReport {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if f, err := os.Open(path); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				var r sideReport
				if json.Unmarshal(sc.Bytes(), &r) == nil && r.Event == event {
					f.Close()
					return r
				}
			}
			f.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q report in %s after 10s", event, path)
		}
		<-tick.C
	}
}
