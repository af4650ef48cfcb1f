package cache_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
)

func TestStale(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	ttl := time.Minute
	blue := cache.State{Active: cache.Blue, Generation: 3, ConfirmedAt: t0}
	for _, tt := range []struct {
		name string
		st   cache.State
		now  time.Time
		want bool
	}{
		{"just confirmed", blue, t0, false},
		{"a tick before the ttl", blue, t0.Add(ttl - 1), false},
		{"at the ttl", blue, t0.Add(ttl), true},
		{"past the ttl", blue, t0.Add(time.Hour), true},
		{"a clock behind the confirmation", blue, t0.Add(-time.Hour), false},
		{"no colour", cache.State{Generation: 3, ConfirmedAt: t0}, t0.Add(time.Hour), false},
		{"no record", cache.State{}, t0, false},
	} {
		if got := cache.Stale(tt.st, tt.now, ttl); got != tt.want {
			t.Errorf("%s: Stale = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestErrorKind(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{fmt.Errorf("x: %w", cache.ErrAccessDenied), "denied"},
		{fmt.Errorf("%w: %w", context.DeadlineExceeded, cache.ErrAccessDenied), "denied"},
		{fmt.Errorf("x: %w", cache.ErrReadOnly), "read-only"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), "timeout"},
		{errors.New("refused"), "error"},
	} {
		if got := cache.ErrorKind(tt.err); got != tt.want {
			t.Errorf("ErrorKind(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestClockOffset(t *testing.T) {
	before := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	after := before.Add(20 * time.Millisecond)
	// The store read its clock half-way, at local 10ms, as 5s later.
	store := before.Add(10*time.Millisecond + 5*time.Second)
	if got := cache.ClockOffset(before, store, after); got != 5*time.Second {
		t.Errorf("ClockOffset = %v, want 5s", got)
	}
	if got := cache.ClockOffset(before, before.Add(10*time.Millisecond-time.Second), after); got != -time.Second {
		t.Errorf("ClockOffset of a store behind = %v, want -1s", got)
	}
}
