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
	StoreErrors       uint64 // failed store calls
	Degraded          bool   // the store is unreachable; serving from the snapshot
}

// counters are the live counters behind [Stats].
type counters struct {
	probes, detections, wrongStrategy, announcements, switches, invalid, storeErrors atomic.Uint64
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
		StoreErrors:       c.stats.storeErrors.Load(),
		Degraded:          c.degraded.Load(),
	}
}
