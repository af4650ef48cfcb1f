package coordinator

import (
	"sync/atomic"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/coordinator/internal/hist"
)

// Stats counts what a coordinator did and saw since it was made.
type Stats struct {
	Probes        uint64 // probe calls made to the engine
	Detections    uint64 // detections this process ran as the fleet's prober
	WrongStrategy uint64 // rejections (456) reported by callers, of either colour
	// WrongStrategyOf counts the rejections by the colour the call carried:
	// blue and green.
	WrongStrategyOf map[cache.Strategy]uint64
	Announcements   uint64 // pending colours this process recorded
	Switches        uint64 // changes of the active colour seen by this process
	// SwitchesTo counts the switches by the colour switched to, blue and
	// green; each came from the other colour.
	SwitchesTo        map[cache.Strategy]uint64
	InvalidStrategies uint64 // invalid colours ignored, from the engine or the store
	Refreshes         uint64 // re-confirmations ahead of expiry (and Confirm calls) that probed for the fleet
	Withdrawn         uint64 // pending colours this process dropped as no longer announced
	Resumes           uint64 // resume calls this process made for the fleet
	StoreErrors       uint64 // failed store calls
	Degraded          bool   // Store is StoreUnreachable or StoreDenied: serving from the snapshot

	// Store is the store's health as last seen, StoreSince when it became
	// so (zero while unknown), and StoreReached whether any store call has
	// succeeded since New: a store that refuses access from the start is
	// StoreDenied and never reached. LastStoreError is the kind of the last
	// failure: "timeout", "denied", "read-only" (a read-only replica
	// refused a write) or "error"; "" for none.
	Store          StoreState
	StoreSince     time.Time
	StoreReached   bool
	LastStoreError string
	// WatchDenied is set while the store refuses the change subscription
	// although its commands may work; the record is polled meanwhile.
	WatchDenied bool
	// Resubscribes counts the change subscriptions made after the first
	// (the store's pushes were lost and resumed), and LastMessage is when
	// the subscription last delivered a record (zero for never).
	Resubscribes uint64
	LastMessage  time.Time

	// AdoptLag is the time from a record's commit by another process to
	// its adoption here, by the fleet's clock.
	AdoptLag Histogram

	// Cluster is the engine cluster's state as the shared record last
	// says (see Config.Cluster); ClusterUnknown until a resume recorded one.
	Cluster cache.ClusterState
}

// Histogram is a distribution of durations in seconds over fixed buckets.
type Histogram struct {
	// Bounds are the buckets' upper bounds, increasing; Counts[i] counts
	// the observations at most Bounds[i] and above Bounds[i-1], and the
	// last element of Counts, one more than Bounds, those above them all.
	Bounds []float64
	Counts []uint64
	Count  uint64  // the observations
	Sum    float64 // their sum, in seconds
}

// adoptLagBounds are the buckets of Stats.AdoptLag, in seconds.
var adoptLagBounds = []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// counters are the live counters behind [Stats].
type counters struct {
	probes, detections, announcements, invalid, storeErrors atomic.Uint64
	refreshes, withdrawn, resubscribes, resumes             atomic.Uint64
	wrongStrategy, switchesTo                               [3]atomic.Uint64
	lastMessage                                             atomic.Int64    // unix nanoseconds of Config.Now
	adoptLag                                                *hist.Durations // over adoptLagBounds; set by New
}

// Stats returns a snapshot of the counters.
func (c *Coordinator) Stats() Stats {
	store := StoreState(c.health.state.Load())
	st := Stats{
		Probes:            c.stats.probes.Load(),
		Detections:        c.stats.detections.Load(),
		Announcements:     c.stats.announcements.Load(),
		InvalidStrategies: c.stats.invalid.Load(),
		Refreshes:         c.stats.refreshes.Load(),
		Withdrawn:         c.stats.withdrawn.Load(),
		Resumes:           c.stats.resumes.Load(),
		StoreErrors:       c.stats.storeErrors.Load(),
		Degraded:          store.degraded(),
		Store:             store,
		StoreSince:        unixTime(c.health.since.Load()),
		StoreReached:      c.health.reached.Load(),
		LastStoreError:    c.health.lastError(),
		WatchDenied:       c.health.watchDenied.Load(),
		Resubscribes:      c.stats.resubscribes.Load(),
		LastMessage:       unixTime(c.stats.lastMessage.Load()),
		AdoptLag:          histogram(c.stats.adoptLag),
		Cluster:           c.Snapshot().Cluster,
		WrongStrategyOf:   make(map[cache.Strategy]uint64, len(cache.Strategies)),
		SwitchesTo:        make(map[cache.Strategy]uint64, len(cache.Strategies)),
	}
	for _, s := range cache.Strategies {
		st.WrongStrategyOf[s] = c.stats.wrongStrategy[s].Load()
		st.WrongStrategy += st.WrongStrategyOf[s]
		st.SwitchesTo[s] = c.stats.switchesTo[s].Load()
		st.Switches += st.SwitchesTo[s]
	}
	return st
}

// histogram returns the snapshot of h.
func histogram(h *hist.Durations) Histogram {
	bounds, counts, sum := h.Snapshot()
	return Histogram{Bounds: bounds, Counts: counts, Count: h.Count(), Sum: sum}
}

// unixTime returns the time of unix nanoseconds n, or the zero time for 0.
func unixTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
