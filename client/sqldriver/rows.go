package sqldriver

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"time"

	"github.com/e6coord/e6coord/client"
)

// kind is how the driver gives a column's values.
type kind int

const (
	kindOther   kind = iota // an engine type the driver does not know: values as the client gives them
	kindLong                // int64
	kindInteger             // int32
	kindDouble              // float64
	kindFloat               // float32
	kindBool                // bool
	kindString              // string: STRING, ARRAY, MAP, STRUCT
	kindBinary              // []byte
	kindTime                // time.Time in UTC: DATE, DATETIME, TIMESTAMP
	kindTimeTZ              // time.Time in its zone: TIMESTAMP_TZ
	kindDecimal             // DECIMAL128, as the DecimalMode says
	kindNull                // NULL: always nil
)

var (
	typeInt64   = reflect.TypeFor[int64]()
	typeInt32   = reflect.TypeFor[int32]()
	typeFloat64 = reflect.TypeFor[float64]()
	typeFloat32 = reflect.TypeFor[float32]()
	typeBool    = reflect.TypeFor[bool]()
	typeString  = reflect.TypeFor[string]()
	typeBytes   = reflect.TypeFor[[]byte]()
	typeTime    = reflect.TypeFor[time.Time]()
	typeRat     = reflect.TypeFor[*big.Rat]()
	typeAny     = reflect.TypeFor[any]()
)

// kindOf returns the kind of an engine type name.
func kindOf(typ string) kind {
	switch typ {
	case "LONG":
		return kindLong
	case "INTEGER":
		return kindInteger
	case "DOUBLE":
		return kindDouble
	case "FLOAT":
		return kindFloat
	case "BOOLEAN":
		return kindBool
	case "STRING", "ARRAY", "MAP", "STRUCT":
		return kindString
	case "BINARY":
		return kindBinary
	case "DATE", "DATETIME", "TIMESTAMP":
		return kindTime
	case "TIMESTAMP_TZ":
		return kindTimeTZ
	case "DECIMAL128":
		return kindDecimal
	case "NULL":
		return kindNull
	}
	return kindOther
}

// scanType returns the Go type of the values of a column of kind k.
func scanType(k kind, mode DecimalMode) reflect.Type {
	switch k {
	case kindLong:
		return typeInt64
	case kindInteger:
		return typeInt32
	case kindDouble:
		return typeFloat64
	case kindFloat:
		return typeFloat32
	case kindBool:
		return typeBool
	case kindString:
		return typeString
	case kindBinary:
		return typeBytes
	case kindTime, kindTimeTZ:
		return typeTime
	case kindDecimal:
		switch mode {
		case DecimalRat:
			return typeRat
		case DecimalFloat64:
			return typeFloat64
		}
		return typeString
	}
	return typeAny
}

type column struct {
	name, typ string
	kind      kind
	scan      reflect.Type
}

// rows streams a result from the engine: client.Rows holds the batches
// prefetched (up to PrefetchBytes) and fetches the next batch only when
// the current one is read.
type rows struct {
	// ctx is the query's context: database/sql's Next takes none, and a
	// fetch must end when the query's context does.
	ctx   context.Context
	r     *client.Rows
	mode  DecimalMode
	cols  []column
	names []string
	row   int64  // the rows read, for errors
	buf   []byte // the text of a decimal
}

var (
	_ driver.Rows                           = (*rows)(nil)
	_ driver.RowsColumnTypeScanType         = (*rows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*rows)(nil)
	_ driver.RowsColumnTypeNullable         = (*rows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*rows)(nil)
	_ driver.RowsColumnTypeLength           = (*rows)(nil)
)

func newRows(ctx context.Context, r *client.Rows, mode DecimalMode) *rows {
	rs := &rows{ctx: ctx, r: r, mode: mode}
	for _, c := range r.Columns() {
		k := kindOf(c.Type)
		rs.cols = append(rs.cols, column{name: c.Name, typ: c.Type, kind: k, scan: scanType(k, mode)})
		rs.names = append(rs.names, c.Name)
	}
	return rs
}

func (rs *rows) Columns() []string { return rs.names }

// Close clears the query on the engine and releases its pin, at once if
// the rows were not read to the end; the clear is bounded in time and
// runs even though the query's context has ended.
func (rs *rows) Close() error { return rs.r.Close() }

// Next reads the next row into dest. A NULL is nil; every other value has
// its column's ScanType.
func (rs *rows) Next(dest []driver.Value) error {
	if !rs.r.Next(rs.ctx) {
		if err := rs.r.Err(); err != nil {
			return withContext(rs.ctx, err)
		}
		return io.EOF
	}
	vals, err := rs.r.Values()
	if err != nil {
		return fmt.Errorf("sqldriver: row %d: %w", rs.row, err)
	}
	for i, v := range vals {
		if dest[i], err = rs.convert(i, v); err != nil {
			return err
		}
	}
	rs.row++
	return nil
}

// convert gives v, the value of column i, the column's Go type, or fails
// if it does not have the type the column's engine type promises. A value
// the client gives in the column's type is passed on as it is: the
// client's values point into their batch, and copying the interface
// allocates nothing.
func (rs *rows) convert(i int, v any) (driver.Value, error) {
	if v == nil {
		return nil, nil
	}
	c := &rs.cols[i]
	switch c.kind {
	case kindTime:
		if t, ok := v.(time.Time); ok {
			if t.Location() != time.UTC {
				return t.UTC(), nil
			}
			return v, nil
		}
	case kindTimeTZ:
		if t, ok := v.(time.Time); ok {
			if t.Location() == time.Local {
				return t.UTC(), nil // never the process's zone
			}
			return v, nil
		}
	case kindDecimal:
		if d, ok := v.(client.Decimal); ok {
			if rs.mode == DecimalRat {
				return d.Rat(), nil
			}
			rs.buf, _ = d.AppendText(rs.buf[:0])
			if rs.mode == DecimalFloat64 {
				// ParseFloat rounds the exact decimal to the nearest float64.
				f, err := strconv.ParseFloat(string(rs.buf), 64)
				if err != nil && !errors.Is(err, strconv.ErrRange) {
					break
				}
				return f, nil
			}
			return string(rs.buf), nil
		}
	case kindOther:
		return v, nil
	case kindNull:
	default:
		if reflect.TypeOf(v) == c.scan {
			return v, nil
		}
	}
	return nil, fmt.Errorf("sqldriver: query %s: column %s (%s), row %d: the engine sent a %T", rs.r.QueryID(), c.name, c.typ, rs.row, v)
}

// ColumnTypeScanType returns the Go type of column i's values: int64
// (LONG), int32 (INTEGER), float64 (DOUBLE), float32 (FLOAT), bool,
// string (STRING, ARRAY, MAP, STRUCT), []byte (BINARY), time.Time (DATE,
// DATETIME, TIMESTAMP in UTC; TIMESTAMP_TZ in its zone), string, *big.Rat
// or float64 for DECIMAL128 as the DecimalMode says, and any for NULL and
// types the driver does not know. A NULL value is nil whatever the type.
func (rs *rows) ColumnTypeScanType(i int) reflect.Type { return rs.cols[i].scan }

// ColumnTypeDatabaseTypeName returns the engine's name of column i's
// type: LONG, INTEGER, DOUBLE, FLOAT, BOOLEAN, STRING, BINARY, DATE,
// DATETIME, TIMESTAMP, TIMESTAMP_TZ, DECIMAL128, ARRAY, MAP, STRUCT, NULL.
func (rs *rows) ColumnTypeDatabaseTypeName(i int) string { return rs.cols[i].typ }

// ColumnTypeNullable reports every column nullable: the engine may send a
// NULL in any of them.
func (rs *rows) ColumnTypeNullable(int) (nullable, ok bool) { return true, true }

// decimalPrecision is the number of decimal digits a DECIMAL128 holds in
// full.
const decimalPrecision = 38

// ColumnTypePrecisionScale returns, for a DECIMAL128 column, precision
// 38 and the scale of its values in the first batch (the result metadata
// does not carry it); ok is false for other columns, and for a DECIMAL128
// column of an empty result.
func (rs *rows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if rs.cols[i].kind != kindDecimal {
		return 0, 0, false
	}
	s, ok := rs.r.DecimalScale(i)
	if !ok {
		return 0, 0, false
	}
	return decimalPrecision, int64(s), true
}

// ColumnTypeLength returns math.MaxInt64 (unbounded) for the columns of
// variable length: STRING, BINARY, ARRAY, MAP, STRUCT.
func (rs *rows) ColumnTypeLength(i int) (length int64, ok bool) {
	switch rs.cols[i].kind {
	case kindString, kindBinary:
		return math.MaxInt64, true
	}
	return 0, false
}
