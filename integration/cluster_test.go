package integration

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/e6coord/e6coord/cache"
	redisstore "github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/redistest"
)

// TestClusterMasterKilled: a fleet shares the colour through a Redis
// Cluster and switches a few times; the master that holds the scope's slot
// is killed, its replica takes over, and the fleet is back on the store
// and on the engine's colour, then goes on switching: no query fails, no
// process flips back.
func TestClusterMasterKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("fleets of processes")
	}
	redistest.Require(t)
	t.Run("backend=cluster/scenario=master-killed", func(t *testing.T) {
		const n = 8
		c := redistest.StartCluster(t)
		var tl timeline
		srv := newEngine(t, enginetest.Overlap, 0, tl.track(cache.Blue))
		procs := startWorkers(t, n, spec{
			Engine: srv.Addr(), RedisURL: c.URL(), Workers: 2, Policy: "eager",
			StatusEvery: 20 * time.Millisecond, PinTTL: 3 * time.Second,
		})
		obs := observe(procs)
		pids := procs.PIDs()
		obs.waitUntil(t, "workers ready", 30*time.Second, func() bool { return len(obs.ready) == n })

		// Baseline: a few switches through the cluster.
		colour := cache.Blue
		var gen uint64
		for range 3 {
			colour = colour.Other()
			gen = switchFleet(t, obs, srv, pids, colour)
		}
		// The scope's keys (cache/redis keys.go): the cluster is empty, the
		// engine's address needs no escaping.
		key := redisstore.DefaultPrefix + ":{/" + srv.Addr() + "}:record"
		c.WaitReplicated(key)
		// The key is the scope's: its master holds it.
		m := redis.NewClient(&redis.Options{Addr: c.MasterOf(key).Addr()})
		exists, err := m.Exists(context.Background(), key).Result()
		m.Close()
		if err != nil || exists != 1 {
			t.Fatalf("the master of slot %d does not hold %s: %d, %v", c.Slot(key), key, exists, err)
		}

		killedAt := time.Now()
		old := c.KillMasterOf(key)
		c.WaitTakeover(key, old)
		tookOver := time.Now()
		t.Logf("replica took over slot %d %v after its master was killed", c.Slot(key), tookOver.Sub(killedAt))

		at := convergedOn(t, obs, pids, tookOver, colour, gen, 20*time.Second)
		t.Logf("fleet back on the store and on %s %v after the takeover", colour, at.Sub(tookOver))

		for range 2 {
			colour = colour.Other()
			if next := switchFleet(t, obs, srv, pids, colour); next <= gen {
				t.Errorf("switch to %s after the takeover at generation %d, not above %d", colour, next, gen)
			} else {
				gen = next
			}
		}

		procs.Stop()
		obs.waitUntil(t, "every summary", 30*time.Second, func() bool { return len(obs.summaries) == n })
		sum := checkFleet(t, obs, srv, &tl)
		t.Logf("queries %d, engine switches %d, probes %d, replays %d, 456s %d, store errors %d",
			sum.Queries, srv.State().Switches, sum.Probes, sum.Replays, sum.WrongStrategy, sum.StoreErrors)
		logFigures(t, figures{"takeover_ms": ms(tookOver.Sub(killedAt)), "converge_ms": ms(at.Sub(tookOver)),
			"queries": sum.Queries, "wrong_strategy": sum.WrongStrategy})
	})
}
