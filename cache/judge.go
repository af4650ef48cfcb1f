package cache

import (
	"context"
	"errors"
	"time"
)

// Stale reports whether the active colour of st is stale at now, a time of
// the fleet's clock (the store's, see [Clock]): st names a colour, and ttl
// has passed since its last confirmation (ConfirmedAt). It is the one rule
// of staleness: a coordinator stops trusting such a colour (its CacheTTL),
// and e6coord's status, events and /v1/state show it degraded. A colour
// that a process saw rejected within ttl is not stale: the rejection is
// that process's to act on (it detects the colour again), and the shared
// record does not hold it.
func Stale(st State, now time.Time, ttl time.Duration) bool {
	return st.Active.Valid() && !now.Before(st.ConfirmedAt.Add(ttl))
}

// ErrorKind names the kind of a store failure err: "read-only" for an
// error wrapping [ErrReadOnly], "denied" for one wrapping [ErrAccessDenied]
// otherwise (both are refusals: configuration to fix, not an outage),
// "timeout" for one wrapping [context.DeadlineExceeded], "error" otherwise;
// "" for nil. It is the one classification of store failures, of a
// coordinator's statistics and of e6coord's status, events and /v1/state.
func ErrorKind(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrReadOnly):
		return "read-only"
	case errors.Is(err, ErrAccessDenied):
		return "denied"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "error"
}

// ClockOffset returns what to add to the local clock to read the store's,
// from one reading of the store's clock, store, made by a call that began
// at the local time before and returned at after: it assumes the store
// read its clock half-way through the round trip.
func ClockOffset(before, store, after time.Time) time.Duration {
	return store.Sub(before.Add(after.Sub(before) / 2))
}
