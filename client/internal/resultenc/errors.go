package resultenc

import (
	"errors"
	"fmt"
)

// Errors returned by this package. Test for them with [errors.Is]; the
// returned errors add details.
var (
	// ErrMalformed means that the input is not a valid encoding: truncated,
	// inconsistent or out of the protocol's limits.
	ErrMalformed = errors.New("resultenc: malformed input")

	// ErrUnsupported means that a value's vector type or data kind has no
	// Go mapping in this package (INT96, or an unknown union member, say).
	ErrUnsupported = errors.New("resultenc: unsupported data")
)

// Error is a malformation found in a batch or in the result metadata, at a
// column and row where that applies. It unwraps to [ErrMalformed] or
// [ErrUnsupported].
type Error struct {
	// Column is the index of the column (the vector of a batch, or the
	// column of the metadata), or -1 if the error concerns no column.
	Column int
	// Row is the row within the batch, or -1 if the error concerns no
	// single row.
	Row int
	// Err describes the malformation.
	Err error
}

func (e *Error) Error() string {
	switch {
	case e.Column >= 0 && e.Row >= 0:
		return fmt.Sprintf("column %d: row %d: %v", e.Column, e.Row, e.Err)
	case e.Column >= 0:
		return fmt.Sprintf("column %d: %v", e.Column, e.Err)
	case e.Row >= 0:
		return fmt.Sprintf("row %d: %v", e.Row, e.Err)
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// cellError returns an *Error at column col and row (-1 for none).
func cellError(col, row int, err error) error {
	return &Error{Column: col, Row: row, Err: err}
}
