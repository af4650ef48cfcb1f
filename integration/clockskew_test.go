package integration

import (
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/redistest"
)

// TestClockSkew: a third of the fleet's clocks run 30 s ahead and a third
// 30 s behind while the engine switches every 1.5 s for about ten
// seconds, on its own schedule, each switch overlapping for 1 s at least
// and until the queries on the old colour are done: no query fails, no
// process flips back, and every process is on the last colour after the
// last switch (the time it takes is reported against a budget of 2 s).
func TestClockSkew(t *testing.T) {
	if testing.Short() {
		t.Skip("fleets of processes")
	}
	redistest.Require(t)
	t.Run("backend=redis/scenario=clock-skew-30s", func(t *testing.T) {
		const (
			n        = 9
			skew     = 30 * time.Second
			flips    = 7
			every    = 1500 * time.Millisecond
			overlap  = every * 2 / 3
			converge = 2 * time.Second
		)
		r := redistest.Start(t)
		var tl timeline
		srv := newEngine(t, enginetest.Overlap, 0, tl.track(cache.Blue))
		skews := []time.Duration{skew, -skew, 0}
		procs := startWorkersEach(t, n, func(i int) spec {
			return spec{
				Engine: srv.Addr(), RedisURL: r.URL(), Workers: 2, Policy: "eager", Query: "SELECT * FROM demo.numbers LIMIT 10",
				StatusEvery: 20 * time.Millisecond, PinTTL: 3 * time.Second, ClockSkew: skews[i%3],
			}
		})
		obs := observe(procs)
		pids := procs.PIDs()
		obs.waitUntil(t, "workers ready", 30*time.Second, func() bool { return len(obs.ready) == n })

		// The engine's schedule, independent of the fleet: a switch every
		// period, each overlapping for overlap at least and until the
		// queries on the old colour are done.
		done, begins := schedule(t, srv, flips, every, overlap, clockOf(srv).drained)
		waitClosed(t, obs, "the engine's last switch", hangAfter(flips*every), done)
		if len(*begins) != flips {
			t.Fatalf("invalid scenario: the engine began %d of %d switches", len(*begins), flips)
		}
		last := (*begins)[len(*begins)-1]
		final := strategy(srv.State().Active)
		at := convergedOn(t, obs, pids, last, final, 0, hangAfter(converge))
		t.Logf("every process on %s %v after the last switch began (budget %v)", final, at.Sub(last), converge)
		obs.mu.Lock()
		switches := obs.switchesSince(time.Time{})
		obs.mu.Unlock()
		if switches < flips {
			t.Errorf("the fleet saw %d switches, the engine made %d", switches, flips)
		}

		procs.Stop()
		obs.waitUntil(t, "every summary", 30*time.Second, func() bool { return len(obs.summaries) == n })
		sum := checkFleet(t, obs, srv, &tl)
		t.Logf("queries %d, engine switches %d, fleet switches %d, probes %d, replays %d, 456s %d, store errors %d",
			sum.Queries, srv.State().Switches, switches, sum.Probes, sum.Replays, sum.WrongStrategy, sum.StoreErrors)
		logFigures(t, figures{"converge_ms": ms(at.Sub(last)), "converge_budget_ms": ms(converge),
			"queries": sum.Queries, "wrong_strategy": sum.WrongStrategy})
	})
}
