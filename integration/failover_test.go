package integration

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/e6coord/e6coord/cache"
	redisstore "github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/redistest"
)

// failoverBudget is the budget of how long after a promotion the fleet is
// back on the store, on the engine's colour: reported, not asserted.
const failoverBudget = 2 * time.Second

// TestSentinelFailoverLosesWrite: a fleet on a Sentinel topology commits a
// switch that only the primary holds (its replica's link is cut), the
// primary dies and the replica, which still holds the record before the
// switch, is promoted. No process flips back to the colour the engine
// left, the fleet is back on the store and on the engine's colour (the
// time from the promotion is reported against failoverBudget), writes the
// newest record back above the store's generation, and goes on switching;
// no query fails.
func TestSentinelFailoverLosesWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("fleets of processes")
	}
	redistest.Require(t)
	t.Run("backend=sentinel/scenario=failover-loses-write", func(t *testing.T) {
		const n = 8
		s := redistest.StartSentinel(t, redistest.SentinelOptions{})
		var tl timeline
		srv := newEngine(t, enginetest.Overlap, 0, tl.track(cache.Blue))
		procs := startWorkers(t, n, spec{
			Engine: srv.Addr(), RedisURL: s.URL(), Workers: 2, Policy: "eager",
			StatusEvery: 20 * time.Millisecond, PinTTL: 3 * time.Second,
		})
		obs := observe(procs)
		pids := procs.PIDs()
		obs.waitUntil(t, "workers ready", 30*time.Second, func() bool { return len(obs.ready) == n })

		// Baseline: two switches, replicated.
		switchFleet(t, obs, srv, pids, cache.Green)
		before := switchFleet(t, obs, srv, pids, cache.Blue)
		s.WaitReplicated()

		// The switch to green reaches only the primary.
		s.CutReplication()
		committed := switchFleet(t, obs, srv, pids, cache.Green)
		t.Logf("switch to green committed at generation %d on the primary alone (replica at %d)", committed, before)
		scope := cache.Scope{Engine: srv.Addr()}
		if rec := loadFrom(t, s.Nodes()[1].URL(), scope); rec.Active != cache.Blue || rec.Generation >= committed {
			t.Fatalf("the replica holds %s despite the cut: no write to lose", rec)
		} else {
			t.Logf("the replica holds %s", rec)
		}

		old := s.Primary()
		killedAt := time.Now()
		old.Kill()
		s.WaitFailover(old)
		promotedAt := time.Now()
		t.Logf("replica promoted %v after the kill", promotedAt.Sub(killedAt))
		s.HealReplication()

		at := convergedOn(t, obs, pids, promotedAt, cache.Green, committed, hangAfter(failoverBudget))
		took := at.Sub(promotedAt)
		t.Logf("fleet back on the store and on green %v after the promotion (budget %v)", took, failoverBudget)

		// The store holds the newest record again, above what it had lost.
		st, err := redisstore.Open(s.URL(), redisstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		var rec cache.State
		obs.waitUntil(t, "the store on green above the lost generation", 10*time.Second, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			rec, err = st.Load(ctx, scope)
			return err == nil && rec.Active == cache.Green && rec.Generation >= committed
		})
		t.Logf("store record after the failover: %s (%v after the promotion)", rec, time.Since(promotedAt))

		// And the fleet goes on switching above it.
		if gen := switchFleet(t, obs, srv, pids, cache.Blue); gen <= rec.Generation {
			t.Errorf("switch after the failover at generation %d, not above the store's %d", gen, rec.Generation)
		}

		procs.Stop()
		obs.waitUntil(t, "every summary", 30*time.Second, func() bool { return len(obs.summaries) == n })
		sum := checkFleet(t, obs, srv, &tl)
		t.Logf("queries %d, engine switches %d, probes %d, replays %d, 456s %d, store errors %d",
			sum.Queries, srv.State().Switches, sum.Probes, sum.Replays, sum.WrongStrategy, sum.StoreErrors)
		logFigures(t, figures{"promotion_ms": ms(promotedAt.Sub(killedAt)), "converge_ms": ms(took),
			"converge_budget_ms": ms(failoverBudget), "queries": sum.Queries, "wrong_strategy": sum.WrongStrategy})
	})
}

// loadFrom reads scope's record from the Redis at url.
func loadFrom(t *testing.T, url string, scope cache.Scope) cache.State {
	t.Helper()
	// Not redisstore.Open, whose clients refuse a replica: this one is
	// read on purpose.
	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(opts)
	defer rdb.Close()
	st := redisstore.New(rdb, redisstore.Options{})
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rec, err := st.Load(ctx, scope)
	if err != nil {
		t.Fatalf("load %s from %s: %v", scope, url, err)
	}
	return rec
}
