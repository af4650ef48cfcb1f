// Package client talks to an e6data engine that is deployed blue-green, and
// never fails a query because the engine switched colour.
//
// [Open] returns a [Conn]: a gRPC connection, lazily authenticated, that
// runs queries ([Conn.Query], [Conn.Exec]) and catalog calls through a
// [coordinator.Coordinator], which shares the engine's colour with every
// other process of the fleet through a store (in-process memory by default).
// Every call carries the live colour in its strategy header; every query
// carries the colour it was prepared with until its rows are closed; colours
// the engine announces in new_strategy are recorded for the fleet; a call
// rejected with 456 is retried, and a query whose rows have not reached the
// caller is replayed on the new colour. A cluster that answers 503
// (suspended or starting) is resumed through ClusterService, once for the
// fleet, unless [Config].NoResume is set.
//
// Users with their own generated stubs can use [UnaryInterceptor] alone on
// any grpc.ClientConn.
package client
