// Package redis is a [cache.Store] and [cache.Watcher] over Redis, shared by
// every process of a fleet. It works with any [goredis.UniversalClient]: a
// single server, Redis Cluster, a ring, or miniredis in tests.
//
// # Keys
//
// Every key of a scope shares one hash tag, so that every script touches one
// slot and works on Redis Cluster:
//
//	<prefix>:{<tag>}:record       HASH  gen (decimal), data (JSON of the State)
//	<prefix>:{<tag>}:pins:blue    ZSET  query id, scored by its expiry (unix ms)
//	<prefix>:{<tag>}:pins:green   ZSET  likewise
//	<prefix>:{<tag>}:pincolour    HASH  query id → "blue" | "green"
//	<prefix>:{<tag>}:lease        HASH  holder, expires (unix ms)
//	<prefix>:{<tag>}:events       the pub/sub channel of the record
//
// The tag is the cluster name and the engine address, each with '%', '{',
// '}' and '/' escaped as %XX, joined by '/': two scopes never share a tag,
// and a tag never holds a brace.
//
// # Atomicity and time
//
// Every change is one Lua script, run with EVALSHA (EVAL when the server
// does not have it yet), so that a pin, a release or a swap costs one round
// trip. Lease times (pins, probe leases) are compared with the store's
// clock, [Options.Now], passed to the scripts in milliseconds: the server's
// clock is never used, so a fake clock works on miniredis and on a real
// server alike. Key expiries (PEXPIRE) serve only as garbage collection of
// abandoned scopes and are set well past the leases they hold.
//
// # Events
//
// A successful CompareAndSwap publishes the new record on the scope's
// channel in the same script. [Store.Watch] subscribes to it and watches the
// subscription with a heartbeat: a connection that goes silent, as after a
// network drop, closes the watch channel within [Options.HeartbeatTimeout].
package redis
