// Package client talks to an e6data engine that is deployed blue-green, and
// never fails a query because the engine switched colour.
//
// [Open] returns a [Conn]: a gRPC connection, lazily authenticated, that
// runs queries ([Conn.Query], [Conn.Exec]) and catalog calls through a
// [coordinator.Coordinator]. The coordinator shares the engine's colour
// with every other process of the fleet through a store: in-process memory
// by default, Redis with [Config].RedisURL.
//
// # Through a switch
//
//   - Every call carries the live colour in its strategy header.
//   - A query carries the colour it was prepared with until its rows are
//     closed, and is pinned to it for the fleet.
//   - A colour the engine announces in new_strategy is recorded for the
//     fleet.
//   - A call rejected with 456 is made again on the new colour. A query
//     whose rows have not reached the caller (up to [Config].PrefetchBytes
//     of them) is replayed on the new colour. Past that point the caller
//     gets a [*StrategyError].
//   - Once the engine rejects a colour, it serves none of that colour's
//     queries: the process ends its other queries of that colour without
//     sending their next call, and replays those it can. However many
//     queries were under way, a process pays one 456 per switch.
//   - A cluster that answers 503 (suspended or starting) is resumed
//     through ClusterService, once for the fleet, unless [Config].NoResume
//     is set.
//
// Users with their own generated stubs can use [UnaryInterceptor] alone on
// any grpc.ClientConn.
package client
