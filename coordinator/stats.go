package coordinator

import "sync/atomic"

// Stats counts what a coordinator did and saw since it was made.
type Stats struct {
	Probes            uint64 // probe calls made to the engine
	Detections        uint64 // detections this process ran as the fleet's prober
	WrongStrategy     uint64 // rejections (456) reported by callers
	Announcements     uint64 // pending colours this process recorded
	Switches          uint64 // changes of the active colour seen by this process
	InvalidStrategies uint64 // invalid colours ignored, from the engine or the store
	Refreshes         uint64 // early re-confirmations this process ran for the fleet
	Withdrawn         uint64 // pending colours this process dropped as no longer announced
	StoreErrors       uint64 // failed store calls
	Degraded          bool   // the store failed and has not answered since; serving from the snapshot

	// Store is the store's health as last seen, and StoreReached whether
	// any store call has succeeded since New: a store that refuses access
	// from the start is StoreDenied and never reached.
	Store        StoreState
	StoreReached bool
	// WatchDenied is set while the store refuses the change subscription
	// although its commands may work; the record is polled meanwhile.
	WatchDenied bool
}

// counters are the live counters behind [Stats].
type counters struct {
	probes, detections, wrongStrategy, announcements, switches, invalid, storeErrors atomic.Uint64
	refreshes, withdrawn                                                             atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (c *Coordinator) Stats() Stats {
	return Stats{
		Probes:            c.stats.probes.Load(),
		Detections:        c.stats.detections.Load(),
		WrongStrategy:     c.stats.wrongStrategy.Load(),
		Announcements:     c.stats.announcements.Load(),
		Switches:          c.stats.switches.Load(),
		InvalidStrategies: c.stats.invalid.Load(),
		Refreshes:         c.stats.refreshes.Load(),
		Withdrawn:         c.stats.withdrawn.Load(),
		StoreErrors:       c.stats.storeErrors.Load(),
		Degraded:          c.degraded.Load(),
		Store:             StoreState(c.health.state.Load()),
		StoreReached:      c.health.reached.Load(),
		WatchDenied:       c.health.watchDenied.Load(),
	}
}
