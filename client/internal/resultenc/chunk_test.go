package resultenc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/big"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func mustConstant(t testing.TB, vt VectorType, size int, v any) Vector {
	t.Helper()
	vec, err := Constant(vt, size, v)
	if err != nil {
		t.Fatal(err)
	}
	return vec
}

func mustDecimalConstant(t testing.TB, size int, unscaled int64, scale int32) Vector {
	t.Helper()
	vec, err := DecimalConstant(size, big.NewInt(unscaled), scale)
	if err != nil {
		t.Fatal(err)
	}
	return vec
}

func mustDecimals(t testing.TB, scale int32, nulls []bool, ns ...int64) Vector {
	t.Helper()
	bs := make([]*big.Int, len(ns))
	for i, n := range ns {
		bs[i] = big.NewInt(n)
	}
	v, err := Decimals(bs, scale, nulls)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var (
	t0 = time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC)
	d0 = time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
)

// sampleChunks returns chunks covering every data kind; it is also the seed
// corpus of FuzzDecodeChunk.
func sampleChunks(t testing.TB) map[string]Chunk {
	nulls := []bool{false, true, false}
	return map[string]Chunk{
		"empty":      {},
		"end marker": {Size: 0, Vectors: []Vector{}},
		"long":       {Size: 3, Vectors: []Vector{Longs([]int64{1, math.MinInt64, math.MaxInt64}, nil)}},
		"long nulls": {Size: 3, Vectors: []Vector{Longs([]int64{1, 0, 3}, nulls)}},
		"integer":    {Size: 3, Vectors: []Vector{Integers([]int32{-1, 0, math.MaxInt32}, nulls)}},
		"double":     {Size: 3, Vectors: []Vector{Doubles([]float64{0.5, math.Inf(-1), -0.0}, nulls)}},
		"float":      {Size: 3, Vectors: []Vector{Floats([]float32{0.25, 1e30, -3}, nil)}},
		"boolean":    {Size: 3, Vectors: []Vector{Bools([]bool{true, false, true}, nulls)}},
		"string":     {Size: 3, Vectors: []Vector{Strings([]string{"", "naïve ☃", "x"}, nulls)}},
		"date":       {Size: 2, Vectors: []Vector{Dates([]time.Time{d0, time.Unix(0, 0)}, nil)}},
		"datetime":   {Size: 2, Vectors: []Vector{Times(TypeDateTime, []time.Time{t0, time.Unix(-1, 0)}, nil, nil)}},
		"timestamp tz": {Size: 2, Vectors: []Vector{
			Times(TypeTimestampTZ, []time.Time{t0, t0}, []string{"+05:30", "Z"}, nil),
		}},
		"decimal": {Size: 3, Vectors: []Vector{mustDecimals(t, 2, nulls, -12345, 0, 99)}},
		"constants": {Size: 4, Vectors: []Vector{
			mustConstant(t, TypeBoolean, 4, true),
			mustConstant(t, TypeLong, 4, int64(42)),
			mustConstant(t, TypeInteger, 4, int32(-7)),
			mustConstant(t, TypeDouble, 4, 2.5),
			mustConstant(t, TypeFloat, 4, float32(1.5)),
			mustConstant(t, TypeString, 4, "same"),
			mustConstant(t, TypeDate, 4, d0),
			mustConstant(t, TypeTimestamp, 4, t0),
			mustDecimalConstant(t, 4, -5, 1),
			mustConstant(t, TypeLong, 4, nil),
			mustConstant(t, TypeNull, 4, nil),
		}},
		"rare constants": {Size: 2, Vectors: []Vector{
			{Size: 2, Type: TypeDateTime, Nulls: []bool{false}, Constant: true,
				Data: Data{Kind: KindTimeConstantData, Int64s: []int64{t0.UnixMicro()}, Zones: []string{"-08:00"}}},
			{Size: 2, Type: TypeInt96, Nulls: []bool{false}, Constant: true,
				Data: Data{Kind: KindTemporalIntervalConstantData, Int8s: []int8{-3}}},
		}},
		"multi-column": {Size: 3, Vectors: []Vector{
			Longs([]int64{1, 2, 3}, nil),
			Strings([]string{"a", "b", "c"}, []bool{false, false, true}),
			Doubles([]float64{0.125, 0.25, 0.375}, nil),
			Bools([]bool{true, false, true}, nil),
		}},
		"zone and format": {Size: 1, Vectors: []Vector{{
			Size: 1, Type: TypeDate, Nulls: []bool{false}, Zone: "UTC", Format: "yyyy-MM-dd",
			Data: Data{Kind: KindDateData, Int64s: []int64{0}},
		}}},
	}
}

var chunkOpts = cmp.Options{cmpopts.EquateEmpty(), cmpopts.EquateNaNs()}

func TestChunkRoundTrip(t *testing.T) {
	for name, c := range sampleChunks(t) {
		t.Run(name, func(t *testing.T) {
			b, err := EncodeChunk(c)
			if err != nil {
				t.Fatalf("EncodeChunk: %v", err)
			}
			got, err := DecodeChunk(b)
			if err != nil {
				t.Fatalf("DecodeChunk: %v", err)
			}
			if diff := cmp.Diff(c, got, chunkOpts); diff != "" {
				t.Errorf("round trip mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// tb builds TBinaryProtocol bytes by hand, independently of the Thrift
// library, to pin the wire layout.
type tb []byte

func (b tb) field(typ byte, id int16) tb {
	return binary.BigEndian.AppendUint16(append(b, typ), uint16(id))
}
func (b tb) i32(v int32) tb             { return binary.BigEndian.AppendUint32(b, uint32(v)) }
func (b tb) i64(v int64) tb             { return binary.BigEndian.AppendUint64(b, uint64(v)) }
func (b tb) list(elem byte, n int32) tb { return append(b, elem).i32(n) }
func (b tb) str(s string) tb            { return append(b.i32(int32(len(s))), s...) }
func (b tb) stop() tb                   { return append(b, 0) }

func TestChunkWireLayout(t *testing.T) {
	want := tb{}.
		field(tI32, 1).i32(1).
		field(tList, 2).list(tStruct, 1).
		/**/ field(tI32, 1).i32(1).
		/**/ field(tI32, 2).i32(6). // LONG
		/**/ field(tList, 3).list(tBool, 1).stop(). // [false] is one zero byte
		/**/ field(tStruct, 4).
		/*    */ field(tStruct, 3). // Int64Data
		/*        */ field(tList, 1).list(tI64, 1).i64(7).
		/*        */ stop().
		/*    */ stop().
		/**/ field(tBool, 5).stop(). // false
		/**/ field(tString, 6).str("").
		/**/ field(tString, 7).str("").
		/**/ stop().
		stop()
	got, err := EncodeChunk(Chunk{Size: 1, Vectors: []Vector{Longs([]int64{7}, nil)}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("EncodeChunk =\n% x\nwant\n% x", got, want)
	}
}

func TestDecodeChunkSkipsUnknown(t *testing.T) {
	b := tb{}.
		field(tString, 99).str("future chunk field").
		field(tI32, 1).i32(2).
		field(tList, 2).list(tStruct, 2).
		// Vector 1: an unknown field, a field with an unexpected type,
		// and an unknown union member before a known one.
		/**/ field(tList, 42).list(tI64, 2).i64(1).i64(2).
		/**/ field(tString, 1).str("size as a string is skipped").
		/**/ field(tI32, 1).i32(2).
		/**/ field(tI32, 2).i32(5). // INTEGER
		/**/ field(tStruct, 4).
		/*    */ field(tStruct, 30).field(tDouble, 1).i64(0).stop().
		/*    */ field(tStruct, 2). // Int32Data
		/*        */ field(tByte, 9).append1(1).
		/*        */ field(tList, 1).list(tI32, 2).i32(10).i32(20).
		/*        */ stop().
		/*    */ stop().
		/**/ stop().
		// Vector 2: only an unknown union member.
		/**/ field(tI32, 1).i32(2).
		/**/ field(tI32, 2).i32(6).
		/**/ field(tStruct, 4).field(tStruct, 31).stop().stop().
		/**/ stop().
		stop()
	c, err := DecodeChunk(b)
	if err != nil {
		t.Fatalf("DecodeChunk: %v", err)
	}
	want := Chunk{Size: 2, Vectors: []Vector{
		{Size: 2, Type: TypeInteger, Data: Data{Kind: KindInt32Data, Int32s: []int32{10, 20}}},
		{Size: 2, Type: TypeLong},
	}}
	if diff := cmp.Diff(want, c, chunkOpts); diff != "" {
		t.Errorf("DecodeChunk mismatch (-want +got):\n%s", diff)
	}
	if _, err := c.Vectors[1].Value(0); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Value of unknown data: error = %v, want ErrUnsupported", err)
	}
}

func (b tb) append1(v byte) tb { return append(b, v) }

func TestDecodeChunkMalformed(t *testing.T) {
	for name, c := range sampleChunks(t) {
		valid, err := EncodeChunk(c)
		if err != nil {
			t.Fatal(err)
		}
		for i := range len(valid) {
			if _, err := DecodeChunk(valid[:i]); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: DecodeChunk(first %d of %d bytes) error = %v, want ErrMalformed", name, i, len(valid), err)
			}
		}
	}
	tests := []struct {
		name string
		b    tb
	}{
		{"nil", nil},
		{"lone stop", tb{}.stop()},
		{"no size", tb{}.field(tList, 2).list(tStruct, 0).stop()},
		{"rows without vectors", tb{}.field(tI32, 1).i32(3).stop()},
		{"trailing bytes", tb{}.field(tI32, 1).i32(0).stop().stop()},
		{"vector without type", tb{}.field(tI32, 1).i32(1).field(tList, 2).list(tStruct, 1).field(tI32, 1).i32(1).stop().stop()},
		{"bool byte 2", tb{}.field(tI32, 1).i32(1).field(tList, 2).list(tStruct, 1).
			field(tI32, 1).i32(1).field(tI32, 2).i32(6).field(tList, 3).list(tBool, 1).append1(2).stop().stop()},
		{"unknown field type", tb{}.field(99, 1)},
		{"huge skipped map", tb{}.field(13, 9).append1(tI64).append1(tI64).i32(math.MaxInt32)},
		{"huge vector list", tb{}.field(tList, 2).list(tStruct, math.MaxInt32)},
		{"negative list", tb{}.field(tList, 2).list(tStruct, -1)},
		{"huge string", tb{}.field(tList, 2).list(tStruct, 1).field(tString, 6).i32(math.MaxInt32)},
		{"wrong element type", tb{}.field(tList, 2).list(tI32, 1).i32(1).stop()},
		{"two union members", tb{}.field(tList, 2).list(tStruct, 1).
			field(tStruct, 4).
			field(tStruct, 3).stop().
			field(tStruct, 2).stop().
			stop().stop().stop()},
		{"wrong list in member", tb{}.field(tList, 2).list(tStruct, 1).
			field(tStruct, 4).field(tStruct, 3).field(tList, 1).list(tI32, 1).i32(1).stop().stop().stop().stop()},
		{"deep nesting", func() tb {
			b := tb{}.field(tStruct, 50)
			for range 100 {
				b = b.field(tStruct, 1)
			}
			return b
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeChunk(tt.b); !errors.Is(err, ErrMalformed) {
				t.Errorf("DecodeChunk error = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestEncodeChunkErrors(t *testing.T) {
	tests := []struct {
		name string
		c    Chunk
	}{
		{"unknown kind", Chunk{Size: 1, Vectors: []Vector{{Size: 1, Data: Data{Kind: 99}}}}},
		{"empty constant", Chunk{Size: 1, Vectors: []Vector{{Size: 1, Constant: true, Data: Data{Kind: KindNumericConstantData}}}}},
		{"two zones", Chunk{Size: 1, Vectors: []Vector{{Size: 1, Constant: true,
			Data: Data{Kind: KindTimeConstantData, Int64s: []int64{1}, Zones: []string{"a", "b"}}}}}},
		{"size overflow", Chunk{Size: math.MaxInt32 + 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := EncodeChunk(tt.c); err == nil {
				t.Error("EncodeChunk succeeded, want an error")
			}
		})
	}
}

// keepAbsentConstants clears, in want (the generated code's reading), the
// value of every constant member that got (DecodeChunk's reading) has
// without one: the generated code reads an absent field as its zero value
// (false, 0, ""), where DecodeChunk keeps it absent, so that the cells fail
// as malformed rather than read a value the engine never sent.
func keepAbsentConstants(want *Chunk, got Chunk) {
	for i := range min(len(want.Vectors), len(got.Vectors)) {
		w, g := &want.Vectors[i].Data, got.Vectors[i].Data
		if g.Kind.Constant() && w.Kind == g.Kind && g.Len() == 0 {
			w.Bools, w.Int8s, w.Int64s, w.Float64s, w.Strings, w.Bytes = nil, nil, nil, nil, nil, nil
		}
	}
}

// FuzzDecodeChunk checks that DecodeChunk never panics, that its errors
// are *Error wrapping ErrMalformed, that it reads what the generated
// Thrift code reads wherever both accept the input, that a chunk
// CheckChunk accepts has a value for every cell, and that re-encoding a
// decoded chunk is stable.
func FuzzDecodeChunk(f *testing.F) {
	chunks := sampleChunks(f)
	chunks["bench"] = benchChunk(f, 20)
	for _, c := range chunks {
		b, err := EncodeChunk(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeChunk(b)
		if g, gerr := decodeGenerated(b); err == nil && gerr == nil {
			// Where both accept the bytes, they read the same chunk.
			want := fromGenerated(g)
			keepAbsentConstants(&want, c)
			if diff := cmp.Diff(want, c, chunkOpts); diff != "" {
				t.Fatalf("DecodeChunk differs from the generated code (-generated +DecodeChunk):\n%s", diff)
			}
		}
		if err != nil {
			var e *Error
			if !errors.Is(err, ErrMalformed) || !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error wrapping ErrMalformed", err)
			}
			return
		}
		types := make([]VectorType, len(c.Vectors))
		for i := range c.Vectors {
			types[i] = c.Vectors[i].Type
		}
		checkErr := CheckChunk(&c, types)
		if checkErr != nil {
			var e *Error
			if !errors.As(checkErr, &e) || (!errors.Is(checkErr, ErrMalformed) && !errors.Is(checkErr, ErrUnsupported)) {
				t.Fatalf("CheckChunk error %v is not an *Error wrapping ErrMalformed or ErrUnsupported", checkErr)
			}
		}
		for i := range c.Vectors {
			v := &c.Vectors[i]
			for row := range min(v.Size, 1<<12) {
				_, err := v.Value(row)
				if err != nil && checkErr == nil && c.Size > 0 {
					t.Fatalf("vector %d: Value(%d) of a checked chunk: %v", i, row, err)
				}
				if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
					t.Fatalf("vector %d: Value(%d): unexpected error %v", i, row, err)
				}
			}
		}
		again, err := EncodeChunk(c)
		if err != nil {
			return // a constant member without its value, say
		}
		c2, err := DecodeChunk(again)
		if err != nil {
			t.Fatalf("decoding a re-encoded chunk: %v", err)
		}
		if diff := cmp.Diff(c, c2, chunkOpts); diff != "" {
			t.Fatalf("re-encoding is not stable (-first +second):\n%s", diff)
		}
	})
}

// A hostile length prefix allocates nothing near the length it claims:
// lists and strings are checked against the bytes left before anything is
// allocated.
func TestDecodeChunkHostileLengths(t *testing.T) {
	vector := func(b tb) tb { return append(tb{}.field(tI32, 1).i32(1).field(tList, 2).list(tStruct, 1), b...) }
	inputs := map[string]tb{
		"vectors":   tb{}.field(tI32, 1).i32(1).field(tList, 2).list(tStruct, math.MaxInt32).stop(),
		"null set":  vector(tb{}.field(tList, 3).list(tBool, math.MaxInt32)),
		"zone":      vector(tb{}.field(tString, 6).i32(math.MaxInt32)),
		"int64s":    vector(tb{}.field(tStruct, 4).field(tStruct, 3).field(tList, 1).list(tI64, math.MaxInt32)),
		"strings":   vector(tb{}.field(tStruct, 4).field(tStruct, 7).field(tList, 1).list(tString, math.MaxInt32)),
		"decimals":  vector(tb{}.field(tStruct, 4).field(tStruct, 17).field(tList, 1).list(tString, 1<<28).i32(16)),
		"skipped":   vector(tb{}.field(tList, 99).list(tStruct, math.MaxInt32)),
		"skip map":  vector(tb{}.field(13, 99).append1(tString).append1(tString).i32(math.MaxInt32)),
		"big chunk": tb{}.field(tI32, 1).i32(math.MaxInt32).stop(),
	}
	for name, b := range inputs {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 10 {
			if _, err := DecodeChunk(b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s: error = %v, want ErrMalformed", name, err)
			}
		}
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
			t.Errorf("%s: 10 decodes of %d bytes allocated %d bytes", name, len(b), n)
		}
	}
}
