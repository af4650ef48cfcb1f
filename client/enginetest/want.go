package enginetest

import (
	"math/big"

	"github.com/e6coord/e6coord/client/internal/resultenc"
)

// Column is a column of a built-in table as the engine describes it: its
// name and its type as the result metadata spells it (LONG, DECIMAL128...),
// the fields of the client's Column.
type Column struct {
	Name string
	Type string
}

// columns returns cols as Columns.
func columns(cols []resultenc.Column) []Column {
	out := make([]Column, len(cols))
	for i, c := range cols {
		out[i] = Column{Name: c.Name, Type: c.Type}
	}
	return out
}

// Decimal is a DECIMAL128 value of a built-in table: Unscaled × 10^-Scale,
// with Unscaled in decimal digits (and a leading '-' when negative), the
// exact value the client's Decimal holds. Decimals compare with ==.
type Decimal struct {
	Unscaled string
	Scale    int32
}

// unscaled returns d's unscaled value; 0 for the zero Decimal (a NULL's).
func (d Decimal) unscaled() *big.Int {
	if d.Unscaled == "" {
		return new(big.Int)
	}
	n, ok := new(big.Int).SetString(d.Unscaled, 10)
	if !ok {
		panic("enginetest: bad decimal " + d.Unscaled) // a bug in a table
	}
	return n
}
