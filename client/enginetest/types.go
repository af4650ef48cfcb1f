package enginetest

import (
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/e6coord/e6coord/client/internal/resultenc"
)

// typesColumn is a column of demo.types: its values as the client's
// Rows.Values returns them (nil for NULL; a Decimal for DECIMAL128), one
// per row, or one for all rows of a constant column, and for TIMESTAMP_TZ
// the zone each value is sent with.
type typesColumn struct {
	name     string
	typ      resultenc.VectorType
	constant bool
	vals     []any
	zones    []string
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func micro(y int, m time.Month, d, h, min, s, us int) time.Time {
	return time.Date(y, m, d, h, min, s, us*1000, time.UTC)
}

// decimal returns the Decimal of unscaled (in decimal) at scale.
func decimal(unscaled string, scale int32) Decimal {
	if _, ok := new(big.Int).SetString(unscaled, 10); !ok {
		panic("enginetest: bad decimal " + unscaled)
	}
	return Decimal{Unscaled: unscaled, Scale: scale}
}

// decimals returns the same unscaled values at scale, NULL at row 5.
func decimals(scale int32) []any {
	const max38 = "99999999999999999999999999999999999999" // 10^38 − 1
	vs := []any{}
	for _, u := range []string{max38, "-" + max38, "0", "1", "-1", "", "12345678901234567890", "-9223372036854775809"} {
		if u == "" {
			vs = append(vs, nil)
			continue
		}
		vs = append(vs, decimal(u, scale))
	}
	return vs
}

// zoned returns t in the zone the client resolves z to.
func zoned(t time.Time, z string) time.Time {
	switch z {
	case "Z", "UTC":
		return t.UTC()
	}
	var h, m int
	sign := 1
	if z[0] == '-' {
		sign = -1
	}
	switch len(z) {
	case 3: // +hh
		fmt.Sscanf(z[1:], "%2d", &h)
	case 5: // +hhmm
		fmt.Sscanf(z[1:], "%2d%2d", &h, &m)
	case 6: // +hh:mm
		fmt.Sscanf(z[1:], "%2d:%2d", &h, &m)
	}
	return t.In(time.FixedZone(z, sign*(h*3600+m*60)))
}

var tzZones = []string{"+05:30", "-08:00", "Z", "UTC", "+14:00", "-12", "", "+0545"}

func tzValues() []any {
	base := []time.Time{
		micro(2024, 3, 10, 10, 0, 0, 1),
		micro(1, 1, 1, 12, 0, 0, 0),
		micro(10000, 1, 1, 0, 0, 0, 999999),
		micro(1970, 1, 1, 0, 0, 0, 0),
		micro(2026, 12, 1, 11, 30, 0, 123456),
		micro(1969, 12, 31, 23, 59, 59, 999999),
		{}, // NULL
		micro(2000, 2, 29, 6, 15, 0, 500000),
	}
	vs := make([]any, len(base))
	for i, t := range base {
		if tzZones[i] != "" {
			vs[i] = zoned(t, tzZones[i])
		}
	}
	return vs
}

// typesTable is demo.types: every type, with a NULL in every plain column,
// edge values, and constant columns.
var typesTable = []typesColumn{
	{name: "long", typ: resultenc.TypeLong, vals: []any{int64(0), int64(1), int64(-1), int64(math.MaxInt64), int64(math.MinInt64), nil, int64(256), int64(-129)}},
	{name: "int", typ: resultenc.TypeInteger, vals: []any{int32(0), int32(math.MaxInt32), int32(math.MinInt32), nil, int32(1), int32(-1), int32(65536), int32(7)}},
	{name: "dbl", typ: resultenc.TypeDouble, vals: []any{0.0, 1.5, -2.25, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1), nil}},
	{name: "flt", typ: resultenc.TypeFloat, vals: []any{float32(0), float32(0.5), float32(-1.25), float32(math.MaxFloat32), float32(math.SmallestNonzeroFloat32), nil, float32(1e10), float32(-3.5e-20)}},
	{name: "bool", typ: resultenc.TypeBoolean, vals: []any{true, false, nil, true, false, true, false, true}},
	{name: "str", typ: resultenc.TypeString, vals: []any{"", "ascii", "naïve café", "日本語テキスト", "😀 emoji", nil, "tab\tnew\nline", "nul\x00inside"}},
	{name: "bin", typ: resultenc.TypeBinary, vals: []any{[]byte{}, []byte{0}, []byte{0xff, 0xfe}, nil, []byte("text"), []byte{0, 1, 2, 3, 254, 255}, []byte{0x80}, []byte("é")}},
	{name: "date", typ: resultenc.TypeDate, vals: []any{date(1, 1, 1), date(1970, 1, 1), date(2024, 2, 29), date(9999, 12, 31), date(10000, 1, 1), nil, date(1969, 12, 31), date(275760, 9, 13)}},
	{name: "dt", typ: resultenc.TypeDateTime, vals: []any{micro(1, 1, 1, 0, 0, 0, 1), micro(1970, 1, 1, 0, 0, 0, 0), micro(2024, 2, 29, 23, 59, 59, 999999), nil,
		micro(10000, 6, 15, 12, 0, 0, 500000), micro(9999, 12, 31, 23, 59, 59, 999999), micro(1969, 12, 31, 23, 59, 59, 999999), micro(2026, 12, 1, 11, 0, 0, 123456)}},
	{name: "ts", typ: resultenc.TypeTimestamp, vals: []any{micro(2026, 12, 1, 11, 0, 0, 123456), nil, micro(1, 1, 1, 0, 0, 0, 0), micro(10000, 1, 1, 0, 0, 0, 0),
		micro(1900, 1, 1, 0, 0, 0, 1), micro(2038, 1, 19, 3, 14, 8, 0), micro(1970, 1, 1, 0, 0, 0, 1), micro(99999, 12, 31, 23, 59, 59, 999999)}},
	{name: "tstz", typ: resultenc.TypeTimestampTZ, vals: tzValues(), zones: tzZones},
	{name: "dec0", typ: resultenc.TypeDecimal128, vals: decimals(0)},
	{name: "dec18", typ: resultenc.TypeDecimal128, vals: decimals(18)},
	{name: "dec38", typ: resultenc.TypeDecimal128, vals: decimals(38)},
	{name: "arr", typ: resultenc.TypeArray, vals: []any{"[1,2,3]", "[]", nil, `["a","b"]`, "[null]", "[[1],[2,3]]", `["é"]`, "[1.5]"}},
	{name: "map", typ: resultenc.TypeMap, vals: []any{`{"k":1}`, "{}", `{"a":"b","c":"d"}`, nil, `{"ключ":"значение"}`, `{"n":null}`, `{"x":[1]}`, `{"1":2}`}},
	{name: "st", typ: resultenc.TypeStruct, vals: []any{`{"x":1,"y":"z"}`, "{}", nil, `{"nested":{"a":1}}`, `{"s":"日本"}`, `{"b":true}`, `{"n":null}`, `{"d":1.25}`}},
	{name: "nul", typ: resultenc.TypeNull, constant: true, vals: []any{nil}},
	{name: "k_long", typ: resultenc.TypeLong, constant: true, vals: []any{int64(42)}},
	{name: "k_str", typ: resultenc.TypeString, constant: true, vals: []any{"κόσμε"}},
	{name: "k_dec", typ: resultenc.TypeDecimal128, constant: true, vals: []any{decimal("-12345", 2)}},
	{name: "k_tstz", typ: resultenc.TypeTimestampTZ, constant: true, vals: []any{zoned(micro(2024, 1, 1, 9, 0, 0, 42), "+09:00")}, zones: []string{"+09:00"}},
	{name: "k_date", typ: resultenc.TypeDate, constant: true, vals: []any{date(10000, 12, 31)}},
	{name: "k_null", typ: resultenc.TypeInteger, constant: true, vals: []any{nil}},
	{name: "k_int", typ: resultenc.TypeInteger, constant: true, vals: []any{int32(math.MinInt32)}},
	{name: "k_dbl", typ: resultenc.TypeDouble, constant: true, vals: []any{-0.125}},
	{name: "k_flt", typ: resultenc.TypeFloat, constant: true, vals: []any{float32(2.5)}},
	{name: "k_bool", typ: resultenc.TypeBoolean, constant: true, vals: []any{false}},
	{name: "k_bin", typ: resultenc.TypeBinary, constant: true, vals: []any{[]byte{0, 0xff}}},
	{name: "k_dt", typ: resultenc.TypeDateTime, constant: true, vals: []any{micro(1, 1, 1, 0, 0, 0, 1)}},
	{name: "k_ts", typ: resultenc.TypeTimestamp, constant: true, vals: []any{micro(10000, 1, 1, 0, 0, 0, 0)}},
	{name: "k_arr", typ: resultenc.TypeArray, constant: true, vals: []any{"[1,2]"}},
	{name: "k_map", typ: resultenc.TypeMap, constant: true, vals: []any{`{"k":"v"}`}},
	{name: "k_st", typ: resultenc.TypeStruct, constant: true, vals: []any{`{"a":1}`}},
	{name: "k_null_str", typ: resultenc.TypeString, constant: true, vals: []any{nil}},
	{name: "k_null_dec", typ: resultenc.TypeDecimal128, constant: true, vals: []any{nil}},
	{name: "k_null_tstz", typ: resultenc.TypeTimestampTZ, constant: true, vals: []any{nil}},
}

// typesColumns are the columns of demo.types, as the metadata carries them.
var typesColumns = func() []resultenc.Column {
	cols := make([]resultenc.Column, len(typesTable))
	for i, c := range typesTable {
		cols[i] = resultenc.Column{Name: c.name, Type: c.typ.String()}
	}
	return cols
}()

// TypesColumns returns the columns of demo.types, with the names and types
// the client's Rows.Columns gives.
func TypesColumns() []Column { return columns(typesColumns) }

// TypesRow returns row i (0 ≤ i < [TypesRows]) of demo.types as the
// client's Rows.Values returns it (see its doc for the Go types), one value
// per column of [TypesColumns]:
//
//	long, int, dbl, flt  LONG, INTEGER, DOUBLE, FLOAT: zero, ±1, the
//	                     extremes of the type, ±Inf (DOUBLE), a NULL
//	bool                 BOOLEAN, with a NULL
//	str                  STRING: empty, ASCII, non-ASCII, emoji, control
//	                     characters, NUL inside, a NULL
//	bin                  BINARY: empty, bytes 0x00 to 0xff, a NULL
//	date, dt, ts         DATE, DATETIME, TIMESTAMP (UTC): years 1, 1969,
//	                     1970, 9999, 10000 and later, microseconds, a NULL
//	tstz                 TIMESTAMP_TZ in zones +05:30, -08:00, Z, UTC,
//	                     +14:00, -12 and +0545, a NULL
//	dec0, dec18, dec38   DECIMAL128 at scales 0, 18 and 38: ±(10^38−1), 0,
//	                     ±1, values past int64, a NULL
//	arr, map, st         ARRAY, MAP, STRUCT: the strings the engine sends
//	nul                  a NULL column (a constant NULL vector)
//	k_long, k_str,       constant vectors: LONG 42, STRING "κόσμε",
//	k_dec, k_tstz,       DECIMAL128 -123.45, TIMESTAMP_TZ in +09:00,
//	k_date, k_null,      DATE 10000-12-31, INTEGER NULL, INTEGER
//	k_int, k_dbl,        -2^31, DOUBLE -0.125, FLOAT 2.5, BOOLEAN false,
//	k_flt, k_bool,       BINARY 00 ff, DATETIME 0001-01-01 00:00:00.000001,
//	k_bin, k_dt, k_ts,   TIMESTAMP 10000-01-01, ARRAY, MAP and STRUCT
//	k_arr, k_map, k_st,  strings, and NULL constants of STRING,
//	k_null_str,          DECIMAL128 and TIMESTAMP_TZ
//	k_null_dec,
//	k_null_tstz
//
// A DECIMAL128 value is a [Decimal], for the client's Decimal of the same
// unscaled value and scale. The slice is new; Decimals compare
// with ==, and the time.Time values of tstz are in the zone the client
// gives them (compare their zone offset as well as the instant).
func TypesRow(i int) []any {
	row := make([]any, len(typesTable))
	for j, c := range typesTable {
		if c.constant {
			row[j] = c.vals[0]
		} else {
			row[j] = c.vals[i]
		}
	}
	return row
}

// typesResult is demo.types in batches of batch rows.
func typesResult(batch int) Result {
	r := Result{Columns: typesColumns}
	for lo := 0; lo < TypesRows; lo += batch {
		size := min(batch, TypesRows-lo)
		chunk := resultenc.Chunk{Size: size}
		for _, c := range typesTable {
			v, err := c.vector(lo, size)
			if err != nil {
				panic(fmt.Sprintf("enginetest: demo.types column %s: %v", c.name, err)) // a bug in the table
			}
			chunk.Vectors = append(chunk.Vectors, v)
		}
		r.Chunks = append(r.Chunks, chunk)
	}
	return r
}

// vector returns the vector of rows [lo, lo+size) of c.
func (c typesColumn) vector(lo, size int) (resultenc.Vector, error) {
	if c.constant {
		v := c.vals[0]
		if d, ok := v.(Decimal); ok {
			return resultenc.DecimalConstant(size, d.unscaled(), d.Scale)
		}
		vec, err := resultenc.Constant(c.typ, size, v)
		if err == nil && c.zones != nil && v != nil {
			vec.Data.Zones = []string{c.zones[0]}
		}
		return vec, err
	}
	vals := c.vals[lo : lo+size]
	nulls := make([]bool, size)
	for i, v := range vals {
		nulls[i] = v == nil
	}
	switch c.typ {
	case resultenc.TypeLong:
		return resultenc.Longs(column[int64](vals), nulls), nil
	case resultenc.TypeInteger:
		return resultenc.Integers(column[int32](vals), nulls), nil
	case resultenc.TypeDouble:
		return resultenc.Doubles(column[float64](vals), nulls), nil
	case resultenc.TypeFloat:
		return resultenc.Floats(column[float32](vals), nulls), nil
	case resultenc.TypeBoolean:
		return resultenc.Bools(column[bool](vals), nulls), nil
	case resultenc.TypeString, resultenc.TypeArray, resultenc.TypeMap, resultenc.TypeStruct:
		v := resultenc.Strings(column[string](vals), nulls)
		v.Type = c.typ
		return v, nil
	case resultenc.TypeBinary:
		bs := column[[]byte](vals)
		ss := make([]string, size)
		for i, b := range bs {
			ss[i] = string(b)
		}
		v := resultenc.Strings(ss, nulls)
		v.Type = c.typ
		return v, nil
	case resultenc.TypeDate:
		return resultenc.Dates(column[time.Time](vals), nulls), nil
	case resultenc.TypeDateTime, resultenc.TypeTimestamp:
		return resultenc.Times(c.typ, column[time.Time](vals), nil, nulls), nil
	case resultenc.TypeTimestampTZ:
		return resultenc.Times(c.typ, column[time.Time](vals), c.zones[lo:lo+size], nulls), nil
	case resultenc.TypeDecimal128:
		ds := column[Decimal](vals)
		us := make([]*big.Int, size)
		var scale int32
		for i, d := range ds {
			us[i] = d.unscaled()
			if vals[i] != nil {
				scale = d.Scale
			}
		}
		return resultenc.Decimals(us, scale, nulls)
	}
	return resultenc.Vector{}, fmt.Errorf("no vector of type %v", c.typ)
}

// column returns vals as a []T, with the zero value for nil.
func column[T any](vals []any) []T {
	out := make([]T, len(vals))
	for i, v := range vals {
		if v != nil {
			out[i] = v.(T)
		}
	}
	return out
}
