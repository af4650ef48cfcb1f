package resultenc

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf16"
	"unicode/utf8"
)

// Column describes one result column, as the result metadata carries it.
type Column struct {
	// Name is the column name.
	Name string
	// Type is the type name: "LONG", "STRING", ... (see [VectorType.String]).
	Type string
	// Zone is the time zone of DATE and DATETIME columns; often empty.
	Zone string
	// Format is the date format of DATE and DATETIME columns; often empty.
	Format string
}

// EncodeMetadata returns the result metadata for a result of rowCount rows
// and the given columns, in the layout of a Java DataOutputStream (big
// endian): int64 row count, int32 column count, then for each column the
// name, type, zone and format, each a uint16 byte length and UTF-8 bytes.
//
// It fails if a string is not valid UTF-8 or longer than 65535 bytes.
func EncodeMetadata(rowCount int64, cols []Column) ([]byte, error) {
	if len(cols) > math.MaxInt32 {
		return nil, fmt.Errorf("resultenc: encode metadata: %d columns", len(cols))
	}
	n := 12
	for _, c := range cols {
		n += 8 + len(c.Name) + len(c.Type) + len(c.Zone) + len(c.Format)
	}
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint64(b, uint64(rowCount))
	b = binary.BigEndian.AppendUint32(b, uint32(len(cols)))
	for i, c := range cols {
		for _, s := range [...]string{c.Name, c.Type, c.Zone, c.Format} {
			if len(s) > math.MaxUint16 {
				return nil, fmt.Errorf("resultenc: encode metadata: column %d: string of %d bytes is longer than 65535", i, len(s))
			}
			if !utf8.ValidString(s) {
				return nil, fmt.Errorf("resultenc: encode metadata: column %d: string is not valid utf-8", i)
			}
			b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
			b = append(b, s...)
		}
	}
	return b, nil
}

// DecodeMetadata parses result metadata written by [EncodeMetadata] or by
// the engine. Strings may be standard UTF-8 or Java's modified UTF-8 (as
// written by DataOutputStream.writeUTF); both decode to the same Go string.
//
// Malformed input gives an error that wraps [ErrMalformed]: truncated
// input, bytes after the last column (a column count smaller than the
// columns encoded), a negative column count, or a positive row count with
// no columns. A type name that [ParseVectorType] does not know gives a
// [*Error] naming the column that wraps [ErrUnsupported]. The row count is
// returned as the engine sent it.
func DecodeMetadata(b []byte) (rowCount int64, cols []Column, err error) {
	if len(b) < 12 {
		return 0, nil, malformed("metadata: %d bytes, want at least 12", len(b))
	}
	rowCount = int64(binary.BigEndian.Uint64(b))
	n := int32(binary.BigEndian.Uint32(b[8:]))
	b = b[12:]
	if n < 0 {
		return 0, nil, malformed("metadata: negative column count %d", n)
	}
	// Each column takes at least 8 bytes (four empty strings).
	if int64(n)*8 > int64(len(b)) {
		return 0, nil, malformed("metadata: %d columns need at least %d bytes, have %d", n, int64(n)*8, len(b))
	}
	cols = make([]Column, n)
	for i := range cols {
		var f [4]string
		for j := range f {
			if len(b) < 2 {
				return 0, nil, cellError(i, -1, malformed("metadata: truncated"))
			}
			l := int(binary.BigEndian.Uint16(b))
			b = b[2:]
			if l > len(b) {
				return 0, nil, cellError(i, -1, malformed("metadata: string of %d bytes, have %d", l, len(b)))
			}
			s, ok := decodeJavaUTF(b[:l])
			if !ok {
				return 0, nil, cellError(i, -1, malformed("metadata: invalid utf-8"))
			}
			f[j] = s
			b = b[l:]
		}
		cols[i] = Column{Name: f[0], Type: f[1], Zone: f[2], Format: f[3]}
		if _, ok := ParseVectorType(f[1]); !ok {
			return 0, nil, cellError(i, -1, fmt.Errorf("%w: column %q has unknown type %q", ErrUnsupported, f[0], f[1]))
		}
	}
	if len(b) > 0 {
		return 0, nil, malformed("metadata: %d bytes after the %d columns its count declares", len(b), n)
	}
	if n == 0 && rowCount > 0 {
		return 0, nil, malformed("metadata: %d rows but no columns", rowCount)
	}
	return rowCount, cols, nil
}

// decodeJavaUTF decodes standard UTF-8 or Java's modified UTF-8, in which NUL
// is the two bytes C0 80 and a supplementary character is a surrogate pair
// of three-byte sequences. A lone surrogate becomes U+FFFD.
func decodeJavaUTF(b []byte) (string, bool) {
	if utf8.Valid(b) {
		return string(b), true
	}
	out := make([]rune, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c < 0x80:
			out = append(out, rune(c))
			i++
		case c&0xE0 == 0xC0:
			if i+1 >= len(b) || b[i+1]&0xC0 != 0x80 {
				return "", false
			}
			out = append(out, rune(c&0x1F)<<6|rune(b[i+1]&0x3F))
			i += 2
		case c&0xF0 == 0xE0:
			if i+2 >= len(b) || b[i+1]&0xC0 != 0x80 || b[i+2]&0xC0 != 0x80 {
				return "", false
			}
			out = append(out, rune(c&0x0F)<<12|rune(b[i+1]&0x3F)<<6|rune(b[i+2]&0x3F))
			i += 3
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size <= 1 {
				return "", false
			}
			out = append(out, r)
			i += size
		}
	}
	// Combine surrogate pairs; utf16.Decode turns lone surrogates into U+FFFD.
	units := make([]uint16, 0, len(out))
	for _, r := range out {
		if r > 0xFFFF {
			r1, r2 := utf16.EncodeRune(r)
			units = append(units, uint16(r1), uint16(r2))
			continue
		}
		units = append(units, uint16(r))
	}
	return string(utf16.Decode(units)), true
}
