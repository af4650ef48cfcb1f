package sqldriver

import (
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/e6coord/e6coord/client"
)

// placeholders returns the byte offsets of the '?' placeholders of query:
// the '?' outside string literals ('...'), quoted identifiers ("..." and
// `...`), line comments (-- to the end of the line) and block comments
// (/* to */). Inside a literal or quoted identifier its quote is doubled
// to stand for itself (two quotes stand for one); a backslash is an ordinary character. A
// literal or comment left open runs to the end of the query.
func placeholders(query string) []int {
	var at []int
	for i := 0; i < len(query); i++ {
		switch c := query[i]; c {
		case '?':
			at = append(at, i)
		case '\'', '"', '`':
			i = skipQuoted(query, i)
		case '-':
			if i+1 < len(query) && query[i+1] == '-' {
				end := strings.IndexByte(query[i:], '\n')
				if end < 0 {
					return at
				}
				i += end
			}
		case '/':
			if i+1 < len(query) && query[i+1] == '*' {
				end := strings.Index(query[i+2:], "*/")
				if end < 0 {
					return at
				}
				i += 2 + end + 1
			}
		}
	}
	return at
}

// skipQuoted returns the offset of the quote that closes the literal or
// identifier opening at i, or len(query)-1 if it is not closed.
func skipQuoted(query string, i int) int {
	q := query[i]
	for j := i + 1; j < len(query); j++ {
		if query[j] != q {
			continue
		}
		if j+1 < len(query) && query[j+1] == q {
			j++ // a doubled quote stands for itself
			continue
		}
		return j
	}
	return len(query) - 1
}

// interpolate returns query with its placeholders replaced by the
// arguments written as SQL literals, in order.
func interpolate(query string, args []driver.NamedValue) (string, error) {
	at := placeholders(query)
	if len(at) != len(args) {
		return "", fmt.Errorf("sqldriver: the query has %d placeholders, got %d arguments", len(at), len(args))
	}
	if len(args) == 0 {
		return query, nil
	}
	b := make([]byte, 0, len(query)+16*len(args))
	last := 0
	for i, p := range at {
		b = append(b, query[last:p]...)
		var err error
		if b, err = appendLiteral(b, args[i].Value); err != nil {
			return "", fmt.Errorf("sqldriver: argument %d: %w", ordinal(args[i], i), err)
		}
		last = p + 1
	}
	return string(append(b, query[last:]...)), nil
}

func ordinal(nv driver.NamedValue, i int) int {
	if nv.Ordinal > 0 {
		return nv.Ordinal
	}
	return i + 1
}

// appendLiteral appends v, a value checkValue returned, as a SQL literal:
// NULL; TRUE or FALSE; an integer; a float in exponent form
// (1.5e+00); an exact numeric (12.50) for a numericLiteral (a decimal); a string literal with
// its quotes doubled; X'...' for []byte (NULL for a nil one); TIMESTAMP 'yyyy-mm-dd
// hh:mm:ss.ffffff' in UTC for a time.Time. A negative number is put in
// parentheses, so that a minus before the placeholder cannot make a
// comment of it.
func appendLiteral(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "NULL"...), nil
	case bool:
		if x {
			return append(b, "TRUE"...), nil
		}
		return append(b, "FALSE"...), nil
	case int64:
		if x < 0 {
			b = append(b, '(')
			b = strconv.AppendInt(b, x, 10)
			return append(b, ')'), nil
		}
		return strconv.AppendInt(b, x, 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v has no SQL literal", x)
		}
		if math.Signbit(x) {
			b = append(b, '(')
			b = strconv.AppendFloat(b, x, 'e', -1, 64)
			return append(b, ')'), nil
		}
		return strconv.AppendFloat(b, x, 'e', -1, 64), nil
	case numericLiteral:
		if strings.HasPrefix(string(x), "-") {
			return append(append(append(b, '('), x...), ')'), nil
		}
		return append(b, x...), nil
	case string:
		if !utf8.ValidString(x) {
			return nil, errors.New("the string is not valid UTF-8: pass binary data as []byte")
		}
		b = append(b, '\'')
		for i := 0; i < len(x); i++ {
			if x[i] == '\'' {
				b = append(b, '\'')
			}
			b = append(b, x[i])
		}
		return append(b, '\''), nil
	case []byte:
		if x == nil {
			return append(b, "NULL"...), nil // as database/sql gives a NULL to a *[]byte
		}
		b = append(b, "X'"...)
		b = hex.AppendEncode(b, x)
		return append(b, '\''), nil
	case time.Time:
		t := x.UTC()
		if t.Nanosecond()%1000 != 0 {
			return nil, errors.New("the time has nanoseconds, and the engine keeps microseconds: truncate it (t.Truncate(time.Microsecond))")
		}
		if t.Year() < 1 {
			return nil, fmt.Errorf("the year %d is before year 1", t.Year())
		}
		b = append(b, "TIMESTAMP '"...)
		b = t.AppendFormat(b, "2006-01-02 15:04:05.000000")
		return append(b, '\''), nil
	}
	return nil, fmt.Errorf("unsupported type %T", v)
}

// checkNamedValue is the driver's driver.NamedValueChecker: it accepts
// nil, bool, every integer type, float32 and float64, string, []byte,
// time.Time, [Decimal] (and *Decimal), client.Decimal, decimal types with a Decompose
// method (as database/sql knows them), pointers to these (nil is NULL),
// and driver.Valuer values returning one of them, and turns each into
// the form appendLiteral writes. Named arguments are refused: the driver
// binds by position.
func checkNamedValue(nv *driver.NamedValue) error {
	if nv.Name != "" {
		return fmt.Errorf("sqldriver: argument %d (%s): named arguments are not supported: use ? placeholders", nv.Ordinal, nv.Name)
	}
	v, err := checkValue(nv.Value, 0)
	if err != nil {
		return fmt.Errorf("sqldriver: argument %d: %w", nv.Ordinal, err)
	}
	nv.Value = v
	return nil
}

var valuerType = reflect.TypeFor[driver.Valuer]()

// decimalDecompose is database/sql's interface of decimal types.
type decimalDecompose interface {
	Decompose(buf []byte) (form byte, negative bool, coefficient []byte, exponent int32)
}

func checkValue(v any, depth int) (any, error) {
	switch x := v.(type) {
	case nil, bool, int64, uint64, float64, string, []byte, time.Time, numericLiteral:
		return v, nil
	case Decimal:
		return numericLiteral(x.String()), nil
	case client.Decimal:
		return numericLiteral(x.String()), nil
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint:
		return uint64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case float32:
		return float64(x), nil
	case *Decimal:
		if x == nil {
			return nil, nil
		}
		return numericLiteral(x.String()), nil
	case decimalDecompose:
		return decompose(x)
	}
	if depth > 8 {
		return nil, fmt.Errorf("unsupported type %T", v)
	}
	if vr, ok := v.(driver.Valuer); ok {
		rv := reflect.ValueOf(vr)
		if rv.Kind() == reflect.Pointer && rv.IsNil() && rv.Type().Elem().Implements(valuerType) {
			return nil, nil // a nil pointer to a value-receiver Valuer is NULL, as in database/sql
		}
		cv, err := vr.Value()
		if err != nil {
			return nil, fmt.Errorf("the %T's Value method failed: %w", v, err)
		}
		return checkValue(cv, depth+1)
	}
	// Pointers and types defined on the basic ones, as database/sql
	// converts them.
	cv, err := driver.DefaultParameterConverter.ConvertValue(v)
	if err != nil {
		return nil, fmt.Errorf("unsupported type %T", v)
	}
	return checkValue(cv, depth+1)
}

// numericLiteral is the text of an exact numeric literal, in plain decimal
// notation ("-123.45"), as checkValue gives a decimal argument: of any
// size, as database/sql's decimal interface allows.
type numericLiteral string

// decompose turns a decimal of database/sql's decimal interface into a
// numericLiteral.
func decompose(d decimalDecompose) (any, error) {
	form, neg, coef, exp := d.Decompose(nil)
	if form != 0 {
		return nil, errors.New("an infinite or NaN decimal has no SQL literal")
	}
	u := new(big.Int).SetBytes(coef)
	if neg {
		u.Neg(u)
	}
	if exp > 0 {
		if exp > 1000 {
			return nil, fmt.Errorf("the decimal's exponent %d is too large", exp)
		}
		u.Mul(u, pow10(int(exp)))
		exp = 0
	}
	if -exp > 1000 {
		return nil, fmt.Errorf("the decimal's exponent %d is too small", exp)
	}
	// The exponent's digits after the point, exactly.
	scale := int(-exp)
	return numericLiteral(new(big.Rat).SetFrac(u, pow10(scale)).FloatString(scale)), nil
}

func pow10(n int) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}
