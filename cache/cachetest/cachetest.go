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
	"go.uber.org/goleak"

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
		st.PendingSince = now.Add(-700 * time.Millisecond)
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

func testMiss(t *testing.T, e *env) {
	e.wantNoRecord(e.scope)
	e.wantNoPin(e.scope, "q1")
	e.wantCount(e.scope, cache.PinCounts{})
	e.wantRenew(e.scope, time.Minute, []string{"q1", "q2"}, "q1", "q2")
	e.wantRenew(e.scope, time.Minute, nil)
	e.wantRelease(e.scope, "q1", cache.PinCounts{})
	e.releaseLease(e.scope, "nobody")
	// The misses created nothing.
	e.wantNoRecord(e.scope)
	e.wantNoPin(e.scope, "q1")
	e.wantCount(e.scope, cache.PinCounts{})
}

func testSwapCreateLoad(t *testing.T, e *env) {
	loc := time.FixedZone("cachetest", 5*3600+1800)
	full := record(e.clock, 1, cache.Blue, cache.Green, "host-1/pid-42 ✓")
	full.ConfirmedAt = full.ConfirmedAt.In(loc)
	e.swap(e.scope, 0, full)
	e.wantLoad(e.scope, full)

	// Unknown colours and zero times stay unknown and zero.
	bare := cache.State{Generation: 2}
	e.swap(e.scope, 1, bare)
	e.wantLoad(e.scope, bare)

	// A generation may jump.
	far := record(e.clock, 1<<40, cache.Green, cache.Unknown, "")
	e.swap(e.scope, 2, far)
	e.wantLoad(e.scope, far)

	pendingOnly := cache.State{Pending: cache.Green, Generation: 1<<40 + 1, PendingSince: e.clock.Now()}
	e.swap(e.scope, 1<<40, pendingOnly)
	e.wantLoad(e.scope, pendingOnly)
}

func testSwapWinLoss(t *testing.T, e *env) {
	// Against no record, only old 0 wins.
	for _, old := range []uint64{1, 2, 100} {
		got, err := e.store.CompareAndSwap(e.ctx, e.scope, old, record(e.clock, old+1, cache.Blue, 0, "loser"))
		if !errors.Is(err, cache.ErrConflict) {
			t.Fatalf("CompareAndSwap(%d) on no record error = %v, want one wrapping %v", old, err, cache.ErrConflict)
		}
		if diff := cmp.Diff(cache.State{}, got, timeEqual); diff != "" {
			t.Fatalf("CompareAndSwap(%d) on no record returned a record, want the zero State (-want +got):\n%s", old, diff)
		}
	}
	e.wantNoRecord(e.scope)

	first := record(e.clock, 1, cache.Blue, 0, "a")
	e.swap(e.scope, 0, first)
	second := record(e.clock, 2, cache.Blue, cache.Green, "b")
	e.swap(e.scope, 1, second)

	for _, old := range []uint64{0, 1, 3, 50} {
		got, err := e.store.CompareAndSwap(e.ctx, e.scope, old, record(e.clock, 51, cache.Green, 0, "loser"))
		if !errors.Is(err, cache.ErrConflict) {
			t.Fatalf("CompareAndSwap(%d) on generation 2 error = %v, want one wrapping %v", old, err, cache.ErrConflict)
		}
		if diff := cmp.Diff(second, got, timeEqual); diff != "" {
			t.Fatalf("CompareAndSwap(%d) lost but did not return the stored record (-want +got):\n%s", old, diff)
		}
	}
	e.wantLoad(e.scope, second)
}

func testSwapOneWinner(t *testing.T, e *env) {
	const n = 50
	var stored cache.State // the winner of the previous round
	for _, round := range []string{"create", "update"} {
		old := stored.Generation
		results := make([]cache.State, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				next := record(e.clock, old+1, cache.Strategies[i%2], 0, fmt.Sprintf("%s-%d", round, i))
				results[i], errs[i] = e.store.CompareAndSwap(e.ctx, e.scope, old, next)
			})
		}
		close(start)
		wg.Wait()

		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("%s: swaps %d and %d from generation %d both won", round, winner, i, old)
			case err == nil:
				winner = i
			case !errors.Is(err, cache.ErrConflict):
				t.Fatalf("%s: swap %d from generation %d error = %v, want nil or one wrapping %v", round, i, old, err, cache.ErrConflict)
			}
		}
		if winner < 0 {
			t.Fatalf("%s: none of %d swaps from generation %d won", round, n, old)
		}
		stored = results[winner]
		if want := fmt.Sprintf("%s-%d", round, winner); stored.ChangedBy != want {
			t.Fatalf("%s: the winner's swap returned %q's record", round, stored.ChangedBy)
		}
		for i, got := range results {
			if i == winner {
				continue
			}
			if diff := cmp.Diff(stored, got, timeEqual); diff != "" {
				t.Fatalf("%s: losing swap %d did not return the winner's record (-want +got):\n%s", round, i, diff)
			}
		}
		e.wantLoad(e.scope, stored)
	}
}

func testGenerationNeverDecreases(t *testing.T, e *env) {
	// No record: generation 0 is not a record.
	if _, err := e.store.CompareAndSwap(e.ctx, e.scope, 0, cache.State{Active: cache.Blue}); !errors.Is(err, cache.ErrInvalidRecord) {
		t.Fatalf("CompareAndSwap(0, generation 0) error = %v, want one wrapping %v", err, cache.ErrInvalidRecord)
	}
	e.wantNoRecord(e.scope)

	five := record(e.clock, 5, cache.Green, 0, "five")
	e.swap(e.scope, 0, five)
	for _, gen := range []uint64{5, 4, 1} {
		_, err := e.store.CompareAndSwap(e.ctx, e.scope, 5, record(e.clock, gen, cache.Blue, 0, "backwards"))
		if !errors.Is(err, cache.ErrInvalidRecord) {
			t.Fatalf("CompareAndSwap(5, generation %d) error = %v, want one wrapping %v", gen, err, cache.ErrInvalidRecord)
		}
		e.wantLoad(e.scope, five)
	}

	// Concurrent read-modify-write loops: no reader ever sees a generation
	// go back, and every win is kept.
	const writers, wins = 4, 20
	var (
		wg       sync.WaitGroup
		highest  [writers]uint64 // per writer, the generation of its last win
		finished = make(chan struct{})
	)
	for w := range writers {
		wg.Go(func() {
			cur, err := e.store.Load(e.ctx, e.scope)
			if err != nil {
				t.Errorf("writer %d: Load() error = %v", w, err)
				return
			}
			for won := 0; won < wins; {
				next := record(e.clock, cur.Generation+1+uint64(won%3), cache.Strategies[won%2], 0, fmt.Sprintf("writer-%d", w))
				got, err := e.store.CompareAndSwap(e.ctx, e.scope, cur.Generation, next)
				switch {
				case err == nil:
					won++
					highest[w] = got.Generation
				case errors.Is(err, cache.ErrConflict):
				default:
					t.Errorf("writer %d: CompareAndSwap(%d, %d) error = %v", w, cur.Generation, next.Generation, err)
					return
				}
				if got.Generation < cur.Generation {
					t.Errorf("writer %d: generation went from %d to %d", w, cur.Generation, got.Generation)
					return
				}
				cur = got
			}
		})
	}
	var rg sync.WaitGroup
	rg.Go(func() {
		var last uint64
		for {
			select {
			case <-finished:
				return
			default:
			}
			got, err := e.store.Load(e.ctx, e.scope)
			if err != nil {
				t.Errorf("reader: Load() error = %v", err)
				return
			}
			if got.Generation < last {
				t.Errorf("reader: generation went from %d to %d", last, got.Generation)
				return
			}
			last = got.Generation
		}
	})
	wg.Wait()
	close(finished)
	rg.Wait()
	if t.Failed() {
		return
	}
	got, err := e.store.Load(e.ctx, e.scope)
	if err != nil {
		t.Fatalf("Load() error = %v", err)
	}
	if top := slices.Max(highest[:]); got.Generation < top {
		t.Errorf("Load() generation = %d, lower than a won swap's %d", got.Generation, top)
	}
	if least := uint64(5 + writers*wins); got.Generation < least {
		t.Errorf("Load() generation = %d after %d wins from 5, want at least %d", got.Generation, writers*wins, least)
	}
}

func testInvalidRecord(t *testing.T, e *env) {
	tests := []struct {
		name string
		next cache.State
		want error
	}{
		{"bad active", cache.State{Active: cache.Strategy(7), Generation: 10}, cache.ErrInvalidStrategy},
		{"bad pending", cache.State{Active: cache.Blue, Pending: cache.Strategy(200), Generation: 10}, cache.ErrInvalidStrategy},
		{"pending equals active", cache.State{Active: cache.Green, Pending: cache.Green, Generation: 10}, cache.ErrInvalidRecord},
		{"generation zero", cache.State{Active: cache.Green}, cache.ErrInvalidRecord},
	}
	check := func(old uint64) {
		t.Helper()
		for _, tt := range tests {
			if _, err := e.store.CompareAndSwap(e.ctx, e.scope, old, tt.next); !errors.Is(err, tt.want) {
				t.Fatalf("%s: CompareAndSwap(%d, %+v) error = %v, want one wrapping %v", tt.name, old, tt.next, err, tt.want)
			}
		}
	}
	check(0)
	e.wantNoRecord(e.scope)

	first := record(e.clock, 1, cache.Blue, 0, "first")
	e.swap(e.scope, 0, first)
	check(1)
	e.wantLoad(e.scope, first)
}

func testPinsByColour(t *testing.T, e *env) {
	const ttl = time.Minute
	expires := e.clock.Now().Add(ttl)
	for _, id := range []string{"b1", "b2", "b3"} {
		e.pin(e.scope, id, cache.Blue, ttl)
	}
	for _, id := range []string{"g1", "g2"} {
		e.pin(e.scope, id, cache.Green, ttl)
	}
	e.wantCount(e.scope, cache.PinCounts{Blue: 3, Green: 2})
	e.wantPin(e.scope, "b2", cache.Blue, expires)
	e.wantPin(e.scope, "g1", cache.Green, expires)

	e.wantRelease(e.scope, "b1", cache.PinCounts{Blue: 2, Green: 2})
	e.wantNoPin(e.scope, "b1")
	e.wantRelease(e.scope, "b1", cache.PinCounts{Blue: 2, Green: 2})
	e.wantRelease(e.scope, "never-pinned", cache.PinCounts{Blue: 2, Green: 2})
	e.wantRelease(e.scope, "g2", cache.PinCounts{Blue: 2, Green: 1})

	// Pinning again replaces the colour and the expiry.
	e.clock.Advance(time.Second)
	e.pin(e.scope, "b2", cache.Green, 2*ttl)
	e.wantPin(e.scope, "b2", cache.Green, e.clock.Now().Add(2*ttl))
	e.wantCount(e.scope, cache.PinCounts{Blue: 1, Green: 2})
	e.pin(e.scope, "b2", cache.Green, ttl)
	e.wantPin(e.scope, "b2", cache.Green, e.clock.Now().Add(ttl))
	e.wantCount(e.scope, cache.PinCounts{Blue: 1, Green: 2})

	e.wantRelease(e.scope, "b3", cache.PinCounts{Green: 2})
	e.wantRelease(e.scope, "b2", cache.PinCounts{Green: 1})
	e.wantRelease(e.scope, "g1", cache.PinCounts{})
	e.wantCount(e.scope, cache.PinCounts{})
}

func testPinExpiry(t *testing.T, e *env) {
	const ttl = 10 * time.Second
	start := e.clock.Now()
	e.pin(e.scope, "short", cache.Blue, ttl)
	e.pin(e.scope, "long", cache.Green, time.Hour)

	e.clock.Advance(9 * time.Second)
	e.wantPin(e.scope, "short", cache.Blue, start.Add(ttl))
	e.wantCount(e.scope, cache.PinCounts{Blue: 1, Green: 1})

	e.wantRenew(e.scope, ttl, []string{"short", "absent"}, "absent")
	e.wantNoPin(e.scope, "absent")
	renewed := e.clock.Now().Add(ttl) // start+19s
	e.wantPin(e.scope, "short", cache.Blue, renewed)

	e.clock.Advance(9 * time.Second) // start+18s: past the first lease
	e.wantPin(e.scope, "short", cache.Blue, renewed)
	e.wantCount(e.scope, cache.PinCounts{Blue: 1, Green: 1})

	// start+19s: the lease ends now. Renew comes first, before a Lookup or
	// a Count could purge the pin.
	e.clock.Advance(time.Second)
	e.wantRenew(e.scope, ttl, []string{"short", "long"}, "short")
	e.wantNoPin(e.scope, "short")
	e.wantCount(e.scope, cache.PinCounts{Green: 1})
	e.wantRelease(e.scope, "short", cache.PinCounts{Green: 1})
	e.wantPin(e.scope, "long", cache.Green, e.clock.Now().Add(ttl))

	// An expired pin can be pinned again, and a pin made after a longer one
	// may expire first. Count comes first after the expiry.
	e.pin(e.scope, "long", cache.Green, time.Hour)
	e.pin(e.scope, "short", cache.Blue, ttl)
	e.wantPin(e.scope, "short", cache.Blue, e.clock.Now().Add(ttl))
	e.wantCount(e.scope, cache.PinCounts{Blue: 1, Green: 1})
	e.clock.Advance(ttl)
	e.wantCount(e.scope, cache.PinCounts{Green: 1})
	e.wantNoPin(e.scope, "short")

	// Lookup and Release, too, see only live pins, even when nothing else
	// looked at the expired ones first.
	e.pin(e.scope, "long2", cache.Blue, time.Hour)
	e.pin(e.scope, "other", cache.Blue, 2*time.Hour)
	e.clock.Advance(time.Hour) // "long" and "long2" end
	e.wantNoPin(e.scope, "long")
	e.wantRelease(e.scope, "other", cache.PinCounts{})
	e.wantNoPin(e.scope, "long2")
	e.wantCount(e.scope, cache.PinCounts{})
}

func testPinInvalidColour(t *testing.T, e *env) {
	for _, s := range []cache.Strategy{cache.Unknown, cache.Strategy(3), cache.Strategy(255)} {
		if err := e.store.Pin(e.ctx, e.scope, "q", s, time.Minute); !errors.Is(err, cache.ErrInvalidStrategy) {
			t.Fatalf("Pin(colour %d) error = %v, want one wrapping %v", s, err, cache.ErrInvalidStrategy)
		}
	}
	e.wantNoPin(e.scope, "q")
	e.wantCount(e.scope, cache.PinCounts{})

	// A rejected pin leaves the existing one alone.
	e.pin(e.scope, "q", cache.Blue, time.Minute)
	if err := e.store.Pin(e.ctx, e.scope, "q", cache.Strategy(3), time.Hour); !errors.Is(err, cache.ErrInvalidStrategy) {
		t.Fatalf("Pin(colour 3) over a pin error = %v, want one wrapping %v", err, cache.ErrInvalidStrategy)
	}
	e.wantPin(e.scope, "q", cache.Blue, e.clock.Now().Add(time.Minute))
	e.wantCount(e.scope, cache.PinCounts{Blue: 1})
}

func testProbeLeaseExclusive(t *testing.T, e *env) {
	const ttl = 5 * time.Second
	e.acquire(e.scope, "A", ttl)
	e.wantHeld(e.scope, "B")
	e.acquire(e.scope, "A", ttl) // A renews its own
	e.releaseLease(e.scope, "B") // not B's to release
	e.wantHeld(e.scope, "B")
	e.releaseLease(e.scope, "A")
	e.acquire(e.scope, "B", ttl)
	e.wantHeld(e.scope, "A")
	e.releaseLease(e.scope, "A")
	e.wantHeld(e.scope, "A")
	e.releaseLease(e.scope, "B")
	e.releaseLease(e.scope, "B") // releasing twice is harmless
	e.acquire(e.scope, "A", ttl)
}

func testProbeLeaseExpiry(t *testing.T, e *env) {
	const ttl = 5 * time.Second
	e.acquire(e.scope, "A", ttl)
	e.clock.Advance(4 * time.Second)
	e.wantHeld(e.scope, "B")
	e.acquire(e.scope, "A", ttl) // now ends at start+9s
	e.clock.Advance(4 * time.Second)
	e.wantHeld(e.scope, "B") // start+8s: live thanks to the renewal
	e.clock.Advance(time.Second)
	e.acquire(e.scope, "B", ttl) // start+9s: A's lease ends now
	e.wantHeld(e.scope, "A")
	e.releaseLease(e.scope, "A") // not A's to release any more
	e.wantHeld(e.scope, "A")
	e.clock.Advance(ttl + time.Millisecond)
	e.acquire(e.scope, "A", ttl)
}

func testProbeLeaseOneWinner(t *testing.T, e *env) {
	const n = 20
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = e.store.AcquireProbeLease(e.ctx, e.scope, fmt.Sprintf("holder-%d", i), time.Minute)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("holders %d and %d both acquired the lease", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, cache.ErrLeaseHeld):
			t.Fatalf("holder %d: AcquireProbeLease error = %v, want nil or one wrapping %v", i, err, cache.ErrLeaseHeld)
		}
	}
	if winner < 0 {
		t.Fatalf("none of %d holders acquired the lease", n)
	}
	e.acquire(e.scope, fmt.Sprintf("holder-%d", winner), time.Minute)
	e.wantHeld(e.scope, fmt.Sprintf("holder-%d", (winner+1)%n))
}

func testScopesIndependent(t *testing.T, e *env) {
	// Scopes are compared field by field: these two print the same
	// Scope.String(), and braces must not upset a backend's key scheme.
	base := newScope(t, "")
	a := cache.Scope{Cluster: base.Cluster + "/x", Engine: "{" + base.Engine + "}"}
	b := cache.Scope{Cluster: base.Cluster, Engine: "x/{" + base.Engine + "}"}
	if a.String() != b.String() {
		t.Fatalf("test bug: %q and %q should print alike", a, b)
	}
	c := cache.Scope{Cluster: base.Cluster, Engine: base.Engine}
	d := cache.Scope{Cluster: "", Engine: base.Engine}

	ra := record(e.clock, 1, cache.Blue, 0, "a")
	e.swap(a, 0, ra)
	e.wantNoRecord(b)
	rb := record(e.clock, 3, cache.Green, cache.Blue, "b")
	e.swap(b, 0, rb)
	e.wantLoad(a, ra)
	e.wantLoad(b, rb)
	e.wantNoRecord(c)
	e.wantNoRecord(d)

	exp := e.clock.Now().Add(time.Minute)
	e.pin(a, "q", cache.Blue, time.Minute)
	e.pin(b, "q", cache.Green, time.Minute)
	e.pin(c, "q2", cache.Green, time.Minute)
	e.wantPin(a, "q", cache.Blue, exp)
	e.wantPin(b, "q", cache.Green, exp)
	e.wantNoPin(c, "q")
	e.wantNoPin(d, "q2")
	e.wantCount(a, cache.PinCounts{Blue: 1})
	e.wantCount(b, cache.PinCounts{Green: 1})
	e.wantCount(d, cache.PinCounts{})
	e.wantRelease(a, "q", cache.PinCounts{})
	e.wantPin(b, "q", cache.Green, exp)

	e.acquire(a, "A", time.Minute)
	e.acquire(b, "B", time.Minute)
	e.acquire(c, "C", time.Minute)
	e.acquire(d, "D", time.Minute)
	e.releaseLease(b, "A")
	e.wantHeld(a, "B")
	e.releaseLease(a, "A")
	e.wantHeld(b, "A")
}

func testContextDone(t *testing.T, e *env) {
	// Something to lose: a pin and a lease.
	e.pin(e.scope, "kept", cache.Blue, time.Minute)
	e.acquire(e.scope, "holder", time.Minute)

	cancelled, cancel := context.WithCancel(e.ctx)
	cancel()
	expired, cancel2 := context.WithDeadline(e.ctx, time.Now().Add(-time.Second))
	defer cancel2()

	s := e.store
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Load", func(ctx context.Context) error { _, err := s.Load(ctx, e.scope); return err }},
		{"CompareAndSwap", func(ctx context.Context) error {
			_, err := s.CompareAndSwap(ctx, e.scope, 0, record(e.clock, 1, cache.Blue, 0, "cancelled"))
			return err
		}},
		{"Pin", func(ctx context.Context) error { return s.Pin(ctx, e.scope, "new", cache.Green, time.Minute) }},
		{"Lookup", func(ctx context.Context) error { _, err := s.Lookup(ctx, e.scope, "kept"); return err }},
		{"Renew", func(ctx context.Context) error { _, err := s.Renew(ctx, e.scope, time.Hour, "kept"); return err }},
		{"Release", func(ctx context.Context) error { _, err := s.Release(ctx, e.scope, "kept"); return err }},
		{"Count", func(ctx context.Context) error { _, err := s.Count(ctx, e.scope); return err }},
		{"AcquireProbeLease", func(ctx context.Context) error { return s.AcquireProbeLease(ctx, e.scope, "other", time.Minute) }},
		{"ReleaseProbeLease", func(ctx context.Context) error { return s.ReleaseProbeLease(ctx, e.scope, "holder") }},
	}
	if w, ok := s.(cache.Watcher); ok {
		calls = append(calls, struct {
			name string
			call func(ctx context.Context) error
		}{"Watch", func(ctx context.Context) error {
			ch, err := w.Watch(ctx, e.scope)
			if err == nil && ch == nil {
				return errors.New("nil channel")
			}
			return err
		}})
	}
	for _, ctx := range []context.Context{cancelled, expired} {
		for _, c := range calls {
			if err := c.call(ctx); !errors.Is(err, ctx.Err()) {
				t.Errorf("%s with a done context (%v) error = %v, want one wrapping %v", c.name, ctx.Err(), err, ctx.Err())
			}
		}
	}
	if t.Failed() {
		return
	}
	// Nothing happened.
	e.wantNoRecord(e.scope)
	e.wantNoPin(e.scope, "new")
	e.wantPin(e.scope, "kept", cache.Blue, e.clock.Now().Add(time.Minute))
	e.wantCount(e.scope, cache.PinCounts{Blue: 1})
	e.wantHeld(e.scope, "other")
}

// watcher returns the store as a Watcher, or skips the test.
func (e *env) watcher(t *testing.T) cache.Watcher {
	w, ok := e.store.(cache.Watcher)
	if !ok {
		t.Skip("the store does not implement cache.Watcher")
	}
	return w
}

func (e *env) watch(ctx context.Context, w cache.Watcher, scope cache.Scope) <-chan cache.State {
	e.t.Helper()
	ch, err := w.Watch(ctx, scope)
	if err != nil {
		e.t.Fatalf("Watch() error = %v", err)
	}
	if ch == nil {
		e.t.Fatal("Watch() returned a nil channel")
	}
	return ch
}

// recv returns the next event of ch, or ok false if ch is closed. It fails
// the test if neither happens within eventTimeout.
func recv(t *testing.T, ch <-chan cache.State) (st cache.State, ok bool) {
	t.Helper()
	timer := time.NewTimer(eventTimeout)
	defer timer.Stop()
	select {
	case st, ok = <-ch:
		return st, ok
	case <-timer.C:
		t.Fatalf("no watch event or close within %v", eventTimeout)
		return cache.State{}, false
	}
}

// wantEvent fails the test unless the next event of ch is want.
func wantEvent(t *testing.T, ch <-chan cache.State, want cache.State) {
	t.Helper()
	got, ok := recv(t, ch)
	if !ok {
		t.Fatalf("watch channel closed, want the record of generation %d", want.Generation)
	}
	if diff := cmp.Diff(want, got, timeEqual); diff != "" {
		t.Fatalf("watch event mismatch (-want +got):\n%s", diff)
	}
}

// wantClosed fails the test unless ch is closed without sending anything.
func wantClosed(t *testing.T, ch <-chan cache.State) {
	t.Helper()
	if got, ok := recv(t, ch); ok {
		t.Fatalf("watch channel sent %v, want it closed", got)
	}
}

func testWatchOrder(t *testing.T, e *env) {
	w := e.watcher(t)
	ch := e.watch(e.ctx, w, e.scope)
	stored := map[uint64]cache.State{}
	for gen := uint64(1); gen <= 5; gen++ {
		st := record(e.clock, gen, cache.Strategies[gen%2], 0, fmt.Sprintf("swap-%d", gen))
		e.swap(e.scope, gen-1, st)
		stored[gen] = st
	}
	var last uint64
	for last < 5 {
		got, ok := recv(t, ch)
		if !ok {
			t.Fatalf("watch channel closed after generation %d, want up to 5", last)
		}
		if got.Generation <= last {
			t.Fatalf("watch sent generation %d after %d", got.Generation, last)
		}
		want, found := stored[got.Generation]
		if !found {
			t.Fatalf("watch sent generation %d, which was never stored", got.Generation)
		}
		if diff := cmp.Diff(want, got, timeEqual); diff != "" {
			t.Fatalf("watch event of generation %d mismatch (-want +got):\n%s", got.Generation, diff)
		}
		last = got.Generation
	}

	// Failed swaps publish nothing: the next event is the next win.
	if _, err := e.store.CompareAndSwap(e.ctx, e.scope, 3, record(e.clock, 100, cache.Blue, 0, "lost")); !errors.Is(err, cache.ErrConflict) {
		t.Fatalf("CompareAndSwap(3) on generation 5 error = %v, want one wrapping %v", err, cache.ErrConflict)
	}
	if _, err := e.store.CompareAndSwap(e.ctx, e.scope, 5, record(e.clock, 5, cache.Blue, 0, "same")); !errors.Is(err, cache.ErrInvalidRecord) {
		t.Fatalf("CompareAndSwap(5, generation 5) error = %v, want one wrapping %v", err, cache.ErrInvalidRecord)
	}
	if _, err := e.store.CompareAndSwap(e.ctx, e.scope, 5, cache.State{Active: cache.Strategy(9), Generation: 99}); !errors.Is(err, cache.ErrInvalidStrategy) {
		t.Fatalf("CompareAndSwap(5, colour 9) error = %v, want one wrapping %v", err, cache.ErrInvalidStrategy)
	}
	seven := record(e.clock, 7, cache.Green, cache.Blue, "seven")
	e.swap(e.scope, 5, seven)
	wantEvent(t, ch, seven)
}

func testWatchOtherScope(t *testing.T, e *env) {
	w := e.watcher(t)
	other := newScope(t, "-other")
	ch := e.watch(e.ctx, w, other)
	for gen := uint64(1); gen <= 5; gen++ {
		e.swap(e.scope, gen-1, record(e.clock, gen, cache.Blue, 0, "this scope"))
	}
	// The first event must be the other scope's own: had this scope's
	// leaked, it would come first or hide this one.
	mine := record(e.clock, 1, cache.Green, 0, "other scope")
	e.swap(other, 0, mine)
	wantEvent(t, ch, mine)
}

func testWatchFanOut(t *testing.T, e *env) {
	w := e.watcher(t)
	chans := make([]<-chan cache.State, 3)
	for i := range chans {
		chans[i] = e.watch(e.ctx, w, e.scope)
	}
	st := record(e.clock, 1, cache.Blue, cache.Green, "fan-out")
	e.swap(e.scope, 0, st)
	for _, ch := range chans {
		wantEvent(t, ch, st)
	}
}

func testWatchCancelCloses(t *testing.T, e *env) {
	w := e.watcher(t)
	ctx1, cancel1 := context.WithCancel(e.ctx)
	defer cancel1()
	ch1 := e.watch(ctx1, w, e.scope)
	ch2 := e.watch(e.ctx, w, e.scope)
	cancel1()
	wantClosed(t, ch1)

	// The other subscriber and the store carry on.
	st := record(e.clock, 1, cache.Green, 0, "after cancel")
	e.swap(e.scope, 0, st)
	wantEvent(t, ch2, st)
	e.wantLoad(e.scope, st)
}

// testNoGoroutineLeft checks that a store used in every way, watches
// included, leaves no goroutine behind once cleaned up. The goroutines that
// ran before the store was made (the backend's shared clients, say) are
// ignored.
func testNoGoroutineLeft(t *testing.T, mk MakeStore) {
	before := goleak.IgnoreCurrent()
	// Kept live through the cleanup, unless there is none: the cleanup must
	// end the goroutines of live watches.
	watchCtx, cancelWatch := context.WithCancel(context.Background())
	defer cancelWatch()
	withStore(t, mk, func(e *env) {
		e.swap(e.scope, 0, record(e.clock, 1, cache.Blue, 0, "leak"))
		e.pin(e.scope, "q", cache.Blue, time.Minute)
		e.wantRenew(e.scope, time.Minute, []string{"q", "r"}, "r")
		e.wantCount(e.scope, cache.PinCounts{Blue: 1})
		e.wantRelease(e.scope, "q", cache.PinCounts{})
		e.acquire(e.scope, "A", time.Minute)
		e.releaseLease(e.scope, "A")

		w, ok := e.store.(cache.Watcher)
		if !ok {
			return
		}
		ctx1, cancel1 := context.WithCancel(e.ctx)
		ch1 := e.watch(ctx1, w, e.scope)
		cancel1()
		wantClosed(t, ch1)

		ch2 := e.watch(watchCtx, w, e.scope)
		st := record(e.clock, 2, cache.Green, 0, "leak")
		e.swap(e.scope, 1, st)
		wantEvent(t, ch2, st)
		if e.cleanup == nil {
			cancelWatch()
			wantClosed(t, ch2)
		}
	})
	if t.Failed() {
		return
	}
	if err := goleak.Find(before); err != nil {
		t.Errorf("goroutines left after the store's cleanup: %v", err)
	}
}
