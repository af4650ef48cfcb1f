// Package metrics exports a coordinator's state and counters to Prometheus.
//
// [NewCollector] returns a [prometheus.Collector] that reads a
// [coordinator.Coordinator]'s figures at every scrape (its Stats, Snapshot
// and Pins). [InstrumentStore] wraps a [cache.Store] to time every store
// call and count its failures by operation, for the same Collector. The
// package registers nothing and has no init: register the Collector on a
// registry of your own,
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(metrics.NewCollector(conn.Coordinator(), metrics.Options{}))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Every series exists from the first scrape, at zero until there is
// something to count (build_info is 1, and the store's state is unknown),
// so that rates and alerts need no special case for a process that has not
// switched yet.
// Labels take a fixed, small set of values: colour is blue or green, state
// one of the four store states, op one of the store operations below; no
// label carries a query id, a host or an error message.
//
// The series (counters end in _total; durations and times are in seconds):
//
//	| Metric | Labels | Type | Meaning |
//	| --- | --- | --- | --- |
//	| e6coord_build_info | version, goversion | gauge | Always 1; the labels give the e6coord module's version and the Go version. |
//	| e6coord_active_colour | colour | gauge | 1 for the active colour of the local record, 0 for the other; both 0 while none is known. |
//	| e6coord_pending_colour | colour | gauge | 1 for a colour the engine announced that is not active yet, 0 for the other. |
//	| e6coord_colour_trusted | | gauge | 1 while new calls carry the active colour without a detection; 0 while it is unknown, rejected or expired. |
//	| e6coord_generation | | gauge | Generation of the local record of the shared state; 0 for none. |
//	| e6coord_switches_total | from, to | counter | Changes of the active colour seen by this process (blue to green, green to blue). |
//	| e6coord_announcements_total | | counter | Colours announced by the engine that this process recorded as pending. |
//	| e6coord_rejections_total | colour | counter | Calls the engine rejected for their colour (456), by the colour they carried. |
//	| e6coord_probes_total | | counter | Probe calls made to the engine. |
//	| e6coord_replays_total | | counter | Queries replayed from prepare after a rejection (Options.Replays; 0 without it). |
//	| e6coord_invalid_colours_total | | counter | Colours that were neither blue nor green, from the engine or the store, ignored. |
//	| e6coord_detections_total | | counter | Detections of the active colour this process ran as the fleet's prober. |
//	| e6coord_refreshes_total | | counter | Re-confirmations of the active colour this process probed for the fleet before it expired. |
//	| e6coord_withdrawals_total | | counter | Pending colours dropped because the engine stopped announcing them. |
//	| e6coord_store_errors_total | op | counter | Failed store calls, by operation (instrumented store); op="all" when the store is not instrumented. |
//	| e6coord_store_up | | gauge | 1 while the store is up: it answered the first call, or, after a failure, the coordinator reached it again and settled with it; else 0. |
//	| e6coord_store_state | state | gauge | 1 for the store's state as last seen (unknown, up, unreachable, denied), 0 for the others. |
//	| e6coord_degraded | | gauge | 1 from a failed store call until the coordinator has settled with the store again: the process serves from its local record. |
//	| e6coord_subscription_denied | | gauge | 1 while the store refuses the change subscription and the record is polled instead. |
//	| e6coord_subscription_reconnects_total | | counter | Change subscriptions made after the first, after the store's pushes were lost. |
//	| e6coord_last_message_timestamp_seconds | | gauge | When the change subscription last delivered a record (Unix time); 0 for never. |
//	| e6coord_pins_in_flight | colour | gauge | Queries pinned to each colour: the fleet's with Options.Pins, else this process's. |
//	| e6coord_adoption_lag_seconds | | histogram | Time from a record's commit by another process to its adoption here, by the fleet's clock. |
//	| e6coord_store_command_duration_seconds | op | histogram | Duration of store calls, by operation (instrumented store); no observations otherwise. |
//
// The values of op are load, swap (compare-and-swap of the record),
// write_pins (a batch of pins and releases), lookup, renew, count,
// acquire_lease and release_lease (the
// probe lease), watch (the subscription to changes) and time (a read of
// the store's clock).
//
// Without an instrumented store, e6coord_store_errors_total{op="all"} is
// the coordinator's own count of failed store calls. With one, the series
// by op count every failed call through the store, whichever coordinator
// made it; answers (not found, lost compare-and-swap, lease held) and calls
// the caller cancelled are not failures.
package metrics
