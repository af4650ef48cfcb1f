package integration

import (
	"fmt"
	"math"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/redistest"
)

// TestBrownout: every command between the fleet and Redis is slowed
// for 10 s, twice: by 100 ms a round trip (well within the 250 ms store
// deadline: Redis answers every call, late), and by 200 ms a round trip,
// the brownout (at the deadline, on a loaded machine); then every
// call of every process's store hangs for 10 s, whatever its deadline
// (hangStore). Nothing fails, and no query waits on the store: while the
// store hangs, every process runs queries from prepare to clear, and none
// of the store calls begun meanwhile came from a query (they carry no
// query's context; a query that had made one would have hung with it).
//
// The brownouts' figures are reported, not asserted: the fleet's median
// query time during each brownout against the median around it (the
// slower of the windows before and after it: the machine's load drifts
// too), and the median gap between the answer to a query's prepare and
// the arrival of its execute, where the client pins the query. Query
// times are the engine's, from the arrival of a query's prepare to the
// arrival of its clear; the fleet's throughput in each window is logged
// as well.
func TestBrownout(t *testing.T) {
	if testing.Short() {
		t.Skip("fleets of processes")
	}
	redistest.Require(t)
	const (
		n        = 8
		workers  = 3
		before   = 3 * time.Second
		brownout = 10 * time.Second
		// minQueries is the least the fleet must run in a window for its
		// median to count.
		minQueries = 50
		// minHung is the least every process must run while its store
		// hangs, for the scenario to show that queries go on.
		minHung = 5
	)
	r := redistest.Start(t)
	p := redistest.NewProxy(t, r.Addr())
	var tl timeline
	srv := newEngine(t, enginetest.Overlap, 0, tl.track(cache.Blue))
	clock := clockOf(srv)
	dir := t.TempDir()
	side := func(i int) string { return filepath.Join(dir, fmt.Sprintf("worker-%d.jsonl", i)) }
	procs := startWorkersEach(t, n, func(i int) spec {
		return spec{
			Engine: srv.Addr(), RedisURL: "redis://" + p.Addr() + "/0", Workers: workers, Policy: "eager",
			StatusEvery: 20 * time.Millisecond, PinTTL: 3 * time.Second,
			HangOnSignal: true, SideFile: side(i),
		}
	})
	obs := observe(procs)
	pids := procs.PIDs()
	// Registered after the workers, so it runs before their cleanup waits
	// for them: a hung store must be let go first.
	hung := false
	t.Cleanup(func() {
		if hung {
			signalAll(t, pids, syscall.SIGUSR1)
		}
	})
	obs.waitUntil(t, "workers ready", 30*time.Second, func() bool { return len(obs.ready) == n })

	// window measures the fleet's queries over d from now.
	type measured struct {
		queries   int
		p50, p90  time.Duration
		gap50     time.Duration // between prepare and execute: the pin
		perSecond float64
		degraded  float64 // the share of status reports that said degraded
	}
	window := func(what string, d time.Duration) measured {
		from := time.Now()
		<-time.After(d) // the window, or the brownout, lasts d
		to := time.Now()
		q, gaps := clock.window(from, to), clock.gapWindow(from, to)
		m := measured{len(q), quantile(q, 0.5), quantile(q, 0.9), quantile(gaps, 0.5), float64(len(q)) / to.Sub(from).Seconds(), 0}
		obs.mu.Lock()
		reports, degraded := 0, 0
		for _, sts := range obs.status {
			for _, r := range sts {
				if at := time.Unix(0, r.SeenAtNs); at.After(from) && at.Before(to) {
					reports++
					if r.Degraded {
						degraded++
					}
				}
			}
		}
		obs.mu.Unlock()
		if reports > 0 {
			m.degraded = float64(degraded) / float64(reports)
		}
		t.Logf("%s: %d queries (%.1f/s), median %v, p90 %v; median gap between prepare and execute %v; degraded %.0f%% of the time",
			what, m.queries, m.perSecond, m.p50, m.p90, m.gap50, 100*m.degraded)
		if m.queries < minQueries {
			t.Fatalf("invalid scenario: the fleet ran %d queries %s, want %d", m.queries, what, minQueries)
		}
		return m
	}

	f := figures{}
	for _, b := range []struct {
		name, key string
		delay     time.Duration // each way
	}{
		{"round trip +100ms", "rtt100", 50 * time.Millisecond},
		{"round trip +200ms", "rtt200", 100 * time.Millisecond},
	} {
		base := window("before the brownout ("+b.name+")", before)
		p.Delay(b.delay)
		during := window("during the brownout ("+b.name+")", brownout)
		p.Delay(0)
		agreedOn(t, obs, pids, time.Now(), cache.Blue, 20*time.Second) // all back on the store
		// The machine's own load drifts over a window (the bench's
		// windows vary by ±10 %): the brownout is set against the slower
		// of the windows before and after it.
		after := window("after the brownout ("+b.name+")", before)
		base.p50 = max(base.p50, after.p50)
		base.gap50 = max(base.gap50, after.gap50)
		ratio := float64(during.p50) / float64(base.p50)
		gapRatio := float64(during.gap50) / float64(base.gap50)
		t.Logf("brownout %s: median query %v around (the slower of before and after), %v during (%.2fx); median gap before the execute %v around, %v during (%.2fx); throughput %.1f/s before, %.1f/s during; degraded %.0f%% of the time",
			b.name, base.p50, during.p50, ratio, base.gap50, during.gap50, gapRatio, base.perSecond, during.perSecond, 100*during.degraded)
		f[b.key+"_median_ratio"] = math.Round(ratio*100) / 100
		f[b.key+"_gap_ratio"] = math.Round(gapRatio*100) / 100
		f[b.key+"_median_ms"] = ms(during.p50)
		f[b.key+"_around_median_ms"] = ms(base.p50)
		f[b.key+"_degraded_share"] = math.Round(during.degraded*100) / 100
	}

	// Every call of every process's store hangs for the whole window.
	hung = true
	signalAll(t, pids, syscall.SIGUSR1)
	for i := range n {
		waitSide(t, side(i), "hung")
	}
	hungAt := time.Now()
	<-time.After(brownout) // the hang lasts the window
	endAt := time.Now()
	ran := clock.ranWithin(hungAt, endAt)
	signalAll(t, pids, syscall.SIGUSR1)
	hung = false
	for i, pid := range pids {
		u := waitSide(t, side(i), "unhung")
		if u.PID != pid {
			t.Fatalf("side file %d is pid %d's, want %d's", i, u.PID, pid)
		}
		t.Logf("pid %d: %d store calls began while its store hung, %d of them on a query's path", pid, u.Begun, u.OnPath)
		if u.OnPath != 0 {
			t.Errorf("pid %d: %d store calls on a query's path while the store hung, want 0", pid, u.OnPath)
		}
		if u.Begun == 0 {
			t.Fatalf("invalid scenario: pid %d made no store call while its store hung", pid)
		}
	}
	loaded, total := 0, 0
	for _, q := range ran {
		total += q
		if q >= minHung {
			loaded++
		}
	}
	t.Logf("while every store call hung for %v, the processes ran %d queries from prepare to clear (by connection: %v)",
		endAt.Sub(hungAt), total, ran)
	if loaded < n {
		t.Errorf("%d of %d processes ran %d queries while their store hung (by connection: %v): the others' queries waited on the store",
			loaded, n, minHung, ran)
	}
	f["hung_queries"] = total
	agreedOn(t, obs, pids, time.Now(), cache.Blue, 20*time.Second) // all back on the store

	procs.Stop()
	obs.waitUntil(t, "every summary", 30*time.Second, func() bool { return len(obs.summaries) == n })
	sum := checkFleet(t, obs, srv, &tl)
	t.Logf("queries %d, longest %v, probes %d, replays %d, 456s %d, store errors %d",
		sum.Queries, time.Duration(sum.MaxQueryNs), sum.Probes, sum.Replays, sum.WrongStrategy, sum.StoreErrors)
	f["queries"], f["longest_query_ms"] = sum.Queries, ms(time.Duration(sum.MaxQueryNs))
	logFigures(t, f)
}

// signalAll sends sig to every process in pids.
func signalAll(t *testing.T, pids []int, sig syscall.Signal) {
	t.Helper()
	for _, pid := range pids {
		if err := syscall.Kill(pid, sig); err != nil {
			t.Errorf("signal pid %d: %v", pid, err)
		}
	}
}
