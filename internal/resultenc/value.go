package resultenc

import (
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"
)

// IsNull reports whether the given row is NULL: the vector's type is NULL,
// its data is NullConstantData, or its null flag for the row is set (the one
// flag of a constant vector). Rows outside the vector, and rows without a
// flag, are not NULL.
func (v *Vector) IsNull(row int) bool {
	if v.Type == TypeNull || v.Data.Kind == KindNullConstantData {
		return true
	}
	i := v.index(row)
	return i >= 0 && i < len(v.Nulls) && v.Nulls[i]
}

// index maps a row to its index in Nulls and in the data.
func (v *Vector) index(row int) int {
	if v.Constant || v.Data.Kind.Constant() {
		return 0
	}
	return row
}

// Value returns the value of the given row as a Go value, or nil for NULL.
// The Go type follows the vector type:
//
//	LONG                                   int64
//	INTEGER                                int32
//	DOUBLE                                 float64
//	FLOAT                                  float32
//	BOOLEAN                                bool
//	STRING, ARRAY, MAP, STRUCT             string
//	BINARY                                 []byte (shared with v; do not modify)
//	DATE, DATETIME, TIMESTAMP,             time.Time (epoch microseconds; UTC,
//	  TIMESTAMP_TZ                           or the value's zone if it has one)
//	DECIMAL128                             [Decimal]
//	NULL                                   nil
//
// When the data does not fit the type (or for INT96 and unknown types), the
// value is returned in the natural Go type of the data kind: int32, int64,
// float32 (Float32Data), float64, bool, string, int8, time.Time (DateData,
// TimeData and their constants) or [Decimal].
//
// Value fails if row is out of [0, Size), if the data carries fewer values
// than the row needs (an error wrapping [ErrMalformed]), or if the data kind
// is unknown (an error wrapping [ErrUnsupported]).
func (v *Vector) Value(row int) (any, error) {
	if row < 0 || row >= v.Size {
		return nil, fmt.Errorf("resultenc: row %d out of range [0,%d)", row, v.Size)
	}
	if v.IsNull(row) {
		return nil, nil
	}
	i := v.index(row)
	d := &v.Data
	if d.Kind == KindNone {
		return nil, fmt.Errorf("%w: %v vector without known data", ErrUnsupported, v.Type)
	}
	if i >= d.Len() {
		return nil, malformed("%v vector of %d rows has %d values of %v", v.Type, v.Size, d.Len(), d.Kind)
	}
	switch d.Kind {
	case KindBoolData, KindBoolConstantData:
		return d.Bools[i], nil
	case KindInt32Data:
		return v.integer(int64(d.Int32s[i]), d.Int32s[i])
	case KindInt64Data, KindNumericConstantData:
		return v.integer(d.Int64s[i], d.Int64s[i])
	case KindDateData, KindDateConstantData:
		return micros(d.Int64s[i], ""), nil
	case KindTimeData:
		zone := ""
		if i < len(d.Zones) {
			zone = d.Zones[i]
		}
		return micros(d.Int64s[i], zone), nil
	case KindTimeConstantData:
		zone := ""
		if len(d.Zones) > 0 {
			zone = d.Zones[0]
		}
		return micros(d.Int64s[i], zone), nil
	case KindFloat32Data:
		return v.float(d.Float64s[i], float32(d.Float64s[i])), nil
	case KindFloat64Data, KindNumericDecimalConstantData:
		return v.float(d.Float64s[i], d.Float64s[i]), nil
	case KindVarcharData, KindVarcharConstantData:
		if v.Type == TypeBinary {
			return []byte(d.Strings[i]), nil
		}
		return d.Strings[i], nil
	case KindDecimal128Data, KindNumericDecimal128ConstantData:
		return Decimal{Unscaled: unscaled(d.Bytes[i]), Scale: d.Scale}, nil
	case KindTemporalIntervalConstantData:
		return d.Int8s[i], nil
	}
	return nil, fmt.Errorf("%w: %v", ErrUnsupported, d.Kind)
}

// Values returns the values of all rows, as [Vector.Value] does.
func (v *Vector) Values() ([]any, error) {
	out := make([]any, 0, max(v.Size, 0))
	for row := range max(v.Size, 0) {
		x, err := v.Value(row)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// integer converts an integer datum to the vector's type; natural is the
// value to return when the type is not a numeric or temporal one.
func (v *Vector) integer(n int64, natural any) (any, error) {
	switch v.Type {
	case TypeLong:
		return n, nil
	case TypeInteger:
		return int32(n), nil
	case TypeDouble:
		return float64(n), nil
	case TypeFloat:
		return float32(n), nil
	case TypeDate, TypeDateTime, TypeTimestamp, TypeTimestampTZ:
		return micros(n, ""), nil
	}
	return natural, nil
}

// float converts a floating-point datum to the vector's type.
func (v *Vector) float(f float64, natural any) any {
	switch v.Type {
	case TypeDouble:
		return f
	case TypeFloat:
		return float32(f)
	}
	return natural
}

// micros returns the time of us microseconds since the Unix epoch, in the
// given zone when it names one.
func micros(us int64, zone string) time.Time {
	t := time.UnixMicro(us).UTC()
	if zone != "" {
		if loc := location(zone); loc != nil {
			t = t.In(loc)
		}
	}
	return t
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

// Decimal is a DECIMAL128 value: Unscaled × 10^-Scale.
type Decimal struct {
	// Unscaled is the unscaled integer value.
	Unscaled *big.Int
	// Scale is the number of digits after the decimal point; negative
	// scales multiply by a power of ten.
	Scale int32
}

// String formats d in plain decimal notation, such as "-123.45".
func (d Decimal) String() string {
	u := d.Unscaled
	if u == nil {
		u = new(big.Int)
	}
	if d.Scale <= 0 {
		s := u.String()
		if u.Sign() != 0 && d.Scale < 0 {
			s += strings.Repeat("0", int(-d.Scale))
		}
		return s
	}
	digits := new(big.Int).Abs(u).String()
	scale := int(d.Scale)
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	s := digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	if u.Sign() < 0 {
		s = "-" + s
	}
	return s
}

// Rat returns d as an exact rational number.
func (d Decimal) Rat() *big.Rat {
	r := new(big.Rat)
	if d.Unscaled != nil {
		r.SetInt(d.Unscaled)
	}
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(d.Scale))), nil)
	if d.Scale >= 0 {
		return r.Quo(r, new(big.Rat).SetInt(p))
	}
	return r.Mul(r, new(big.Rat).SetInt(p))
}

func abs(n int32) int64 {
	if n < 0 {
		return -int64(n)
	}
	return int64(n)
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
