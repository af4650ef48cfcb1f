package metrics

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/e6coord/e6coord/cache"
)

// The store operations, the values of the op label of the store series.
// Each is one method of [cache.Store], [cache.Watcher] or [cache.Clock].
const (
	opLoad         = iota // RecordStore.Load
	opSwap                // RecordStore.CompareAndSwap
	opWritePins           // PinStore.WritePins
	opLookup              // PinStore.Lookup
	opRenew               // PinStore.Renew
	opCount               // PinStore.Count
	opAcquireLease        // ProbeLeaser.AcquireProbeLease
	opReleaseLease        // ProbeLeaser.ReleaseProbeLease
	opWatch               // Watcher.Watch: the subscription, not its life
	opTime                // Clock.Time
	numOps
)

// opNames are the op label values, indexed by op.
var opNames = [numOps]string{
	"load", "swap", "write_pins", "lookup", "renew", "count",
	"acquire_lease", "release_lease", "watch", "time",
}

// storeDurationBounds are the buckets of the store command durations, in
// seconds: from an in-process call to past the coordinator's default
// store timeout of 250 ms.
var storeDurationBounds = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}

// StoreMetrics counts and times the calls made to a store through the
// instrumented store that [InstrumentStore] returns with it. Give it to
// [NewCollector] in [Options.Store] to export it. It is safe for concurrent
// use.
type StoreMetrics struct {
	durations [numOps]prometheus.Histogram // over storeDurationBounds; registered nowhere
	errors    [numOps]atomic.Uint64
}

func newStoreMetrics() *StoreMetrics {
	m := new(StoreMetrics)
	for op := range m.durations {
		m.durations[op] = prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "e6coord_store_command_duration_seconds", Buckets: storeDurationBounds,
		})
	}
	return m
}

// InstrumentStore returns a [cache.Store] that forwards every call to s and
// records its duration and failure in the returned [StoreMetrics].
//
// The returned store implements [cache.Watcher] if and only if s does, and
// [cache.Clock] if and only if s does, so that a coordinator given it finds
// the same capabilities as in s: it subscribes to changes only through a
// store that can push them, and reads the store's clock only from a store
// that has one. It implements nothing else of s; in particular it has no
// Close, so the caller closes s itself.
//
// Give the store to [coordinator.New], or to a client in client.Config.Store
// (a store given there is not closed by the Conn):
//
//	st, sm := metrics.InstrumentStore(redisStore)
//	conn, err := client.Open(client.Config{Addr: addr, Store: st})
//	...
//	reg.MustRegister(metrics.NewCollector(conn.Coordinator(), metrics.Options{Store: sm}))
//
// A call counts as failed when it returns an error other than
// [cache.ErrNotFound], [cache.ErrConflict] and [cache.ErrLeaseHeld], which
// are answers, and other than the cancellation of a context the caller
// cancelled (context.Canceled while ctx is cancelled), which is the
// caller's doing; a call that runs out of its deadline is a failure. The
// duration of a Watch is that of the subscription, not the life of its
// channel. For a nil s it returns a nil store, which coordinator.New
// refuses.
func InstrumentStore(s cache.Store) (cache.Store, *StoreMetrics) {
	m := newStoreMetrics()
	if s == nil {
		return nil, m
	}
	base := &instrumented{s: s, m: m}
	w, watches := s.(cache.Watcher)
	c, clocked := s.(cache.Clock)
	switch {
	case watches && clocked:
		return &watchingClockStore{base, watchPart{w, m}, clockPart{c, m}}, m
	case watches:
		return &watchingStore{base, watchPart{w, m}}, m
	case clocked:
		return &clockStore{base, clockPart{c, m}}, m
	}
	return base, m
}

// The shapes of the instrumented store, one per set of optional
// interfaces the wrapped store implements.
type (
	watchingClockStore struct {
		*instrumented
		watchPart
		clockPart
	}
	watchingStore struct {
		*instrumented
		watchPart
	}
	clockStore struct {
		*instrumented
		clockPart
	}
)

var (
	_ cache.Store   = (*instrumented)(nil)
	_ cache.Watcher = (*watchingStore)(nil)
	_ cache.Clock   = (*clockStore)(nil)
	_ cache.Watcher = (*watchingClockStore)(nil)
	_ cache.Clock   = (*watchingClockStore)(nil)
)

// observe records a call of op that started at start and returned err.
func (m *StoreMetrics) observe(ctx context.Context, op int, start time.Time, err error) {
	m.durations[op].Observe(max(time.Since(start), 0).Seconds())
	if failed(ctx, err) {
		m.errors[op].Add(1)
	}
}

// failed reports whether err, returned by a store call made with ctx, is a
// failure of the store (see InstrumentStore).
func failed(ctx context.Context, err error) bool {
	switch {
	case err == nil,
		errors.Is(err, cache.ErrNotFound),
		errors.Is(err, cache.ErrConflict),
		errors.Is(err, cache.ErrLeaseHeld):
		return false
	case errors.Is(err, context.Canceled) && errors.Is(ctx.Err(), context.Canceled):
		return false
	}
	return true
}

// instrumented is the instrumented [cache.Store] of a store with neither
// optional interface, and the core of the other shapes.
type instrumented struct {
	s cache.Store
	m *StoreMetrics
}

func (i *instrumented) Load(ctx context.Context, scope cache.Scope) (cache.State, error) {
	start := time.Now()
	st, err := i.s.Load(ctx, scope)
	i.m.observe(ctx, opLoad, start, err)
	return st, err
}

func (i *instrumented) CompareAndSwap(ctx context.Context, scope cache.Scope, old uint64, next cache.State) (cache.State, error) {
	start := time.Now()
	st, err := i.s.CompareAndSwap(ctx, scope, old, next)
	i.m.observe(ctx, opSwap, start, err)
	return st, err
}

func (i *instrumented) WritePins(ctx context.Context, scope cache.Scope, ttl time.Duration, w cache.PinWrite) (cache.PinCounts, error) {
	start := time.Now()
	n, err := i.s.WritePins(ctx, scope, ttl, w)
	i.m.observe(ctx, opWritePins, start, err)
	return n, err
}

func (i *instrumented) Lookup(ctx context.Context, scope cache.Scope, queryID string) (cache.Pin, error) {
	start := time.Now()
	p, err := i.s.Lookup(ctx, scope, queryID)
	i.m.observe(ctx, opLookup, start, err)
	return p, err
}

func (i *instrumented) Renew(ctx context.Context, scope cache.Scope, ttl time.Duration, queryIDs ...string) ([]string, error) {
	start := time.Now()
	missing, err := i.s.Renew(ctx, scope, ttl, queryIDs...)
	i.m.observe(ctx, opRenew, start, err)
	return missing, err
}

func (i *instrumented) Count(ctx context.Context, scope cache.Scope) (cache.PinCounts, error) {
	start := time.Now()
	n, err := i.s.Count(ctx, scope)
	i.m.observe(ctx, opCount, start, err)
	return n, err
}

func (i *instrumented) AcquireProbeLease(ctx context.Context, scope cache.Scope, holder string, ttl time.Duration) error {
	start := time.Now()
	err := i.s.AcquireProbeLease(ctx, scope, holder, ttl)
	i.m.observe(ctx, opAcquireLease, start, err)
	return err
}

func (i *instrumented) ReleaseProbeLease(ctx context.Context, scope cache.Scope, holder string) error {
	start := time.Now()
	err := i.s.ReleaseProbeLease(ctx, scope, holder)
	i.m.observe(ctx, opReleaseLease, start, err)
	return err
}

// watchPart gives an instrumented store the Watch of a [cache.Watcher].
type watchPart struct {
	w cache.Watcher
	m *StoreMetrics
}

func (p watchPart) Watch(ctx context.Context, scope cache.Scope) (<-chan cache.State, error) {
	start := time.Now()
	ch, err := p.w.Watch(ctx, scope)
	p.m.observe(ctx, opWatch, start, err)
	return ch, err
}

// clockPart gives an instrumented store the Time of a [cache.Clock].
type clockPart struct {
	c cache.Clock
	m *StoreMetrics
}

func (p clockPart) Time(ctx context.Context) (time.Time, error) {
	start := time.Now()
	t, err := p.c.Time(ctx)
	p.m.observe(ctx, opTime, start, err)
	return t, err
}
