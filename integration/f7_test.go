package integration

import (
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/redistest"
)

// TestF7Brownout (F7): every command between the fleet and Redis is slowed
// for 10 s, twice: by 100 ms a round trip (well within the 250 ms store
// deadline: Redis answers every call, late), and by 200 ms a round trip,
// the brownout (at the deadline, on a loaded machine). (At 200 ms
// each way the fleet degrades almost throughout, and with the proxy and
// the engine in this one process the engine itself slowed by up to 1.4x:
// that case is not asserted.)
// Nothing fails, and no query waits on a store round trip: during each
// brownout the fleet's median query time stays within 1.2 times the
// median around it (the slower of the windows before and after it: the
// machine's load drifts too), and so does the median gap between the
// answer to a query's prepare and the arrival of its execute, where the
// client pins
// the query (a gap that grows by less than slack passes, as noise).
// Query times are the engine's, from the arrival of a query's prepare to
// the arrival of its clear; the fleet's throughput in each window is
// logged as well, for the time the release after the clear takes.
func TestF7Brownout(t *testing.T) {
	if testing.Short() {
		t.Skip("fleets of processes")
	}
	redistest.Require(t)
	const (
		n        = 8
		workers  = 3
		before   = 3 * time.Second
		brownout = 10 * time.Second
		ratio    = 1.2
		slack    = 10 * time.Millisecond
		// minQueries is the least the fleet must run in a window for its
		// median to count.
		minQueries = 50
	)
	r := redistest.Start(t)
	p := redistest.NewProxy(t, r.Addr())
	var tl timeline
	var clock queryClock
	srv := newEngine(t, enginetest.Overlap, 0, tl.track(cache.Blue), clock.option)
	procs := startWorkers(t, n, spec{
		Engine: srv.Addr(), RedisURL: "redis://" + p.Addr() + "/0", Workers: workers, Policy: "eager",
		StatusEvery: 20 * time.Millisecond, PinTTL: 3 * time.Second,
	})
	obs := observe(procs)
	pids := procs.PIDs()
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

	for _, b := range []struct {
		name  string
		delay time.Duration // each way
	}{
		{"round trip +100ms", 50 * time.Millisecond},
		{"round trip +200ms", 100 * time.Millisecond},
	} {
		base := window("before the brownout ("+b.name+")", before)
		p.Delay(b.delay)
		during := window("during the brownout ("+b.name+")", brownout)
		p.Delay(0)
		agreedOn(t, obs, pids, time.Now(), cache.Blue, 10*time.Second) // all back on the store
		// The machine's own load drifts over a window by as much as the
		// bound (the bench's windows vary by ±10 %): the brownout is
		// judged against the slower of the windows before and after it.
		after := window("after the brownout ("+b.name+")", before)
		if after.p50 > base.p50 {
			base.p50 = after.p50
		}
		if after.gap50 > base.gap50 {
			base.gap50 = after.gap50
		}
		got := float64(during.p50) / float64(base.p50)
		t.Logf("brownout %s: median query %v around (the slower of before and after), %v during (%.2fx); throughput %.1f/s before, %.1f/s during",
			b.name, base.p50, during.p50, got, base.perSecond, during.perSecond)
		if got > ratio && during.p50-base.p50 > slack {
			t.Errorf("brownout %s: median query %v during, %v before: %.2fx, want at most %.1fx",
				b.name, during.p50, base.p50, got, ratio)
		}
		if gap := float64(during.gap50) / float64(base.gap50); gap > ratio && during.gap50-base.gap50 > slack {
			t.Errorf("brownout %s: median gap between a query's prepare and its execute (its pin) %v during, %v before: %.2fx, want at most %.1fx: the query waits on the store",
				b.name, during.gap50, base.gap50, gap, ratio)
		}
	}

	procs.Stop()
	obs.waitUntil(t, "every summary", 30*time.Second, func() bool { return len(obs.summaries) == n })
	sum := checkFleet(t, obs, srv, &tl)
	t.Logf("queries %d, longest %v, probes %d, replays %d, 456s %d, store errors %d",
		sum.Queries, time.Duration(sum.MaxQueryNs), sum.Probes, sum.Replays, sum.WrongStrategy, sum.StoreErrors)
}
