package sqldriver_test

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/client/sqldriver"
)

// A large result is read through database/sql in fixed memory: the live
// heap, sampled after a GC every 100,000 rows, stays within a few batches
// of where it began, whatever the number of rows. 1,000,000 rows (about
// 70 MB as the engine sends them); 200,000 under -short or -race.
func TestReadInFixedMemory(t *testing.T) {
	n := int64(1_000_000)
	if testing.Short() || raceEnabled {
		n = 200_000
	}
	srv := newEngine(t, enginetest.Options{})
	db := openDB(t, srv, func(c *sqldriver.Config) { c.PrefetchBytes = 1 << 20 })
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	rows, err := db.QueryContext(t.Context(), fmt.Sprintf("SELECT * FROM demo.big LIMIT %d", n))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	base := heap()
	const slack = 16 << 20 // the prefetch and a few batches, decoded, and the engine's batch in the making
	var peak uint64
	var d bigDest
	ptrs := d.ptrs()
	read := int64(0)
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		if d.id != read {
			t.Fatalf("row %d: id %d", read, d.id)
		}
		read++
		if read%100_000 == 0 {
			peak = max(peak, heap())
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if read != n {
		t.Fatalf("read %d rows, want %d", read, n)
	}
	if peak > base+slack {
		t.Errorf("live heap reached %d MiB reading %d rows, from %d MiB at the start: more than %d MiB more", peak>>20, n, base>>20, slack>>20)
	}
	t.Logf("%d rows: live heap %d MiB at the start, at most %d MiB while reading", n, base>>20, peak>>20)
}

// With E6COORD_SQL_RSS_ROWS=10000000, a child process reads that many rows
// of demo.big through database/sql, and one a tenth of them; their peak
// RSS (VmHWM) is about the same: reading ten times the rows costs no more
// than 32 MiB more. It takes tens of seconds, so it is not run by default:
//
//	E6COORD_SQL_RSS_ROWS=10000000 go test -run TestRSS -v ./client/sqldriver/
func TestRSS(t *testing.T) {
	env := os.Getenv("E6COORD_SQL_RSS_ROWS")
	if env == "" {
		t.Skip("set E6COORD_SQL_RSS_ROWS to the number of rows to read, e.g. 10000000")
	}
	n, err := strconv.ParseInt(env, 10, 64)
	if err != nil || n < 10 {
		t.Fatalf("E6COORD_SQL_RSS_ROWS=%q: want a number of rows, 10 or more", env)
	}
	srv := newEngine(t, enginetest.Options{})
	small := readInChild(t, srv.Addr(), n/10)
	big := readInChild(t, srv.Addr(), n)
	for _, r := range []readReport{small, big} {
		t.Logf("%d rows: peak RSS %d MiB, %.1f s, %.0f rows/s", r.Rows, r.VmHWMKB>>10, r.Seconds, float64(r.Rows)/r.Seconds)
	}
	if big.VmHWMKB > small.VmHWMKB+32<<10 {
		t.Errorf("peak RSS %d MiB for %d rows, %d MiB for %d: it grows with the rows", big.VmHWMKB>>10, n, small.VmHWMKB>>10, n/10)
	}
}
