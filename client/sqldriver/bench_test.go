package sqldriver_test

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/client/internal/resultenc"
	"github.com/e6coord/e6coord/client/sqldriver"
)

// benchRows is the number of rows each query of the benchmarks reads.
const benchRows = 1_000_000

// The benchmark results the engine child serves besides demo.big:
// "fixed", benchRows rows of fixed-width columns (LONG, INTEGER with a NULL
// in every 7 rows, DOUBLE, BOOLEAN, TIMESTAMP), and "strs", benchRows rows
// of one STRING column.
func setBenchResults(srv *enginetest.Server) error {
	const batch = 4096
	fixed := enginetest.Result{Columns: []resultenc.Column{
		{Name: "id", Type: "LONG"}, {Name: "i", Type: "INTEGER"}, {Name: "d", Type: "DOUBLE"},
		{Name: "b", Type: "BOOLEAN"}, {Name: "ts", Type: "TIMESTAMP"},
	}}
	strs := enginetest.Result{Columns: []resultenc.Column{{Name: "s", Type: "STRING"}}}
	epoch := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for lo := 0; lo < benchRows; lo += batch {
		n := min(batch, benchRows-lo)
		ids, is, nulls, ds, bs, ts, ss := make([]int64, n), make([]int32, n), make([]bool, n), make([]float64, n), make([]bool, n), make([]time.Time, n), make([]string, n)
		for j := range n {
			i := lo + j
			ids[j], is[j], nulls[j], ds[j], bs[j] = int64(i), int32(i%1000-500), i%7 == 3, float64(i)/8, i%2 == 0
			ts[j] = epoch.Add(time.Duration(i) * time.Microsecond * 1001)
			ss[j] = "row-" + strconv.Itoa(i)
		}
		fixed.Chunks = append(fixed.Chunks, resultenc.Chunk{Size: n, Vectors: []resultenc.Vector{
			resultenc.Longs(ids, nil), resultenc.Integers(is, nulls), resultenc.Doubles(ds, nil),
			resultenc.Bools(bs, nil), resultenc.Times(resultenc.TypeTimestamp, ts, nil, nil),
		}})
		strs.Chunks = append(strs.Chunks, resultenc.Chunk{Size: n, Vectors: []resultenc.Vector{resultenc.Strings(ss, nil)}})
	}
	if err := srv.SetResult("SELECT * FROM fixed", fixed); err != nil {
		return err
	}
	return srv.SetResult("SELECT * FROM strs", strs)
}

var sink any

// BenchmarkRead reads 1,000,000 rows per op from a fake engine in a child
// process (so that only the reader's allocations count), through
// database/sql with Scan into typed destinations, and through client.Rows
// directly (Value per column: the floor the driver stands on), for
// fixed-width columns, strings (into string, and into sql.RawBytes), and
// demo.big's mixed types. It reports rows/s, B/row and allocs/row of the
// whole process (gRPC's and the decoder's included):
//
//	go test -run '^$' -bench BenchmarkRead -benchtime 3x ./client/sqldriver/
func BenchmarkRead(b *testing.B) {
	addr := startEngine(b)
	cfg := sqldriver.Config{Config: client.Config{Addr: addr, User: user, Password: password, Catalog: enginetest.Catalog, Schema: enginetest.Schema}}
	c, err := sqldriver.NewConnector(cfg)
	if err != nil {
		b.Fatal(err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	ctx := context.Background()
	mixed := fmt.Sprintf("SELECT * FROM demo.big LIMIT %d", benchRows)

	var (
		fixed struct {
			id int64
			i  sql.NullInt32
			d  float64
			b  bool
			ts time.Time
		}
		str  string
		raw  sql.RawBytes
		big  bigDest
		bigR struct {
			s, dec sql.RawBytes
		}
	)
	for _, bc := range []struct {
		name, query string
		dest        []any // database/sql destinations; nil: client.Rows
	}{
		{"fixed/client", "SELECT * FROM fixed", nil},
		{"fixed/sql", "SELECT * FROM fixed", []any{&fixed.id, &fixed.i, &fixed.d, &fixed.b, &fixed.ts}},
		{"strings/client", "SELECT * FROM strs", nil},
		{"strings/sql-string", "SELECT * FROM strs", []any{&str}},
		{"strings/sql-rawbytes", "SELECT * FROM strs", []any{&raw}},
		{"mixed/client", mixed, nil},
		{"mixed/sql", mixed, big.ptrs()},
		{"mixed/sql-rawbytes", mixed, []any{&big.id, &big.i, &big.d, &big.b, &bigR.s, &big.ts, &bigR.dec, &raw}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			read := func() int64 {
				if bc.dest == nil {
					return readClient(b, c, bc.query)
				}
				rows, err := db.QueryContext(ctx, bc.query)
				if err != nil {
					b.Fatal(err)
				}
				n := int64(0)
				for rows.Next() {
					if err := rows.Scan(bc.dest...); err != nil {
						b.Fatal(err)
					}
					n++
				}
				if err := rows.Err(); err != nil {
					b.Fatal(err)
				}
				rows.Close()
				return n
			}
			read() // warm up: sessions, buffers
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var rows int64
			for b.Loop() {
				if n := read(); n != benchRows {
					b.Fatalf("read %d rows, want %d", n, benchRows)
				}
				rows += benchRows
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(rows), "B/row")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(rows), "allocs/row")
		})
	}
}

// readClient reads query through the Connector's client.Conn, taking
// every value with Rows.Value, and returns the number of rows.
func readClient(b *testing.B, c *sqldriver.Connector, query string) int64 {
	ctx := context.Background()
	r, err := c.Client().Query(ctx, query)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	cols := len(r.Columns())
	n := int64(0)
	for r.Next(ctx) {
		for i := range cols {
			v, err := r.Value(i)
			if err != nil {
				b.Fatal(err)
			}
			sink = v
		}
		n++
	}
	if err := r.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}
