// Package coordinator is e6coord's state machine: it decides which colour a
// call to a blue-green engine carries, and keeps a fleet of processes in
// agreement about it through a [cache.Store].
//
// A [Coordinator] keeps a local snapshot of the shared record in an atomic
// pointer, so the colour for a call ([Coordinator.Strategy]) is one atomic
// load and a clock read: no lock, no store round trip. It detects the active
// colour when none is known (one process of the fleet probes, the others wait
// for its result), caches it for [Config.CacheTTL], records colours the engine
// announces as pending, switches once the engine accepts the pending colour
// (draining or eagerly, see [Policy]), pins queries to the colour they were
// prepared with, and recovers from rejections ([Coordinator.Do]).
//
// The coordinator knows nothing of gRPC or Redis: it talks to the engine only
// through a [ProbeFunc] that the client gives it, and to the fleet only
// through the store. When the store fails it keeps serving from its snapshot,
// reports itself degraded, and writes its record back when the store returns.
package coordinator
