package coordinator_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/coordinator"
)

// §7, §8: a store that goes back (a failover promoted a replica without the
// last swaps) never makes a process adopt the older content: the newest
// record known is written back above the store's generation, and no
// process sees the active colour flip back or an old pending colour return.
func TestStoreRollbackNeverFlipsBack(t *testing.T) {
	for _, back := range []uint64{1, 3} {
		t.Run(fmt.Sprintf("generations=%d", back), func(t *testing.T) {
			e := newEnv(t, cache.Blue, cache.Green)
			fs := newFlakyStore(t, e.clock.Now)
			var mu sync.Mutex
			var after []cache.State // changes seen after the rollback
			rolled := false
			record := func(_, next cache.State) {
				mu.Lock()
				defer mu.Unlock()
				if rolled {
					after = append(after, next)
				}
			}
			onChange := func(cfg *coordinator.Config) { cfg.OnChange = record }
			a, b := e.coordOn(fs, onChange), e.coordOn(fs, onChange)
			resolve(t, a, cache.Blue)

			// Four switches: blue → green → blue → green → blue → green,
			// each an announcement and its acceptance.
			want := cache.Blue
			for range 5 {
				want = want.Other()
				a.Announce(want.String())
				waitFor(t, a, "switch to "+want.String(), active(want))
			}
			ctx := context.Background()
			if err := b.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			final := a.Snapshot()
			if b.Snapshot().Generation != final.Generation {
				t.Fatalf("b at %s, a at %s", b.Snapshot(), final)
			}

			mu.Lock()
			rolled = true
			mu.Unlock()
			old := fs.rollBack(t, final.Generation-back)
			t.Logf("store rolled back from %s to %s", final, old)
			for _, c := range []*coordinator.Coordinator{a, b, a, b} {
				if err := c.Refresh(ctx); err != nil {
					t.Fatal(err)
				}
			}

			mu.Lock()
			defer mu.Unlock()
			for _, st := range after {
				if st.Active != final.Active || st.Pending.Valid() {
					t.Errorf("a process adopted %s after the rollback; want %s kept", st, final)
				}
			}
			stored, err := fs.Load(ctx, scope)
			if err != nil || stored.Active != final.Active || stored.Pending.Valid() || stored.Generation <= final.Generation {
				t.Errorf("stored after recovery: %s, %v; want %s above generation %d", stored, err, final.Active, final.Generation)
			}
			for _, c := range []*coordinator.Coordinator{a, b} {
				if st := c.Snapshot(); st.Active != final.Active || st.Generation < final.Generation {
					t.Errorf("local record %s, want %s at generation ≥ %d", st, final.Active, final.Generation)
				}
			}
		})
	}
}
