package redis_test

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock for the heartbeats of watches (see
// redis.SetWatchClock) that moves only when the test advances it.
type fakeClock struct {
	mu     sync.Mutex // guards now and timers
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// At returns a channel that receives once the clock has reached t.
func (c *fakeClock) At(t time.Time) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ft := &fakeTimer{at: t, c: make(chan time.Time, 1)}
	if !t.After(c.now) {
		ft.c <- c.now
		return ft.c, func() bool { return false }
	}
	c.timers = append(c.timers, ft)
	return ft.c, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		n := len(c.timers)
		c.timers = slices.DeleteFunc(c.timers, func(x *fakeTimer) bool { return x == ft })
		return len(c.timers) < n
	}
}

// Advance moves the clock by d and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.timers = slices.DeleteFunc(c.timers, func(ft *fakeTimer) bool {
		if ft.at.After(c.now) {
			return false
		}
		ft.c <- c.now // buffered, and sent once
		return true
	})
}

// watchTrace collects the events of the watches of a store (see
// redis.SetWatchHook).
type watchTrace struct {
	t      *testing.T
	events chan string
}

func newWatchTrace(t *testing.T) *watchTrace {
	return &watchTrace{t: t, events: make(chan string, 1024)}
}

func (w *watchTrace) hook(event string) {
	select {
	case w.events <- event:
	default:
		w.t.Error("watch trace full")
	}
}

// want fails the test unless the next event, within waitTimeout, is event.
func (w *watchTrace) want(event string) {
	w.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case got := <-w.events:
		if got != event {
			w.t.Fatalf("watch did %q, want %q", got, event)
		}
	case <-timer.C:
		w.t.Fatalf("watch did not do %q within %v", event, waitTimeout)
	}
}
