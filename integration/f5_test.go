package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	redisstore "github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/redistest"
)

// TestF5LostSubscriptions (F5): a quarter of the fleet silently loses its
// change subscription (it stays up and answers heartbeats, but delivers
// nothing), then the engine switches four times, under the default Eager
// policy on an Overlap engine. The deaf processes still adopt every colour
// within the engine's overlap window, through re-reads of the record, and
// the whole fleet ends on the store on the last colour; no query fails,
// none carries two colours, and no process sees more than one 456 per
// switch.
func TestF5LostSubscriptions(t *testing.T) {
	if testing.Short() {
		t.Skip("fleets of processes")
	}
	redistest.Require(t)
	const (
		n        = 8
		deaf     = n / 4
		switches = 4
		overlap  = 1500 * time.Millisecond
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

	// The engine's switches: each overlaps for at least overlap, and
	// ends once no query of the fleet is pinned to the old colour, so
	// that a 456 can only come from a process that did not know the
	// colour (not from a query that outlived the overlap).
	pins, err := redisstore.Open(r.URL(), redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pins.Close()
	scope := cache.Scope{Engine: srv.Addr()}
	var begins, finishes []time.Time
	for range switches {
		from := srv.State().Active
		begins = append(begins, time.Now())
		if err := srv.BeginSwitch(from.Other()); err != nil {
			t.Fatal(err)
		}
		<-time.After(overlap) // the engine's overlap window
		obs.waitUntil(t, "no query pinned to "+from.String(), 20*time.Second, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			c, err := pins.Count(ctx, scope)
			return err == nil && c.Of(from) == 0
		})
		finishes = append(finishes, time.Now())
		srv.FinishSwitch()
	}
	final := srv.State().Active
	last := begins[len(begins)-1]
	at := convergedOn(t, obs, pids, last, final, 0, 10*time.Second)
	t.Logf("every process on the store and on %s %v after the last switch began", final, at.Sub(last))

	// Each process adopted each colour within the overlap, before the
	// engine could stop serving the old one.
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
			switch {
			case adopted.IsZero():
				t.Errorf("switch %d to %s: pid %d (deaf %v) never adopted it", k+1, colour, pid, i < deaf)
				continue
			case adopted.Sub(began) > overlap:
				t.Errorf("switch %d to %s: pid %d (deaf %v) adopted it %v after it began, after the overlap (%v; the engine finished it after %v)",
					k+1, colour, pid, i < deaf, adopted.Sub(began), overlap, finishes[k].Sub(began))
			}
			lags[i < deaf] = append(lags[i < deaf], adopted.Sub(began))
		}
	}
	obs.mu.Unlock()
	for _, d := range []bool{true, false} {
		l := lags[d]
		slices.Sort(l)
		if len(l) > 0 {
			t.Logf("deaf %v: adopted %d switches after the engine began them: median %v, max %v", d, len(l), l[len(l)/2], l[len(l)-1])
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
