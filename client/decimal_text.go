package client

import (
	"math/bits"
)

// AppendText appends d to b as [Decimal.String] writes it, and allocates
// nothing when b has room (encoding.TextAppender). It never fails.
func (d Decimal) AppendText(b []byte) ([]byte, error) {
	hi, lo := uint64(d.hi), d.lo
	neg := d.hi < 0
	if neg { // the magnitude, in two's complement
		lo = ^lo + 1
		hi = ^hi
		if lo == 0 {
			hi++
		}
	}
	var buf [40]byte // 2^127 has 39 digits
	i := len(buf)
	for hi != 0 { // 19 digits at a time, from the right
		var r uint64
		hi, r = hi/1e19, hi%1e19
		lo, r = bits.Div64(r, lo, 1e19)
		for range 19 {
			i--
			buf[i] = byte('0' + r%10)
			r /= 10
		}
	}
	for lo != 0 {
		i--
		buf[i] = byte('0' + lo%10)
		lo /= 10
	}
	for i < len(buf)-1 && buf[i] == '0' {
		i++
	}
	if i == len(buf) {
		i--
		buf[i] = '0'
	}
	digits := buf[i:]
	if neg {
		b = append(b, '-')
	}
	switch scale := int(d.scale); {
	case scale <= 0:
		b = append(b, digits...)
		if len(digits) != 1 || digits[0] != '0' {
			for range -scale {
				b = append(b, '0')
			}
		}
	case len(digits) <= scale:
		b = append(b, '0', '.')
		for range scale - len(digits) {
			b = append(b, '0')
		}
		b = append(b, digits...)
	default:
		b = append(b, digits[:len(digits)-scale]...)
		b = append(b, '.')
		b = append(b, digits[len(digits)-scale:]...)
	}
	return b, nil
}
