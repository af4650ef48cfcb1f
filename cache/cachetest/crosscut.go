package cachetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
)

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

	expA := e.pin(a, "q", cache.Blue, time.Minute)
	expB := e.pin(b, "q", cache.Green, time.Minute)
	e.pin(c, "q2", cache.Green, time.Minute)
	e.wantPin(a, "q", cache.Blue, expA)
	e.wantPin(b, "q", cache.Green, expB)
	e.wantNoPin(c, "q")
	e.wantNoPin(d, "q2")
	e.wantCount(a, cache.PinCounts{Blue: 1})
	e.wantCount(b, cache.PinCounts{Green: 1})
	e.wantCount(d, cache.PinCounts{})
	e.wantRelease(a, "q", cache.PinCounts{})
	e.wantPin(b, "q", cache.Green, expB)

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
	kept := e.pin(e.scope, "kept", cache.Blue, time.Minute)
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
		{"WritePins", func(ctx context.Context) error {
			_, err := s.WritePins(ctx, e.scope, time.Minute, cache.PinWrite{Green: []string{"new"}, Release: []string{"kept"}})
			return err
		}},
		{"Lookup", func(ctx context.Context) error { _, err := s.Lookup(ctx, e.scope, "kept"); return err }},
		{"Renew", func(ctx context.Context) error { _, err := s.Renew(ctx, e.scope, time.Hour, "kept"); return err }},
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
	if c, ok := s.(cache.Clock); ok {
		calls = append(calls, struct {
			name string
			call func(ctx context.Context) error
		}{"Time", func(ctx context.Context) error { _, err := c.Time(ctx); return err }})
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
	e.wantPin(e.scope, "kept", cache.Blue, kept)
	e.wantCount(e.scope, cache.PinCounts{Blue: 1})
	e.wantHeld(e.scope, "other")
}
