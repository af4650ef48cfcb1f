package coordinator_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/cachetest"
	"github.com/e6coord/e6coord/cache/memory"
	"github.com/e6coord/e6coord/coordinator"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	scope = cache.Scope{Cluster: "c1", Engine: "127.0.0.1:50052"}
	t0    = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
)

// waitTimeout bounds every wait on a condition in these tests.
const waitTimeout = 10 * time.Second

// engine is a scripted engine behind a probe function: it accepts the
// colours it is told to, or fails every probe with fatal.
type engine struct {
	mu     sync.Mutex
	accept map[cache.Strategy]bool // guarded by mu
	fatal  error                   // guarded by mu
	calls  map[cache.Strategy]int  // guarded by mu
	hold   chan struct{}           // guarded by mu; if set, probes wait for it to close

	probed chan cache.Strategy // every probe, if there is room
}

func newEngine(accept ...cache.Strategy) *engine {
	e := &engine{calls: map[cache.Strategy]int{}, probed: make(chan cache.Strategy, 1024)}
	e.set(accept...)
	return e
}

// set makes the engine accept exactly the given colours.
func (e *engine) set(accept ...cache.Strategy) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.accept = map[cache.Strategy]bool{}
	for _, s := range accept {
		e.accept[s] = true
	}
}

func (e *engine) setFatal(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fatal = err
}

func (e *engine) probe(ctx context.Context, s cache.Strategy) error {
	e.mu.Lock()
	e.calls[s]++
	hold, fatal, ok := e.hold, e.fatal, e.accept[s]
	e.mu.Unlock()
	select {
	case e.probed <- s:
	default:
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	switch {
	case fatal != nil:
		return fatal
	case !ok:
		return fmt.Errorf("status 456 for %s: %w", s, coordinator.ErrWrongStrategy)
	}
	return nil
}

func (e *engine) total() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[cache.Blue] + e.calls[cache.Green]
}

func (e *engine) callsOf(s cache.Strategy) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[s]
}

// env is a store and clock shared by the coordinators of one test.
type env struct {
	t     testing.TB
	clock *cachetest.Clock
	store cache.Store
	eng   *engine
}

func newEnv(t testing.TB, accept ...cache.Strategy) *env {
	t.Helper()
	clk := cachetest.NewClock(t0)
	st := memory.New(memory.Options{Now: clk.Now})
	t.Cleanup(func() { st.Close() })
	return &env{t: t, clock: clk, store: st, eng: newEngine(accept...)}
}

// coord returns a coordinator on the env's store, engine and clock, with
// the periodic refresh off; adjust changes its config.
func (e *env) coord(adjust ...func(*coordinator.Config)) *coordinator.Coordinator {
	e.t.Helper()
	return e.coordOn(e.store, adjust...)
}

func (e *env) coordOn(st cache.Store, adjust ...func(*coordinator.Config)) *coordinator.Coordinator {
	e.t.Helper()
	cfg := coordinator.Config{
		Scope:           scope,
		Now:             e.clock.Now,
		RefreshInterval: -1,
		PinTTL:          30 * time.Second,
		DrainTimeout:    time.Minute,
	}
	for _, f := range adjust {
		f(&cfg)
	}
	c, err := coordinator.New(st, e.eng.probe, cfg)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

func drain(cfg *coordinator.Config) { cfg.Policy = coordinator.Drain }

// resolve calls Resolve and fails the test unless it returns want.
func resolve(t *testing.T, c *coordinator.Coordinator, want cache.Strategy) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	got, err := c.Resolve(ctx)
	if err != nil || got != want {
		t.Fatalf("Resolve() = %v, %v; want %v, nil", got, err, want)
	}
}

// waitFor waits until cond holds for c's record, or fails the test.
func waitFor(t *testing.T, c *coordinator.Coordinator, what string, cond func(cache.State) bool) cache.State {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	st, err := c.WaitFor(ctx, cond)
	if err != nil {
		t.Fatalf("waiting for %s: %v (record %s)", what, err, st)
	}
	return st
}

// forgetProbes empties the record of probes that waitProbe reads.
func (e *engine) forgetProbes() {
	for {
		select {
		case <-e.probed:
		default:
			return
		}
	}
}

// waitProbe waits for a probe of colour s, or fails the test.
func (e *engine) waitProbe(t *testing.T, s cache.Strategy) {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case got := <-e.probed:
			if got == s {
				return
			}
		case <-timer.C:
			t.Fatalf("no probe of %s", s)
		}
	}
}

// flakyStore is a real store that fails every call while down is set, and
// can lose all its data, as a restarted Redis does.
type flakyStore struct {
	down    atomic.Bool
	deny    atomic.Bool // every call fails with cache.ErrAccessDenied
	corrupt atomic.Bool // the next Load finds a newer record with an invalid colour
	mu      sync.Mutex
	cur     *memory.Store // guarded by mu
	swaps   []cache.State // every record stored, in order; guarded by mu
	// releases lists the ids each pin write released; guarded by mu.
	releases [][]string
	now      func() time.Time

	renewed chan struct{} // a Renew call returned, if there is room
}

var errDown = errors.New("store down")

func newFlakyStore(t testing.TB, now func() time.Time) *flakyStore {
	f := &flakyStore{cur: memory.New(memory.Options{Now: now}), now: now, renewed: make(chan struct{}, 1)}
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.cur.Close()
	})
	return f
}

// wipe replaces the data with an empty store.
func (f *flakyStore) wipe() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cur.Close()
	f.cur = memory.New(memory.Options{Now: f.now})
}

// rollBack replaces the data with a store that holds only the record
// stored at generation gen, as a replica promoted without the later swaps.
func (f *flakyStore) rollBack(t *testing.T, gen uint64) cache.State {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	var st cache.State
	for _, s := range f.swaps {
		if s.Generation == gen {
			st = s
		}
	}
	if st.Generation == 0 {
		t.Fatalf("no record was stored at generation %d", gen)
	}
	f.cur.Close()
	f.cur = memory.New(memory.Options{Now: f.now})
	if _, err := f.cur.CompareAndSwap(context.Background(), scope, 0, st); err != nil {
		t.Fatal(err)
	}
	return st
}

// releaseCalls returns the ids of every Release call so far.
func (f *flakyStore) releaseCalls() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.releases)
}

var errDenied = fmt.Errorf("WRONGPASS invalid username-password pair: %w", cache.ErrAccessDenied)

func (f *flakyStore) get() (*memory.Store, error) {
	if f.down.Load() {
		return nil, errDown
	}
	if f.deny.Load() {
		return nil, errDenied
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur, nil
}

func (f *flakyStore) Load(ctx context.Context, sc cache.Scope) (cache.State, error) {
	s, err := f.get()
	if err != nil {
		return cache.State{}, err
	}
	st, err := s.Load(ctx, sc)
	if err == nil && f.corrupt.Swap(false) {
		st.Generation += 5
		st.Active = cache.Unknown
		return st, fmt.Errorf("load: active colour %q: %w", "purple", cache.ErrInvalidStrategy)
	}
	return st, err
}

func (f *flakyStore) CompareAndSwap(ctx context.Context, sc cache.Scope, old uint64, next cache.State) (cache.State, error) {
	s, err := f.get()
	if err != nil {
		return cache.State{}, err
	}
	got, err := s.CompareAndSwap(ctx, sc, old, next)
	if err == nil {
		f.mu.Lock()
		f.swaps = append(f.swaps, got)
		f.mu.Unlock()
	}
	return got, err
}

func (f *flakyStore) WritePins(ctx context.Context, sc cache.Scope, ttl time.Duration, w cache.PinWrite) (cache.PinCounts, error) {
	s, err := f.get()
	if err != nil {
		return cache.PinCounts{}, err
	}
	if len(w.Release) > 0 {
		f.mu.Lock()
		f.releases = append(f.releases, slices.Clone(w.Release))
		f.mu.Unlock()
	}
	return s.WritePins(ctx, sc, ttl, w)
}

func (f *flakyStore) Lookup(ctx context.Context, sc cache.Scope, id string) (cache.Pin, error) {
	s, err := f.get()
	if err != nil {
		return cache.Pin{}, err
	}
	return s.Lookup(ctx, sc, id)
}

func (f *flakyStore) Renew(ctx context.Context, sc cache.Scope, ttl time.Duration, ids ...string) ([]string, error) {
	s, err := f.get()
	if err != nil {
		return nil, err
	}
	defer func() {
		select {
		case f.renewed <- struct{}{}:
		default:
		}
	}()
	return s.Renew(ctx, sc, ttl, ids...)
}

// waitRenew waits for a Renew call that starts after it is called.
func (f *flakyStore) waitRenew(t *testing.T) {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	// The first two may have started before the call: the third did not.
	for range 3 {
		select {
		case <-f.renewed:
		case <-timer.C:
			t.Fatal("no pin renewal")
		}
	}
}

func (f *flakyStore) Count(ctx context.Context, sc cache.Scope) (cache.PinCounts, error) {
	s, err := f.get()
	if err != nil {
		return cache.PinCounts{}, err
	}
	return s.Count(ctx, sc)
}

func (f *flakyStore) AcquireProbeLease(ctx context.Context, sc cache.Scope, holder string, ttl time.Duration) error {
	s, err := f.get()
	if err != nil {
		return err
	}
	return s.AcquireProbeLease(ctx, sc, holder, ttl)
}

func (f *flakyStore) ReleaseProbeLease(ctx context.Context, sc cache.Scope, holder string) error {
	s, err := f.get()
	if err != nil {
		return err
	}
	return s.ReleaseProbeLease(ctx, sc, holder)
}

// pinSynced pins id to s and waits until the pin is in the store (or
// skipped, the store being unreachable): Pin writes in the background.
func pinSynced(ctx context.Context, c *coordinator.Coordinator, id string, s cache.Strategy) error {
	if err := c.Pin(ctx, id, s); err != nil {
		return err
	}
	return c.Sync(ctx)
}

// releaseSynced releases id and waits until the store has been told (or
// the release remembered, the store being unreachable).
func releaseSynced(t *testing.T, ctx context.Context, c *coordinator.Coordinator, id string) {
	t.Helper()
	c.Release(ctx, id)
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}
