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

// gatedStore holds every Pin call until the test lets it go, and records
// the ids of every Pin and Release call.
type gatedStore struct {
	cache.Store
	entered chan []string // a Pin call began, with its ids
	gate    chan struct{} // a Pin call may proceed; closed: all may
	mu      sync.Mutex
	pins    [][]string
	rels    [][]string
}

func newGatedStore(inner cache.Store) *gatedStore {
	return &gatedStore{Store: inner, entered: make(chan []string, 16), gate: make(chan struct{})}
}

func (g *gatedStore) Pin(ctx context.Context, sc cache.Scope, s cache.Strategy, ttl time.Duration, ids ...string) error {
	g.entered <- slices.Clone(ids)
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	g.mu.Lock()
	g.pins = append(g.pins, slices.Clone(ids))
	g.mu.Unlock()
	return g.Store.Pin(ctx, sc, s, ttl, ids...)
}

func (g *gatedStore) Release(ctx context.Context, sc cache.Scope, ids ...string) (cache.PinCounts, error) {
	g.mu.Lock()
	g.rels = append(g.rels, slices.Clone(ids))
	g.mu.Unlock()
	return g.Store.Release(ctx, sc, ids...)
}

func (g *gatedStore) calls() (pins, rels [][]string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.pins), slices.Clone(g.rels)
}

// Pin and Release never wait on the store: while one pin write is held,
// queries go on pinning and releasing; the pins made meanwhile are written
// in one call, a query released before its pin was written costs the store
// nothing, and Sync waits for all of it.
func TestPinsWrittenInTheBackground(t *testing.T) {
	e := newEnv(t, cache.Blue)
	g := newGatedStore(e.store)
	c := e.coordOn(g, func(cfg *coordinator.Config) { cfg.StoreTimeout = time.Minute })
	resolve(t, c, cache.Blue)
	ctx := context.Background()

	if err := c.Pin(ctx, "first", cache.Blue); err != nil {
		t.Fatal(err)
	}
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
		if err := c.Pin(ctx, id, cache.Blue); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			c.Release(ctx, id) // released before written: never written
		} else {
			held = append(held, id)
		}
	}
	c.Release(ctx, "first") // written (being written): released after
	if n := c.Pins(); n.Blue != len(held) {
		t.Errorf("local pins = %+v, want %d blue", n, len(held))
	}

	synced := make(chan error, 1)
	go func() { synced <- c.Sync(ctx) }()
	close(g.gate)
	if err := <-synced; err != nil {
		t.Fatal(err)
	}
	pins, rels := g.calls()
	if len(pins) != 2 {
		t.Fatalf("Pin calls %v, want 2: [first] and the %d held", pins, len(held))
	}
	slices.Sort(pins[1])
	slices.Sort(held)
	if !slices.Equal(pins[1], held) {
		t.Errorf("second Pin call %v, want the held queries %v", pins[1], held)
	}
	if len(rels) != 1 || !slices.Equal(rels[0], []string{"first"}) {
		t.Errorf("Release calls %v, want [[first]]", rels)
	}
	if n, err := e.store.Count(ctx, scope); err != nil || n.Blue != len(held) {
		t.Errorf("store counts %+v, %v; want %d blue", n, err, len(held))
	}
}
