package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/cachetest"
	"github.com/e6coord/e6coord/cache/memory"
	"github.com/e6coord/e6coord/metrics"
)

// The instrumented store passes the conformance suite, with and without
// the optional interfaces.
func TestInstrumentedStoreConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		wrap func(*memory.Store) cache.Store
	}{
		{"watcher+clock", func(s *memory.Store) cache.Store { return s }},
		{"plain", func(s *memory.Store) cache.Store { return noWatch{s} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cachetest.Run(t, func(t *testing.T, clock *cachetest.Clock) (cache.Store, func()) {
				s := memory.New(memory.Options{Now: clock.Now})
				st, _ := metrics.InstrumentStore(tc.wrap(s))
				return st, func() { s.Close() }
			})
		})
	}
}

// The instrumented store implements cache.Watcher and cache.Clock exactly
// when the store it wraps does, and forwards their calls.
func TestInstrumentedStoreOptionalInterfaces(t *testing.T) {
	for _, tc := range []struct {
		name           string
		watches, clock bool
	}{
		{"plain", false, false},
		{"watcher", true, false},
		{"clock", false, true},
		{"watcher+clock", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := &scripted{}
			var s cache.Store = noWatch{inner}
			switch {
			case tc.watches && tc.clock:
				s = inner
			case tc.watches:
				s = struct {
					cache.Store
					cache.Watcher
				}{inner, inner}
			case tc.clock:
				s = struct {
					cache.Store
					cache.Clock
				}{inner, inner}
			}
			st, sm := metrics.InstrumentStore(s)
			w, watches := st.(cache.Watcher)
			c, clocked := st.(cache.Clock)
			if watches != tc.watches || clocked != tc.clock {
				t.Fatalf("instrumented store is Watcher %v, Clock %v; want %v, %v", watches, clocked, tc.watches, tc.clock)
			}
			ctx := ctxT(t)
			if watches {
				if _, err := w.Watch(ctx, scope); err != nil {
					t.Fatal(err)
				}
			}
			if clocked {
				if got, err := c.Time(ctx); err != nil || !got.Equal(t0) {
					t.Fatalf("Time() = %v, %v; want %v, nil", got, err, t0)
				}
			}
			var want []string
			if tc.watches {
				want = append(want, "watch")
			}
			if tc.clock {
				want = append(want, "time")
			}
			if got := inner.calls(); !slices.Equal(got, want) {
				t.Errorf("inner store calls = %v, want %v", got, want)
			}
			s2 := scrapeOf(t, register(t, collectorFor(t, sm)))
			for op, want := range map[string]bool{"watch": tc.watches, "time": tc.clock} {
				n := s2.histogram(t, "e6coord_store_command_duration_seconds", "op", op).GetSampleCount()
				if (n == 1) != want || n > 1 {
					t.Errorf("%s calls timed = %d, want %v", op, n, want)
				}
			}
		})
	}
}

// storeCalls are one call of each store operation, by op label.
var storeCalls = []struct {
	op   string
	call func(ctx context.Context, s cache.Store) error
}{
	{"load", func(ctx context.Context, s cache.Store) error { _, err := s.Load(ctx, scope); return err }},
	{"swap", func(ctx context.Context, s cache.Store) error {
		_, err := s.CompareAndSwap(ctx, scope, 0, cache.State{Active: cache.Blue, Generation: 1})
		return err
	}},
	{"write_pins", func(ctx context.Context, s cache.Store) error {
		_, err := s.WritePins(ctx, scope, time.Minute, cache.PinWrite{Blue: []string{"q"}, Release: []string{"r"}})
		return err
	}},
	{"lookup", func(ctx context.Context, s cache.Store) error { _, err := s.Lookup(ctx, scope, "q"); return err }},
	{"renew", func(ctx context.Context, s cache.Store) error {
		_, err := s.Renew(ctx, scope, time.Minute, "q")
		return err
	}},
	{"count", func(ctx context.Context, s cache.Store) error { _, err := s.Count(ctx, scope); return err }},
	{"acquire_lease", func(ctx context.Context, s cache.Store) error {
		return s.AcquireProbeLease(ctx, scope, "me", time.Second)
	}},
	{"release_lease", func(ctx context.Context, s cache.Store) error { return s.ReleaseProbeLease(ctx, scope, "me") }},
	{"watch", func(ctx context.Context, s cache.Store) error {
		_, err := s.(cache.Watcher).Watch(ctx, scope)
		return err
	}},
	{"time", func(ctx context.Context, s cache.Store) error { _, err := s.(cache.Clock).Time(ctx); return err }},
}

// TestInstrumentedStoreCounts calls every operation once, with each kind
// of outcome, and checks what is timed and what is counted as failed.
func TestInstrumentedStoreCounts(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		err    error
		failed bool
	}{
		{"ok", context.Background(), nil, false},
		{"down", context.Background(), errDown, true},
		{"denied", context.Background(), errDenied, true},
		{"not found", context.Background(), fmt.Errorf("load: %w", cache.ErrNotFound), false},
		{"conflict", context.Background(), fmt.Errorf("swap: %w", cache.ErrConflict), false},
		{"lease held", context.Background(), fmt.Errorf("lease: %w", cache.ErrLeaseHeld), false},
		{"deadline", context.Background(), fmt.Errorf("dial: %w", context.DeadlineExceeded), true},
		{"cancelled by the caller", cancelled, context.Canceled, false},
		{"cancelled, not by the caller", context.Background(), context.Canceled, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := &scripted{}
			inner.err.Store(&tc.err)
			st, sm := metrics.InstrumentStore(inner)
			for _, c := range storeCalls {
				if err := c.call(tc.ctx, st); !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
					t.Errorf("%s error = %v, want %v as the store returned it", c.op, err, tc.err)
				}
			}
			var want []string
			for _, c := range storeCalls {
				want = append(want, c.op)
			}
			if got := inner.calls(); !slices.Equal(got, want) {
				t.Errorf("inner store calls = %v, want %v", got, want)
			}
			s := scrapeOf(t, register(t, collectorFor(t, sm)))
			wantErrs := 0.0
			if tc.failed {
				wantErrs = 1
			}
			for _, c := range storeCalls {
				if n := s.histogram(t, "e6coord_store_command_duration_seconds", "op", c.op).GetSampleCount(); n != 1 {
					t.Errorf("%s calls timed = %d, want 1", c.op, n)
				}
				s.want(t, wantErrs, "e6coord_store_errors_total", "op", c.op)
			}
		})
	}
}

// TestInstrumentedStoreDuration times a call that lasts until its
// deadline: the time observed covers at least the inner store's call,
// which the inner store measures itself (30ms or more: it waits past a
// deadline set before it began).
func TestInstrumentedStoreDuration(t *testing.T) {
	inner := &hangingStore{}
	st, sm := metrics.InstrumentStore(inner)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := st.Load(ctx, scope); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Load error = %v, want the deadline", err)
	}
	s := scrapeOf(t, register(t, collectorFor(t, sm)))
	h := s.histogram(t, "e6coord_store_command_duration_seconds", "op", "load")
	if h.GetSampleCount() != 1 || h.GetSampleSum() < inner.took.Seconds() {
		t.Errorf("load count, sum = %d, %vs; want 1, at least the %vs the inner store's call took", h.GetSampleCount(), h.GetSampleSum(), inner.took.Seconds())
	}
	if n := bucket(t, h, 0.025); n != 0 && inner.took > 25*time.Millisecond {
		t.Errorf("le=0.025 bucket = %d, want 0: the inner store's call took %v", n, inner.took)
	}
	if n := bucket(t, h, 1); n > 1 {
		t.Errorf("le=1 bucket = %d, want at most 1", n)
	}
	s.want(t, 1, "e6coord_store_errors_total", "op", "load")
	s.want(t, 0, "e6coord_store_errors_total", "op", "count")
}

func TestInstrumentNil(t *testing.T) {
	st, sm := metrics.InstrumentStore(nil)
	if st != nil || sm == nil {
		t.Errorf("InstrumentStore(nil) = %v, %v; want nil store and metrics", st, sm)
	}
}

// collectorFor returns a collector that reports sm, over a coordinator of
// its own store, which makes no call on the store sm records.
func collectorFor(t *testing.T, sm *metrics.StoreMetrics) *metrics.Collector {
	e := newEnv(t, cache.Blue)
	return metrics.NewCollector(e.coordOn(noWatch{e.store}), metrics.Options{Store: sm})
}

var (
	errDown   = errors.New("store down")
	errDenied = fmt.Errorf("WRONGPASS invalid username-password pair: %w", cache.ErrAccessDenied)
)

// noWatch hides every method of a store but those of cache.Store.
type noWatch struct{ cache.Store }

// scripted is a store of every interface whose every call returns the
// error it is given, and records the calls made.
type scripted struct {
	err atomic.Pointer[error] // nil: nil
	mu  sync.Mutex
	ops []string // guarded by mu
}

func (s *scripted) result(op string) error {
	s.mu.Lock()
	s.ops = append(s.ops, op)
	s.mu.Unlock()
	if p := s.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *scripted) calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ops)
}

func (s *scripted) Load(context.Context, cache.Scope) (cache.State, error) {
	return cache.State{}, s.result("load")
}

func (s *scripted) CompareAndSwap(_ context.Context, _ cache.Scope, _ uint64, next cache.State) (cache.State, error) {
	return next, s.result("swap")
}

func (s *scripted) WritePins(context.Context, cache.Scope, time.Duration, cache.PinWrite) (cache.PinCounts, error) {
	return cache.PinCounts{}, s.result("write_pins")
}

func (s *scripted) Lookup(context.Context, cache.Scope, string) (cache.Pin, error) {
	return cache.Pin{}, s.result("lookup")
}

func (s *scripted) Renew(context.Context, cache.Scope, time.Duration, ...string) ([]string, error) {
	return nil, s.result("renew")
}

func (s *scripted) Count(context.Context, cache.Scope) (cache.PinCounts, error) {
	return cache.PinCounts{}, s.result("count")
}

func (s *scripted) AcquireProbeLease(context.Context, cache.Scope, string, time.Duration) error {
	return s.result("acquire_lease")
}

func (s *scripted) ReleaseProbeLease(context.Context, cache.Scope, string) error {
	return s.result("release_lease")
}

func (s *scripted) Watch(context.Context, cache.Scope) (<-chan cache.State, error) {
	return make(chan cache.State), s.result("watch")
}

func (s *scripted) Time(context.Context) (time.Time, error) { return t0, s.result("time") }

// hangingStore is a store whose Load waits for its context, and keeps how
// long that took.
type hangingStore struct {
	cache.Store
	took time.Duration
}

func (h *hangingStore) Load(ctx context.Context, _ cache.Scope) (cache.State, error) {
	start := time.Now()
	defer func() { h.took = time.Since(start) }()
	<-ctx.Done()
	return cache.State{}, fmt.Errorf("load: %w", ctx.Err())
}

// failingStore is a store whose every call fails with the error it is
// given, if any.
type failingStore struct {
	cache.Store
	err atomic.Pointer[error]
}

func (f *failingStore) fail(err error) { f.err.Store(&err) }

func (f *failingStore) failure() error {
	if p := f.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (f *failingStore) Load(ctx context.Context, sc cache.Scope) (cache.State, error) {
	if err := f.failure(); err != nil {
		return cache.State{}, err
	}
	return f.Store.Load(ctx, sc)
}

func (f *failingStore) CompareAndSwap(ctx context.Context, sc cache.Scope, old uint64, next cache.State) (cache.State, error) {
	if err := f.failure(); err != nil {
		return cache.State{}, err
	}
	return f.Store.CompareAndSwap(ctx, sc, old, next)
}

func (f *failingStore) WritePins(ctx context.Context, sc cache.Scope, ttl time.Duration, w cache.PinWrite) (cache.PinCounts, error) {
	if err := f.failure(); err != nil {
		return cache.PinCounts{}, err
	}
	return f.Store.WritePins(ctx, sc, ttl, w)
}

func (f *failingStore) Lookup(ctx context.Context, sc cache.Scope, id string) (cache.Pin, error) {
	if err := f.failure(); err != nil {
		return cache.Pin{}, err
	}
	return f.Store.Lookup(ctx, sc, id)
}

func (f *failingStore) Renew(ctx context.Context, sc cache.Scope, ttl time.Duration, ids ...string) ([]string, error) {
	if err := f.failure(); err != nil {
		return nil, err
	}
	return f.Store.Renew(ctx, sc, ttl, ids...)
}

func (f *failingStore) Count(ctx context.Context, sc cache.Scope) (cache.PinCounts, error) {
	if err := f.failure(); err != nil {
		return cache.PinCounts{}, err
	}
	return f.Store.Count(ctx, sc)
}

func (f *failingStore) AcquireProbeLease(ctx context.Context, sc cache.Scope, holder string, ttl time.Duration) error {
	if err := f.failure(); err != nil {
		return err
	}
	return f.Store.AcquireProbeLease(ctx, sc, holder, ttl)
}

func (f *failingStore) ReleaseProbeLease(ctx context.Context, sc cache.Scope, holder string) error {
	if err := f.failure(); err != nil {
		return err
	}
	return f.Store.ReleaseProbeLease(ctx, sc, holder)
}

// cuttableStore is a store and watcher (no clock) whose subscriptions can
// be cut, as when the connection carrying Redis's pushes is lost.
type cuttableStore struct {
	cache.Store
	w       cache.Watcher
	mu      sync.Mutex
	cancels []context.CancelFunc // guarded by mu
}

func newCuttable(s *memory.Store) *cuttableStore { return &cuttableStore{Store: s, w: s} }

func (c *cuttableStore) Watch(ctx context.Context, sc cache.Scope) (<-chan cache.State, error) {
	ctx, cancel := context.WithCancel(ctx)
	c.mu.Lock()
	c.cancels = append(c.cancels, cancel)
	c.mu.Unlock()
	ch, err := c.w.Watch(ctx, sc)
	if err != nil {
		cancel()
	}
	return ch, err
}

// cut closes every subscription.
func (c *cuttableStore) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cancel := range c.cancels {
		cancel()
	}
	c.cancels = nil
}
