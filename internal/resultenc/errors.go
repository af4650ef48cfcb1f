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

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}
