// Package cachetest is the conformance suite of [cache.Store] backends.
//
// A backend's test calls [Run] with a [MakeStore] that returns a fresh store
// reading lease times from the clock it is given:
//
//	func TestStore(t *testing.T) {
//		cachetest.Run(t, func(t *testing.T, now func() time.Time) (cache.Store, func()) {
//			s := memory.New(memory.Options{Now: now})
//			return s, func() { s.Close() }
//		})
//	}
//
// Run it under the race detector (go test -race): several properties are
// about concurrent callers.
//
// What the suite asks of a backend, beyond the documentation of [cache.Store]:
//   - Lease times (pins, probe leases) come from the injected clock only. A
//     lease that ends at T is live while now is before T, and dead from T on.
//   - Times keep at least millisecond precision, and the zero time stays
//     zero. The suite's clock and records use whole milliseconds, and times
//     are compared with [time.Time.Equal], so a backend may drop the
//     monotonic reading and the location.
//   - A [cache.Watcher] may deliver events asynchronously: the suite waits
//     for them up to 5 seconds.
//   - A cancelled or expired context makes every method fail with an error
//     that satisfies errors.Is with the context's error, and do nothing.
//   - After the cleanup returned by MakeStore, no goroutine of the store is
//     left, even for a watch whose context is still live.
//
// Every subtest uses scopes of its own, named after the test and a random
// run id, so a backend may share one server between subtests and runs. Every
// call is made with a context that expires after 10 seconds, and a subtest
// still running after 20 seconds fails and has its store cleaned up, so that
// a hung backend fails instead of blocking the run.
package cachetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/e6coord/e6coord/cache"
)

// Timeouts of the suite.
const (
	callTimeout  = 10 * time.Second // the deadline of the context given to every call
	hangTimeout  = 2 * callTimeout  // a subtest running longer fails as hung
	eventTimeout = 5 * time.Second  // how long to wait for a watch event or close
)

// Clock is a fake clock that the suite drives and a store reads through
// [Clock.Now]. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

// NewClock returns a clock that reads t until it is advanced.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// MakeStore returns a fresh store whose lease times come from now, and a
// cleanup function, which may be nil. The cleanup closes the store: once it
// returns, no goroutine the store started may be left. MakeStore reports its
// own failures through t.
type MakeStore func(t *testing.T, now func() time.Time) (cache.Store, func())

// Run runs the conformance suite on the stores mk makes, one subtest per
// property, each with a fresh store and a [Clock] that starts at the current
// time truncated to the millisecond. The properties of [cache.Watcher] are
// tested only when the store implements it, and skipped otherwise.
//
// Run must not run in parallel with tests that start goroutines of their
// own: NoGoroutineLeft would count them.
func Run(t *testing.T, mk MakeStore) {
	t.Helper()
	for _, tt := range []struct {
		name string
		fn   func(*testing.T, *env)
	}{
		{"Miss", testMiss},
		{"SwapCreateLoad", testSwapCreateLoad},
		{"SwapWinLoss", testSwapWinLoss},
		{"SwapOneWinner", testSwapOneWinner},
		{"GenerationNeverDecreases", testGenerationNeverDecreases},
		{"InvalidRecord", testInvalidRecord},
		{"PinsByColour", testPinsByColour},
		{"PinExpiry", testPinExpiry},
		{"PinInvalidColour", testPinInvalidColour},
		{"ProbeLeaseExclusive", testProbeLeaseExclusive},
		{"ProbeLeaseExpiry", testProbeLeaseExpiry},
		{"ProbeLeaseOneWinner", testProbeLeaseOneWinner},
		{"ScopesIndependent", testScopesIndependent},
		{"ContextDone", testContextDone},
		{"WatchOrder", testWatchOrder},
		{"WatchOtherScope", testWatchOtherScope},
		{"WatchFanOut", testWatchFanOut},
		{"WatchCancelCloses", testWatchCancelCloses},
	} {
		t.Run(tt.name, func(t *testing.T) {
			withStore(t, mk, func(e *env) { tt.fn(t, e) })
		})
	}
	t.Run("NoGoroutineLeft", func(t *testing.T) { testNoGoroutineLeft(t, mk) })
}

// env is what a subtest works with.
type env struct {
	ctx   context.Context // expires after callTimeout
	store cache.Store
	clock *Clock
	scope cache.Scope // fresh for the subtest
	t     *testing.T
	// cleanup is the store's cleanup, as MakeStore returned it.
	cleanup func()
}

// withStore makes a store and a clock, runs fn, and cleans up, failing the
// test if fn is still running after hangTimeout, the way golang/net's
// nettest does.
func withStore(t *testing.T, mk MakeStore, fn func(*env)) {
	t.Helper()
	clock := NewClock(time.Now().Truncate(time.Millisecond))
	store, cleanup := mk(t, clock.Now)
	if store == nil {
		if cleanup != nil {
			cleanup()
		}
		t.Fatal("MakeStore returned a nil store")
	}
	var once sync.Once
	stop := func() {
		if cleanup != nil {
			cleanup()
		}
	}
	defer once.Do(stop)
	timer := time.AfterFunc(hangTimeout, func() {
		once.Do(func() {
			t.Errorf("subtest still running after %v: the store hangs; cleaning it up", hangTimeout)
			stop()
		})
	})
	defer timer.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()
	fn(&env{ctx: ctx, store: store, clock: clock, scope: newScope(t, ""), t: t, cleanup: cleanup})
}

var (
	runID    = strings.ToLower(rand.Text()[:8]) // tells this process's scopes from other runs'
	scopeSeq atomic.Uint64
)

// newScope returns a scope that no other subtest or run uses.
func newScope(t *testing.T, tag string) cache.Scope {
	name := strings.NewReplacer("/", ".", " ", "_").Replace(t.Name())
	return cache.Scope{
		Cluster: "cachetest",
		Engine:  fmt.Sprintf("%s.%s.%d%s:9000", name, runID, scopeSeq.Add(1), tag),
	}
}

// timeEqual compares times with Equal, ignoring the monotonic reading and the
// location.
var timeEqual = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

// record returns a valid record with every field set.
func record(c *Clock, gen uint64, active, pending cache.Strategy, by string) cache.State {
	now := c.Now()
	st := cache.State{
		Active:      active,
		Pending:     pending,
		Generation:  gen,
		ConfirmedAt: now.Add(-1500 * time.Millisecond),
		ChangedAt:   now,
		ChangedBy:   by,
	}
	if pending.Valid() {
		st.AnnouncedAt = now.Add(-700 * time.Millisecond)
		st.AcceptedAt = now.Add(-3 * time.Millisecond)
	}
	return st
}

// swap calls CompareAndSwap and fails the test unless it stores next.
func (e *env) swap(scope cache.Scope, old uint64, next cache.State) {
	e.t.Helper()
	got, err := e.store.CompareAndSwap(e.ctx, scope, old, next)
	if err != nil {
		e.t.Fatalf("CompareAndSwap(%d, %v) error = %v, want nil", old, next, err)
	}
	if diff := cmp.Diff(next, got, timeEqual); diff != "" {
		e.t.Fatalf("CompareAndSwap(%d, %v) returned a record that differs from the one given (-given +returned):\n%s", old, next, diff)
	}
}

// wantLoad fails the test unless the record of scope is want.
func (e *env) wantLoad(scope cache.Scope, want cache.State) {
	e.t.Helper()
	got, err := e.store.Load(e.ctx, scope)
	if err != nil {
		e.t.Fatalf("Load() error = %v, want record %v", err, want)
	}
	if diff := cmp.Diff(want, got, timeEqual); diff != "" {
		e.t.Fatalf("Load() mismatch (-want +got):\n%s", diff)
	}
}

// wantNoRecord fails the test unless scope has no record.
func (e *env) wantNoRecord(scope cache.Scope) {
	e.t.Helper()
	if got, err := e.store.Load(e.ctx, scope); !errors.Is(err, cache.ErrNotFound) {
		e.t.Fatalf("Load() = %v, %v; want an error wrapping %v", got, err, cache.ErrNotFound)
	}
}

func (e *env) pin(scope cache.Scope, id string, s cache.Strategy, ttl time.Duration) {
	e.t.Helper()
	if err := e.store.Pin(e.ctx, scope, id, s, ttl); err != nil {
		e.t.Fatalf("Pin(%q, %v, %v) error = %v", id, s, ttl, err)
	}
}

// wantPin fails the test unless id is pinned to s until expires.
func (e *env) wantPin(scope cache.Scope, id string, s cache.Strategy, expires time.Time) {
	e.t.Helper()
	got, err := e.store.Lookup(e.ctx, scope, id)
	if err != nil {
		e.t.Fatalf("Lookup(%q) error = %v, want a pin to %v", id, err, s)
	}
	want := cache.Pin{QueryID: id, Strategy: s, Expires: expires}
	if diff := cmp.Diff(want, got, timeEqual); diff != "" {
		e.t.Fatalf("Lookup(%q) mismatch (-want +got):\n%s", id, diff)
	}
}

func (e *env) wantNoPin(scope cache.Scope, id string) {
	e.t.Helper()
	if got, err := e.store.Lookup(e.ctx, scope, id); !errors.Is(err, cache.ErrNotFound) {
		e.t.Fatalf("Lookup(%q) = %+v, %v; want an error wrapping %v", id, got, err, cache.ErrNotFound)
	}
}

func (e *env) wantCount(scope cache.Scope, want cache.PinCounts) {
	e.t.Helper()
	got, err := e.store.Count(e.ctx, scope)
	if err != nil {
		e.t.Fatalf("Count() error = %v", err)
	}
	if got != want {
		e.t.Fatalf("Count() = %+v, want %+v", got, want)
	}
}

func (e *env) wantRelease(scope cache.Scope, id string, want cache.PinCounts) {
	e.t.Helper()
	got, err := e.store.Release(e.ctx, scope, id)
	if err != nil {
		e.t.Fatalf("Release(%q) error = %v", id, err)
	}
	if got != want {
		e.t.Fatalf("Release(%q) = %+v, want %+v", id, got, want)
	}
}

// wantRenew fails the test unless Renew reports missing (in any order).
func (e *env) wantRenew(scope cache.Scope, ttl time.Duration, ids []string, missing ...string) {
	e.t.Helper()
	got, err := e.store.Renew(e.ctx, scope, ttl, ids...)
	if err != nil {
		e.t.Fatalf("Renew(%v, %q) error = %v", ttl, ids, err)
	}
	slices.Sort(got)
	slices.Sort(missing)
	if !slices.Equal(got, missing) {
		e.t.Fatalf("Renew(%v, %q) missing = %q, want %q", ttl, ids, got, missing)
	}
}

func (e *env) acquire(scope cache.Scope, holder string, ttl time.Duration) {
	e.t.Helper()
	if err := e.store.AcquireProbeLease(e.ctx, scope, holder, ttl); err != nil {
		e.t.Fatalf("AcquireProbeLease(%q, %v) error = %v, want nil", holder, ttl, err)
	}
}

func (e *env) wantHeld(scope cache.Scope, holder string) {
	e.t.Helper()
	if err := e.store.AcquireProbeLease(e.ctx, scope, holder, time.Minute); !errors.Is(err, cache.ErrLeaseHeld) {
		e.t.Fatalf("AcquireProbeLease(%q) error = %v, want one wrapping %v", holder, err, cache.ErrLeaseHeld)
	}
}

func (e *env) releaseLease(scope cache.Scope, holder string) {
	e.t.Helper()
	if err := e.store.ReleaseProbeLease(e.ctx, scope, holder); err != nil {
		e.t.Fatalf("ReleaseProbeLease(%q) error = %v, want nil", holder, err)
	}
}
