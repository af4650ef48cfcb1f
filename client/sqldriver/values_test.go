package sqldriver_test

import (
	"database/sql"
	"math"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/client/internal/resultenc"
	"github.com/e6coord/e6coord/client/sqldriver"
)

// allTypes is a query whose result has a column of every type, with edge
// values in row 1 and NULLs in row 2.
const allTypes = "SELECT * FROM all_types"

var (
	zone0530    = time.FixedZone("+05:30", 5*3600+30*60)
	zoneMinus08 = time.FixedZone("-08:00", -8*3600)
)

// allTypesColumns are the columns of allTypes.
var allTypesColumns = []struct{ name, typ string }{
	{"l", "LONG"}, {"i", "INTEGER"}, {"d", "DOUBLE"}, {"f", "FLOAT"}, {"b", "BOOLEAN"},
	{"s", "STRING"}, {"bin", "BINARY"}, {"dt", "DATE"}, {"dtm", "DATETIME"}, {"ts", "TIMESTAMP"},
	{"tz", "TIMESTAMP_TZ"}, {"dec", "DECIMAL128"}, {"arr", "ARRAY"}, {"m", "MAP"}, {"st", "STRUCT"}, {"n", "NULL"},
}

// allTypesRows are the rows of allTypes as the driver gives them by
// default. Row 0's DECIMAL128 has scale 2, and row 1's scale 10: they come
// in two batches.
var allTypesRows = [][]any{
	{int64(42), int32(-7), 0.1, float32(1.5), true, "it's \"ü\"", []byte{0, 1, 0xff},
		time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2024, 2, 29, 13, 14, 15, 0, time.UTC),
		time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC), time.Date(2024, 2, 29, 18, 44, 15, 1000, zone0530),
		"-1234.50", "[1,2,3]", `{"a":1}`, `{"x":1,"y":"z"}`, nil},
	{int64(math.MaxInt64), int32(math.MinInt32), math.MaxFloat64, float32(math.SmallestNonzeroFloat32), false, "", []byte{},
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(12345, 12, 31, 23, 59, 59, 999999000, time.UTC), time.Date(1969, 12, 31, 15, 59, 59, 999999000, zoneMinus08),
		"0.0000000000", "[]", "{}", "{}", nil},
	{nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
}

// setAllTypes makes srv answer allTypes.
func setAllTypes(t testing.TB, srv *enginetest.Server) {
	t.Helper()
	nulls := []bool{false, false, true}
	str := func(typ resultenc.VectorType, vals ...string) resultenc.Vector {
		v := resultenc.Strings(vals, nulls)
		v.Type = typ
		return v
	}
	times := func(col int) []time.Time {
		return []time.Time{allTypesRows[0][col].(time.Time), allTypesRows[1][col].(time.Time), {}}
	}
	null, err := resultenc.Constant(resultenc.TypeNull, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	chunk := func(dec resultenc.Vector) resultenc.Chunk {
		return resultenc.Chunk{Size: 3, Vectors: []resultenc.Vector{
			resultenc.Longs([]int64{42, math.MaxInt64, 0}, nulls),
			resultenc.Integers([]int32{-7, math.MinInt32, 0}, nulls),
			resultenc.Doubles([]float64{0.1, math.MaxFloat64, 0}, nulls),
			resultenc.Floats([]float32{1.5, math.SmallestNonzeroFloat32, 0}, nulls),
			resultenc.Bools([]bool{true, false, false}, nulls),
			resultenc.Strings([]string{"it's \"ü\"", "", ""}, nulls),
			str(resultenc.TypeBinary, "\x00\x01\xff", "", ""),
			resultenc.Dates(times(7), nulls),
			resultenc.Times(resultenc.TypeDateTime, times(8), nil, nulls),
			resultenc.Times(resultenc.TypeTimestamp, times(9), nil, nulls),
			resultenc.Times(resultenc.TypeTimestampTZ, times(10), []string{"+05:30", "-08:00", ""}, nulls),
			dec,
			str(resultenc.TypeArray, "[1,2,3]", "[]", ""),
			str(resultenc.TypeMap, `{"a":1}`, "{}", ""),
			str(resultenc.TypeStruct, `{"x":1,"y":"z"}`, "{}", ""),
			null,
		}}
	}
	var cols []resultenc.Column
	for _, c := range allTypesColumns {
		cols = append(cols, resultenc.Column{Name: c.name, Type: c.typ})
	}
	// Row 0 goes in a batch of its own, rows 1 and 2 in another with a
	// scale of its own, as the engine may send them.
	dec0, _ := resultenc.Decimals([]*big.Int{big.NewInt(-123450), big.NewInt(0), nil}, 2, nulls)
	dec1, _ := resultenc.Decimals([]*big.Int{big.NewInt(0), big.NewInt(0), nil}, 10, nulls)
	c0, c1 := chunk(dec0), chunk(dec1)
	if err := srv.SetResult(allTypes, enginetest.Result{Columns: cols, Chunks: []resultenc.Chunk{slice(c0, 0, 1), slice(c1, 1, 3)}}); err != nil {
		t.Fatal(err)
	}
}

// slice returns rows [lo, hi) of c.
func slice(c resultenc.Chunk, lo, hi int) resultenc.Chunk {
	out := resultenc.Chunk{Size: hi - lo}
	for _, v := range c.Vectors {
		w := v
		w.Size = hi - lo
		if !v.Constant {
			w.Nulls = v.Nulls[lo:hi]
			d := &w.Data
			switch {
			case d.Int64s != nil:
				d.Int64s = d.Int64s[lo:hi]
			case d.Int32s != nil:
				d.Int32s = d.Int32s[lo:hi]
			case d.Float64s != nil:
				d.Float64s = d.Float64s[lo:hi]
			case d.Bools != nil:
				d.Bools = d.Bools[lo:hi]
			case d.Strings != nil:
				d.Strings = d.Strings[lo:hi]
			case d.Bytes != nil:
				d.Bytes = d.Bytes[lo:hi]
			}
			if d.Zones != nil {
				d.Zones = d.Zones[lo:hi]
			}
		}
		out.Vectors = append(out.Vectors, w)
	}
	return out
}

// Every value comes back exact, with its column's ScanType; a NULL is nil;
// times are UTC, or in their own zone for TIMESTAMP_TZ; the column types
// say what the engine sent.
func TestAllTypes(t *testing.T) {
	srv := newEngine(t, enginetest.Options{})
	setAllTypes(t, srv)
	db := openDB(t, srv)
	rows, err := db.QueryContext(ctxT(t), allTypes)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	wantScan := map[string]reflect.Type{
		"LONG": reflect.TypeFor[int64](), "INTEGER": reflect.TypeFor[int32](), "DOUBLE": reflect.TypeFor[float64](),
		"FLOAT": reflect.TypeFor[float32](), "BOOLEAN": reflect.TypeFor[bool](), "STRING": reflect.TypeFor[string](),
		"BINARY": reflect.TypeFor[[]byte](), "DATE": reflect.TypeFor[time.Time](), "DATETIME": reflect.TypeFor[time.Time](),
		"TIMESTAMP": reflect.TypeFor[time.Time](), "TIMESTAMP_TZ": reflect.TypeFor[time.Time](), "DECIMAL128": reflect.TypeFor[string](),
		"ARRAY": reflect.TypeFor[string](), "MAP": reflect.TypeFor[string](), "STRUCT": reflect.TypeFor[string](), "NULL": reflect.TypeFor[any](),
	}
	for i, ct := range cts {
		want := allTypesColumns[i]
		if ct.Name() != want.name || ct.DatabaseTypeName() != want.typ {
			t.Errorf("column %d: %s %s, want %s %s", i, ct.Name(), ct.DatabaseTypeName(), want.name, want.typ)
		}
		if ct.ScanType() != wantScan[want.typ] {
			t.Errorf("column %s: ScanType %v, want %v", want.name, ct.ScanType(), wantScan[want.typ])
		}
		if n, ok := ct.Nullable(); !n || !ok {
			t.Errorf("column %s: Nullable() = %v, %v; want true, true", want.name, n, ok)
		}
		p, s, ok := ct.DecimalSize()
		if wantOK := want.typ == "DECIMAL128"; ok != wantOK || wantOK && (p != 38 || s != 2) {
			t.Errorf("column %s: DecimalSize() = %d, %d, %v; want 38, 2 for DECIMAL128 only", want.name, p, s, ok)
		}
		l, ok := ct.Length()
		switch want.typ {
		case "STRING", "BINARY", "ARRAY", "MAP", "STRUCT":
			if !ok || l != math.MaxInt64 {
				t.Errorf("column %s: Length() = %d, %v; want unbounded", want.name, l, ok)
			}
		default:
			if ok {
				t.Errorf("column %s: Length() = %d, true; want none", want.name, l)
			}
		}
	}
	var got [][]any
	for rows.Next() {
		vals := make([]any, len(cts))
		ptrs := make([]any, len(cts))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if v != nil && !reflect.TypeOf(v).AssignableTo(cts[i].ScanType()) {
				t.Errorf("row %d column %s: a %T, not assignable to ScanType %v", len(got), cts[i].Name(), v, cts[i].ScanType())
			}
		}
		got = append(got, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(allTypesRows, got, cmp.Comparer(sameTime)); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	for r, row := range got {
		for i, v := range row {
			tm, ok := v.(time.Time)
			if !ok {
				continue
			}
			if cts[i].DatabaseTypeName() == "TIMESTAMP_TZ" {
				if tm.Location() == time.UTC || tm.Location() == time.Local {
					t.Errorf("row %d %s: zone %v, want its own", r, cts[i].Name(), tm.Location())
				}
			} else if tm.Location() != time.UTC {
				t.Errorf("row %d %s: zone %v, want UTC", r, cts[i].Name(), tm.Location())
			}
		}
	}
}

// sameTime compares instants, zone offsets and zone names.
func sameTime(a, b time.Time) bool {
	an, ao := a.Zone()
	bn, bo := b.Zone()
	return a.Equal(b) && an == bn && ao == bo
}

// NULL is never a zero value: it fails a plain destination, and fills a
// sql.Null* or a pointer with its NULL; the other rows fill them.
func TestNullDestinations(t *testing.T) {
	srv := newEngine(t, enginetest.Options{})
	setAllTypes(t, srv)
	db := openDB(t, srv)
	ctx := ctxT(t)
	rows, err := db.QueryContext(ctx, allTypes)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for r := 0; rows.Next(); r++ {
		var (
			l   sql.NullInt64
			i   sql.NullInt32
			d   sql.NullFloat64
			f   sql.Null[float32]
			b   sql.NullBool
			s   sql.NullString
			bin []byte
			dt  sql.NullTime
			dtm *time.Time
			ts  sql.Null[time.Time]
			tz  *time.Time
			dec sql.Null[sqldriver.Decimal]
			arr *string
			m   sql.RawBytes
			st  sql.NullString
			n   *int64
		)
		if err := rows.Scan(&l, &i, &d, &f, &b, &s, &bin, &dt, &dtm, &ts, &tz, &dec, &arr, &m, &st, &n); err != nil {
			t.Fatalf("row %d: %v", r, err)
		}
		null := r == 2
		valid := []bool{l.Valid, i.Valid, d.Valid, f.Valid, b.Valid, s.Valid, bin != nil, dt.Valid, dtm != nil, ts.Valid, tz != nil, dec.Valid, arr != nil, m != nil, st.Valid}
		for c, v := range valid {
			if v == null {
				t.Errorf("row %d column %s: valid %v, want %v", r, allTypesColumns[c].name, v, !null)
			}
		}
		if n != nil {
			t.Errorf("row %d: the NULL column scanned as %d", r, *n)
		}
		if r == 0 && (l.Int64 != 42 || i.Int32 != -7 || f.V != 1.5 || dec.V.String() != "-1234.50" || *arr != "[1,2,3]" || string(m) != `{"a":1}`) {
			t.Errorf("row 0: %v %v %v %v %v %q", l, i, f, dec.V, *arr, m)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	// A NULL into a plain destination is an error, for every type.
	rows, err = db.QueryContext(ctx, allTypes)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for range 3 {
		if !rows.Next() {
			t.Fatalf("fewer than 3 rows: %v", rows.Err())
		}
	}
	plain := map[string]any{"LONG": new(int64), "INTEGER": new(int32), "DOUBLE": new(float64), "FLOAT": new(float32),
		"BOOLEAN": new(bool), "STRING": new(string), "BINARY": new(int), "DATE": new(time.Time), "DATETIME": new(time.Time),
		"TIMESTAMP": new(time.Time), "TIMESTAMP_TZ": new(time.Time), "DECIMAL128": new(sqldriver.Decimal), "ARRAY": new(string),
		"MAP": new(string), "STRUCT": new(string), "NULL": new(int64)}
	for c, col := range allTypesColumns {
		dests := make([]any, len(allTypesColumns))
		for i := range dests {
			dests[i] = new(any)
		}
		dests[c] = plain[col.typ]
		if err := rows.Scan(dests...); err == nil {
			t.Errorf("NULL of %s into a %T: no error, and %v", col.typ, dests[c], reflect.ValueOf(dests[c]).Elem())
		}
	}
}

// Every cell of demo.types, which holds every type with edge values and
// NULLs, is exactly what the client gives (DECIMAL128 as its exact
// string), and has its column's ScanType.
func TestTypesTable(t *testing.T) {
	srv := newEngine(t, enginetest.Options{BatchSize: 3})
	db := openDB(t, srv)
	rows, err := db.QueryContext(ctxT(t), "SELECT * FROM demo.types")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	want := enginetest.TypesColumns()
	if len(cts) != len(want) {
		t.Fatalf("%d columns, want %d", len(cts), len(want))
	}
	for i, ct := range cts {
		if ct.Name() != want[i].Name || ct.DatabaseTypeName() != want[i].Type {
			t.Errorf("column %d: %s %s, want %s %s", i, ct.Name(), ct.DatabaseTypeName(), want[i].Name, want[i].Type)
		}
	}
	n := 0
	for ; rows.Next(); n++ {
		got := make([]any, len(cts))
		ptrs := make([]any, len(cts))
		for i := range got {
			ptrs[i] = &got[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("row %d: %v", n, err)
		}
		wantRow := enginetest.TypesRow(n)
		for i, v := range wantRow {
			if d, ok := v.(enginetest.Decimal); ok { // scanned as the client.Decimal's string
				u, _ := new(big.Int).SetString(d.Unscaled, 10)
				cd, err := client.NewDecimal(u, d.Scale)
				if err != nil {
					t.Fatal(err)
				}
				wantRow[i] = cd.String()
			}
		}
		if diff := cmp.Diff(wantRow, got, cmp.Comparer(sameTime)); diff != "" {
			t.Errorf("row %d (-want +got):\n%s", n, diff)
		}
		for i, v := range got {
			if v != nil && !reflect.TypeOf(v).AssignableTo(cts[i].ScanType()) {
				t.Errorf("row %d column %s: a %T, not assignable to ScanType %v", n, cts[i].Name(), v, cts[i].ScanType())
			}
			if tm, ok := v.(time.Time); ok && want[i].Type != "TIMESTAMP_TZ" && tm.Location() != time.UTC {
				t.Errorf("row %d column %s: zone %v, want UTC", n, cts[i].Name(), tm.Location())
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != enginetest.TypesRows {
		t.Errorf("%d rows, want %d", n, enginetest.TypesRows)
	}
}
