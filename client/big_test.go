package client_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
)

// A result of 10,000,000 rows is read in fixed memory: the live heap,
// sampled after a GC every 250,000 rows, stays within a few batches of
// where it started, far below the result's size (about 700 MB as sent).
// Every row has its id and every 1000th row is compared in full. Under
// -short or -race, 500,000 rows.
func TestBigResultFixedMemory(t *testing.T) {
	rows := int64(10_000_000)
	if testing.Short() || raceEnabled {
		rows = 500_000
	}
	srv := newEngine(t, enginetest.Options{})
	conn := open(t, srv, func(cfg *client.Config) { cfg.PrefetchBytes = 1 << 20 })
	ctx := t.Context() // no deadline but the test's own: it may take long on a loaded machine

	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	r, err := conn.Query(ctx, fmt.Sprintf("SELECT * FROM demo.big LIMIT %d", rows))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	base := heap()
	const slack = 16 << 20 // a few batches and the prefetch, decoded
	var peak uint64
	n := int64(0)
	for r.Next(ctx) {
		vals, err := r.Values()
		if err != nil {
			t.Fatal(err)
		}
		if id, ok := vals[0].(int64); !ok || id != n {
			t.Fatalf("row %d: id %v", n, vals[0])
		}
		if n%1000 == 0 {
			if diff := cmp.Diff(clientValues(t, enginetest.BigRow(n)), vals); diff != "" {
				t.Fatalf("row %d (-want +got):\n%s", n, diff)
			}
		}
		n++
		if n%250_000 == 0 {
			peak = max(peak, heap())
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if n != rows {
		t.Fatalf("read %d rows, want %d", n, rows)
	}
	if peak > base+slack {
		t.Errorf("live heap reached %d MiB reading %d rows, from %d MiB at the start: more than %d MiB more", peak>>20, rows, base>>20, slack>>20)
	}
	t.Logf("%d rows: live heap %d MiB at the start, at most %d MiB while reading", rows, base>>20, peak>>20)
}
