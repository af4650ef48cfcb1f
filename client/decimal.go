package client

import (
	"encoding/binary"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Decimal is an exact DECIMAL128 value: a 128-bit two's complement
// unscaled integer u and a scale s, standing for u × 10^-s. It holds every
// value of DECIMAL128, ±(10^38−1) at any scale, exactly, in 24 bytes and
// no pointers. The zero value is 0 at scale 0.
//
// Decimals are comparable with ==, which (like [Decimal.Equal]) compares
// the unscaled value and the scale: 1.0 (10 at scale 1) and 1 differ. Use
// [Decimal.Rat] to compare numbers.
type Decimal struct {
	hi    int64  // high 64 bits of the unscaled value
	lo    uint64 // low 64 bits
	scale int32
}

var (
	minInt128 = new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 127))
	maxInt128 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 127), big.NewInt(1))
)

// NewDecimal returns the decimal unscaled × 10^-scale. It fails if unscaled
// does not fit in 128 bits (two's complement).
func NewDecimal(unscaled *big.Int, scale int32) (Decimal, error) {
	if unscaled.Cmp(minInt128) < 0 || unscaled.Cmp(maxInt128) > 0 {
		return Decimal{}, fmt.Errorf("client: decimal %v does not fit in 128 bits", unscaled)
	}
	v := new(big.Int).Set(unscaled)
	if v.Sign() < 0 {
		v.Add(v, new(big.Int).Lsh(big.NewInt(1), 128))
	}
	var b [16]byte
	v.FillBytes(b[:])
	return decimalFromBytes(b[:], scale), nil
}

// decimalFromBytes decodes 16 bytes of big-endian two's complement.
func decimalFromBytes(b []byte, scale int32) Decimal {
	return Decimal{hi: int64(binary.BigEndian.Uint64(b)), lo: binary.BigEndian.Uint64(b[8:]), scale: scale}
}

// Scale returns the number of digits after the decimal point; a negative
// scale multiplies the unscaled value by a power of ten.
func (d Decimal) Scale() int32 { return d.scale }

// Unscaled returns the unscaled integer value, a new big.Int.
func (d Decimal) Unscaled() *big.Int {
	if n, ok := d.int64(); ok {
		return big.NewInt(n)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:], uint64(d.hi))
	binary.BigEndian.PutUint64(b[8:], d.lo)
	n := new(big.Int).SetBytes(b[:])
	if d.hi < 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), 128))
	}
	return n
}

// int64 returns the unscaled value if it fits in an int64.
func (d Decimal) int64() (int64, bool) {
	n := int64(d.lo)
	return n, d.hi == n>>63
}

// Sign returns -1, 0 or +1 as d is negative, zero or positive.
func (d Decimal) Sign() int {
	switch {
	case d.hi < 0:
		return -1
	case d.hi == 0 && d.lo == 0:
		return 0
	}
	return 1
}

// Equal reports whether d and e have the same unscaled value and scale,
// as == does.
func (d Decimal) Equal(e Decimal) bool { return d == e }

// String returns d exactly, in plain decimal notation with the scale's
// digits after the point: "-123.45" for -12345 at scale 2, "0.001" for 1 at
// scale 3, "1200" for 12 at scale -2.
func (d Decimal) String() string {
	var digits string
	neg := d.Sign() < 0
	if n, ok := d.int64(); ok {
		u := uint64(n)
		if neg {
			u = -u
		}
		digits = strconv.FormatUint(u, 10)
	} else {
		digits = new(big.Int).Abs(d.Unscaled()).String()
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	switch scale := int(d.scale); {
	case scale <= 0:
		b.WriteString(digits)
		if digits != "0" {
			b.WriteString(strings.Repeat("0", -scale))
		}
	case len(digits) <= scale:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", scale-len(digits)))
		b.WriteString(digits)
	default:
		b.WriteString(digits[:len(digits)-scale])
		b.WriteByte('.')
		b.WriteString(digits[len(digits)-scale:])
	}
	return b.String()
}

// Rat returns d as an exact rational number.
func (d Decimal) Rat() *big.Rat {
	r := new(big.Rat).SetInt(d.Unscaled())
	s := int64(d.scale)
	if s < 0 {
		s = -s
	}
	p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(s), nil))
	if d.scale >= 0 {
		return r.Quo(r, p)
	}
	return r.Mul(r, p)
}

// Float64 returns the float64 nearest to d.
func (d Decimal) Float64() float64 {
	f, _ := d.Rat().Float64()
	return f
}
