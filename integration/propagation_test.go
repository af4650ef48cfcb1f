package integration

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/coordinator"
	"github.com/e6coord/e6coord/internal/fleet"
	"github.com/e6coord/e6coord/internal/redistest"
)

// TestSwitchReachesOtherProcess: a switch committed by one process is seen
// by another process, through a real redis-server; the lags, from the
// commit to the other process adopting it, are reported against a budget
// of 10 ms.
func TestSwitchReachesOtherProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("fleets of processes")
	}
	redistest.Require(t)
	const budget = 10 * time.Millisecond
	r := redistest.Start(t)
	srv := newEngine(t, enginetest.Overlap, 0)
	procs := startWorkers(t, 1, spec{Engine: srv.Addr(), RedisURL: r.URL(), Workers: 0})
	obs := observe(procs)
	obs.waitUntil(t, "worker ready", 30*time.Second, func() bool { return len(obs.ready) == 1 })

	conn := openConn(t, srv, r.URL(), func(cfg *client.Config) { cfg.Coordination.Policy = coordinator.Eager })
	ctx := context.Background()
	var lags []time.Duration
	colour := cache.Blue
	for range 10 {
		next := colour.Other()
		if err := srv.BeginSwitch(colourOf(next)); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Schemas(ctx); err != nil { // hears new_strategy; switches (Eager)
			t.Fatal(err)
		}
		waitRecord(t, conn, next.String()+" active", 20*time.Second, func(st cache.State) bool { return st.Active == next })
		rec := conn.Coordinator().Snapshot()
		gen := rec.Generation
		var seen time.Time
		obs.waitUntil(t, "the other process sees "+next.String(), 10*time.Second, func() bool {
			for _, c := range obs.changes {
				// At gen or above: a watcher that was slow skips to the
				// newest record.
				if c.Generation >= gen && c.Active == next.String() {
					seen = time.Unix(0, c.SeenAtNs)
					return true
				}
			}
			return false
		})
		// ChangedAt is taken just before the swap and kept to the
		// millisecond: the lag is overstated by up to a millisecond.
		lags = append(lags, seen.Sub(rec.ChangedAt))
		srv.FinishSwitch()
		colour = next
	}
	slices.Sort(lags)
	t.Logf("switch seen by the other process after: min %v, median %v, max %v (budget %v)",
		lags[0], lags[len(lags)/2], lags[len(lags)-1], budget)
	logFigures(t, figures{"lag_min_ms": ms(lags[0]), "lag_p50_ms": ms(lags[len(lags)/2]),
		"lag_max_ms": ms(lags[len(lags)-1]), "budget_ms": ms(budget)})
}

// TestSixteenProcessesProbeTwice: a switch costs a fleet of 16 processes
// under load at most two probes of the engine in total.
func TestSixteenProcessesProbeTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("fleets of processes")
	}
	redistest.Require(t)
	const n = 16
	r := redistest.Start(t)
	srv := newEngine(t, enginetest.Overlap, 0)
	procs := startWorkers(t, n, spec{Engine: srv.Addr(), RedisURL: r.URL(), Workers: 1, StatusEvery: 20 * time.Millisecond})
	obs := observe(procs)
	pids := procs.PIDs()
	obs.waitUntil(t, "workers ready", 60*time.Second, func() bool { return len(obs.ready) == n })
	conn := openConn(t, srv, r.URL())
	ctx := context.Background()
	if err := conn.Connect(ctx); err != nil {
		t.Fatal(err)
	}

	probes := func(since time.Time) (uint64, bool) {
		var sum uint64
		for _, pid := range pids {
			st := obs.status[pid]
			if len(st) == 0 || !time.Unix(0, st[len(st)-1].SeenAtNs).After(since) {
				return 0, false
			}
			sum += st[len(st)-1].Probes
		}
		return sum + conn.Coordinator().Stats().Probes, true
	}
	var before uint64
	mark := time.Now()
	obs.waitUntil(t, "status of every process", 20*time.Second, func() bool {
		var ok bool
		before, ok = probes(mark)
		return ok
	})

	if err := srv.BeginSwitch(enginetest.Green); err != nil {
		t.Fatal(err)
	}
	waitRecord(t, conn, "green accepted", 20*time.Second, func(st cache.State) bool {
		return st.Active == cache.Green || (st.Pending == cache.Green && !st.AcceptedAt.IsZero())
	})
	srv.FinishSwitch() // the engine drops blue: the drain ends with 456s
	switched := time.Now()
	obs.waitUntil(t, "every process on green", 20*time.Second, func() bool {
		_, ok := obs.allStatus(pids, switched, func(r fleet.Report) bool { return r.Active == "green" })
		return ok
	})
	var after uint64
	mark = time.Now()
	obs.waitUntil(t, "status of every process", 20*time.Second, func() bool {
		var ok bool
		after, ok = probes(mark)
		return ok
	})
	t.Logf("probes for one switch across %d processes: %d", n, after-before)
	if after-before > 2 {
		t.Errorf("the switch cost %d probes, want at most 2", after-before)
	}
	procs.Stop()
	obs.waitUntil(t, "every summary", 30*time.Second, func() bool { return len(obs.summaries) == n })
	obs.check(t)
	if mixed := srv.MixedQueries(); len(mixed) > 0 {
		t.Errorf("%d queries carried two colours", len(mixed))
	}
}
