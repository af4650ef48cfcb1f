// Package cachetest is the conformance suite of [cache.Store] backends.
//
// A backend's test calls [Run] with a [MakeStore] that returns a fresh store
// whose clock, the one that judges leases, is the fake [Clock] it is given:
//
//	func TestStore(t *testing.T) {
//		cachetest.Run(t, func(t *testing.T, clock *cachetest.Clock) (cache.Store, func()) {
//			s := memory.New(memory.Options{Now: clock.Now})
//			return s, func() { s.Close() }
//		})
//	}
//
// A store that keeps a clock of its own follows the fake one through
// [Clock.OnSet] (miniredis: clock.OnSet(m.SetTime)). A store whose clock
// cannot be set, such as a real redis-server, runs the suite with
// [RunRealTime] instead, which gives it a clock that reads the store's.
//
// Run it under the race detector (go test -race): several properties are
// about concurrent callers.
//
// What the suite asks of a backend, beyond the documentation of [cache.Store]:
//   - Lease times (pins, probe leases) come from the store's clock, which
//     the suite drives, only. A lease that ends at T is live while the clock
//     is before T, and dead from T on. A lease given for ttl from now ends
//     at the clock's time during the call plus ttl.
//   - Times keep at least millisecond precision, and the zero time stays
//     zero. The suite's clock and records use whole milliseconds, and times
//     are compared with [time.Time.Equal], so a backend may drop the
//     monotonic reading and the location.
//   - A [cache.Watcher] may deliver events asynchronously: the suite waits
//     for them up to 5 seconds.
//   - A [cache.Clock] returns the time of the clock that judges leases.
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

// Units of lease lengths: the properties about lease times give leases of
// a few units and advance the clock by units. With a real clock every unit
// is waited for, so it is short, yet long enough for the calls the suite
// makes between two advances on a loaded machine: a check that a lease is
// still live is made a unit before it ends. (A unit of 100 ms was not
// enough on two cores with a load average of 15 to 40: pins and leases
// were found expired a unit before their end.)
const (
	fakeUnit = time.Second
	realUnit = 500 * time.Millisecond
)

// Clock is the clock of a store under test, as the suite drives it. A fake
// clock, made by [NewClock], reads the time it is set to and moves only when
// advanced; a real clock, which [RunRealTime] makes, reads the store's own
// clock. It is safe for concurrent use.
type Clock struct {
	mu   sync.Mutex // guards now and sets, and orders the calls of sets
	now  time.Time  // a fake clock's time
	sets []func(time.Time)

	// A real clock reads the store's clock with read, and reports a failed
	// read through tb.
	read func(context.Context) (time.Time, error)
	tb   testing.TB
}

// NewClock returns a fake clock that reads t until it is advanced.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// newRealClock returns a clock that reads the store's clock with read.
func newRealClock(tb testing.TB, read func(context.Context) (time.Time, error)) *Clock {
	return &Clock{read: read, tb: tb}
}

// Now returns the clock's time. A real clock reads the store's clock, in
// one round trip, truncated to the millisecond; if that fails, it fails the
// test and returns the zero time.
func (c *Clock) Now() time.Time {
	if c.read == nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.now
	}
	t, err := c.readNow()
	if err != nil {
		c.tb.Errorf("cachetest: read the store's clock: %v", err)
		return time.Time{}
	}
	return t
}

func (c *Clock) readNow() (time.Time, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	t, err := c.read(ctx)
	return t.Truncate(time.Millisecond), err
}

// Advance moves the clock forward by d. A fake clock moves at once, and
// calls the functions given to [Clock.OnSet] with its new time before it
// returns. A real clock waits until the store's clock has passed d from
// its time when Advance was called, polling it, and fails the test (from
// the goroutine that called Advance, which must be the test's) if that
// takes more than d and 5 seconds.
func (c *Clock) Advance(d time.Duration) {
	if c.read != nil {
		c.wait(d)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, fn := range c.sets {
		fn(c.now)
	}
}

// wait is Advance on a real clock.
func (c *Clock) wait(d time.Duration) {
	c.tb.Helper()
	start, err := c.readNow()
	if err != nil {
		c.tb.Fatalf("cachetest: advance %v: read the store's clock: %v", d, err)
	}
	target := start.Add(d)
	deadline := time.Now().Add(d + eventTimeout)
	for {
		now, err := c.readNow()
		if err != nil {
			c.tb.Fatalf("cachetest: advance %v: read the store's clock: %v", d, err)
		}
		if !now.Before(target) {
			return
		}
		if time.Now().After(deadline) {
			c.tb.Fatalf("cachetest: advance %v: the store's clock reads %v after %v, want %v",
				d, now.Sub(start), d+eventTimeout, d)
		}
		// The store's clock runs at the pace of this one: one wait is
		// nearly always enough, and the next read tells.
		timer := time.NewTimer(max(target.Sub(now), time.Millisecond))
		<-timer.C
	}
}

// OnSet calls fn with the clock's time now and again whenever the clock is
// advanced, in order, so that a store with a clock of its own can follow a
// fake clock (for miniredis, clock.OnSet(m.SetTime)). fn must not call the
// clock's methods. A real clock is never set: on it, OnSet does nothing.
func (c *Clock) OnSet(fn func(time.Time)) {
	if c.read != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sets = append(c.sets, fn)
	fn(c.now)
}

// MakeStore returns a fresh store whose leases are judged by clock, and a
// cleanup function, which may be nil. The cleanup closes the store: once it
// returns, no goroutine the store started may be left. MakeStore reports its
// own failures through t.
type MakeStore func(t *testing.T, clock *Clock) (cache.Store, func())

// Run runs the conformance suite on the stores mk makes, one subtest per
// property, each with a fresh store and a fake [Clock] that starts at the
// current time truncated to the millisecond. The properties of the optional
// interfaces, [cache.Watcher] and [cache.Clock], are tested only when the
// store implements them, and skipped otherwise.
//
// Run must not run in parallel with tests that start goroutines of their
// own: NoGoroutineLeft would count them.
func Run(t *testing.T, mk MakeStore) {
	t.Helper()
	run(t, mk, nil)
}

// RunRealTime is [Run] for stores whose clock tests cannot set, such as a
// real redis-server's: now reads that clock (TIME). The suite's [Clock]
// reads it too, and advancing it means waiting until the store's clock has
// passed the point, so the properties about lease times use leases of tens
// of milliseconds and the whole run waits a few seconds. Times the store
// returns are compared with the range of times its clock read during the
// call.
//
// The goroutines now needs (a client's) must be running when RunRealTime
// is called: it reads the clock once, and fails if it cannot.
func RunRealTime(t *testing.T, now func(context.Context) (time.Time, error), mk MakeStore) {
	t.Helper()
	if _, err := newRealClock(t, now).readNow(); err != nil {
		t.Fatalf("cachetest: read the store's clock: %v", err)
	}
	run(t, mk, now)
}

func run(t *testing.T, mk MakeStore, now func(context.Context) (time.Time, error)) {
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
		{"PinMany", testPinMany},
		{"PinExpiry", testPinExpiry},
		{"PinAndReleaseInOneWrite", testPinAndReleaseInOneWrite},
		{"ReleaseMany", testReleaseMany},
		{"ReleaseNone", testReleaseNone},
		{"ProbeLeaseExclusive", testProbeLeaseExclusive},
		{"ProbeLeaseExpiry", testProbeLeaseExpiry},
		{"ProbeLeaseOneWinner", testProbeLeaseOneWinner},
		{"ScopesIndependent", testScopesIndependent},
		{"ContextDone", testContextDone},
		{"Clock", testClock},
		{"WatchOrder", testWatchOrder},
		{"WatchOtherScope", testWatchOtherScope},
		{"WatchFanOut", testWatchFanOut},
		{"WatchCancelCloses", testWatchCancelCloses},
	} {
		t.Run(tt.name, func(t *testing.T) {
			withStore(t, mk, now, func(e *env) { tt.fn(t, e) })
		})
	}
	t.Run("NoGoroutineLeft", func(t *testing.T) { testNoGoroutineLeft(t, mk, now) })
}

// env is what a subtest works with.
type env struct {
	ctx   context.Context // expires after callTimeout
	store cache.Store
	clock *Clock
	scope cache.Scope   // fresh for the subtest
	unit  time.Duration // the unit of lease lengths: fakeUnit or realUnit
	t     *testing.T
	// cleanup is the store's cleanup, as MakeStore returned it.
	cleanup func()
}

// withStore makes a store and a clock (a real one that reads now, if now is
// set), runs fn, and cleans up, failing the test if fn is still running
// after hangTimeout, the way golang/net's nettest does.
func withStore(t *testing.T, mk MakeStore, now func(context.Context) (time.Time, error), fn func(*env)) {
	t.Helper()
	clock, unit := NewClock(time.Now().Truncate(time.Millisecond)), fakeUnit
	if now != nil {
		clock, unit = newRealClock(t, now), realUnit
	}
	store, cleanup := mk(t, clock)
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
	fn(&env{ctx: ctx, store: store, clock: clock, scope: newScope(t, ""), unit: unit, t: t, cleanup: cleanup})
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
		Active:       active,
		Pending:      pending,
		Generation:   gen,
		ConfirmedAt:  now.Add(-1500 * time.Millisecond),
		Cluster:      cache.ClusterResuming,
		ClusterSince: now.Add(-20 * time.Second),
		ChangedAt:    now,
		ChangedBy:    by,
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

// span is a range of times of the store's clock, ends included: where a
// time the store reads during a call may fall. With a fake clock, lo and hi
// are equal.
type span struct{ lo, hi time.Time }

// during returns the span of the store's clock while call runs.
func (e *env) during(call func()) span {
	lo := e.clock.Now()
	call()
	return span{lo, e.clock.Now()}
}

// add returns s moved by d.
func (s span) add(d time.Duration) span { return span{s.lo.Add(d), s.hi.Add(d)} }

// holds reports whether t is in s.
func (s span) holds(t time.Time) bool { return !t.Before(s.lo) && !t.After(s.hi) }

func (s span) String() string {
	if s.lo.Equal(s.hi) {
		return s.lo.Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("[%s, %s]", s.lo.Format(time.RFC3339Nano), s.hi.Format(time.RFC3339Nano))
}

// pin pins id and returns the span its pin may end in.
func (e *env) pin(scope cache.Scope, id string, s cache.Strategy, ttl time.Duration) span {
	e.t.Helper()
	var err error
	now := e.during(func() { _, err = e.store.WritePins(e.ctx, scope, ttl, pinsOf(s, id)) })
	if err != nil {
		e.t.Fatalf("WritePins(%q to %v, %v) error = %v", id, s, ttl, err)
	}
	return now.add(ttl)
}

// wantPin fails the test unless id is pinned to s until a time in expires.
func (e *env) wantPin(scope cache.Scope, id string, s cache.Strategy, expires span) {
	e.t.Helper()
	got, err := e.store.Lookup(e.ctx, scope, id)
	if err != nil {
		e.t.Fatalf("Lookup(%q) error = %v, want a pin to %v", id, err, s)
	}
	if got.QueryID != id || got.Strategy != s || !expires.holds(got.Expires) {
		e.t.Fatalf("Lookup(%q) = {%q %v until %s}, want {%q %v until %s}",
			id, got.QueryID, got.Strategy, got.Expires.Format(time.RFC3339Nano), id, s, expires)
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
	e.wantReleaseIDs(scope, []string{id}, want)
}

// wantReleaseIDs releases ids in one call, and fails the test unless it
// returns want.
func (e *env) wantReleaseIDs(scope cache.Scope, ids []string, want cache.PinCounts) {
	e.t.Helper()
	got, err := e.store.WritePins(e.ctx, scope, time.Minute, cache.PinWrite{Release: ids})
	if err != nil {
		e.t.Fatalf("WritePins(release %s) error = %v", quoteIDs(ids), err)
	}
	if got != want {
		e.t.Fatalf("WritePins(release %s) = %+v, want %+v", quoteIDs(ids), got, want)
	}
}

// pinsOf is the write that pins ids to s.
func pinsOf(s cache.Strategy, ids ...string) cache.PinWrite {
	if s == cache.Green {
		return cache.PinWrite{Green: ids}
	}
	return cache.PinWrite{Blue: ids}
}

// quoteIDs prints ids for a message, eliding the middle of a long list.
func quoteIDs(ids []string) string {
	if len(ids) > 8 {
		return fmt.Sprintf("%q ... %q (%d ids)", ids[:3], ids[len(ids)-3:], len(ids))
	}
	return fmt.Sprintf("%q", ids)
}

// wantRenew fails the test unless Renew reports missing (in any order). It
// returns the span the renewed pins may end in.
func (e *env) wantRenew(scope cache.Scope, ttl time.Duration, ids []string, missing ...string) span {
	e.t.Helper()
	var got []string
	var err error
	now := e.during(func() { got, err = e.store.Renew(e.ctx, scope, ttl, ids...) })
	if err != nil {
		e.t.Fatalf("Renew(%v, %q) error = %v", ttl, ids, err)
	}
	slices.Sort(got)
	slices.Sort(missing)
	if !slices.Equal(got, missing) {
		e.t.Fatalf("Renew(%v, %q) missing = %q, want %q", ttl, ids, got, missing)
	}
	return now.add(ttl)
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
