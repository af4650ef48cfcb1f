package client

import (
	"reflect"
	"time"
	"unsafe"

	"github.com/e6coord/e6coord/client/internal/resultenc"
)

// A column is the values of one column of the batch being read, in the Go
// types of the Values contract, ready to be handed out without allocating.
//
// value boxes a cell into an interface whose data word points at the
// cell's element of a typed slice (below, base), instead of copying it to
// a new heap object as a conversion to any does. This is what makes
// Values and Value allocate nothing per row. It is sound because the
// slices are built for each batch, never written after that and never
// reused: an interface holding a value assumes that value never changes.
// The interface keeps the slice alive, as any pointer into it does.
type column struct {
	typ      unsafe.Pointer // the interface type word of the values' Go type; nil: every row is NULL
	base     unsafe.Pointer // the first element of the values
	size     uintptr        // the size of an element
	constant bool           // one element for every row
	nulls    []bool         // per row (one flag if constant); nil: none NULL
}

// eface is the layout of an empty interface.
type eface struct {
	typ, data unsafe.Pointer
}

func typeWord(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

// The type words of the Go types of the values. None of these types is
// pointer-shaped, so an interface holding one points at its value.
var (
	typeInt64   = typeWord(int64(0))
	typeInt32   = typeWord(int32(0))
	typeFloat64 = typeWord(float64(0))
	typeFloat32 = typeWord(float32(0))
	typeBool    = typeWord(false)
	typeString  = typeWord("")
	typeBytes   = typeWord([]byte(nil))
	typeTime    = typeWord(time.Time{})
	typeDecimal = typeWord(Decimal{})
)

// value returns the value of row, or nil for NULL.
func (c *column) value(row int) any {
	if c.constant {
		row = 0
	}
	if c.typ == nil || (c.nulls != nil && c.nulls[row]) {
		return nil
	}
	var v any
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = c.typ, unsafe.Add(c.base, uintptr(row)*c.size)
	return v
}

// set points c at the elements of vs, which must not be empty and must
// never be written again.
func set[T any](c *column, typ unsafe.Pointer, vs []T) {
	var zero T
	c.typ, c.base, c.size = typ, unsafe.Pointer(unsafe.SliceData(vs)), unsafe.Sizeof(zero)
}

// newColumn prepares the values of v, a vector that passed
// resultenc.CheckChunk; the column's type was checked there too.
func newColumn(v *resultenc.Vector) (column, error) {
	c := column{constant: v.Constant}
	if v.AllNull() {
		return c, nil
	}
	n := v.Size
	if v.Constant {
		n = 1
	}
	if len(v.Nulls) == n {
		for _, isNull := range v.Nulls {
			if isNull {
				c.nulls = v.Nulls
				break
			}
		}
	}
	d := &v.Data
	switch v.Type {
	case resultenc.TypeLong:
		set(&c, typeInt64, d.Int64s)
	case resultenc.TypeInteger:
		if v.Constant {
			set(&c, typeInt32, []int32{int32(d.Int64s[0])})
		} else {
			set(&c, typeInt32, d.Int32s)
		}
	case resultenc.TypeDouble:
		set(&c, typeFloat64, d.Float64s)
	case resultenc.TypeFloat:
		fs := make([]float32, n)
		for i, f := range d.Float64s {
			fs[i] = float32(f)
		}
		set(&c, typeFloat32, fs)
	case resultenc.TypeBoolean:
		set(&c, typeBool, d.Bools)
	case resultenc.TypeString, resultenc.TypeArray, resultenc.TypeMap, resultenc.TypeStruct:
		set(&c, typeString, d.Strings)
	case resultenc.TypeBinary:
		bs := make([][]byte, n)
		for i, s := range d.Strings {
			if !c.isNull(i) {
				bs[i] = []byte(s)
			}
		}
		set(&c, typeBytes, bs)
	case resultenc.TypeDate, resultenc.TypeDateTime, resultenc.TypeTimestamp, resultenc.TypeTimestampTZ:
		ts := make([]time.Time, n)
		var (
			loc    = time.UTC
			prevZ  string // the zone string of loc, to look up each zone once
			looked bool   // loc is prevZ's
			err    error
		)
		for i, us := range d.Int64s {
			if c.isNull(i) {
				continue
			}
			if v.Type == resultenc.TypeTimestampTZ {
				if z := zoneString(v, i); z != prevZ || !looked {
					if loc, err = v.Location(i); err != nil {
						return c, err // CheckChunk has ruled this out
					}
					prevZ, looked = z, true
				}
			}
			ts[i] = time.UnixMicro(us).In(loc)
		}
		set(&c, typeTime, ts)
	case resultenc.TypeDecimal128:
		ds := make([]Decimal, n)
		for i, b := range d.Bytes {
			if !c.isNull(i) {
				ds[i] = decimalFromBytes(b, d.Scale)
			}
		}
		set(&c, typeDecimal, ds)
	default:
		return c, nil // NULL: CheckChunk lets no other type through
	}
	return c, nil
}

func (c *column) isNull(i int) bool { return c.nulls != nil && c.nulls[i] }

// zoneString is the zone string of row i of a TIMESTAMP_TZ vector, for
// telling when the zone changes.
func zoneString(v *resultenc.Vector, i int) string {
	if i < len(v.Data.Zones) {
		return v.Data.Zones[i]
	}
	return ""
}

// scanTypes are the Go types of the non-NULL values of each type.
var scanTypes = map[string]reflect.Type{
	"LONG":         reflect.TypeFor[int64](),
	"INTEGER":      reflect.TypeFor[int32](),
	"DOUBLE":       reflect.TypeFor[float64](),
	"FLOAT":        reflect.TypeFor[float32](),
	"BOOLEAN":      reflect.TypeFor[bool](),
	"STRING":       reflect.TypeFor[string](),
	"ARRAY":        reflect.TypeFor[string](),
	"MAP":          reflect.TypeFor[string](),
	"STRUCT":       reflect.TypeFor[string](),
	"BINARY":       reflect.TypeFor[[]byte](),
	"DATE":         reflect.TypeFor[time.Time](),
	"DATETIME":     reflect.TypeFor[time.Time](),
	"TIMESTAMP":    reflect.TypeFor[time.Time](),
	"TIMESTAMP_TZ": reflect.TypeFor[time.Time](),
	"DECIMAL128":   reflect.TypeFor[Decimal](),
}
