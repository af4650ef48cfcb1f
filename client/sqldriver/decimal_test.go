package sqldriver_test

import (
	"database/sql"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/client/internal/resultenc"
	"github.com/e6coord/e6coord/client/sqldriver"
)

// decimals answers "SELECT * FROM decimals" with DECIMAL128 values of
// scale 10, the largest 38 digits among them, and a NULL.
func setDecimals(t *testing.T, srv *enginetest.Server) []string {
	max38, _ := new(big.Int).SetString(strings.Repeat("9", 38), 10)
	vals := []*big.Int{big.NewInt(1), big.NewInt(-123456789), max38, new(big.Int).Neg(max38), nil}
	vec, err := resultenc.Decimals(vals, 10, []bool{false, false, false, false, true})
	if err != nil {
		t.Fatal(err)
	}
	err = srv.SetResult("SELECT * FROM decimals", enginetest.Result{
		Columns: []resultenc.Column{{Name: "dec", Type: "DECIMAL128"}},
		Chunks:  []resultenc.Chunk{{Size: len(vals), Vectors: []resultenc.Vector{vec}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return []string{"0.0000000001", "-0.0123456789", "9999999999999999999999999999.9999999999", "-9999999999999999999999999999.9999999999"}
}

// In every mode the decimals are exact (float64 excepted, the nearest),
// a NULL is nil, and ScanType is the mode's type.
func TestDecimalModes(t *testing.T) {
	srv := newEngine(t, enginetest.Options{})
	want := setDecimals(t, srv)
	for _, mode := range []sqldriver.DecimalMode{sqldriver.DecimalString, sqldriver.DecimalRat, sqldriver.DecimalFloat64} {
		t.Run(mode.String(), func(t *testing.T) {
			db := openDB(t, srv, func(c *sqldriver.Config) { c.Decimal = mode })
			rows, err := db.QueryContext(ctxT(t), "SELECT * FROM decimals")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			cts, _ := rows.ColumnTypes()
			wantType := map[sqldriver.DecimalMode]reflect.Type{
				sqldriver.DecimalString: reflect.TypeFor[string](), sqldriver.DecimalRat: reflect.TypeFor[*big.Rat](),
				sqldriver.DecimalFloat64: reflect.TypeFor[float64](),
			}[mode]
			if cts[0].ScanType() != wantType {
				t.Errorf("ScanType %v, want %v", cts[0].ScanType(), wantType)
			}
			for i := 0; rows.Next(); i++ {
				var v any
				if err := rows.Scan(&v); err != nil {
					t.Fatal(err)
				}
				if i == len(want) {
					if v != nil {
						t.Errorf("NULL scanned as %v", v)
					}
					continue
				}
				exact, _ := new(big.Rat).SetString(want[i])
				switch mode {
				case sqldriver.DecimalString:
					if v != want[i] {
						t.Errorf("row %d: %v, want %s", i, v, want[i])
					}
					// The string scans into a Decimal and a float64 too.
					var d sqldriver.Decimal
					var f float64
					if err := rows.Scan(&d); err != nil || d.String() != want[i] || d.Rat().Cmp(exact) != 0 {
						t.Errorf("row %d into a Decimal: %v, %v", i, d, err)
					}
					if err := rows.Scan(&f); err != nil || f != d.Float64() {
						t.Errorf("row %d into a float64: %v, %v; want %v", i, f, err, d.Float64())
					}
				case sqldriver.DecimalRat:
					var r *big.Rat
					if err := rows.Scan(&r); err != nil || r.Cmp(exact) != 0 {
						t.Errorf("row %d into a *big.Rat: %v, %v; want %s", i, r, err, want[i])
					}
					var d sqldriver.Decimal
					if err := rows.Scan(&d); err != nil || d.String() != want[i] {
						t.Errorf("row %d into a Decimal: %v, %v", i, d, err)
					}
				case sqldriver.DecimalFloat64:
					f, _ := exact.Float64()
					if v != f {
						t.Errorf("row %d: %v, want %v", i, v, f)
					}
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDecimalScan(t *testing.T) {
	twelveHundred, err := client.NewDecimal(big.NewInt(12), -2)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		src  any
		want string
	}{
		{"12.50", "12.50"}, {"-0.001", "-0.001"}, {"+7", "7"}, {".5", "0.5"}, {[]byte("3."), "3"},
		{int64(-9), "-9"}, {int32(5), "5"}, {big.NewRat(-1, 8), "-0.125"}, {big.NewRat(3, 1), "3"},
		{strings.Repeat("9", 38), strings.Repeat("9", 38)}, {"-0." + strings.Repeat("9", 38), "-0." + strings.Repeat("9", 38)},
		{twelveHundred, "1200"},
	} {
		var d sqldriver.Decimal
		if err := d.Scan(tt.src); err != nil || d.String() != tt.want {
			t.Errorf("Scan(%v): %v, %v; want %s", tt.src, d, err, tt.want)
		}
	}
	// Beyond DECIMAL128's 128 bits.
	tooBig := []any{strings.Repeat("9", 39), "0." + strings.Repeat("9", 39), new(big.Rat).SetFrac64(1, 1<<62).Mul(new(big.Rat).SetFrac64(1, 1<<62), big.NewRat(1, 1<<62))}
	for _, src := range append([]any{nil, "1e5", "", "-", "1.2.3", " 1", big.NewRat(1, 3), 1.5, true}, tooBig...) {
		var d sqldriver.Decimal
		if err := d.Scan(src); err == nil {
			t.Errorf("Scan(%v) = %v, want an error", src, d)
		}
	}
	var n sql.Null[sqldriver.Decimal]
	if err := n.Scan(nil); err != nil || n.Valid {
		t.Errorf("sql.Null[Decimal].Scan(nil) = %v, %v", n, err)
	}
}
