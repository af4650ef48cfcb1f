package inspect_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/cachetest"
	"github.com/e6coord/e6coord/cache/memory"
	"github.com/e6coord/e6coord/cmd/e6coord/internal/inspect"
	"github.com/e6coord/e6coord/internal/outputtest"
	"github.com/e6coord/e6coord/internal/view"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var scope = cache.Scope{Cluster: "prod", Engine: "e6:9000"}

// waitTimeout bounds every wait in these tests.
const waitTimeout = 10 * time.Second

// fakeStore is a memory store whose subscriptions the test controls: each
// Watch hands the test its channel on subs, and fails while watchErr is
// set; Load fails while loadErr is set.
type fakeStore struct {
	*memory.Store
	subs chan *sub

	mu       sync.Mutex // guards watchErr and loadErr
	watchErr error
	loadErr  error
}

// sub is one subscription: the test sends on ch and may end it with lose.
type sub struct {
	ch   chan cache.State
	once sync.Once
}

func (s *sub) lose() { s.once.Do(func() { close(s.ch) }) }

func newFake(t *testing.T, now func() time.Time) *fakeStore {
	ms := memory.New(memory.Options{Now: now})
	t.Cleanup(func() { ms.Close() })
	return &fakeStore{Store: ms, subs: make(chan *sub, 10)}
}

func (f *fakeStore) set(watchErr, loadErr error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.watchErr, f.loadErr = watchErr, loadErr
}

func (f *fakeStore) Watch(ctx context.Context, _ cache.Scope) (<-chan cache.State, error) {
	f.mu.Lock()
	err := f.watchErr
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s := &sub{ch: make(chan cache.State, 10)}
	context.AfterFunc(ctx, s.lose)
	f.subs <- s
	return s.ch, nil
}

func (f *fakeStore) Load(ctx context.Context, sc cache.Scope) (cache.State, error) {
	f.mu.Lock()
	err := f.loadErr
	f.mu.Unlock()
	if err != nil {
		return cache.State{}, err
	}
	return f.Store.Load(ctx, sc)
}

// put stores rec as the scope's record over whatever is there.
func put(t *testing.T, s cache.Store, rec cache.State) {
	t.Helper()
	cur, err := s.Load(context.Background(), scope)
	if err != nil && !errors.Is(err, cache.ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := s.CompareAndSwap(context.Background(), scope, cur.Generation, rec); err != nil {
		t.Fatalf("store %s: %v", rec, err)
	}
}

func TestRead(t *testing.T) {
	local := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	storeSkew := time.Hour // the store's clock is an hour ahead of the local one
	f := newFake(t, func() time.Time { return local.Add(storeSkew) })
	r := inspect.NewReader(f, inspect.Options{
		Scope: scope, Address: "redis://127.0.0.1:6379/0", CacheTTL: time.Minute,
		Now: func() time.Time { return local },
	})
	ctx := context.Background()

	v, err := r.Read(ctx)
	if err != nil || v.Status != view.Unknown || v.Generation != 0 || v.Store.State != "up" {
		t.Errorf("no record: %+v, %v; want unknown, generation 0, store up", v, err)
	}
	if got := r.Now(); !got.Equal(local.Add(storeSkew)) {
		t.Errorf("Now() = %v, want the store's clock %v", got, local.Add(storeSkew))
	}

	storeNow := local.Add(storeSkew)
	put(t, f, cache.State{Active: cache.Blue, Generation: 3, ConfirmedAt: storeNow.Add(-59 * time.Second), ChangedAt: storeNow, ChangedBy: "p1"})
	if err := cachetest.Pin(ctx, f, scope, cache.Blue, time.Hour, "q1"); err != nil {
		t.Fatal(err)
	}
	v, err = r.Read(ctx)
	if err != nil || v.Status != view.Healthy || v.Active != "blue" || v.Generation != 3 || v.Pins.Blue != 1 || v.ChangedBy != "p1" {
		t.Errorf("fresh by the store's clock: %+v, %v; want healthy blue gen 3, 1 blue pin", v, err)
	}
	if v.Store.Address != "redis://127.0.0.1:6379/0" || v.Store.StateSince == nil {
		t.Errorf("store %+v: want the address and a state_since", v.Store)
	}

	put(t, f, cache.State{Active: cache.Blue, Generation: 4, ConfirmedAt: storeNow.Add(-61 * time.Second)})
	if v, _ := r.Read(ctx); v.Status != view.Degraded || v.Active != "blue" {
		t.Errorf("confirmed 61s ago with CacheTTL 1m: %+v, want degraded (stale), still blue", v)
	}

	for _, tt := range []struct {
		err        error
		state, why string
	}{
		{fmt.Errorf("redis: load: %w", cache.ErrAccessDenied), "denied", "denied"},
		{fmt.Errorf("redis: load: %w", context.DeadlineExceeded), "unreachable", "timeout"},
		{errors.New("connection refused"), "unreachable", "error"},
	} {
		f.set(nil, tt.err)
		v, err := r.Read(ctx)
		if !errors.Is(err, tt.err) {
			t.Errorf("Read with Load failing %v: error %v, want it wrapped", tt.err, err)
		}
		if v.Store.State != tt.state || v.Store.LastErrorKind != tt.why || v.Status != view.Unknown {
			t.Errorf("Load failing %v: %+v, want store %s (%s), status unknown", tt.err, v, tt.state, tt.why)
		}
	}
	f.set(nil, nil)
	if v, err := r.Read(ctx); err != nil || v.Store.State != "up" || v.Store.LastErrorKind != "error" {
		t.Errorf("after recovery: %+v, %v; want store up with the last error kind kept", v, err)
	}
}

// events collects what Follow emits.
type events struct {
	ch chan inspect.Event
}

func (e *events) emit(ev inspect.Event) error {
	e.ch <- ev
	return nil
}

func (e *events) next(t *testing.T) inspect.Event {
	t.Helper()
	select {
	case ev := <-e.ch:
		return ev
	case <-time.After(waitTimeout):
		t.Fatal("no event")
		return inspect.Event{}
	}
}

func (f *fakeStore) nextSub(t *testing.T) *sub {
	t.Helper()
	select {
	case s := <-f.subs:
		return s
	case <-time.After(waitTimeout):
		t.Fatal("no subscription")
		return nil
	}
}

func TestFollow(t *testing.T) {
	f := newFake(t, nil)
	put(t, f, cache.State{Active: cache.Blue, Generation: 1, ConfirmedAt: time.Now()})
	logs := new(outputtest.Buffer)
	r := inspect.NewReader(f, inspect.Options{Scope: scope, CacheTTL: 5 * time.Minute, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	ev := &events{ch: make(chan inspect.Event, 10)}
	done := make(chan error, 1)
	go func() { done <- r.Follow(ctx, ev.emit) }()

	s := f.nextSub(t)
	if e := ev.next(t); e.Type != inspect.Snapshot || e.Generation != 1 || e.Active != "blue" {
		t.Fatalf("first event %+v, want a snapshot of gen 1, blue", e)
	}
	s.ch <- cache.State{Active: cache.Green, Generation: 2, ChangedBy: "p2", ConfirmedAt: time.Now()}
	s.ch <- cache.State{Active: cache.Blue, Generation: 2} // not newer: skipped
	s.ch <- cache.State{Active: cache.Blue, Generation: 1} // older: skipped
	s.ch <- cache.State{Active: cache.Green, Pending: cache.Blue, Generation: 5, ConfirmedAt: time.Now()}
	for _, want := range []struct {
		gen             uint64
		active, pending string
	}{{2, "green", ""}, {5, "green", "blue"}} {
		e := ev.next(t)
		if e.Type != inspect.Change || e.Generation != want.gen || e.Active != want.active || e.Pending != want.pending {
			t.Errorf("event %+v, want a change to gen %d active %s pending %q", e, want.gen, want.active, want.pending)
		}
	}

	// The subscription is lost, and the store is down for two attempts:
	// Follow logs them, then re-reads and resyncs.
	put(t, f, cache.State{Active: cache.Green, Generation: 3})
	f.set(errors.New("connection refused"), nil)
	s.lose()
	logs.WaitFor(t, "cannot reach the store", 2, waitTimeout)
	select {
	case e := <-ev.ch:
		t.Fatalf("event %+v while the store is down", e)
	default:
	}
	f.set(nil, nil)
	s = f.nextSub(t)
	if e := ev.next(t); e.Type != inspect.Resync || e.Generation != 3 || e.Store.State != "up" || e.Store.LastErrorKind != "error" {
		t.Errorf("after the outage: %+v, want a resync at gen 3 (lower than the last change), store up after an error", e)
	}
	// Changes after a resync are judged against its generation.
	s.ch <- cache.State{Active: cache.Blue, Generation: 4}
	if e := ev.next(t); e.Type != inspect.Change || e.Generation != 4 {
		t.Errorf("event %+v, want a change to gen 4", e)
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("log %q has no WARN record", logs.String())
	}

	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Follow = %v, want context.Canceled", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Follow did not return after cancel")
	}
}

func TestFollowStopsOnEmitError(t *testing.T) {
	f := newFake(t, nil)
	r := inspect.NewReader(f, inspect.Options{Scope: scope, CacheTTL: 5 * time.Minute})
	stop := errors.New("stdout closed")
	err := r.Follow(context.Background(), func(inspect.Event) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("Follow = %v, want emit's error", err)
	}
}

func TestWaitFor(t *testing.T) {
	f := newFake(t, nil)
	put(t, f, cache.State{Active: cache.Blue, Generation: 1, ConfirmedAt: time.Now()})
	r := inspect.NewReader(f, inspect.Options{Scope: scope, CacheTTL: 5 * time.Minute})
	type result struct {
		v   view.State
		err error
	}
	res := make(chan result, 1)
	go func() {
		v, err := r.WaitFor(context.Background(), cache.Green)
		res <- result{v, err}
	}()
	s := f.nextSub(t)
	s.ch <- cache.State{Active: cache.Blue, Pending: cache.Green, Generation: 2}
	s.ch <- cache.State{Active: cache.Green, Generation: 3, ChangedBy: "p"}
	select {
	case got := <-res:
		if got.err != nil || got.v.Active != "green" || got.v.Generation != 3 {
			t.Errorf("WaitFor = %+v, %v; want green at gen 3", got.v, got.err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("WaitFor did not return once green was active")
	}

	// Already active in the store (the pushes above went through the
	// fake's channel only): no wait.
	if v, err := r.WaitFor(context.Background(), cache.Blue); err != nil || v.Active != "blue" || v.Generation != 1 {
		t.Errorf("WaitFor(blue) = %+v, %v; want blue at gen 1 at once", v, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	v, err := r.WaitFor(ctx, cache.Green)
	if !errors.Is(err, context.DeadlineExceeded) || v.Active != "blue" || v.Generation != 1 {
		t.Errorf("WaitFor(green) on a blue store = %+v, %v; want DeadlineExceeded and the last view, blue at gen 1", v, err)
	}
}

func TestEventText(t *testing.T) {
	e := inspect.Event{
		Type: inspect.Change, Time: time.Date(2026, 12, 1, 11, 0, 0, 123e6, time.FixedZone("CET", 3600)),
		State: view.State{Generation: 5, Active: "green", ChangedBy: "host-1"},
	}
	if got, want := e.Text(), "2026-12-01T10:00:00.123Z change gen=5 active=green pending=- by=host-1"; got != want {
		t.Errorf("Text() = %q, want %q", got, want)
	}
}
