package resultenc

import (
	"fmt"
	"math/big"
	"time"
)

// The functions below build plain vectors of one type. Each takes the
// values and the null flags; nil nulls means no NULL. The value at a NULL
// row is carried but ignored. They panic if nulls is not nil and its length
// differs from the values'.

// Longs returns a LONG vector (Int64Data).
func Longs(vals []int64, nulls []bool) Vector {
	return plain(TypeLong, len(vals), nulls, Data{Kind: KindInt64Data, Int64s: vals})
}

// Integers returns an INTEGER vector (Int32Data).
func Integers(vals []int32, nulls []bool) Vector {
	return plain(TypeInteger, len(vals), nulls, Data{Kind: KindInt32Data, Int32s: vals})
}

// Doubles returns a DOUBLE vector (Float64Data).
func Doubles(vals []float64, nulls []bool) Vector {
	return plain(TypeDouble, len(vals), nulls, Data{Kind: KindFloat64Data, Float64s: vals})
}

// Floats returns a FLOAT vector (Float32Data, doubles on the wire).
func Floats(vals []float32, nulls []bool) Vector {
	fs := make([]float64, len(vals))
	for i, f := range vals {
		fs[i] = float64(f)
	}
	return plain(TypeFloat, len(vals), nulls, Data{Kind: KindFloat32Data, Float64s: fs})
}

// Bools returns a BOOLEAN vector (BoolData).
func Bools(vals []bool, nulls []bool) Vector {
	return plain(TypeBoolean, len(vals), nulls, Data{Kind: KindBoolData, Bools: vals})
}

// Strings returns a STRING vector (VarcharData).
func Strings(vals []string, nulls []bool) Vector {
	return plain(TypeString, len(vals), nulls, Data{Kind: KindVarcharData, Strings: vals})
}

// Dates returns a DATE vector (DateData, epoch microseconds).
func Dates(vals []time.Time, nulls []bool) Vector {
	return plain(TypeDate, len(vals), nulls, Data{Kind: KindDateData, Int64s: toMicros(vals)})
}

// Times returns a vector of type t, normally DATETIME, TIMESTAMP or
// TIMESTAMP_TZ, with TimeData (epoch microseconds). zones, if not nil, is
// the optional per-row zone list.
func Times(t VectorType, vals []time.Time, zones []string, nulls []bool) Vector {
	return plain(t, len(vals), nulls, Data{Kind: KindTimeData, Int64s: toMicros(vals), Zones: zones})
}

// Decimals returns a DECIMAL128 vector (Decimal128Data) of the unscaled
// values with one scale. It fails if a value does not fit in 128 bits.
func Decimals(unscaled []*big.Int, scale int32, nulls []bool) (Vector, error) {
	bs := make([][]byte, len(unscaled))
	for i, n := range unscaled {
		if n == nil {
			n = new(big.Int)
		}
		b, err := DecimalBytes(n)
		if err != nil {
			return Vector{}, err
		}
		bs[i] = b
	}
	return plain(TypeDecimal128, len(unscaled), nulls, Data{Kind: KindDecimal128Data, Bytes: bs, Scale: scale}), nil
}

// DecimalConstant returns a constant DECIMAL128 vector
// (NumericDecimal128ConstantData) standing for size rows of unscaled ×
// 10^-scale; a nil unscaled is zero. It fails if unscaled does not fit in
// 128 bits. ([Constant] gives a NULL one.)
func DecimalConstant(size int, unscaled *big.Int, scale int32) (Vector, error) {
	if unscaled == nil {
		unscaled = new(big.Int)
	}
	b, err := DecimalBytes(unscaled)
	if err != nil {
		return Vector{}, err
	}
	return Vector{Size: size, Type: TypeDecimal128, Nulls: []bool{false}, Constant: true,
		Data: Data{Kind: KindNumericDecimal128ConstantData, Bytes: [][]byte{b}, Scale: scale}}, nil
}

func plain(t VectorType, n int, nulls []bool, d Data) Vector {
	if nulls == nil {
		nulls = make([]bool, n)
	} else if len(nulls) != n {
		panic(fmt.Sprintf("resultenc: %d null flags for %d values", len(nulls), n))
	}
	return Vector{Size: n, Type: t, Nulls: nulls, Data: d}
}

func toMicros(ts []time.Time) []int64 {
	us := make([]int64, len(ts))
	for i, t := range ts {
		us[i] = t.UnixMicro()
	}
	return us
}

// Constant returns a constant vector of type t standing for size rows of
// the value v, with the constant member the engine uses for t:
//
//	BOOLEAN                       bool              BoolConstantData
//	LONG, INTEGER                 int64, int32, int NumericConstantData
//	DOUBLE, FLOAT                 float64, float32  NumericDecimalConstantData
//	STRING, BINARY, ARRAY, MAP,   string, []byte    VarcharConstantData
//	  STRUCT
//	DATE                          time.Time         DateConstantData
//	DATETIME, TIMESTAMP,          time.Time         TimeConstantData
//	  TIMESTAMP_TZ
//
// A nil v, or type NULL, gives a NULL constant (NullConstantData), of any
// type; [DecimalConstant] gives a DECIMAL128 value. Constant fails if v
// does not match t.
func Constant(t VectorType, size int, v any) (Vector, error) {
	vec := Vector{Size: size, Type: t, Nulls: []bool{false}, Constant: true}
	d := &vec.Data
	if v == nil || t == TypeNull {
		vec.Nulls[0] = true
		*d = Data{Kind: KindNullConstantData, Int8s: []int8{0}}
		return vec, nil
	}
	ok := true
	switch t {
	case TypeBoolean:
		var b bool
		b, ok = v.(bool)
		*d = Data{Kind: KindBoolConstantData, Bools: []bool{b}}
	case TypeLong, TypeInteger:
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case int32:
			n = int64(x)
		case int:
			n = int64(x)
		default:
			ok = false
		}
		*d = Data{Kind: KindNumericConstantData, Int64s: []int64{n}}
	case TypeDouble, TypeFloat:
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case float32:
			f = float64(x)
		default:
			ok = false
		}
		*d = Data{Kind: KindNumericDecimalConstantData, Float64s: []float64{f}}
	case TypeString, TypeBinary, TypeArray, TypeMap, TypeStruct:
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case []byte:
			s = string(x)
		default:
			ok = false
		}
		*d = Data{Kind: KindVarcharConstantData, Strings: []string{s}}
	case TypeDate, TypeDateTime, TypeTimestamp, TypeTimestampTZ:
		var tm time.Time
		tm, ok = v.(time.Time)
		k := KindTimeConstantData
		if t == TypeDate {
			k = KindDateConstantData
		}
		*d = Data{Kind: k, Int64s: []int64{tm.UnixMicro()}}
	default:
		ok = false
	}
	if !ok {
		return Vector{}, fmt.Errorf("resultenc: no constant %v vector of %T", t, v)
	}
	return vec, nil
}
