package memory_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/cachetest"
	"github.com/e6coord/e6coord/cache/memory"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestConformance(t *testing.T) {
	cachetest.Run(t, func(t *testing.T, clock *cachetest.Clock) (cache.Store, func()) {
		s := memory.New(memory.Options{Now: clock.Now})
		return s, func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close() error = %v", err)
			}
		}
	})
}

// TestConformanceNoCleanup runs the suite on stores that are never closed:
// a memory store must not need Close to free its goroutines.
func TestConformanceNoCleanup(t *testing.T) {
	cachetest.Run(t, func(t *testing.T, clock *cachetest.Clock) (cache.Store, func()) {
		return memory.New(memory.Options{Now: clock.Now}), nil
	})
}

var scope = cache.Scope{Cluster: "c", Engine: "e:1"}

func TestClose(t *testing.T) {
	ctx := t.Context()
	s := memory.New(memory.Options{})
	other := cache.Scope{Cluster: "c", Engine: "other:1"}
	chans := make([]<-chan cache.State, 0, 3)
	for _, sc := range []cache.Scope{scope, scope, other} {
		ch, err := s.Watch(ctx, sc)
		if err != nil {
			t.Fatalf("Watch() error = %v", err)
		}
		chans = append(chans, ch)
	}
	// A cancelled watch closes before the store does.
	cancelled, cancel := context.WithCancel(ctx)
	early, err := s.Watch(cancelled, scope)
	if err != nil {
		t.Fatalf("Watch() error = %v", err)
	}
	cancel()
	waitClosed(t, early)

	if err := s.Close(); err != nil {
		t.Fatalf("Close() error = %v", err)
	}
	for i, ch := range chans {
		select {
		case st, ok := <-ch:
			if ok {
				t.Errorf("watch %d sent %v after Close, want it closed", i, st)
			}
		default:
			t.Errorf("watch %d is not closed when Close returns", i)
		}
	}

	calls := map[string]func() error{
		"Close": s.Close,
		"Load":  func() error { _, err := s.Load(ctx, scope); return err },
		"CompareAndSwap": func() error {
			_, err := s.CompareAndSwap(ctx, scope, 0, cache.State{Active: cache.Blue, Generation: 1})
			return err
		},
		"Watch":             func() error { _, err := s.Watch(ctx, scope); return err },
		"Pin":               func() error { return cachetest.Pin(ctx, s, scope, cache.Blue, time.Minute, "q") },
		"Lookup":            func() error { _, err := s.Lookup(ctx, scope, "q"); return err },
		"Renew":             func() error { _, err := s.Renew(ctx, scope, time.Minute, "q"); return err },
		"Release":           func() error { _, err := cachetest.Release(ctx, s, scope, "q"); return err },
		"Count":             func() error { _, err := s.Count(ctx, scope); return err },
		"AcquireProbeLease": func() error { return s.AcquireProbeLease(ctx, scope, "a", time.Minute) },
		"ReleaseProbeLease": func() error { return s.ReleaseProbeLease(ctx, scope, "a") },
		"Time":              func() error { _, err := s.Time(ctx); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, cache.ErrClosed) {
			t.Errorf("%s after Close error = %v, want one wrapping %v", name, err, cache.ErrClosed)
		}
	}
}

// TestCloseRacesCancel cancels watches while the store closes: each channel
// is closed once, and Close returns only when every callback is done (the
// race detector and goleak check the rest).
func TestCloseRacesCancel(t *testing.T) {
	for range 20 {
		s := memory.New(memory.Options{})
		var cancels []context.CancelFunc
		var chans []<-chan cache.State
		for range 10 {
			ctx, cancel := context.WithCancel(t.Context())
			ch, err := s.Watch(ctx, scope)
			if err != nil {
				t.Fatalf("Watch() error = %v", err)
			}
			cancels = append(cancels, cancel)
			chans = append(chans, ch)
		}
		var wg sync.WaitGroup
		for _, cancel := range cancels {
			wg.Go(cancel)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close() error = %v", err)
		}
		wg.Wait()
		for _, ch := range chans {
			waitClosed(t, ch)
		}
	}
}

// TestWatchDoneContext checks that a watch whose context is done as it is
// made is closed rather than left open.
func TestWatchDoneContext(t *testing.T) {
	s := memory.New(memory.Options{})
	defer s.Close()
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := s.Watch(ctx, scope)
	if err != nil {
		t.Fatalf("Watch() error = %v", err)
	}
	cancel()
	waitClosed(t, ch)
	// A swap after the subscriber left must not panic on its closed channel.
	if _, err := s.CompareAndSwap(t.Context(), scope, 0, cache.State{Active: cache.Green, Generation: 1}); err != nil {
		t.Fatalf("CompareAndSwap() error = %v", err)
	}
}

func TestDefaultClock(t *testing.T) {
	s := memory.New(memory.Options{})
	defer s.Close()
	before := time.Now()
	if err := cachetest.Pin(t.Context(), s, scope, cache.Blue, time.Hour, "q"); err != nil {
		t.Fatalf("Pin() error = %v", err)
	}
	after := time.Now()
	p, err := s.Lookup(t.Context(), scope, "q")
	if err != nil {
		t.Fatalf("Lookup() error = %v", err)
	}
	if p.Expires.Before(before.Add(time.Hour)) || p.Expires.After(after.Add(time.Hour)) {
		t.Errorf("Lookup().Expires = %v, want between %v and %v", p.Expires, before.Add(time.Hour), after.Add(time.Hour))
	}
}

// TestCountAcrossExpiries compares Count with a model while pins of many
// lifetimes are added, renewed, replaced and released and the clock moves a
// second at a time, so that expired pins are never counted whatever the
// order of expiries.
func TestCountAcrossExpiries(t *testing.T) {
	ctx := t.Context()
	clock := cachetest.NewClock(time.Unix(1_700_000_000, 0))
	s := memory.New(memory.Options{Now: clock.Now})
	defer s.Close()

	type pin struct {
		colour  cache.Strategy
		expires time.Time
	}
	model := map[string]pin{}
	want := func() cache.PinCounts {
		var c cache.PinCounts
		for _, p := range model {
			if clock.Now().Before(p.expires) {
				if p.colour == cache.Blue {
					c.Blue++
				} else {
					c.Green++
				}
			}
		}
		return c
	}
	for i := range 100 {
		id := fmt.Sprintf("q%d", i)
		colour := cache.Strategies[i%2]
		ttl := time.Duration(1+(i*37)%60) * time.Second
		if err := cachetest.Pin(ctx, s, scope, colour, ttl, id); err != nil {
			t.Fatalf("Pin(%s) error = %v", id, err)
		}
		model[id] = pin{colour, clock.Now().Add(ttl)}
	}
	for step := range 70 {
		clock.Advance(time.Second)
		id := fmt.Sprintf("q%d", (step*13)%100)
		switch step % 4 {
		case 0: // renew
			missing, err := s.Renew(ctx, scope, 5*time.Second, id)
			if err != nil {
				t.Fatalf("Renew(%s) error = %v", id, err)
			}
			p, ok := model[id]
			if alive := ok && clock.Now().Before(p.expires); alive != (len(missing) == 0) {
				t.Fatalf("step %d: Renew(%s) missing = %q, want alive=%v", step, id, missing, alive)
			}
			if len(missing) == 0 {
				model[id] = pin{p.colour, clock.Now().Add(5 * time.Second)}
			}
		case 1: // replace with the other colour and a short lease
			colour := cache.Strategies[step%2]
			if err := cachetest.Pin(ctx, s, scope, colour, 2*time.Second, id); err != nil {
				t.Fatalf("Pin(%s) error = %v", id, err)
			}
			model[id] = pin{colour, clock.Now().Add(2 * time.Second)}
		case 2: // release
			got, err := cachetest.Release(ctx, s, scope, id)
			if err != nil {
				t.Fatalf("Release(%s) error = %v", id, err)
			}
			delete(model, id)
			if w := want(); got != w {
				t.Fatalf("step %d: Release(%s) = %+v, want %+v", step, id, got, w)
			}
		}
		got, err := s.Count(ctx, scope)
		if err != nil {
			t.Fatalf("Count() error = %v", err)
		}
		if w := want(); got != w {
			t.Fatalf("step %d: Count() = %+v, want %+v", step, got, w)
		}
	}
	clock.Advance(time.Minute)
	if got, _ := s.Count(ctx, scope); got.Total() != 0 {
		t.Errorf("Count() at the end = %+v, want none", got)
	}
}

// waitClosed fails the test unless ch is closed within 5 seconds. Values
// sent before the close are skipped.
func waitClosed(t *testing.T, ch <-chan cache.State) {
	t.Helper()
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timer.C:
			t.Fatal("watch channel not closed within 5s")
		}
	}
}

// BenchmarkLoad reads the record of a scope, the hot path of a refresher.
func BenchmarkLoad(b *testing.B) {
	ctx := b.Context()
	s := memory.New(memory.Options{})
	defer s.Close()
	if _, err := s.CompareAndSwap(ctx, scope, 0, cache.State{Active: cache.Blue, Generation: 1}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Load(ctx, scope); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadParallel is BenchmarkLoad from every P at once.
func BenchmarkLoadParallel(b *testing.B) {
	ctx := b.Context()
	s := memory.New(memory.Options{})
	defer s.Close()
	if _, err := s.CompareAndSwap(ctx, scope, 0, cache.State{Active: cache.Blue, Generation: 1}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Load(ctx, scope); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPinRelease pins and releases one query, the store's share of a
// query's life, in a scope that already has other live pins.
func BenchmarkPinRelease(b *testing.B) {
	for _, live := range []int{0, 10_000} {
		b.Run(fmt.Sprintf("live=%d", live), func(b *testing.B) {
			ctx := b.Context()
			s := memory.New(memory.Options{})
			defer s.Close()
			for i := range live {
				if err := cachetest.Pin(ctx, s, scope, cache.Green, time.Hour, fmt.Sprintf("other-%d", i)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := cachetest.Pin(ctx, s, scope, cache.Blue, time.Minute, "q"); err != nil {
					b.Fatal(err)
				}
				if _, err := cachetest.Release(ctx, s, scope, "q"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
