package cachetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/e6coord/e6coord/cache"
)

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
