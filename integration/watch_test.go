package integration

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
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
		Engine: srv.Addr(), User: user, Password: password,
		Catalog: enginetest.Catalog, Schema: enginetest.Schema,
		RedisURL: redisURL, Listen: "127.0.0.1:0", Interval: interval, CacheTTL: cacheTTL,
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

// TestWatcherKeepsFleetFresh runs a watcher through three CacheTTL periods
// beside worker processes that loop queries: the workers make no probe,
// the engine sees no authenticate but the watcher's, and no worker query
// waits on a probe, though every probe is made slow for the test. Without
// the watcher, a worker probes within CacheTTL: the fleet's own early
// refresh, which the watcher made needless.
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
	srv := newEngine(t, enginetest.Overlap, 0, func(o *enginetest.Options) {
		o.Inject = func(ctx context.Context, method string, _ proto.Message) error {
			if slow.Load() && method == e6xpb.QueryEngineService_Authenticate_FullMethodName {
				t := time.NewTimer(probeDelay) // a slow engine, not a wait of the test
				defer t.Stop()
				select {
				case <-t.C:
				case <-ctx.Done():
				}
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
	srv.ResetLog() // the workers' sessions are open: any authenticate now is a probe
	watcherBefore := w.Coordinator().Stats().Probes
	start := time.Now()
	end := start.Add(3 * cacheTTL)
	obs.waitUntil(t, "three cache TTLs of status reports", 3*cacheTTL+20*time.Second, func() bool {
		_, ok := obs.allStatus(pids, end, func(fleet.Report) bool { return true })
		return ok
	})
	authenticates := srv.Counts().Authenticates // before the watcher's count: see below
	auths := authenticates.Blue + authenticates.Green + authenticates.None + authenticates.Other
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

	procs.Stop()
	obs.waitUntil(t, "every summary", 30*time.Second, func() bool { return len(obs.summaries) == len(pids) })
	sum := obs.check(t)
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
	if minimum := uint64(3 * cacheTTL / (interval + interval/4 + probeDelay + 100*time.Millisecond)); watcherProbes < minimum {
		t.Errorf("the watcher made %d probes in three cache TTLs, want at least %d (one per interval and probe)", watcherProbes, minimum)
	}
	if sum.Queries == 0 {
		t.Error("the workers ran no query")
	}
	if longest := time.Duration(sum.MaxQueryNs); longest >= probeDelay {
		t.Errorf("the longest query took %v: it waited on a probe (%v)", longest, probeDelay)
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
	cobs.waitUntil(t, "a probe by the worker without a watcher", 2*cacheTTL+5*time.Second, func() bool {
		_, ok := cobs.allStatus(control.PIDs(), stopped, func(r fleet.Report) bool { return r.Probes > 0 })
		return ok
	})
	took := time.Since(stopped)
	t.Logf("without the watcher the worker probed %v after it was ready", took.Round(time.Millisecond))
	if took > cacheTTL {
		t.Errorf("without the watcher the worker probed only %v after it was ready, want within CacheTTL (%v)", took, cacheTTL)
	}
}
