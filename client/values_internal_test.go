package client

import (
	"bytes"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/e6coord/e6coord/internal/resultenc"
)

// sameValue reports whether the client's value got is resultenc's value
// want of the same cell, exactly: types, bytes, instants and zones.
func sameValue(t *testing.T, got, want any) bool {
	switch w := want.(type) {
	case nil:
		return got == nil
	case resultenc.Decimal:
		d, err := NewDecimal(w.Unscaled, w.Scale)
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
			if got := col.value(row); !sameValue(t, got, want) {
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
			constant(resultenc.TypeDecimal128, resultenc.Decimal{Unscaled: big.NewInt(-12345), Scale: 2}),
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
