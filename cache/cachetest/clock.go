package cachetest

import (
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
)

// storeClock returns the store as a cache.Clock, or skips the test.
func (e *env) storeClock(t *testing.T) cache.Clock {
	c, ok := e.store.(cache.Clock)
	if !ok {
		t.Skip("the store does not implement cache.Clock")
	}
	return c
}

// testClock checks that the time of a store that implements cache.Clock is
// the clock that the suite drives: the time it returns falls within the
// suite's clock during the call (one instant with a fake clock; a store may
// be finer than its whole milliseconds), and moves on as the suite's
// clock does.
func testClock(t *testing.T, e *env) {
	c := e.storeClock(t)
	read := func() time.Time {
		t.Helper()
		var got time.Time
		var err error
		now := e.during(func() { got, err = c.Time(e.ctx) })
		if err != nil {
			t.Fatalf("Time() error = %v", err)
		}
		if got.Before(now.lo) || !got.Before(now.hi.Add(time.Millisecond)) {
			t.Fatalf("Time() = %s, want the suite's clock during the call, %s", got.Format(time.RFC3339Nano), now)
		}
		return got
	}
	first := read()
	for _, d := range []time.Duration{e.unit, 3 * e.unit} {
		e.clock.Advance(d)
		next := read()
		if moved := next.Sub(first); moved < d {
			t.Fatalf("Time() moved by %v when the suite's clock moved by %v", moved, d)
		}
		first = next
	}
}
