// Package coordinator is e6coord's state machine: it decides which colour a
// call to a blue-green engine carries, and keeps a fleet of processes in
// agreement about it through a [cache.Store].
//
// A [Coordinator] keeps a local snapshot of the shared record in an atomic
// pointer, so the colour for a call ([Coordinator.Strategy]) is one atomic
// load: no lock, no clock read, no store round trip. It detects the active
// colour when none is known (one process of the fleet probes, the others wait
// for its result), caches it for [Config.CacheTTL] and re-confirms it in the
// background before then (one process for the fleet), records colours the
// engine announces as pending and drops them when the engine stops announcing
// them, switches once the engine accepts the pending colour (eagerly or
// draining, see [Policy]), pins queries to the colour they were prepared
// with (in the background: one goroutine writes the pins and releases made
// meanwhile in one store call each, so no query waits on the store and a
// process needs one store connection for them), recovers from rejections ([Coordinator.Do]), and resumes a
// suspended cluster once for the fleet ([Config].Cluster).
//
// Leases are judged by the store's clock, and the times of the shared
// record are stamped and judged by the store's clock as each process
// estimates it ([Config.Now]), so hosts whose clocks disagree agree on them.
//
// The coordinator knows nothing of gRPC or Redis: it talks to the engine only
// through a [ProbeFunc] that the client gives it, and to the fleet only
// through the store. When the store fails it keeps serving from its snapshot,
// reports itself degraded, and settles its record with the store's when the
// store returns: a newer stored record is adopted, and a store that went
// back (a failover that lost writes) gets the newest record written back
// above its generation. A store that refuses access is a configuration
// error, reported as [StoreDenied]; queries go on all the same.
package coordinator
