package resultenc

import "fmt"

// CheckChunk checks a decoded chunk against the types of the result's
// columns, so that every cell of a chunk that passes has a value (see
// [Vector.Value]) or is NULL. A chunk of no rows (the end marker) passes.
// Otherwise the chunk must have one vector per column, and each vector:
//
//   - has the chunk's size;
//   - has the column's type, or is all NULL (type NULL, or a
//     NullConstantData constant), which any column may hold;
//   - has a type this package maps to Go values (not INT96 or an unknown
//     type) and a data member that fits it ([Vector.Value] lists them);
//   - is constant (isConstantVector) exactly when its data member is a
//     constant one, and then carries one value and at most one null flag;
//   - otherwise carries one value per row, and no null flags or one per
//     row;
//   - for INTEGER, holds a constant that fits in an int32;
//   - for DECIMAL128, holds 16 bytes in every value that is not NULL;
//   - for TIMESTAMP_TZ, names a zone that [Vector.Location] resolves in every
//     value that is not NULL.
//
// The error is a [*Error] naming the column, and the row where one is at
// fault; it wraps [ErrMalformed], or [ErrUnsupported] for a type or data
// member this package does not know.
func CheckChunk(c *Chunk, types []VectorType) error {
	if c.Size <= 0 {
		return nil
	}
	if len(c.Vectors) != len(types) {
		return cellError(-1, -1, malformed("batch has %d columns, the metadata %d", len(c.Vectors), len(types)))
	}
	for i := range c.Vectors {
		if err := c.Vectors[i].check(c.Size, types[i]); err != nil {
			if e, ok := err.(*Error); ok {
				e.Column = i
				return e
			}
			return cellError(i, -1, err)
		}
	}
	return nil
}

// AllNull reports whether every row of v is NULL whatever its null flags:
// its type is NULL, or its data is NullConstantData.
func (v *Vector) AllNull() bool {
	return v.Type == TypeNull || v.Data.Kind == KindNullConstantData
}

// check checks v as CheckChunk does, for a chunk of size rows and a column
// of type want. Errors name the row, if any; the caller sets the column.
func (v *Vector) check(size int, want VectorType) error {
	if v.Size != size {
		return malformed("vector of %d rows in a batch of %d", v.Size, size)
	}
	if int(v.Type) < 0 || int(v.Type) >= len(typeNames) {
		return fmt.Errorf("%w: unknown vector type %d", ErrUnsupported, int32(v.Type))
	}
	if v.AllNull() {
		if v.Constant && len(v.Nulls) > 1 {
			return malformed("constant vector with %d null flags", len(v.Nulls))
		}
		return nil
	}
	if v.Type != want {
		return malformed("%v vector in a %v column", v.Type, want)
	}
	if v.Type == TypeInt96 {
		return fmt.Errorf("%w: INT96 values", ErrUnsupported)
	}
	k := v.Data.Kind
	if k == KindNone {
		return fmt.Errorf("%w: %v vector without data this package knows", ErrUnsupported, v.Type)
	}
	if !fits(v.Type, k) {
		return malformed("%v vector with %v", v.Type, k)
	}
	if v.Constant != k.Constant() {
		return malformed("vector with isConstantVector %t and %v", v.Constant, k)
	}
	n := v.Data.Len()
	if v.Constant {
		if n != 1 {
			return malformed("constant vector with %d values", n)
		}
		if len(v.Nulls) > 1 {
			return malformed("constant vector with %d null flags", len(v.Nulls))
		}
	} else {
		if n < size {
			return cellError(-1, n, malformed("missing: %v vector of %d rows has %d values", v.Type, size, n))
		}
		if n > size {
			return malformed("%v vector of %d rows has %d values", v.Type, size, n)
		}
		if len(v.Nulls) != 0 && len(v.Nulls) != size {
			return cellError(-1, min(len(v.Nulls), size), malformed("vector of %d rows has %d null flags", size, len(v.Nulls)))
		}
		if k == KindTimeData && len(v.Data.Zones) != 0 && len(v.Data.Zones) != size {
			return cellError(-1, min(len(v.Data.Zones), size), malformed("vector of %d rows has %d zones", size, len(v.Data.Zones)))
		}
	}
	switch v.Type {
	case TypeInteger:
		if k == KindNumericConstantData && !v.IsNull(0) {
			if n := v.Data.Int64s[0]; n != int64(int32(n)) {
				return malformed("INTEGER constant %d out of range", n)
			}
		}
	case TypeDecimal128:
		for row := range v.rows() {
			if b := v.Data.Bytes[row]; len(b) != 16 && !v.IsNull(row) {
				return cellError(-1, row, malformed("decimal of %d bytes, want 16", len(b)))
			}
		}
	case TypeTimestampTZ:
		for row := range v.rows() {
			if v.IsNull(row) {
				continue
			}
			if _, err := v.Location(row); err != nil {
				return cellError(-1, row, err)
			}
		}
	}
	return nil
}

// rows is the number of values v carries: 1 for a constant vector.
func (v *Vector) rows() int {
	if v.Constant {
		return 1
	}
	return v.Size
}

// fits reports whether a vector of type t may carry data of kind k.
func fits(t VectorType, k DataKind) bool {
	switch t {
	case TypeLong:
		return k == KindInt64Data || k == KindNumericConstantData
	case TypeInteger:
		return k == KindInt32Data || k == KindNumericConstantData
	case TypeDouble:
		return k == KindFloat64Data || k == KindNumericDecimalConstantData
	case TypeFloat:
		return k == KindFloat32Data || k == KindNumericDecimalConstantData
	case TypeBoolean:
		return k == KindBoolData || k == KindBoolConstantData
	case TypeString, TypeBinary, TypeArray, TypeMap, TypeStruct:
		return k == KindVarcharData || k == KindVarcharConstantData
	case TypeDate, TypeDateTime, TypeTimestamp, TypeTimestampTZ:
		return k == KindDateData || k == KindTimeData || k == KindDateConstantData || k == KindTimeConstantData
	case TypeDecimal128:
		return k == KindDecimal128Data || k == KindNumericDecimal128ConstantData
	}
	return false
}
