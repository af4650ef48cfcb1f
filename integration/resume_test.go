package integration

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/coordinator"
	"github.com/e6coord/e6coord/internal/redistest"
)

// TestSuspendedClusterResumesOnce starts 16 worker processes against a
// cluster that is suspended and takes a while to resume: one resume call
// reaches the engine for the whole fleet, every process's first query
// succeeds after it, and no query fails.
func TestSuspendedClusterResumesOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("fleets of processes")
	}
	redistest.Require(t)
	const n = 16
	r := redistest.Start(t)
	srv := newEngine(t, enginetest.Overlap, 0, func(o *enginetest.Options) {
		o.ClusterStatus = enginetest.StatusSuspended
		o.ResumeTakes = 750 * time.Millisecond
	})
	procs := startWorkers(t, n, spec{Engine: srv.Addr(), RedisURL: r.URL(), Workers: 2})
	obs := observe(procs)
	obs.waitUntil(t, "every process's first call", 60*time.Second, func() bool { return len(obs.ready) == n })
	if got := srv.ClusterStatus(); got != enginetest.StatusActive {
		t.Fatalf("cluster status %q after the fleet started, want active", got)
	}
	procs.Stop()
	obs.waitUntil(t, "summaries", 60*time.Second, func() bool { return len(obs.summaries) == n })
	sum := obs.check(t)
	obs.mu.Lock()
	for pid, st := range obs.summaries {
		if st.Queries == 0 {
			t.Errorf("process %d ran no query", pid)
		}
	}
	obs.mu.Unlock()
	if got := srv.ResumeCalls(); got != 1 {
		t.Errorf("resume calls reaching the engine = %d, want 1 for the fleet", got)
	}
	t.Logf("16 processes: %d queries, 0 failed, %d resume call", sum.Queries, srv.ResumeCalls())
}

// TestResumeFailureReachesTheFleet: a cluster that fails to resume, and one
// that is not active by the deadline, give every waiting query of the fleet
// the error naming the cluster and its last state, after one resume call:
// a ResumeError, not the query's own deadline (ten times the resume
// deadline), so the resume deadline ended the wait. The time each query
// waited is reported against the deadline.
func TestResumeFailureReachesTheFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("fleets of processes")
	}
	redistest.Require(t)
	const deadline = 2 * time.Second
	for _, tt := range []struct {
		name  string
		adj   func(*enginetest.Options)
		state string
	}{
		{"failed", func(o *enginetest.Options) { o.ResumeTakes, o.ResumeFails = 300*time.Millisecond, true }, "failed"},
		{"deadline", func(o *enginetest.Options) { o.ResumeTakes = enginetest.ResumeNever }, "resuming"},
	} {
		t.Run("outcome="+tt.name, func(t *testing.T) {
			r := redistest.Start(t)
			srv := newEngine(t, enginetest.Overlap, 0, func(o *enginetest.Options) {
				o.ClusterStatus = enginetest.StatusSuspended
				tt.adj(o)
			})
			const conns = 4
			errs := make([]error, conns)
			took := make([]time.Duration, conns)
			var wg sync.WaitGroup
			start := time.Now()
			for i := range conns {
				conn := openConn(t, srv, r.URL(), func(cfg *client.Config) {
					cfg.Cluster = "prod-eu"
					cfg.Coordination.ResumeTimeout = deadline
				})
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), hangAfter(deadline))
					defer cancel()
					_, errs[i] = conn.Query(ctx, "SELECT 1")
					took[i] = time.Since(start)
				})
			}
			wg.Wait()
			for i, err := range errs {
				var re *coordinator.ResumeError
				if !errors.As(err, &re) || string(re.State) != tt.state || re.Cluster != "prod-eu" {
					t.Errorf("conn %d: %v; want a ResumeError naming prod-eu, state %s", i, err, tt.state)
				}
			}
			slices.Sort(took)
			t.Logf("the queries got their errors after %v to %v (resume deadline %v)", took[0], took[len(took)-1], deadline)
			logFigures(t, figures{"error_after_max_ms": ms(took[len(took)-1]), "deadline_ms": ms(deadline)})
			if got := srv.ResumeCalls(); got != 1 {
				t.Errorf("resume calls = %d, want 1", got)
			}
		})
	}
}
