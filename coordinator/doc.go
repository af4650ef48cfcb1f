// Package coordinator is e6coord's state machine: it decides which colour a
// call to a blue-green engine carries, and keeps a fleet of processes in
// agreement about it through a [cache.Store].
//
// # The colour of a call
//
// A [Coordinator] keeps a local snapshot of the shared record in an atomic
// pointer. The colour for a call ([Coordinator.Strategy]) is one atomic
// load: no lock, no clock read, no store round trip.
//
// # One probe per change, for the fleet
//
// When no colour is known (at start, or after a rejection), one process of
// the fleet takes the probe lease and probes the engine; the others wait
// for its result in the shared record. The colour is trusted for
// [Config.CacheTTL] after it was confirmed, and re-confirmed in the
// background [Config.RefreshAhead] before then, by the first process whose
// turn comes, so no call waits on a probe while the engine keeps accepting
// the colour. A colour is stale, for every reader of the record, by one
// rule: [cache.Stale].
//
// # Switches
//
// A colour the engine announces ([Coordinator.Announce]) is recorded as
// pending for the fleet, and one process probes it. The [Policy] says when
// new queries move to it once the engine accepts it: at once ([Eager]), or
// once no query pinned to the old colour remains in the fleet ([Drain]).
// Queries already running finish on their colour under either. A pending
// colour the engine stops announcing is dropped after [Config.PendingTTL].
//
// # Pins
//
// A query is pinned to the colour it was prepared with ([Coordinator.Pin])
// until it is released ([Coordinator.Release]). Neither waits on the store:
// one goroutine per process writes the pins and releases in batches, one
// store call each. In steady state a batch goes with the renewal of the
// pins held, every [Config.PinTTL]/3, so a query that no renewal finds
// running costs the store nothing. A switch beginning (a new pending
// colour, or a new active one) writes the batch at once; while it is
// pending, and for the pins of the colour it left, batches go every
// [Config.PinDelay], so that the fleet, a Drain switch and an engine
// draining the old colour see those queries start and end promptly. A
// process needs one store connection for its pins however many queries
// run. Pins are leases of [Config.PinTTL], renewed while held, so a
// crashed process's pins expire.
//
// # Rejections
//
// [Coordinator.Do] runs a call on the current colour and, when the engine
// rejects the colour (456), invalidates it, learns the new one (one probe
// for the fleet) and runs the call again, up to [Config.MaxAttempts]
// attempts. The call's error says whether to retry ([Retry]) or stop
// ([Stop]).
//
// # Suspended clusters
//
// With [Config].Cluster set, a cluster that answers 503 (suspended or
// starting) is resumed once for the fleet: the process holding the probe
// lease asks its status, resumes it if it is suspended, and polls until it
// is active or failed, recording each state in the shared record. The
// others wait for that record. A failed resume, or one that outlasts
// [Config.ResumeTimeout], reaches every waiting caller as a
// [*ResumeError].
//
// # Clocks
//
// Leases are judged by the store's clock. The times of the shared record
// are stamped and judged by each process's estimate of the store's clock
// ([Config.Now], [cache.ClockOffset]), so hosts whose clocks disagree
// agree on them.
//
// # Store trouble
//
// The coordinator knows nothing of gRPC or Redis: it talks to the engine
// only through a [ProbeFunc] that the client gives it, and to the fleet
// only through the store. A store failure never fails a call. The
// coordinator keeps serving from its snapshot and reports the store's
// state ([StoreUnreachable]). When the store answers again, it settles its
// record with the store's: it adopts a newer stored record, and writes the
// newest record back above the stored generation to a store that went back
// (a failover that lost writes). A store that refuses access is a
// configuration error, reported as [StoreDenied]; calls go on all the same.
package coordinator
