package coordinator_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/memory"
	"github.com/e6coord/e6coord/coordinator"
)

// fakeCluster is a scripted cluster service: a resume makes it resuming,
// and it becomes active (or failed, or stays resuming) after polls status
// calls. While it is not active, the engine answers 503.
type fakeCluster struct {
	mu      sync.Mutex
	state   cache.ClusterState
	polls   int                // status calls left while resuming
	outcome cache.ClusterState // what resuming ends in; "" never ends
	resumes int
}

func (f *fakeCluster) Status(context.Context, cache.Strategy) (cache.ClusterState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state == cache.ClusterResuming && f.outcome != "" {
		if f.polls--; f.polls < 0 {
			f.state = f.outcome
		}
	}
	return f.state, nil
}

func (f *fakeCluster) Resume(context.Context, cache.Strategy) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resumes++
	if f.state == cache.ClusterSuspended {
		f.state = cache.ClusterResuming
	}
	return nil
}

func (f *fakeCluster) resumeCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.resumes
}

func (f *fakeCluster) set(s cache.ClusterState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state = s
}

// probe answers 503 while the cluster is not active, else accepts blue.
func (f *fakeCluster) probe(_ context.Context, s cache.Strategy) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.state != cache.ClusterActive:
		return fmt.Errorf("unexpected HTTP status code received from server: 503: %w", coordinator.ErrSuspended)
	case s != cache.Blue:
		return coordinator.ErrWrongStrategy
	}
	return nil
}

// fleetOn returns n coordinators sharing one memory store, on the real
// clock, whose engine is f.
func fleetOn(t *testing.T, f *fakeCluster, n int, resumeTimeout time.Duration) []*coordinator.Coordinator {
	t.Helper()
	store := memory.New(memory.Options{})
	t.Cleanup(func() { store.Close() })
	var cs []*coordinator.Coordinator
	for range n {
		c, err := coordinator.New(store, f.probe, coordinator.Config{
			Scope: scope, RefreshInterval: -1, Cluster: f, ResumeTimeout: resumeTimeout,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		cs = append(cs, c)
	}
	return cs
}

// resolveAll resolves on every coordinator at once, each with a context
// whose deadline is waitTimeout, and returns their errors.
func resolveAll(cs []*coordinator.Coordinator) []error {
	return resolveAllWithin(cs, waitTimeout)
}

// resolveAllWithin is resolveAll with contexts whose deadline is d.
func resolveAllWithin(cs []*coordinator.Coordinator, d time.Duration) []error {
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), d)
			defer cancel()
			s, err := c.Resolve(ctx)
			if err == nil && s != cache.Blue {
				err = fmt.Errorf("resolved %v, want blue", s)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	return errs
}

// A suspended cluster is resumed once for the fleet; every process then
// learns the colour, and the record says the cluster is active.
func TestResumeOnceForTheFleet(t *testing.T) {
	f := &fakeCluster{state: cache.ClusterSuspended, polls: 2, outcome: cache.ClusterActive}
	cs := fleetOn(t, f, 4, time.Minute)
	for i, err := range resolveAll(cs) {
		if err != nil {
			t.Errorf("coordinator %d: %v", i, err)
		}
	}
	if n := f.resumeCalls(); n != 1 {
		t.Errorf("resume calls = %d, want 1", n)
	}
	for _, c := range cs {
		if st := c.Snapshot(); st.Cluster != cache.ClusterActive || st.Active != cache.Blue {
			t.Errorf("record %s cluster %q; want blue, cluster active", st, st.Cluster)
		}
		if got := c.Stats().Cluster; got != cache.ClusterActive {
			t.Errorf("Stats().Cluster = %q, want active", got)
		}
	}
	var resumes uint64
	for _, c := range cs {
		resumes += c.Stats().Resumes
	}
	if resumes != 1 {
		t.Errorf("Stats().Resumes over the fleet = %d, want 1", resumes)
	}
}

// A resume that fails gives every waiting process a ResumeError naming the
// cluster and its state, and the fleet calls resume again only on a new 503.
func TestResumeFailedReachesEveryWaiter(t *testing.T) {
	f := &fakeCluster{state: cache.ClusterSuspended, polls: 1, outcome: cache.ClusterFailed}
	cs := fleetOn(t, f, 3, time.Minute)
	for i, err := range resolveAll(cs) {
		var re *coordinator.ResumeError
		if !errors.As(err, &re) || re.State != cache.ClusterFailed || re.Cluster != scope.Cluster || !errors.Is(err, coordinator.ErrResumeFailed) {
			t.Errorf("coordinator %d: %v; want a ResumeError for cluster %s, state failed", i, err, scope.Cluster)
		}
	}
	if n := f.resumeCalls(); n != 1 {
		t.Errorf("resume calls = %d, want 1", n)
	}
	// A new 503 later: the cluster is suspended again, and resumes.
	f.mu.Lock()
	f.state, f.polls, f.outcome = cache.ClusterSuspended, 0, cache.ClusterActive
	f.mu.Unlock()
	if err := resolveAll(cs[:1])[0]; err != nil {
		t.Fatalf("after a new 503: %v", err)
	}
	if n := f.resumeCalls(); n != 2 {
		t.Errorf("resume calls = %d, want 2", n)
	}
}

// A cluster that is not active by ResumeTimeout gives every waiter a
// ResumeError: the resume's deadline ends their wait, not their own
// contexts' (a Resolve whose context ends returns the context's error). The
// contexts' deadline, ten times the resume's and a second, only catches a
// waiter that would wait on.
func TestResumeTimeout(t *testing.T) {
	const timeout = time.Second
	f := &fakeCluster{state: cache.ClusterSuspended} // resuming forever
	cs := fleetOn(t, f, 3, timeout)
	start := time.Now()
	for i, err := range resolveAllWithin(cs, 10*(timeout+time.Second)) {
		var re *coordinator.ResumeError
		if !errors.As(err, &re) || re.State != cache.ClusterResuming || re.Timeout != timeout {
			t.Errorf("coordinator %d: %v; want a ResumeError after %v, state resuming", i, err, timeout)
		}
	}
	t.Logf("the waiters got their errors %v after they began resolving (ResumeTimeout %v)", time.Since(start).Round(time.Millisecond), timeout)
	if n := f.resumeCalls(); n != 1 {
		t.Errorf("resume calls = %d, want 1", n)
	}
}

// A 503 while the cluster is active is not a suspended cluster: no resume,
// and the call is retried within its attempts.
func TestUnavailableActiveClusterRetried(t *testing.T) {
	f := &fakeCluster{state: cache.ClusterActive}
	cs := fleetOn(t, f, 1, time.Minute)
	c := cs[0]
	ctx := context.Background()
	if _, err := c.Resolve(ctx); err != nil {
		t.Fatal(err)
	}
	calls := 0
	err := c.Do(ctx, func(_ context.Context, s cache.Strategy) error {
		if calls++; calls <= 2 {
			return fmt.Errorf("503: %w", coordinator.ErrSuspended)
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("Do() = %v after %d calls; want success on the third", err, calls)
	}
	if n := f.resumeCalls(); n != 0 {
		t.Errorf("resume calls = %d, want 0 for an active cluster", n)
	}
}

// slowStatus is a cluster service whose status calls hang until their
// context ends, and whose resumes are accepted.
type slowStatus struct{ *fakeCluster }

func (s slowStatus) Status(ctx context.Context, _ cache.Strategy) (cache.ClusterState, error) {
	<-ctx.Done()
	return cache.ClusterUnknown, ctx.Err()
}

// A resume whose deadline passes during a cluster call ends with the same
// ResumeError as one that polls past it, not with the call's timeout.
func TestResumeDeadlineDuringStatus(t *testing.T) {
	const timeout = 300 * time.Millisecond
	f := &fakeCluster{state: cache.ClusterSuspended}
	store := memory.New(memory.Options{})
	t.Cleanup(func() { store.Close() })
	c, err := coordinator.New(store, f.probe, coordinator.Config{
		Scope: scope, RefreshInterval: -1, Cluster: slowStatus{f}, ResumeTimeout: timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_, err = c.Resolve(context.Background())
	var re *coordinator.ResumeError
	if !errors.As(err, &re) || re.Timeout != timeout {
		t.Errorf("Resolve() = %v; want a ResumeError after %v", err, timeout)
	}
}

// colourCluster is a fakeCluster that rejects the calls carrying colour
// reject, and records the colour of every call.
type colourCluster struct {
	*fakeCluster
	reject cache.Strategy
	sent   []cache.Strategy // guarded by fakeCluster.mu
}

func (c *colourCluster) note(s cache.Strategy) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, s)
	if s == c.reject {
		return fmt.Errorf("rejected: %w", coordinator.ErrWrongStrategy)
	}
	return nil
}

func (c *colourCluster) Status(ctx context.Context, s cache.Strategy) (cache.ClusterState, error) {
	if err := c.note(s); err != nil {
		return cache.ClusterUnknown, err
	}
	return c.fakeCluster.Status(ctx, s)
}

func (c *colourCluster) Resume(ctx context.Context, s cache.Strategy) error {
	if err := c.note(s); err != nil {
		return err
	}
	return c.fakeCluster.Resume(ctx, s)
}

// A cluster call carries the colour the record names; when the engine
// rejects it, the call is made once more with the other colour, and the
// rejection is counted.
func TestClusterCallsRetryTheOtherColour(t *testing.T) {
	f := &colourCluster{fakeCluster: &fakeCluster{state: cache.ClusterActive, outcome: cache.ClusterActive}, reject: cache.Blue}
	store := memory.New(memory.Options{})
	t.Cleanup(func() { store.Close() })
	c, err := coordinator.New(store, f.probe, coordinator.Config{Scope: scope, RefreshInterval: -1, Cluster: f, ResumeTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if s, err := c.Resolve(ctx); err != nil || s != cache.Blue {
		t.Fatalf("Resolve() = %v, %v; want blue", s, err)
	}
	f.set(cache.ClusterSuspended)
	c.Invalidate(cache.Blue) // the record still names blue
	if s, err := c.Resolve(ctx); err != nil || s != cache.Blue {
		t.Fatalf("Resolve() after the cluster suspended = %v, %v; want blue", s, err)
	}
	f.mu.Lock()
	sent := f.sent
	f.mu.Unlock()
	if len(sent) < 4 || len(sent)%2 != 0 {
		t.Fatalf("cluster calls carried %v; want pairs of blue then green", sent)
	}
	for i, s := range sent {
		if want := []cache.Strategy{cache.Blue, cache.Green}[i%2]; s != want {
			t.Errorf("cluster call %d carried %v, want %v (calls %v)", i, s, want, sent)
		}
	}
	if n := f.resumeCalls(); n != 1 {
		t.Errorf("resume calls = %d, want 1", n)
	}
	if got, want := c.Stats().WrongStrategy, uint64(1+len(sent)/2); got != want {
		t.Errorf("WrongStrategy = %d, want %d: the Invalidate, and one per rejected cluster call", got, want)
	}
}
