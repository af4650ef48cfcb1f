package coordinator_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/coordinator"
)

// gatedStore holds every pin write that pins queries until the test lets
// it go, and records the ids of every write: those pinned and those
// released.
type gatedStore struct {
	cache.Store
	entered chan []string // a write of pins began, with the ids it pins
	gate    chan struct{} // a write of pins may proceed; closed: all may
	mu      sync.Mutex
	pins    [][]string
	rels    [][]string
}

func newGatedStore(inner cache.Store) *gatedStore {
	return &gatedStore{Store: inner, entered: make(chan []string, 16), gate: make(chan struct{})}
}

func (g *gatedStore) WritePins(ctx context.Context, sc cache.Scope, ttl time.Duration, w cache.PinWrite) (cache.PinCounts, error) {
	ids := append(slices.Clone(w.Blue), w.Green...)
	if len(ids) > 0 {
		g.entered <- ids
		select {
		case <-g.gate:
		case <-ctx.Done():
			return cache.PinCounts{}, ctx.Err()
		}
	}
	g.mu.Lock()
	g.pins = append(g.pins, ids)
	g.rels = append(g.rels, slices.Clone(w.Release))
	g.mu.Unlock()
	return g.Store.WritePins(ctx, sc, ttl, w)
}

func (g *gatedStore) calls() (pins, rels [][]string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.pins), slices.Clone(g.rels)
}

// Pin and Release never wait on the store: while one pin write is held,
// queries go on pinning and releasing; the pins made meanwhile are written
// in one call, a query released before its pin was written costs the store
// nothing, one released while its pin was being written is released at
// once after that write, and Sync waits for all of it.
func TestPinsWrittenInTheBackground(t *testing.T) {
	e := newEnv(t, cache.Blue)
	g := newGatedStore(e.store)
	c := e.coordOn(g, func(cfg *coordinator.Config) { cfg.StoreTimeout = time.Minute })
	resolve(t, c, cache.Blue)
	ctx := context.Background()

	if err := c.Pin("first", cache.Blue); err != nil {
		t.Fatal(err)
	}
	// In steady state a pin waits for the renewal; Sync writes it now.
	firstSynced := make(chan error, 1)
	go func() { firstSynced <- c.Sync(ctx) }()
	select { // the pin loop is writing "first", held at the gate
	case ids := <-g.entered:
		if !slices.Equal(ids, []string{"first"}) {
			t.Fatalf("first write pins %v, want [first]", ids)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no pin write began")
	}
	// Every call below returns while the store holds the write.
	var held []string
	for i := range 20 {
		id := fmt.Sprint("q", i)
		if err := c.Pin(id, cache.Blue); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			c.Release(id) // released before written: never written
		} else {
			held = append(held, id)
		}
	}
	c.Release("first") // written (being written): released after
	if n := c.Pins(); n.Blue != len(held) {
		t.Errorf("local pins = %+v, want %d blue", n, len(held))
	}

	synced := make(chan error, 1)
	go func() { synced <- c.Sync(ctx) }()
	close(g.gate)
	if err := <-firstSynced; err != nil {
		t.Fatal(err)
	}
	if err := <-synced; err != nil {
		t.Fatal(err)
	}
	// Three writes: "first"; at once after it, the release of "first",
	// made while its pin was being written; then the held pins.
	pins, rels := g.calls()
	if len(pins) != 3 {
		t.Fatalf("writes pinning %v, want 3: [first], none, and the %d held", pins, len(held))
	}
	if !slices.Equal(pins[0], []string{"first"}) || len(rels[0]) != 0 {
		t.Errorf("first write pins %v and releases %v, want [first] and none", pins[0], rels[0])
	}
	if len(pins[1]) != 0 || !slices.Equal(rels[1], []string{"first"}) {
		t.Errorf("second write pins %v and releases %v, want none and [first]", pins[1], rels[1])
	}
	slices.Sort(pins[2])
	slices.Sort(held)
	if !slices.Equal(pins[2], held) || len(rels[2]) != 0 {
		t.Errorf("third write pins %v and releases %v, want the held queries %v and none", pins[2], rels[2], held)
	}
	if n, err := e.store.Count(ctx, scope); err != nil || n.Blue != len(held) {
		t.Errorf("store counts %+v, %v; want %d blue", n, err, len(held))
	}
}

// writesStore reports every pin write it passes on to its store.
type writesStore struct {
	cache.Store
	writes chan cache.PinWrite
}

func (w *writesStore) WritePins(ctx context.Context, sc cache.Scope, ttl time.Duration, pw cache.PinWrite) (cache.PinCounts, error) {
	n, err := w.Store.WritePins(ctx, sc, ttl, pw)
	w.writes <- pw
	return n, err
}

// coordReportingWrites returns a coordinator, on blue, whose pin writes
// the store reports, with a renewal every minute and PinDelay delay.
func coordReportingWrites(t *testing.T, e *env, delay time.Duration) (*writesStore, *coordinator.Coordinator) {
	t.Helper()
	w := &writesStore{Store: e.store, writes: make(chan cache.PinWrite, 64)}
	c := e.coordOn(w, func(cfg *coordinator.Config) {
		cfg.PinTTL = 3 * time.Minute
		cfg.PinDelay = delay
	})
	resolve(t, c, cache.Blue)
	return w, c
}

// waitWrite waits for a pin write that holds id among its pins (release
// false) or its releases (release true), or fails the test.
func waitWrite(t *testing.T, w *writesStore, id string, release bool, why string) {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case pw := <-w.writes:
			ids := append(slices.Clone(pw.Blue), pw.Green...)
			if release {
				ids = pw.Release
			}
			if slices.Contains(ids, id) {
				return
			}
		case <-timer.C:
			t.Fatalf("no pin write of %q (release %t) within %v: %s", id, release, waitTimeout, why)
		}
	}
}

// In steady state a pin waits for the renewal (PinTTL/3: a minute here,
// and PinDelay an hour), but a switch beginning writes the pins queued at
// once: a Drain switch, an engine draining the old colour or an operator
// counts them from then on.
func TestSwitchBeginningWritesQueuedPins(t *testing.T) {
	e := newEnv(t, cache.Blue)
	w, c := coordReportingWrites(t, e, time.Hour)
	if err := c.Pin("q", cache.Blue); err != nil {
		t.Fatal(err)
	}
	c.Announce("green")
	waitWrite(t, w, "q", false, "a new pending colour writes the queued pins at once")
	if st := c.Snapshot(); st.Pending != cache.Green {
		t.Errorf("record %s, want green pending", st)
	}
}

// After a switch, a pin of the old colour is released in the store within
// PinDelay (a millisecond here), not at the renewal (a minute): the fleet
// waits for the old colour's queries to end.
func TestOldColourReleasedWithinPinDelay(t *testing.T) {
	e := newEnv(t, cache.Blue)
	w, c := coordReportingWrites(t, e, time.Millisecond)
	ctx := context.Background()
	if err := pinSynced(ctx, c, "old", cache.Blue); err != nil {
		t.Fatal(err)
	}
	e.eng.set(cache.Blue, cache.Green)
	c.Announce("green")
	waitFor(t, c, "green active", active(cache.Green))
	c.Release("old")
	waitWrite(t, w, "old", true, "the release of an old colour's pin is due within PinDelay")
	if n, err := e.store.Count(ctx, scope); err != nil || n.Blue != 0 {
		t.Errorf("store counts %+v, %v; want no blue pin", n, err)
	}
}
