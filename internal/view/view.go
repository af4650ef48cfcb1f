// Package view is the form in which e6coord's commands show a scope's
// shared state: the JSON of the daemon's /v1/state, of `e6coord status -o
// json` and of `e6coord events -o json`, and their one-line text. It holds
// no secret: the store's address is redacted by whoever fills it in.
package view

import (
	"fmt"
	"strings"
	"time"

	"github.com/e6coord/e6coord/cache"
)

// Statuses of a State.
const (
	Healthy  = "healthy"  // the store answers and the active colour is known and fresh
	Degraded = "degraded" // the store is unreachable or refuses access, or the colour is stale
	Unknown  = "unknown"  // no active colour is known
)

// State is a scope's shared state as shown to operators.
type State struct {
	Status      string     `json:"status"`       // Healthy, Degraded or Unknown
	Active      string     `json:"active"`       // "blue", "green" or "" when unknown
	Pending     string     `json:"pending"`      // likewise; "" when no switch is pending
	Generation  uint64     `json:"generation"`   // the record's generation; 0 for no record
	ConfirmedAt *time.Time `json:"confirmed_at"` // when the active colour was last confirmed; null for never
	ChangedAt   *time.Time `json:"changed_at"`   // when the record last changed; null for never
	ChangedBy   string     `json:"changed_by"`   // the process that changed it
	Cluster     string     `json:"cluster"`      // the engine cluster's state as last recorded: active, resuming, failed...; "" unknown
	Pins        Pins       `json:"pins"`         // the fleet's in-flight queries per colour
	Store       Store      `json:"store"`
}

// The states of a [Store], the names of coordinator.StoreState.
const (
	StoreUnknown     = "unknown"     // no store call has finished yet
	StoreUp          = "up"          // the store answers, and the coordinator has settled with it since any failure
	StoreUnreachable = "unreachable" // a store call failed
	StoreDenied      = "denied"      // the store refused access or is a read-only replica
)

// Pins counts in-flight queries per colour.
type Pins struct {
	Blue  int `json:"blue"`
	Green int `json:"green"`
}

// Store is what is known of the store.
type Store struct {
	State         string     `json:"state"`           // StoreUnknown, StoreUp, StoreUnreachable or StoreDenied
	StateSince    *time.Time `json:"state_since"`     // when it became so; null when unknown
	LastErrorKind string     `json:"last_error_kind"` // timeout, denied, read-only, error, or "" for none
	Address       string     `json:"address"`         // with credentials redacted; "memory" for none
}

// Of returns the view of record st with the fleet's pins and the store's
// state. stale says whether the active colour is stale by [cache.Stale].
func Of(st cache.State, pins cache.PinCounts, store Store, stale bool) State {
	v := State{
		Active:      colour(st.Active),
		Pending:     colour(st.Pending),
		Generation:  st.Generation,
		ConfirmedAt: timeOrNil(st.ConfirmedAt),
		ChangedAt:   timeOrNil(st.ChangedAt),
		ChangedBy:   st.ChangedBy,
		Cluster:     string(st.Cluster),
		Pins:        Pins{Blue: pins.Blue, Green: pins.Green},
		Store:       store,
	}
	switch {
	case !st.Active.Valid():
		v.Status = Unknown
	case store.State != StoreUp || stale:
		v.Status = Degraded
	default:
		v.Status = Healthy
	}
	return v
}

// Text returns v on one line, for `-o text`:
// "healthy active=blue pending=- gen=4 confirmed 12s ago pins blue=3 green=0 store up".
func (v State) Text(now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s active=%s pending=%s gen=%d", v.Status, dash(v.Active), dash(v.Pending), v.Generation)
	if v.ConfirmedAt != nil {
		fmt.Fprintf(&b, " confirmed %s ago", now.Sub(*v.ConfirmedAt).Round(time.Second))
	}
	if v.Cluster != "" {
		fmt.Fprintf(&b, " cluster=%s", v.Cluster)
	}
	fmt.Fprintf(&b, " pins blue=%d green=%d store %s", v.Pins.Blue, v.Pins.Green, v.Store.State)
	if v.Store.LastErrorKind != "" && v.Store.State != StoreUp {
		fmt.Fprintf(&b, " (%s)", v.Store.LastErrorKind)
	}
	return b.String()
}

func colour(s cache.Strategy) string {
	if s.Valid() {
		return s.String()
	}
	return ""
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
