package resultenc

import (
	"errors"
	"testing"
	"time"
)

func TestCheckChunk(t *testing.T) {
	longs := func() Vector { return Longs([]int64{1, 2, 3}, nil) }
	dec := func() Vector { return mustDecimals(t, 2, nil, 1, 2, 3) }
	tz := func(zones ...string) Vector {
		return Times(TypeTimestampTZ, []time.Time{t0, t0, t0}, zones, nil)
	}
	tests := []struct {
		name   string
		c      Chunk
		types  []VectorType
		want   error // nil: passes
		column int
		row    int
	}{
		{"good", Chunk{Size: 3, Vectors: []Vector{longs(), dec()}}, []VectorType{TypeLong, TypeDecimal128}, nil, 0, 0},
		{"end marker", Chunk{Size: 0}, []VectorType{TypeLong}, nil, 0, 0},
		{"all-null vector in any column", Chunk{Size: 3, Vectors: []Vector{mustConstant(t, TypeNull, 3, nil), mustConstant(t, TypeString, 3, nil)}},
			[]VectorType{TypeLong, TypeDecimal128}, nil, 0, 0},
		{"no null flags", Chunk{Size: 3, Vectors: []Vector{{Size: 3, Type: TypeLong, Data: Data{Kind: KindInt64Data, Int64s: []int64{1, 2, 3}}}}},
			[]VectorType{TypeLong}, nil, 0, 0},
		{"null row of a short decimal", Chunk{Size: 2, Vectors: []Vector{{Size: 2, Type: TypeDecimal128, Nulls: []bool{false, true},
			Data: Data{Kind: KindDecimal128Data, Bytes: [][]byte{make([]byte, 16), nil}}}}}, []VectorType{TypeDecimal128}, nil, 0, 0},
		{"zones", Chunk{Size: 3, Vectors: []Vector{tz("+01:00", "", "Z")}}, []VectorType{TypeTimestampTZ}, nil, 0, 0},

		{"column count", Chunk{Size: 3, Vectors: []Vector{longs()}}, []VectorType{TypeLong, TypeLong}, ErrMalformed, -1, -1},
		{"short vector", Chunk{Size: 4, Vectors: []Vector{longs()}}, []VectorType{TypeLong}, ErrMalformed, 0, -1},
		{"short data", Chunk{Size: 3, Vectors: []Vector{longs(), func() Vector { v := dec(); v.Data.Bytes = v.Data.Bytes[:2]; return v }()}},
			[]VectorType{TypeLong, TypeDecimal128}, ErrMalformed, 1, 2},
		{"long data", Chunk{Size: 3, Vectors: []Vector{func() Vector { v := longs(); v.Data.Int64s = append(v.Data.Int64s, 4); return v }()}},
			[]VectorType{TypeLong}, ErrMalformed, 0, -1},
		{"decimal length", Chunk{Size: 3, Vectors: []Vector{longs(), func() Vector { v := dec(); v.Data.Bytes[1] = []byte{1}; return v }()}},
			[]VectorType{TypeLong, TypeDecimal128}, ErrMalformed, 1, 1},
		{"constant decimal length", Chunk{Size: 3, Vectors: []Vector{{Size: 3, Type: TypeDecimal128, Constant: true, Nulls: []bool{false},
			Data: Data{Kind: KindNumericDecimal128ConstantData, Bytes: [][]byte{{1}}}}}}, []VectorType{TypeDecimal128}, ErrMalformed, 0, 0},
		{"constant without value", Chunk{Size: 3, Vectors: []Vector{{Size: 3, Type: TypeLong, Constant: true,
			Data: Data{Kind: KindNumericConstantData}}}}, []VectorType{TypeLong}, ErrMalformed, 0, -1},
		{"constant with flags per row", Chunk{Size: 3, Vectors: []Vector{func() Vector {
			v := mustConstant(t, TypeLong, 3, int64(1))
			v.Nulls = []bool{false, false, false}
			return v
		}()}}, []VectorType{TypeLong}, ErrMalformed, 0, -1},
		{"type mismatch", Chunk{Size: 3, Vectors: []Vector{longs()}}, []VectorType{TypeInteger}, ErrMalformed, 0, -1},
		{"unknown type", Chunk{Size: 3, Vectors: []Vector{func() Vector { v := longs(); v.Type = 42; return v }()}}, []VectorType{42}, ErrUnsupported, 0, -1},
		{"int96", Chunk{Size: 3, Vectors: []Vector{func() Vector { v := longs(); v.Type = TypeInt96; return v }()}}, []VectorType{TypeInt96}, ErrUnsupported, 0, -1},
		{"zones short", Chunk{Size: 3, Vectors: []Vector{tz("+01:00")}}, []VectorType{TypeTimestampTZ}, ErrMalformed, 0, 1},
		{"unknown zone", Chunk{Size: 3, Vectors: []Vector{tz("+01:00", "Mars/Olympus", "Z")}}, []VectorType{TypeTimestampTZ}, ErrUnsupported, 0, 1},
		{"integer constant overflow", Chunk{Size: 3, Vectors: []Vector{{Size: 3, Type: TypeInteger, Constant: true, Nulls: []bool{false},
			Data: Data{Kind: KindNumericConstantData, Int64s: []int64{1 << 31}}}}}, []VectorType{TypeInteger}, ErrMalformed, 0, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckChunk(&tt.c, tt.types)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckChunk: %v", err)
				}
				for i := range tt.c.Vectors {
					if _, err := tt.c.Vectors[i].Values(); err != nil {
						t.Errorf("vector %d of a checked chunk: %v", i, err)
					}
				}
				return
			}
			var e *Error
			if !errors.Is(err, tt.want) || !errors.As(err, &e) {
				t.Fatalf("CheckChunk error = %v, want an *Error wrapping %v", err, tt.want)
			}
			if e.Column != tt.column || e.Row != tt.row {
				t.Errorf("error at column %d row %d, want %d, %d: %v", e.Column, e.Row, tt.column, tt.row, err)
			}
		})
	}
}
