package client

import (
	"bytes"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/e6coord/e6coord/client/internal/resultenc"
)

// sameValue reports whether the client's value got is resultenc's value
// want of the same cell of v, exactly: types, bytes, instants and zones,
// and for a decimal the unscaled value and v's scale.
func sameValue(t *testing.T, v *resultenc.Vector, got, want any) bool {
	switch w := want.(type) {
	case nil:
		return got == nil
	case *big.Int:
		d, err := NewDecimal(w, v.Data.Scale)
		if err != nil {
			t.Fatal(err)
		}
		return got == any(d)
	case []byte:
		g, ok := got.([]byte)
		return ok && bytes.Equal(g, w)
	case time.Time:
		g, ok := got.(time.Time)
		gn, gOff := g.Zone()
		wn, wo := w.Zone()
		return ok && g.Equal(w) && gn == wn && gOff == wo && (g.Location() == time.UTC) == (w.Location() == time.UTC)
	case float64:
		g, ok := got.(float64)
		return ok && (g == w || math.IsNaN(g) && math.IsNaN(w))
	case float32:
		g, ok := got.(float32)
		return ok && (g == w || g != g && w != w)
	}
	return got == want
}

// checkColumns compares the values the client hands out for a checked
// chunk with resultenc's Vector.Value, cell by cell.
func checkColumns(t *testing.T, c *resultenc.Chunk) {
	for i := range c.Vectors {
		v := &c.Vectors[i]
		col, err := newColumn(v)
		if err != nil {
			t.Fatalf("vector %d: newColumn: %v", i, err)
		}
		for row := range min(v.Size, 1<<12) {
			want, err := v.Value(row)
			if err != nil {
				t.Fatalf("vector %d row %d: Value of a checked chunk: %v", i, row, err)
			}
			if got := col.value(row); !sameValue(t, v, got, want) {
				t.Fatalf("vector %d (%v) row %d: client value %#v, resultenc %#v", i, v.Type, row, got, want)
			}
		}
	}
}

func sampleColumnChunks(t testing.TB) []resultenc.Chunk {
	nulls := []bool{false, true, false}
	t0 := time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC)
	dec, err := resultenc.Decimals([]*big.Int{big.NewInt(-5), big.NewInt(0), new(big.Int).Lsh(big.NewInt(1), 100)}, 3, nulls)
	if err != nil {
		t.Fatal(err)
	}
	bin := resultenc.Strings([]string{"\x00\xff", "", ""}, nulls)
	bin.Type = resultenc.TypeBinary
	constant := func(vt resultenc.VectorType, v any) resultenc.Vector {
		vec, err := resultenc.Constant(vt, 3, v)
		if err != nil {
			t.Fatal(err)
		}
		return vec
	}
	decConst, err := resultenc.DecimalConstant(3, big.NewInt(-12345), 2)
	if err != nil {
		t.Fatal(err)
	}
	tzc := constant(resultenc.TypeTimestampTZ, t0)
	tzc.Data.Zones = []string{"-03:30"}
	return []resultenc.Chunk{
		{Size: 3, Vectors: []resultenc.Vector{
			resultenc.Longs([]int64{1, 2, math.MinInt64}, nulls),
			resultenc.Integers([]int32{-1, 2, math.MaxInt32}, nulls),
			resultenc.Doubles([]float64{0.5, 1, math.Inf(-1)}, nulls),
			resultenc.Floats([]float32{0.5, 1, -2}, nil),
			resultenc.Bools([]bool{true, false, true}, nulls),
			resultenc.Strings([]string{"a", "", "日本"}, nulls),
			bin,
			resultenc.Dates([]time.Time{t0, t0, t0}, nulls),
			resultenc.Times(resultenc.TypeTimestamp, []time.Time{t0, t0, t0}, nil, nil),
			resultenc.Times(resultenc.TypeTimestampTZ, []time.Time{t0, t0, t0}, []string{"+05:30", "", "Z"}, nulls),
			dec,
		}},
		{Size: 3, Vectors: []resultenc.Vector{
			constant(resultenc.TypeLong, int64(1)<<50),
			constant(resultenc.TypeInteger, int32(-7)),
			constant(resultenc.TypeDouble, 2.5),
			constant(resultenc.TypeFloat, float32(1.5)),
			constant(resultenc.TypeBoolean, true),
			constant(resultenc.TypeString, "s"),
			constant(resultenc.TypeBinary, []byte{1}),
			constant(resultenc.TypeDate, t0),
			constant(resultenc.TypeDateTime, t0),
			tzc,
			decConst,
			constant(resultenc.TypeString, nil),
			constant(resultenc.TypeNull, nil),
		}},
	}
}

func vectorTypes(c *resultenc.Chunk) []resultenc.VectorType {
	types := make([]resultenc.VectorType, len(c.Vectors))
	for i := range c.Vectors {
		types[i] = c.Vectors[i].Type
	}
	return types
}

// The values the client hands out without allocating are those resultenc
// decodes the ordinary way, for every type, plain and constant.
func TestColumnValues(t *testing.T) {
	for _, c := range sampleColumnChunks(t) {
		if err := resultenc.CheckChunk(&c, vectorTypes(&c)); err != nil {
			t.Fatal(err)
		}
		checkColumns(t, &c)
	}
}

// FuzzColumnValues: for any bytes that decode to a chunk CheckChunk
// accepts, every value the client hands out is resultenc's value of the
// cell; nothing panics.
func FuzzColumnValues(f *testing.F) {
	for _, c := range sampleColumnChunks(f) {
		b, err := resultenc.EncodeChunk(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := resultenc.DecodeChunk(b)
		if err != nil || c.Size <= 0 || resultenc.CheckChunk(&c, vectorTypes(&c)) != nil {
			return
		}
		checkColumns(t, &c)
	})
}

// benchBatch encodes a batch of n rows: fixed-width columns only (LONG,
// INTEGER, DOUBLE, BOOLEAN, TIMESTAMP, DECIMAL128), and with strings a
// STRING column of about 12 bytes too.
func benchBatch(b *testing.B, n int, strings bool) []byte {
	ls, is, ds, bs, ts, us := make([]int64, n), make([]int32, n), make([]float64, n), make([]bool, n), make([]time.Time, n), make([]*big.Int, n)
	ss := make([]string, n)
	nulls := make([]bool, n)
	for i := range n {
		ls[i], is[i], ds[i], bs[i] = int64(i)*7919, int32(i%1000), float64(i)/3, i%2 == 0
		ts[i] = time.UnixMicro(int64(i) * 1_000_003)
		us[i] = big.NewInt(int64(i) * 1234567)
		ss[i] = "customer-" + string(rune('a'+i%26))
		nulls[i] = i%9 == 4
	}
	dec, err := resultenc.Decimals(us, 2, nulls)
	if err != nil {
		b.Fatal(err)
	}
	c := resultenc.Chunk{Size: n, Vectors: []resultenc.Vector{
		resultenc.Longs(ls, nil), resultenc.Integers(is, nulls), resultenc.Doubles(ds, nil), resultenc.Bools(bs, nil),
		resultenc.Times(resultenc.TypeTimestamp, ts, nil, nil), dec,
	}}
	if strings {
		c.Vectors = append(c.Vectors, resultenc.Strings(ss, nulls))
	}
	enc, err := resultenc.EncodeChunk(c)
	if err != nil {
		b.Fatal(err)
	}
	return enc
}

// BenchmarkBatchValues is the client's own cost of a row, without the
// transport: an op is one row's values, and every 4096 rows the batch is
// decoded, checked and prepared again, as Next does. "fixed" has
// fixed-width columns only; "strings" adds a STRING column, which costs
// one allocation per value.
func BenchmarkBatchValues(b *testing.B) {
	for _, bc := range []struct {
		name    string
		strings bool
	}{{"fixed", false}, {"strings", true}} {
		b.Run(bc.name, func(b *testing.B) {
			const n = 4096
			enc := benchBatch(b, n, bc.strings)
			var (
				cols  []column
				types []resultenc.VectorType
				dst   []any
				row   = n
			)
			b.ReportAllocs()
			for b.Loop() {
				if row == n {
					c, err := resultenc.DecodeChunk(enc)
					if err != nil {
						b.Fatal(err)
					}
					if types == nil {
						types = vectorTypes(&c)
					}
					if err := resultenc.CheckChunk(&c, types); err != nil {
						b.Fatal(err)
					}
					cols = cols[:0]
					for i := range c.Vectors {
						col, err := newColumn(&c.Vectors[i])
						if err != nil {
							b.Fatal(err)
						}
						cols = append(cols, col)
					}
					row = 0
				}
				dst = dst[:0]
				for i := range cols {
					dst = append(dst, cols[i].value(row))
				}
				row++
			}
		})
	}
}
