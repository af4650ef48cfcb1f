package cachetest

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/e6coord/e6coord/cache"
)

// testNoGoroutineLeft checks that a store used in every way, watches
// included, leaves no goroutine behind once cleaned up. The goroutines that
// ran before the store was made (the backend's shared clients, say) are
// ignored.
func testNoGoroutineLeft(t *testing.T, mk MakeStore, now func(context.Context) (time.Time, error)) {
	before := goleak.IgnoreCurrent()
	// Kept live through the cleanup, unless there is none: the cleanup must
	// end the goroutines of live watches.
	watchCtx, cancelWatch := context.WithCancel(context.Background())
	defer cancelWatch()
	withStore(t, mk, now, func(e *env) {
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
