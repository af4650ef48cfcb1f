// Package redis is a [cache.Store], [cache.Watcher] and [cache.Clock] over
// Redis, shared by every process of a fleet. It works with any
// [goredis.UniversalClient]: a single server, a primary that Redis
// Sentinel watches, Redis Cluster, a ring, or miniredis in tests. [Open]
// makes the client of a single server, of Sentinel or of a Cluster from a
// URL.
//
// # URLs
//
// [Open] takes a URL that names a single server, a primary that Redis
// Sentinel watches, or a Redis Cluster. A single server is a go-redis URL:
// redis://[user:password@]host[:port][/db], rediss:// for TLS, or
// unix://[user:password@]/path/to.sock, with the query parameters of
// [goredis.ParseURL] (db=, dial_timeout=, ...). Two more parameters
// configure TLS, with rediss:// only (and the rediss+ schemes below):
//
//	ca=<path>           a PEM file (at most 4 MiB) of the CAs that verify the server
//	server_name=<name>  the name to verify the certificate against
//
// A primary that Sentinel watches, through a [goredis.NewFailoverClient],
// which asks the sentinels for the primary's address and follows a
// failover:
//
//	redis+sentinel://[user:password@]host[:port][,host[:port]...]/master[/db][?...]
//
// The hosts are the sentinels' (port 26379 unless given), master the name
// they know the primary by, and user and password those of the primary
// and its replicas. The sentinels' own credentials, when they have some,
// are the parameters sentinel_username= and sentinel_password=. The other
// parameters are those of [goredis.ParseFailoverURL] (addr= adds a
// sentinel), except master_name, username and password, which the URL
// gives otherwise, and route_by_latency, route_randomly, replica_only and
// use_disconnected_replicas: the store reads what it writes, so it uses
// the primary alone.
//
// A Redis Cluster, through a [goredis.NewClusterClient], which learns the
// rest of the cluster from the nodes it is given:
//
//	redis+cluster://[user:password@]host[:port][,host[:port]...][/][?...]
//
// The hosts are some of the cluster's nodes (port 6379 unless given), and
// user and password those of every node. There is no database: a cluster
// has only database 0. The parameters are those of
// [goredis.ParseClusterURL] (addr= adds a node), except read_only,
// route_by_latency and route_randomly, which would read from replicas.
//
// rediss+sentinel:// and rediss+cluster:// use TLS to every server, each
// verified against its own host name (as the sentinels or the cluster
// name it), or against server_name= when it is given.
//
// Every form takes one more parameter, the key prefix of the store
// ([Options.Prefix]), so that tenants that share a Redis, each with an
// ACL on its own prefix, can say theirs in the URL alone:
//
//	prefix=<name>       1 to 64 ASCII letters, digits, '-', '_', '.' or ':'
//
// such as redis://tenant-a:password@redis.internal:6379/0?prefix=tenant-a.
// The name never holds a '{' or '}', which would move the hash tag of the
// keys, nor a character of an ACL key pattern ('*', '?', '[', ']', '\').
// Without it the prefix is Options.Prefix, by default "e6coord".
//
// # Keys
//
// Every key of a scope shares one hash tag, so that every script touches one
// slot and works on Redis Cluster:
//
//	<prefix>:{<tag>}:record       HASH  gen (decimal), data (JSON of the State)
//	<prefix>:{<tag>}:pins:blue    ZSET  query id, scored by its expiry (unix ms)
//	<prefix>:{<tag>}:pins:green   ZSET  likewise
//	<prefix>:{<tag>}:lease        HASH  holder, expires (unix ms)
//	<prefix>:{<tag>}:events       the pub/sub channel of the record (a shard
//	                              channel on Redis Cluster)
//	<prefix>:{<tag>}:events:heartbeat:<random>
//	                              the heartbeat channel of one watch
//
// Expiries are times of the server's clock (see below).
//
// The tag is the cluster name and the engine address, each with '%', '{',
// '}' and '/' escaped as %XX, joined by '/': two scopes never share a tag,
// and a tag never holds a brace.
//
// # Atomicity and time
//
// Every change is one Lua script, run with EVALSHA (EVAL when the server
// does not have it yet), so that a pin, a release or a swap costs one round
// trip. Leases (pins, probe leases) are judged by the server's clock alone:
// each of their scripts reads it with redis.call('TIME'), which Redis
// allows in a script that writes because it replicates scripts by their
// effects (always, from Redis 7), and the store passes lease lengths in
// milliseconds, never a time. The times the store returns about leases
// (Pin.Expires, how long a probe lease is still held for) are the
// server's too. So the clocks of the fleet's hosts may disagree by any
// amount without a host stealing a probe lease or purging a live pin: one
// clock judges them all. What does matter is a jump of the server's clock,
// and a failover to a replica whose clock differs from the old primary's,
// which shortens or lengthens the live leases by the difference. In tests,
// miniredis's clock is set with (*miniredis.Miniredis).SetTime; a real
// server's cannot be.
//
// The times of the shared record (ConfirmedAt and the others) are written
// by the processes, from their own clocks, and stored as given.
// [Store.Time] lends the server's clock (TIME) to a process that wants to
// stamp and judge them as the rest of the fleet does. Key
// expiries (PEXPIRE) serve only as garbage collection of abandoned scopes
// and are set well past the leases they hold.
//
// # Errors
//
// The errors of every method, Watch included, wrap [cache.ErrAccessDenied]
// when Redis refuses the credentials (WRONGPASS, NOAUTH, on the AUTH or
// HELLO of a new connection or later) or a permission (NOPERM: an ACL rule
// on a command, a key or a channel), and [cache.ErrReadOnly] (which
// matches cache.ErrAccessDenied too) when a read-only replica refuses a
// write (READONLY: the URL names a replica, not the primary), and then do
// not wrap the context's error: a refusal is a configuration error, which
// retrying does not mend, not a timeout. The clients of [Open] tell a
// replica on connecting, so that reads fail with cache.ErrReadOnly too. A call that does not finish within its deadline returns
// an error wrapping [context.DeadlineExceeded]. Errors never hold a
// password.
//
// # Events
//
// A successful CompareAndSwap publishes the new record on the scope's
// channel in the same script. [Store.Watch] subscribes to it, and to a
// heartbeat channel of its own on the same connection, and watches the
// subscription with a heartbeat that it publishes through the store's
// client, where the store writes: a subscription that does not hear it
// within [Options.HeartbeatTimeout], whether its connection went silent,
// as after a network drop, or it was left on a primary that a failover
// demoted, closes the watch channel. So an ACL must let the store's user
// publish and subscribe on both channels.
//
// On Redis Cluster (a [*goredis.ClusterClient]), the channel is a shard
// channel: the script publishes with SPUBLISH, and Watch subscribes with
// SSUBSCRIBE on the master that serves the scope's slot (see
// [Store.Watch]), so that a message goes to the nodes of that slot's shard
// at most, not to every node of the cluster as PUBLISH does. That needs Redis 7. On any other client the
// store uses PUBLISH and SUBSCRIBE, which Redis 6 and miniredis have too.
// Sharded and plain channels do not meet: the processes of a fleet that
// share a scope must all use a ClusterClient, or none.
package redis
