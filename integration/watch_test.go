package integration

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/coordinator"
	"github.com/e6coord/e6coord/internal/daemon"
	"github.com/e6coord/e6coord/internal/fleet"
	"github.com/e6coord/e6coord/internal/redistest"
)

// startWatcher runs the daemon of `e6coord watch` in the test process on
// srv and redisURL, and returns it and its stop function, which the test's
// cleanup calls too.
func startWatcher(t *testing.T, srv *enginetest.Server, redisURL string, interval, cacheTTL time.Duration) (*daemon.Daemon, func()) {
	t.Helper()
	d, err := daemon.New(daemon.Config{
		Client: client.Config{
			Addr: srv.Addr(), User: user, Password: password,
			Catalog: enginetest.Catalog, Schema: enginetest.Schema,
			RedisURL:     redisURL,
			Coordination: coordinator.Config{CacheTTL: cacheTTL},
		},
		Listen: "127.0.0.1:0", Interval: interval,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once atomic.Bool
	stop := func() {
		if !once.CompareAndSwap(false, true) {
			return
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watcher: %v", err)
		}
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get("http://" + d.Addr() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d, stop
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("watcher not ready after 10s (%v)", err)
		}
		<-tick.C
	}
}

// TestWatcherKeepsFleetFresh runs a watcher through three CacheTTL
// periods beside worker processes that loop queries: the workers make no
// probe, the engine sees no authenticate but the watcher's (at least one
// per CacheTTL), and every worker process runs queries, from prepare to
// clear, while the watcher's probes are under way, though every probe is
// made slow for the test: no query waits on a probe. The invariants hold
// (checkFleet). Without the watcher, a worker probes: the fleet's own early
// refresh, which the watcher made needless (how long after it was ready is
// reported against CacheTTL).
func TestWatcherKeepsFleetFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("fleets of processes")
	}
	redistest.Require(t)
	const (
		cacheTTL = 3 * time.Second
		interval = 200 * time.Millisecond
		// probeDelay slows every authenticate once slow is set, so that a
		// query waiting on a probe takes longer; it stays under the
		// probes' timeout (ProbeLeaseTTL/3, 1.67 s).
		probeDelay = time.Second
	)
	r := redistest.Start(t)
	var slow atomic.Bool
	var probesMu sync.Mutex
	var probing [][2]time.Time // the slowed authenticates: when each began and ended
	var tl timeline
	srv := newEngine(t, enginetest.Overlap, 0, tl.track(cache.Blue), func(o *enginetest.Options) {
		o.Inject = func(ctx context.Context, method string, _ proto.Message) error {
			if slow.Load() && method == e6xpb.QueryEngineService_Authenticate_FullMethodName {
				began := time.Now()
				t := time.NewTimer(probeDelay) // a slow engine, not a wait of the test
				defer t.Stop()
				select {
				case <-t.C:
				case <-ctx.Done():
				}
				probesMu.Lock()
				probing = append(probing, [2]time.Time{began, time.Now()})
				probesMu.Unlock()
			}
			return nil
		}
	})
	w, stopWatcher := startWatcher(t, srv, r.URL(), interval, cacheTTL)

	procs := startWorkers(t, 3, spec{
		Engine: srv.Addr(), RedisURL: r.URL(), Workers: 2,
		CacheTTL: cacheTTL, StatusEvery: 50 * time.Millisecond,
	})
	obs := observe(procs)
	pids := procs.PIDs()
	obs.waitUntil(t, "workers ready", 30*time.Second, func() bool { return len(obs.ready) == len(pids) })

	slow.Store(true)
	// The workers' sessions are open: any authenticate from now on is a
	// probe.
	authsBefore := srv.Counts().Authenticates
	watcherBefore := w.Coordinator().Stats().Probes
	start := time.Now()
	end := start.Add(3 * cacheTTL)
	obs.waitUntil(t, "three cache TTLs of status reports", 3*cacheTTL+20*time.Second, func() bool {
		_, ok := obs.allStatus(pids, end, func(fleet.Report) bool { return true })
		return ok
	})
	authenticates := srv.Counts().Authenticates // before the watcher's count: see below
	auths := authenticates.Blue + authenticates.Green + authenticates.None + authenticates.Other -
		(authsBefore.Blue + authsBefore.Green + authsBefore.None + authsBefore.Other)
	watcherProbes := w.Coordinator().Stats().Probes - watcherBefore
	obs.mu.Lock()
	workerProbes := uint64(0)
	reports := 0
	for _, pid := range pids {
		for _, rep := range obs.status[pid] {
			if at := time.Unix(0, rep.SeenAtNs); at.After(start) && at.Before(end) {
				reports++
				workerProbes = max(workerProbes, rep.Probes)
			}
		}
	}
	obs.mu.Unlock()
	// The workers' queries that ran, from prepare to clear, while a probe
	// was under way, by connection.
	during := map[string]int{}
	probesMu.Lock()
	slowProbes := len(probing)
	for _, p := range probing {
		for peer, n := range clockOf(srv).ranWithin(p[0], p[1]) {
			during[peer] += n
		}
	}
	probesMu.Unlock()

	procs.Stop()
	obs.waitUntil(t, "every summary", 30*time.Second, func() bool { return len(obs.summaries) == len(pids) })
	sum := checkFleet(t, obs, srv, &tl)
	t.Logf("%v (%d cache TTLs of %v): the watcher made %d probes, the engine saw %d authenticates; "+
		"%d worker status reports, most probes by a worker %d; %d queries, the longest %v (a probe takes %v)",
		time.Since(start).Round(time.Millisecond), 3, cacheTTL, watcherProbes, auths, reports, workerProbes,
		sum.Queries, time.Duration(sum.MaxQueryNs).Round(time.Microsecond), probeDelay)
	if sum.Probes != 0 || workerProbes != 0 {
		t.Errorf("the workers made %d probes (%d in the window), want 0", sum.Probes, workerProbes)
	}
	// The watcher counts a probe as it starts; the engine logs it as it
	// ends: one may be under way.
	if uint64(auths) > watcherProbes || uint64(auths)+1 < watcherProbes {
		t.Errorf("the engine saw %d authenticate calls, the watcher made %d probes", auths, watcherProbes)
	}
	if watcherProbes < 3 {
		t.Errorf("the watcher made %d probes in three cache TTLs, want at least one per CacheTTL", watcherProbes)
	}
	if sum.Queries == 0 {
		t.Error("the workers ran no query")
	}
	t.Logf("%d slowed probes; the workers' queries run from prepare to clear while one was under way, by connection: %v",
		slowProbes, during)
	busy := 0
	for _, n := range during {
		if n > 0 {
			busy++
		}
	}
	if busy < len(pids) {
		t.Errorf("%d of %d worker processes ran a query while a probe was under way (by connection: %v): the others waited on it",
			busy, len(pids), during)
	}

	// The control: without the watcher a worker's own early refresh
	// probes within CacheTTL.
	stopWatcher()
	slow.Store(false)
	control := startWorkers(t, 1, spec{
		Engine: srv.Addr(), RedisURL: r.URL(), Workers: 1,
		CacheTTL: cacheTTL, StatusEvery: 20 * time.Millisecond,
	})
	cobs := observe(control)
	cobs.waitUntil(t, "the control worker ready", 30*time.Second, func() bool { return len(cobs.ready) == 1 })
	stopped := time.Now()
	cobs.waitUntil(t, "a probe by the worker without a watcher", hangAfter(cacheTTL), func() bool {
		_, ok := cobs.allStatus(control.PIDs(), stopped, func(r fleet.Report) bool { return r.Probes > 0 })
		return ok
	})
	took := time.Since(stopped)
	t.Logf("without the watcher the worker probed %v after it was ready (CacheTTL %v)", took.Round(time.Millisecond), cacheTTL)
	logFigures(t, figures{"watcher_probes": watcherProbes, "worker_probes": sum.Probes, "slow_probes": slowProbes,
		"longest_query_ms": ms(time.Duration(sum.MaxQueryNs)), "probe_delay_ms": ms(probeDelay),
		"control_probe_after_ms": ms(took), "cache_ttl_ms": ms(cacheTTL)})
}
