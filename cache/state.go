package cache

import (
	"fmt"
	"time"
)

// Scope names one engine: the shared record and the pins of one scope are
// independent of every other scope's. Both fields are compared as they are.
type Scope struct {
	Cluster string // the cluster name, or "" when none is configured
	Engine  string // the engine's host:port
}

// String returns "cluster/engine", for logs. It is not a unique key: a
// backend keys a scope by both fields, escaped.
func (s Scope) String() string { return s.Cluster + "/" + s.Engine }

// State is the shared record of a scope. Generation 0 means no record; every
// stored record has a generation of at least 1, and a scope's generation
// only grows. Generations stay below 2^53, so that backends may keep them
// in a double (Redis scripts do).
type State struct {
	// Active is the colour new calls carry, or Unknown while none is known.
	Active Strategy
	// Pending is a colour the engine announced (new_strategy) that is not
	// active yet, or Unknown.
	Pending Strategy
	// Generation grows by at least one with every change of the record.
	Generation uint64

	// ConfirmedAt is when a call last succeeded with Active.
	ConfirmedAt time.Time
	// AnnouncedAt is when the engine last announced Pending, as far as the
	// record knows: processes refresh it while the engine keeps announcing,
	// and a pending colour not announced again for a while is dropped.
	// Zero without Pending.
	AnnouncedAt time.Time
	// AcceptedAt is when the engine was seen to accept Pending; zero until
	// then. A Drain switch waits from here for old-colour queries to finish.
	AcceptedAt time.Time
	// ProbedAt is when Pending was last probed and not accepted; zero if
	// it was not. The fleet waits a while before probing it again.
	ProbedAt time.Time

	// Cluster is the engine cluster's state as last recorded by the process
	// that resumed it, or ClusterUnknown; ClusterSince is when the current
	// resume began (Cluster is ClusterResuming), or when Cluster was
	// recorded otherwise.
	Cluster      ClusterState
	ClusterSince time.Time

	// ChangedAt and ChangedBy tell when and by which process the record last
	// changed.
	ChangedAt time.Time
	ChangedBy string
}

// ClusterState is the state of the engine's cluster as its cluster service
// names it. Any word the engine uses may be recorded; these are the ones
// the fleet acts on.
type ClusterState string

// Cluster states.
const (
	ClusterUnknown   ClusterState = ""
	ClusterActive    ClusterState = "active"
	ClusterSuspended ClusterState = "suspended"
	ClusterResuming  ClusterState = "resuming"
	ClusterFailed    ClusterState = "failed"
)

// Every time in a State is read from the clock of the process that wrote it,
// corrected to the store's clock when the store keeps one ([Clock]), so that
// processes on hosts whose clocks disagree judge the record's times alike.

// Validate reports whether s may be stored: its colours are Unknown, Blue or
// Green, Pending differs from a known Active, and its generation is set.
func (s State) Validate() error {
	if s.Active != Unknown && !s.Active.Valid() {
		return fmt.Errorf("%w: active colour %d", ErrInvalidStrategy, s.Active)
	}
	if s.Pending != Unknown && !s.Pending.Valid() {
		return fmt.Errorf("%w: pending colour %d", ErrInvalidStrategy, s.Pending)
	}
	if s.Pending.Valid() && s.Pending == s.Active {
		return fmt.Errorf("%w: pending colour equals active %s", ErrInvalidRecord, s.Active)
	}
	if s.Generation == 0 {
		return fmt.Errorf("%w: generation 0", ErrInvalidRecord)
	}
	return nil
}

// String summarises the record for logs: "gen=3 active=blue pending=green".
func (s State) String() string {
	str := fmt.Sprintf("gen=%d active=%s", s.Generation, orNone(s.Active))
	if s.Pending.Valid() {
		str += " pending=" + s.Pending.String()
		if !s.AcceptedAt.IsZero() {
			str += " (accepted)"
		}
	}
	return str
}

func orNone(s Strategy) string {
	if s.Valid() {
		return s.String()
	}
	return "none"
}

// Pin ties an in-flight query to the colour it was prepared with, until
// Expires unless renewed. A pin, like a probe lease, is live while the
// store's clock is before Expires, and dead from Expires on.
type Pin struct {
	QueryID  string
	Strategy Strategy
	Expires  time.Time
}

// PinCounts is the number of live pins per colour in a scope.
type PinCounts struct {
	Blue, Green int
}

// Of returns the count for colour s (0 for an invalid colour).
func (c PinCounts) Of(s Strategy) int {
	switch s {
	case Blue:
		return c.Blue
	case Green:
		return c.Green
	}
	return 0
}

// Total returns the number of live pins of both colours.
func (c PinCounts) Total() int { return c.Blue + c.Green }
