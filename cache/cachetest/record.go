package cachetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/e6coord/e6coord/cache"
)

func testSwapCreateLoad(t *testing.T, e *env) {
	loc := time.FixedZone("cachetest", 5*3600+1800)
	full := record(e.clock, 1, cache.Blue, cache.Green, "host-1/pid-42 ✓")
	full.ConfirmedAt = full.ConfirmedAt.In(loc)
	e.swap(e.scope, 0, full)
	e.wantLoad(e.scope, full)

	// Unknown colours and zero times stay unknown and zero.
	bare := cache.State{Generation: 2}
	e.swap(e.scope, 1, bare)
	e.wantLoad(e.scope, bare)

	// A generation may jump.
	far := record(e.clock, 1<<40, cache.Green, cache.Unknown, "")
	e.swap(e.scope, 2, far)
	e.wantLoad(e.scope, far)

	pendingOnly := cache.State{Pending: cache.Green, Generation: 1<<40 + 1, AnnouncedAt: e.clock.Now()}
	e.swap(e.scope, 1<<40, pendingOnly)
	e.wantLoad(e.scope, pendingOnly)
}

func testSwapWinLoss(t *testing.T, e *env) {
	// Against no record, only old 0 wins.
	for _, old := range []uint64{1, 2, 100} {
		got, err := e.store.CompareAndSwap(e.ctx, e.scope, old, record(e.clock, old+1, cache.Blue, 0, "loser"))
		if !errors.Is(err, cache.ErrConflict) {
			t.Fatalf("CompareAndSwap(%d) on no record error = %v, want one wrapping %v", old, err, cache.ErrConflict)
		}
		if diff := cmp.Diff(cache.State{}, got, timeEqual); diff != "" {
			t.Fatalf("CompareAndSwap(%d) on no record returned a record, want the zero State (-want +got):\n%s", old, diff)
		}
	}
	e.wantNoRecord(e.scope)

	first := record(e.clock, 1, cache.Blue, 0, "a")
	e.swap(e.scope, 0, first)
	second := record(e.clock, 2, cache.Blue, cache.Green, "b")
	e.swap(e.scope, 1, second)

	for _, old := range []uint64{0, 1, 3, 50} {
		got, err := e.store.CompareAndSwap(e.ctx, e.scope, old, record(e.clock, 51, cache.Green, 0, "loser"))
		if !errors.Is(err, cache.ErrConflict) {
			t.Fatalf("CompareAndSwap(%d) on generation 2 error = %v, want one wrapping %v", old, err, cache.ErrConflict)
		}
		if diff := cmp.Diff(second, got, timeEqual); diff != "" {
			t.Fatalf("CompareAndSwap(%d) lost but did not return the stored record (-want +got):\n%s", old, diff)
		}
	}
	e.wantLoad(e.scope, second)
}

func testSwapOneWinner(t *testing.T, e *env) {
	const n = 50
	var stored cache.State // the winner of the previous round
	for _, round := range []string{"create", "update"} {
		old := stored.Generation
		results := make([]cache.State, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				next := record(e.clock, old+1, cache.Strategies[i%2], 0, fmt.Sprintf("%s-%d", round, i))
				results[i], errs[i] = e.store.CompareAndSwap(e.ctx, e.scope, old, next)
			})
		}
		close(start)
		wg.Wait()

		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("%s: swaps %d and %d from generation %d both won", round, winner, i, old)
			case err == nil:
				winner = i
			case !errors.Is(err, cache.ErrConflict):
				t.Fatalf("%s: swap %d from generation %d error = %v, want nil or one wrapping %v", round, i, old, err, cache.ErrConflict)
			}
		}
		if winner < 0 {
			t.Fatalf("%s: none of %d swaps from generation %d won", round, n, old)
		}
		stored = results[winner]
		if want := fmt.Sprintf("%s-%d", round, winner); stored.ChangedBy != want {
			t.Fatalf("%s: the winner's swap returned %q's record", round, stored.ChangedBy)
		}
		for i, got := range results {
			if i == winner {
				continue
			}
			if diff := cmp.Diff(stored, got, timeEqual); diff != "" {
				t.Fatalf("%s: losing swap %d did not return the winner's record (-want +got):\n%s", round, i, diff)
			}
		}
		e.wantLoad(e.scope, stored)
	}
}

func testGenerationNeverDecreases(t *testing.T, e *env) {
	// No record: generation 0 is not a record.
	if _, err := e.store.CompareAndSwap(e.ctx, e.scope, 0, cache.State{Active: cache.Blue}); !errors.Is(err, cache.ErrInvalidRecord) {
		t.Fatalf("CompareAndSwap(0, generation 0) error = %v, want one wrapping %v", err, cache.ErrInvalidRecord)
	}
	e.wantNoRecord(e.scope)

	five := record(e.clock, 5, cache.Green, 0, "five")
	e.swap(e.scope, 0, five)
	for _, gen := range []uint64{5, 4, 1} {
		_, err := e.store.CompareAndSwap(e.ctx, e.scope, 5, record(e.clock, gen, cache.Blue, 0, "backwards"))
		if !errors.Is(err, cache.ErrInvalidRecord) {
			t.Fatalf("CompareAndSwap(5, generation %d) error = %v, want one wrapping %v", gen, err, cache.ErrInvalidRecord)
		}
		e.wantLoad(e.scope, five)
	}

	// Concurrent read-modify-write loops: no reader ever sees a generation
	// go back, and every win is kept.
	const writers, wins = 4, 20
	var (
		wg       sync.WaitGroup
		highest  [writers]uint64 // per writer, the generation of its last win
		finished = make(chan struct{})
	)
	for w := range writers {
		wg.Go(func() {
			cur, err := e.store.Load(e.ctx, e.scope)
			if err != nil {
				t.Errorf("writer %d: Load() error = %v", w, err)
				return
			}
			for won := 0; won < wins; {
				next := record(e.clock, cur.Generation+1+uint64(won%3), cache.Strategies[won%2], 0, fmt.Sprintf("writer-%d", w))
				got, err := e.store.CompareAndSwap(e.ctx, e.scope, cur.Generation, next)
				switch {
				case err == nil:
					won++
					highest[w] = got.Generation
				case errors.Is(err, cache.ErrConflict):
				default:
					t.Errorf("writer %d: CompareAndSwap(%d, %d) error = %v", w, cur.Generation, next.Generation, err)
					return
				}
				if got.Generation < cur.Generation {
					t.Errorf("writer %d: generation went from %d to %d", w, cur.Generation, got.Generation)
					return
				}
				cur = got
			}
		})
	}
	var rg sync.WaitGroup
	rg.Go(func() {
		var last uint64
		for {
			select {
			case <-finished:
				return
			default:
			}
			got, err := e.store.Load(e.ctx, e.scope)
			if err != nil {
				t.Errorf("reader: Load() error = %v", err)
				return
			}
			if got.Generation < last {
				t.Errorf("reader: generation went from %d to %d", last, got.Generation)
				return
			}
			last = got.Generation
		}
	})
	wg.Wait()
	close(finished)
	rg.Wait()
	if t.Failed() {
		return
	}
	got, err := e.store.Load(e.ctx, e.scope)
	if err != nil {
		t.Fatalf("Load() error = %v", err)
	}
	if top := slices.Max(highest[:]); got.Generation < top {
		t.Errorf("Load() generation = %d, lower than a won swap's %d", got.Generation, top)
	}
	if least := uint64(5 + writers*wins); got.Generation < least {
		t.Errorf("Load() generation = %d after %d wins from 5, want at least %d", got.Generation, writers*wins, least)
	}
}

func testInvalidRecord(t *testing.T, e *env) {
	tests := []struct {
		name string
		next cache.State
		want error
	}{
		{"bad active", cache.State{Active: cache.Strategy(7), Generation: 10}, cache.ErrInvalidStrategy},
		{"bad pending", cache.State{Active: cache.Blue, Pending: cache.Strategy(200), Generation: 10}, cache.ErrInvalidStrategy},
		{"pending equals active", cache.State{Active: cache.Green, Pending: cache.Green, Generation: 10}, cache.ErrInvalidRecord},
		{"generation zero", cache.State{Active: cache.Green}, cache.ErrInvalidRecord},
	}
	check := func(old uint64) {
		t.Helper()
		for _, tt := range tests {
			if _, err := e.store.CompareAndSwap(e.ctx, e.scope, old, tt.next); !errors.Is(err, tt.want) {
				t.Fatalf("%s: CompareAndSwap(%d, %+v) error = %v, want one wrapping %v", tt.name, old, tt.next, err, tt.want)
			}
		}
	}
	check(0)
	e.wantNoRecord(e.scope)

	first := record(e.clock, 1, cache.Blue, 0, "first")
	e.swap(e.scope, 0, first)
	check(1)
	e.wantLoad(e.scope, first)
}
