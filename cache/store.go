package cache

import (
	"context"
	"time"
)

// Store keeps the shared record and the pins of any number of scopes.
//
// A Store is safe for concurrent use by any number of goroutines, and, for a
// shared backend, processes. Every method that does I/O takes a context and
// honours its cancellation and deadline. Leases (pins and probe leases) are
// given as durations and judged by the store's own clock, never by the
// caller's: processes whose clocks disagree cannot steal a lease or end one
// early. Backends let tests set that clock.
type Store interface {
	RecordStore
	PinStore
	ProbeLeaser
}

// RecordStore keeps one [State] per scope.
type RecordStore interface {
	// Load returns the record of scope. It returns ErrNotFound when there is
	// none. When the stored record names a colour that is not blue or green,
	// it returns the record with that colour set to Unknown, and an error
	// wrapping ErrInvalidStrategy: the caller must not use the colour, but
	// may overwrite the record with a compare-and-swap on its generation.
	Load(ctx context.Context, scope Scope) (State, error)

	// CompareAndSwap stores next if the stored generation is old (0 for no
	// record), and returns what it stored. next must pass [State.Validate]
	// and have a generation greater than old, else ErrInvalidRecord or
	// ErrInvalidStrategy and nothing is stored. When the stored generation is
	// not old, it stores nothing and returns the stored record (the zero
	// State when there is none) with ErrConflict. A successful swap is
	// published to the scope's watchers, if the store has any.
	CompareAndSwap(ctx context.Context, scope Scope, old uint64, next State) (State, error)
}

// PinStore keeps leases that tie queries to colours.
type PinStore interface {
	// WritePins makes the changes of w in one round trip however many ids
	// it holds: it creates or replaces the pins of w.Blue and w.Green with
	// their colour, live for ttl from now; then it removes the pins of
	// w.Release (so an id in both ends released); and it returns the live
	// pins left in the scope. Releasing an absent pin is not an error.
	WritePins(ctx context.Context, scope Scope, ttl time.Duration, w PinWrite) (PinCounts, error)

	// Lookup returns the live pin of queryID, or ErrNotFound when there is
	// none or it has expired.
	Lookup(ctx context.Context, scope Scope, queryID string) (Pin, error)

	// Renew extends the live pins of queryIDs to ttl from now, in one round
	// trip. It returns the ids that had no live pin (they stay absent).
	Renew(ctx context.Context, scope Scope, ttl time.Duration, queryIDs ...string) (missing []string, err error)

	// Count returns the live pins of scope per colour. Expired pins are not
	// counted, and a backend may purge them on the way.
	Count(ctx context.Context, scope Scope) (PinCounts, error)
}

// PinWrite is one write of a process's pins: the queries it pins to each
// colour and those whose pins end.
type PinWrite struct {
	Blue, Green []string
	Release     []string
}

// ProbeLeaser hands out the probe lease of a scope: one holder at a time
// probes the engine for the fleet.
type ProbeLeaser interface {
	// AcquireProbeLease gives the lease to holder for ttl from now, if no
	// other holder has a live one; holder may renew its own. It returns
	// ErrLeaseHeld when another holder has it.
	AcquireProbeLease(ctx context.Context, scope Scope, holder string, ttl time.Duration) error

	// ReleaseProbeLease gives the lease up if holder has it; otherwise it
	// does nothing and returns nil.
	ReleaseProbeLease(ctx context.Context, scope Scope, holder string) error
}

// Clock is implemented by stores whose clock judges leases: the time a
// process reads from it lets it stamp and judge the times of the shared
// record as every other process of the fleet does, whatever its own clock
// says.
type Clock interface {
	// Time returns the store's current time, in one round trip.
	Time(ctx context.Context) (time.Time, error)
}

// Watcher is implemented by stores that push changes of the record.
type Watcher interface {
	// Watch returns a channel that receives the records stored for scope
	// from now on, in increasing generation order. The channel has a buffer
	// of one and keeps only the newest record, so a slow reader skips
	// generations but never sees an older one after a newer one, and the
	// store never blocks on it. It is closed when ctx is done, the store is
	// closed, or the subscription is lost; the caller then re-reads the
	// record (delivery is at most once) and may watch again.
	Watch(ctx context.Context, scope Scope) (<-chan State, error)
}
