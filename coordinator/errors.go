package coordinator

import "errors"

// Errors of the coordinator. Test for them with [errors.Is].
var (
	// ErrRejected marks a probe or call that the engine rejected because of
	// its colour (the engine's 456). A [ProbeFunc] wraps it.
	ErrRejected = errors.New("coordinator: colour rejected by the engine")

	// ErrBothRejected means the engine rejected both colours. The error
	// that wraps it also wraps each colour's cause.
	ErrBothRejected = errors.New("coordinator: engine rejected both colours")

	// ErrClosed means the coordinator was closed.
	ErrClosed = errors.New("coordinator: closed")
)
