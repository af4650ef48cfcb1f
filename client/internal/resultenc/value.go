package resultenc

import (
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"
)

// IsNull reports whether the given row is NULL: the vector is all NULL
// ([Vector.AllNull]) or its null flag for the row is set (the one flag of a
// constant vector). Rows without a flag are not NULL.
func (v *Vector) IsNull(row int) bool {
	if v.AllNull() {
		return true
	}
	i := v.index(row)
	return i >= 0 && i < len(v.Nulls) && v.Nulls[i]
}

// index maps a row to its index in Nulls and in the data.
func (v *Vector) index(row int) int {
	if v.Constant {
		return 0
	}
	return row
}

// Value returns the value of the given row as a Go value, or nil for NULL.
// The Go type follows the vector type, and the data member must fit it:
//
//	LONG          int64            Int64Data, NumericConstantData
//	INTEGER       int32            Int32Data, NumericConstantData
//	DOUBLE        float64          Float64Data, NumericDecimalConstantData
//	FLOAT         float32          Float32Data, NumericDecimalConstantData
//	BOOLEAN       bool             BoolData, BoolConstantData
//	STRING,       string           VarcharData, VarcharConstantData
//	  ARRAY, MAP,
//	  STRUCT
//	BINARY        []byte (a copy)  VarcharData, VarcharConstantData
//	DATE,         time.Time in UTC DateData, TimeData, DateConstantData,
//	  DATETIME,                      TimeConstantData (epoch microseconds)
//	  TIMESTAMP
//	TIMESTAMP_TZ  time.Time in the zone [Vector.Location] gives
//	DECIMAL128    *big.Int         Decimal128Data, NumericDecimal128ConstantData
//	NULL          nil
//
// A DECIMAL128 value is the unscaled integer u of u × 10^-s, a new
// *big.Int; the scale s, one for the whole vector, is Data.Scale.
// Value fails if row is out of [0, Size), if the data does not fit the
// type or carries no value for the row, or if a decimal is not 16 bytes
// (errors wrapping [ErrMalformed]), or for INT96, an unknown type or data
// member (errors wrapping [ErrUnsupported]). [CheckChunk] checks all of
// this for a whole chunk at once.
func (v *Vector) Value(row int) (any, error) {
	if row < 0 || row >= v.Size {
		return nil, fmt.Errorf("resultenc: row %d out of range [0,%d)", row, v.Size)
	}
	if v.IsNull(row) {
		return nil, nil
	}
	i := v.index(row)
	d := &v.Data
	switch {
	case int(v.Type) < 0 || int(v.Type) >= len(typeNames) || v.Type == TypeInt96:
		return nil, fmt.Errorf("%w: %v values", ErrUnsupported, v.Type)
	case d.Kind == KindNone:
		return nil, fmt.Errorf("%w: %v vector without known data", ErrUnsupported, v.Type)
	case !fits(v.Type, d.Kind):
		return nil, malformed("%v vector with %v", v.Type, d.Kind)
	case v.Constant != d.Kind.Constant():
		return nil, malformed("vector with isConstantVector %t and %v", v.Constant, d.Kind)
	case i >= d.Len():
		return nil, malformed("%v vector of %d rows has %d values of %v", v.Type, v.Size, d.Len(), d.Kind)
	}
	switch v.Type {
	case TypeLong:
		if d.Kind == KindInt64Data {
			return d.Int64s[i], nil
		}
		return d.Int64s[0], nil
	case TypeInteger:
		if d.Kind == KindInt32Data {
			return d.Int32s[i], nil
		}
		n := d.Int64s[0]
		if n != int64(int32(n)) {
			return nil, malformed("INTEGER constant %d out of range", n)
		}
		return int32(n), nil
	case TypeDouble:
		return d.Float64s[i], nil
	case TypeFloat:
		return float32(d.Float64s[i]), nil
	case TypeBoolean:
		return d.Bools[i], nil
	case TypeString, TypeArray, TypeMap, TypeStruct:
		return d.Strings[i], nil
	case TypeBinary:
		return []byte(d.Strings[i]), nil
	case TypeDate, TypeDateTime, TypeTimestamp:
		return time.UnixMicro(d.Int64s[i]).UTC(), nil
	case TypeTimestampTZ:
		loc, err := v.Location(row)
		if err != nil {
			return nil, err
		}
		return time.UnixMicro(d.Int64s[i]).In(loc), nil
	case TypeDecimal128:
		b := d.Bytes[i]
		if len(b) != 16 {
			return nil, malformed("decimal of %d bytes, want 16", len(b))
		}
		return unscaled(b), nil
	}
	return nil, fmt.Errorf("%w: %v values", ErrUnsupported, v.Type)
}

// Values returns the values of all rows, as [Vector.Value] does.
func (v *Vector) Values() ([]any, error) {
	out := make([]any, 0, max(v.Size, 0))
	for row := range max(v.Size, 0) {
		x, err := v.Value(row)
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", row, err)
		}
		out = append(out, x)
	}
	return out, nil
}

// Location returns the zone of a TIMESTAMP_TZ value: the row's entry in the
// zone list of TimeData (or the zone of TimeConstantData) if it is not
// empty, else the vector's zoneOffset if it is not empty, else UTC. A zone
// is "Z", "UTC", "GMT", an offset such as "+05:30", "+0530" or "-08", or an
// IANA name that time.LoadLocation knows; anything else is an error that
// wraps [ErrUnsupported]. For other types Location returns UTC.
func (v *Vector) Location(row int) (*time.Location, error) {
	if v.Type != TypeTimestampTZ {
		return time.UTC, nil
	}
	z := ""
	switch i := v.index(row); v.Data.Kind {
	case KindTimeData:
		if i >= 0 && i < len(v.Data.Zones) {
			z = v.Data.Zones[i]
		}
	case KindTimeConstantData:
		if len(v.Data.Zones) > 0 {
			z = v.Data.Zones[0]
		}
	}
	if z == "" {
		z = v.Zone
	}
	if z == "" {
		return time.UTC, nil
	}
	loc := location(z)
	if loc == nil {
		return nil, fmt.Errorf("%w: unknown time zone %q", ErrUnsupported, z)
	}
	return loc, nil
}

// maxLocations bounds the zone cache, so that data with many distinct zone
// strings cannot grow it without limit.
const maxLocations = 256

var locations struct {
	mu sync.Mutex
	m  map[string]*time.Location // guarded by mu; nil value: unknown zone
}

// location returns the location a zone string names: "Z", "UTC", an offset
// such as "+05:30", "+0530" or "-08", or an IANA name. It returns nil for
// anything else.
func location(zone string) *time.Location {
	locations.mu.Lock()
	l, ok := locations.m[zone]
	locations.mu.Unlock()
	if ok {
		return l
	}
	var loc *time.Location
	switch z := strings.TrimSpace(zone); {
	case z == "Z" || strings.EqualFold(z, "UTC") || strings.EqualFold(z, "GMT"):
		loc = time.UTC
	case strings.HasPrefix(z, "+") || strings.HasPrefix(z, "-"):
		loc = offsetZone(z)
	default:
		if l, err := time.LoadLocation(z); err == nil {
			loc = l
		}
	}
	locations.mu.Lock()
	if locations.m == nil {
		locations.m = make(map[string]*time.Location)
	}
	if len(locations.m) < maxLocations {
		locations.m[zone] = loc
	}
	locations.mu.Unlock()
	return loc
}

// offsetZone parses "+hh", "+hhmm" or "+hh:mm" (or with "-").
func offsetZone(z string) *time.Location {
	digits := strings.ReplaceAll(z[1:], ":", "")
	if len(digits) != 2 && len(digits) != 4 {
		return nil
	}
	n := 0
	for _, c := range digits {
		if c < '0' || c > '9' {
			return nil
		}
		n = n*10 + int(c-'0')
	}
	h, m := n, 0
	if len(digits) == 4 {
		h, m = n/100, n%100
	}
	if h > 18 || m > 59 {
		return nil
	}
	secs := (h*60 + m) * 60
	if z[0] == '-' {
		secs = -secs
	}
	return time.FixedZone(z, secs)
}

// unscaled decodes a big-endian two's complement integer; empty is zero.
func unscaled(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
	}
	return n
}

// DecimalBytes returns the 16-byte big-endian two's complement encoding of
// n, as Decimal128Data carries it. It fails if n does not fit in 128 bits.
func DecimalBytes(n *big.Int) ([]byte, error) {
	if n.BitLen() > 127 {
		lim := new(big.Int).Lsh(big.NewInt(1), 127)
		if n.Sign() >= 0 || n.Cmp(new(big.Int).Neg(lim)) != 0 {
			return nil, fmt.Errorf("resultenc: decimal %v does not fit in 128 bits", n)
		}
	}
	v := new(big.Int).Set(n)
	if v.Sign() < 0 {
		v.Add(v, new(big.Int).Lsh(big.NewInt(1), 128))
	}
	b := make([]byte, 16)
	v.FillBytes(b)
	return b, nil
}
