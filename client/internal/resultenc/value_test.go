package resultenc

import (
	"errors"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestValues(t *testing.T) {
	kolkata := time.FixedZone("+05:30", 5*3600+1800)
	nulls := []bool{false, true, false}
	tests := []struct {
		name string
		v    Vector
		want []any
	}{
		{"long", Longs([]int64{1, 2, 3}, nulls), []any{int64(1), nil, int64(3)}},
		{"integer", Integers([]int32{1, 2, 3}, nulls), []any{int32(1), nil, int32(3)}},
		{"double", Doubles([]float64{0.5, 1, 2}, nulls), []any{0.5, nil, 2.0}},
		{"float", Floats([]float32{0.5, 1, 2}, nulls), []any{float32(0.5), nil, float32(2)}},
		{"boolean", Bools([]bool{true, true, false}, nulls), []any{true, nil, false}},
		{"string", Strings([]string{"a", "b", ""}, nulls), []any{"a", nil, ""}},
		{"binary", Vector{Size: 1, Type: TypeBinary, Data: Data{Kind: KindVarcharData, Strings: []string{"\x00\xff"}}},
			[]any{[]byte{0, 0xff}}},
		{"date", Dates([]time.Time{d0, d0, time.Unix(0, 0)}, nulls), []any{d0, nil, time.Unix(0, 0).UTC()}},
		{"datetime", Times(TypeDateTime, []time.Time{t0}, nil, nil), []any{t0}},
		{"timestamp as date data", Vector{Size: 1, Type: TypeTimestamp, Data: Data{Kind: KindDateData, Int64s: []int64{t0.UnixMicro()}}},
			[]any{t0}},
		{"timestamp tz", Times(TypeTimestampTZ, []time.Time{t0, t0, t0}, []string{"+05:30", "Z", ""}, nil),
			[]any{t0.In(kolkata), t0, t0}},
		{"timestamp tz vector zone", Vector{Size: 1, Type: TypeTimestampTZ, Zone: "+05:30",
			Data: Data{Kind: KindTimeData, Int64s: []int64{t0.UnixMicro()}}}, []any{t0.In(kolkata)}},
		{"decimal", mustDecimals(t, 2, nulls, -12345, 0, 1),
			[]any{big.NewInt(-12345), nil, big.NewInt(1)}},
		{"null type", Vector{Size: 2, Type: TypeNull}, []any{nil, nil}},
		{"missing null flags", Vector{Size: 2, Type: TypeLong, Data: Data{Kind: KindInt64Data, Int64s: []int64{4, 5}}},
			[]any{int64(4), int64(5)}},
		{"const bool", mustConstant(t, TypeBoolean, 2, true), []any{true, true}},
		{"const long", mustConstant(t, TypeLong, 2, 7), []any{int64(7), int64(7)}},
		{"const integer", mustConstant(t, TypeInteger, 2, int32(7)), []any{int32(7), int32(7)}},
		{"const double", mustConstant(t, TypeDouble, 2, 1.5), []any{1.5, 1.5}},
		{"const float", mustConstant(t, TypeFloat, 1, float32(1.5)), []any{float32(1.5)}},
		{"const string", mustConstant(t, TypeString, 3, "s"), []any{"s", "s", "s"}},
		{"const binary", mustConstant(t, TypeBinary, 1, []byte("b")), []any{[]byte("b")}},
		{"const date", mustConstant(t, TypeDate, 1, d0), []any{d0}},
		{"const timestamp", mustConstant(t, TypeTimestamp, 1, t0), []any{t0}},
		{"const decimal", mustDecimalConstant(t, 1, 5, 0), []any{big.NewInt(5)}},
		{"const null", mustConstant(t, TypeString, 2, nil), []any{nil, nil}},
		{"const flagged null", Vector{Size: 2, Type: TypeLong, Constant: true, Nulls: []bool{true},
			Data: Data{Kind: KindNumericConstantData, Int64s: []int64{1}}}, []any{nil, nil}},
		{"const time with zone", Vector{Size: 1, Type: TypeTimestampTZ, Constant: true,
			Data: Data{Kind: KindTimeConstantData, Int64s: []int64{t0.UnixMicro()}, Zones: []string{"+0530"}}},
			[]any{t0.In(kolkata)}},
	}
	cmpDecimal := cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 })
	cmpTime := cmp.Comparer(func(a, b time.Time) bool {
		_, oa := a.Zone()
		_, ob := b.Zone()
		return a.Equal(b) && oa == ob
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Through the wire and back, so that decoding is covered too.
			b, err := EncodeChunk(Chunk{Size: tt.v.Size, Vectors: []Vector{tt.v}})
			if err != nil {
				t.Fatal(err)
			}
			c, err := DecodeChunk(b)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Vectors[0].Values()
			if err != nil {
				t.Fatalf("Values: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpDecimal, cmpTime); diff != "" {
				t.Errorf("Values mismatch (-want +got):\n%s", diff)
			}
			if c.Vectors[0].Data.Scale != tt.v.Data.Scale {
				t.Errorf("scale %d, want %d", c.Vectors[0].Data.Scale, tt.v.Data.Scale)
			}
		})
	}
}

func TestValueErrors(t *testing.T) {
	short := Vector{Size: 3, Type: TypeLong, Data: Data{Kind: KindInt64Data, Int64s: []int64{1}}}
	if _, err := short.Value(2); !errors.Is(err, ErrMalformed) {
		t.Errorf("Value past the data: error = %v, want ErrMalformed", err)
	}
	for _, row := range []int{-1, 3} {
		if _, err := short.Value(row); err == nil {
			t.Errorf("Value(%d) succeeded, want an error", row)
		}
	}
	if _, err := (&Vector{Size: 1, Type: TypeLong}).Value(0); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Value without data: error = %v, want ErrUnsupported", err)
	}
	for _, tt := range []struct {
		name string
		v    Vector
		want error
	}{
		{"int96", Vector{Size: 1, Type: TypeInt96, Data: Data{Kind: KindInt64Data, Int64s: []int64{9}}}, ErrUnsupported},
		{"interval", Vector{Size: 1, Type: TypeInt96, Constant: true,
			Data: Data{Kind: KindTemporalIntervalConstantData, Int8s: []int8{3}}}, ErrUnsupported},
		{"unknown type", Vector{Size: 1, Type: 99, Data: Data{Kind: KindInt64Data, Int64s: []int64{9}}}, ErrUnsupported},
		{"timestamp as int64", Vector{Size: 1, Type: TypeTimestamp, Data: Data{Kind: KindInt64Data, Int64s: []int64{1}}}, ErrMalformed},
		{"long as int32", Vector{Size: 1, Type: TypeLong, Data: Data{Kind: KindInt32Data, Int32s: []int32{1}}}, ErrMalformed},
		{"constant data, plain flag", Vector{Size: 1, Type: TypeLong, Data: Data{Kind: KindNumericConstantData, Int64s: []int64{1}}}, ErrMalformed},
		{"plain data, constant flag", Vector{Size: 1, Type: TypeLong, Constant: true, Data: Data{Kind: KindInt64Data, Int64s: []int64{1}}}, ErrMalformed},
		{"integer constant too big", Vector{Size: 1, Type: TypeInteger, Constant: true,
			Data: Data{Kind: KindNumericConstantData, Int64s: []int64{1 << 40}}}, ErrMalformed},
		{"short decimal", Vector{Size: 1, Type: TypeDecimal128, Data: Data{Kind: KindDecimal128Data, Bytes: [][]byte{{1}}}}, ErrMalformed},
		{"unknown zone", Times(TypeTimestampTZ, []time.Time{t0}, []string{"nowhere/unknown"}, nil), ErrUnsupported},
	} {
		if _, err := tt.v.Value(0); !errors.Is(err, tt.want) {
			t.Errorf("%s: Value error = %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := Constant(TypeLong, 1, "x"); err == nil {
		t.Error("Constant(LONG, string) succeeded, want an error")
	}
}

func TestDecimalBytes(t *testing.T) {
	maxI := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 127), big.NewInt(1))
	minI := new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 127))
	for _, n := range []*big.Int{big.NewInt(0), big.NewInt(-1), big.NewInt(math.MaxInt64), maxI, minI} {
		b, err := DecimalBytes(n)
		if err != nil {
			t.Fatalf("DecimalBytes(%v): %v", n, err)
		}
		if len(b) != 16 {
			t.Errorf("DecimalBytes(%v) has %d bytes, want 16", n, len(b))
		}
		if got := unscaled(b); got.Cmp(n) != 0 {
			t.Errorf("unscaled(DecimalBytes(%v)) = %v", n, got)
		}
	}
	for _, n := range []*big.Int{new(big.Int).Add(maxI, big.NewInt(1)), new(big.Int).Sub(minI, big.NewInt(1))} {
		if _, err := DecimalBytes(n); err == nil {
			t.Errorf("DecimalBytes(%v) succeeded, want an error", n)
		}
	}
	if got := unscaled([]byte{0xff, 0x38}); got.Int64() != -200 {
		t.Errorf("unscaled(ff 38) = %v, want -200", got)
	}
}

func TestVectorTypeNames(t *testing.T) {
	for vt := TypeBinary; vt <= TypeDecimal128; vt++ {
		got, ok := ParseVectorType(vt.String())
		if !ok || got != vt {
			t.Errorf("ParseVectorType(%q) = %v, %v", vt.String(), got, ok)
		}
	}
	if _, ok := ParseVectorType("long"); ok {
		t.Error(`ParseVectorType("long") succeeded, want false`)
	}
	if got := VectorType(99).String(); got != "VectorType(99)" {
		t.Errorf("VectorType(99).String() = %q", got)
	}
}
