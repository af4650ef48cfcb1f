package sqldriver

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/e6coord/e6coord/client"
)

// DecimalMode is the Go type the rows give DECIMAL128 values, for the
// whole [Connector] (the DSN's decimal option). In every mode a NULL is
// nil, and a column's ColumnTypeScanType is the mode's type.
type DecimalMode int

const (
	// DecimalString gives the exact value as a string in plain decimal
	// notation with the scale applied ("-1234.50" for unscaled -123450,
	// scale 2). database/sql scans it into a string, []byte or
	// sql.RawBytes as it is; into a float64 (strconv.ParseFloat: the
	// nearest float64); and into a [Decimal], exactly. The default.
	DecimalString DecimalMode = iota
	// DecimalRat gives the exact value as a *big.Rat, a new one for each
	// value: scan it into a *big.Rat variable (rows.Scan(&r) with
	// var r *big.Rat), or a [Decimal].
	DecimalRat
	// DecimalFloat64 gives the nearest float64 (ties to even): scan it
	// into a float64 or sql.NullFloat64. It is the only inexact mode.
	DecimalFloat64
)

var decimalModes = [...]string{DecimalString: "string", DecimalRat: "rat", DecimalFloat64: "float64"}

// String returns "string", "rat" or "float64", as the DSN spells the mode.
func (m DecimalMode) String() string {
	if m >= 0 && int(m) < len(decimalModes) {
		return decimalModes[m]
	}
	return "DecimalMode(" + strconv.Itoa(int(m)) + ")"
}

func (m DecimalMode) valid() bool { return m >= 0 && int(m) < len(decimalModes) }

func parseDecimalMode(s string) (DecimalMode, error) {
	for i, name := range decimalModes {
		if s == name {
			return DecimalMode(i), nil
		}
	}
	return 0, errors.New("sqldriver: malformed DSN: decimal must be string, rat or float64")
}

// Decimal is a [client.Decimal], an exact DECIMAL128 value, that is a
// sql.Scanner: for DECIMAL128 columns in the string and rat modes, and for
// integer columns; scan a nullable column into a *Decimal or a
// sql.Null[Decimal]. Its methods (String, Rat, Float64, Unscaled, Scale,
// ...) are the client.Decimal's. As a query argument it is written as an
// exact numeric literal.
type Decimal struct {
	client.Decimal
}

// Value returns d's String, so that other drivers take a Decimal too;
// this driver writes it as a numeric literal.
func (d Decimal) Value() (driver.Value, error) { return d.String(), nil }

// Scan sets d from a DECIMAL128 value in the string or rat mode, or from
// an integer. A NULL is an error: scan into a *Decimal or a
// sql.Null[Decimal] to allow one. A float64 (the float64 mode) is refused,
// being inexact, and so is a number beyond DECIMAL128's 128 bits.
func (d *Decimal) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		return errors.New("sqldriver: NULL cannot be scanned into a Decimal: use a *Decimal or sql.Null[Decimal]")
	case string:
		return d.parse(v)
	case []byte:
		return d.parse(string(v))
	case *big.Rat:
		return d.setRat(v)
	case client.Decimal:
		d.Decimal = v
		return nil
	case int64:
		return d.set(big.NewInt(v), 0)
	case int32:
		return d.set(big.NewInt(int64(v)), 0)
	case float64, float32:
		return fmt.Errorf("sqldriver: a %T is inexact and cannot be scanned into a Decimal: use the string or rat decimal mode", src)
	}
	return fmt.Errorf("sqldriver: cannot scan a %T into a Decimal", src)
}

// set sets d to u × 10^-scale.
func (d *Decimal) set(u *big.Int, scale int) error {
	if int(int32(scale)) != scale {
		return fmt.Errorf("sqldriver: a scale of %d is beyond a Decimal's", scale)
	}
	v, err := client.NewDecimal(u, int32(scale))
	if err != nil {
		return fmt.Errorf("sqldriver: the unscaled value %s does not fit in a Decimal's 128 bits", truncate(u.String(), 40))
	}
	d.Decimal = v
	return nil
}

// parse reads a plain decimal number: an optional sign, digits, and an
// optional fraction.
func (d *Decimal) parse(s string) error {
	t := s
	neg := false
	if t != "" && (t[0] == '-' || t[0] == '+') {
		neg, t = t[0] == '-', t[1:]
	}
	intPart, frac, _ := strings.Cut(t, ".")
	if intPart == "" && frac == "" || !allDigits(intPart) || !allDigits(frac) || len(frac) > 1<<20 {
		return fmt.Errorf("sqldriver: %q is not a decimal number", truncate(s, 40))
	}
	u, ok := new(big.Int).SetString(intPart+frac, 10)
	if !ok {
		return fmt.Errorf("sqldriver: %q is not a decimal number", truncate(s, 40))
	}
	if neg {
		u.Neg(u)
	}
	return d.set(u, len(frac))
}

// setRat sets d to r, which must have a finite decimal expansion.
func (d *Decimal) setRat(r *big.Rat) error {
	if r == nil {
		return errors.New("sqldriver: cannot scan a nil *big.Rat into a Decimal")
	}
	den := new(big.Int).Set(r.Denom())
	ten, two, five := big.NewInt(10), big.NewInt(2), big.NewInt(5)
	m := new(big.Int)
	// den = 2^a 5^b: the scale is max(a, b).
	twos, fives := 0, 0
	for m.Mod(den, two).Sign() == 0 {
		den.Quo(den, two)
		twos++
	}
	for m.Mod(den, five).Sign() == 0 {
		den.Quo(den, five)
		fives++
	}
	if den.Cmp(big.NewInt(1)) != 0 {
		return fmt.Errorf("sqldriver: %s has no finite decimal expansion", r.RatString())
	}
	scale := max(twos, fives)
	u := new(big.Int).Mul(r.Num(), new(big.Int).Exp(ten, big.NewInt(int64(scale)), nil))
	u.Quo(u, r.Denom())
	return d.set(u, scale)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
