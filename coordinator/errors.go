package coordinator

import "errors"

// Errors of the coordinator. Test for them with [errors.Is].
var (
	// ErrWrongStrategy marks a probe or call that the engine rejected because
	// of the colour it carried (the engine's 456). A [ProbeFunc] and the
	// calls given to [Coordinator.Do] wrap it; the client package returns it
	// to its callers as client.ErrWrongStrategy, the same value.
	ErrWrongStrategy = errors.New("e6coord: wrong strategy")

	// ErrBothRejected means the engine rejected both colours. The error
	// that wraps it also wraps each colour's cause.
	ErrBothRejected = errors.New("coordinator: engine rejected both colours")

	// ErrSuspended marks a probe or call that the engine refused because
	// its cluster is suspended or starting (HTTP 503). A [ProbeFunc] and
	// the calls given to [Coordinator.Do] wrap it; with Config.Cluster set,
	// the coordinator then resumes the cluster for the fleet.
	ErrSuspended = errors.New("e6coord: cluster suspended or starting")

	// ErrResumeFailed means the engine's cluster did not resume: the error
	// is a [*ResumeError] with the cluster and its last state.
	ErrResumeFailed = errors.New("e6coord: cluster did not resume")

	// ErrClosed means the coordinator was closed.
	ErrClosed = errors.New("coordinator: closed")
)
