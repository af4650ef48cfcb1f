package client_test

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/client/internal/resultenc"
)

// fixedSQL is a result of fixed-width columns only, set by setFixed.
const fixedSQL = "SELECT * FROM fixed"

// setFixed makes srv answer fixedSQL with batches of 4096 rows of every
// fixed-width type, with NULLs and a constant, and returns the row count.
func setFixed(t testing.TB, srv *enginetest.Server, batches int) int {
	t.Helper()
	const n = 4096
	r := enginetest.Result{Columns: []resultenc.Column{
		{Name: "l", Type: "LONG"}, {Name: "i", Type: "INTEGER"}, {Name: "d", Type: "DOUBLE"},
		{Name: "f", Type: "FLOAT"}, {Name: "b", Type: "BOOLEAN"}, {Name: "ts", Type: "TIMESTAMP"},
		{Name: "dec", Type: "DECIMAL128"}, {Name: "k", Type: "LONG"},
	}}
	for lo := 0; lo < batches*n; lo += n {
		ls, is, ds, fs, bs, ts, us := make([]int64, n), make([]int32, n), make([]float64, n),
			make([]float32, n), make([]bool, n), make([]time.Time, n), make([]*big.Int, n)
		nulls := make([]bool, n)
		for j := range n {
			i := lo + j
			ls[j], is[j], ds[j], fs[j], bs[j] = int64(i)*1_000_003, int32(i)*7, float64(i)/3, float32(i)/5, i%2 == 0
			ts[j] = time.UnixMicro(int64(i) * 1_000_001).UTC()
			us[j] = big.NewInt(int64(i) * 12345)
			nulls[j] = i%10 == 9
		}
		dec, err := resultenc.Decimals(us, 4, nulls)
		if err != nil {
			t.Fatal(err)
		}
		k, err := resultenc.Constant(resultenc.TypeLong, n, int64(1<<40))
		if err != nil {
			t.Fatal(err)
		}
		r.Chunks = append(r.Chunks, resultenc.Chunk{Size: n, Vectors: []resultenc.Vector{
			resultenc.Longs(ls, nulls), resultenc.Integers(is, nil), resultenc.Doubles(ds, nil),
			resultenc.Floats(fs, nil), resultenc.Bools(bs, nulls), resultenc.Times(resultenc.TypeTimestamp, ts, nil, nil),
			dec, k,
		}})
	}
	if err := srv.SetResult(fixedSQL, r); err != nil {
		t.Fatal(err)
	}
	return batches * n
}

// Reading a row of fixed-width columns with Values or Value allocates
// nothing, and the values are right.
func TestValuesAllocateNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	srv := newEngine(t, enginetest.Options{})
	setFixed(t, srv, 1)
	conn := open(t, srv)
	ctx := ctxT(t)
	rows, err := conn.Query(ctx, fixedSQL)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next(ctx) { // decodes the batch
		t.Fatal(rows.Err())
	}
	row := 0
	allocs := testing.AllocsPerRun(4000, func() {
		if !rows.Next(ctx) {
			t.Fatal("rows ended early")
		}
		row++
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		for i := range vals {
			if v, _ := rows.Value(i); v != vals[i] {
				t.Fatalf("Value(%d) = %v, Values has %v", i, v, vals[i])
			}
		}
	})
	if allocs != 0 {
		t.Errorf("Next and Values allocate %v times per row, want 0", allocs)
	}
	vals, _ := rows.Values()
	dec, _ := client.NewDecimal(big.NewInt(int64(row)*12345), 4)
	want := []any{nil, int32(row) * 7, float64(row) / 3, float32(row) / 5, nil, time.UnixMicro(int64(row) * 1_000_001).UTC(), nil, int64(1 << 40)}
	if row%10 != 9 {
		want[0], want[4], want[6] = int64(row)*1_000_003, row%2 == 0, dec
	}
	if diff := cmp.Diff(want, vals); diff != "" {
		t.Errorf("row %d (-want +got):\n%s", row, diff)
	}
}

// The values handed out without allocating behave as ordinary values: ==,
// type switches, and they survive the batch they came from.
func TestValuesOutliveTheirBatch(t *testing.T) {
	srv := newEngine(t, enginetest.Options{})
	total := setFixed(t, srv, 3)
	conn := open(t, srv)
	ctx := ctxT(t)
	rows, err := conn.Query(ctx, fixedSQL)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var kept [][]any
	for rows.Next(ctx) {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, append([]any(nil), vals...))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(kept) != total {
		t.Fatalf("read %d rows, want %d", len(kept), total)
	}
	for _, row := range []int{0, 1, 4095, 4096, total - 1} {
		vals := kept[row]
		if row%10 != 9 {
			if l, ok := vals[0].(int64); !ok || l != int64(row)*1_000_003 || vals[0] != any(int64(row)*1_000_003) {
				t.Errorf("row %d: long %#v", row, vals[0])
			}
			if d, ok := vals[6].(client.Decimal); !ok || d.Unscaled().Int64() != int64(row)*12345 || d.Scale() != 4 {
				t.Errorf("row %d: decimal %#v", row, vals[6])
			}
		}
		switch v := vals[2].(type) {
		case float64:
			if v != float64(row)/3 {
				t.Errorf("row %d: double %v", row, v)
			}
		default:
			t.Errorf("row %d: double of type %T", row, v)
		}
		if ts, ok := vals[5].(time.Time); !ok || !ts.Equal(time.UnixMicro(int64(row)*1_000_001)) || ts.Location() != time.UTC {
			t.Errorf("row %d: timestamp %#v", row, vals[5])
		}
	}
}

// BenchmarkRowsValues reads results through Next and Values over real gRPC
// from the fake engine; an op is one row, fetch and decode included.
// "fixed" has fixed-width columns only (LONG, INTEGER, DOUBLE, FLOAT,
// BOOLEAN, TIMESTAMP, DECIMAL128, a constant); "big" is demo.big, whose
// STRING column allocates a string per value.
func BenchmarkRowsValues(b *testing.B) {
	for _, bc := range []struct{ name, sql string }{
		{"fixed", fixedSQL},
		{"big", "SELECT * FROM demo.big LIMIT 65536"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := newEngine(b, enginetest.Options{})
			setFixed(b, srv, 16)
			conn := open(b, srv)
			ctx := context.Background()
			var rows *client.Rows
			b.ReportAllocs()
			for b.Loop() {
				for rows == nil || !rows.Next(ctx) {
					if rows != nil {
						if err := rows.Err(); err != nil {
							b.Fatal(err)
						}
						rows.Close()
					}
					var err error
					if rows, err = conn.Query(ctx, bc.sql); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := rows.Values(); err != nil {
					b.Fatal(err)
				}
			}
			rows.Close()
		})
	}
}
