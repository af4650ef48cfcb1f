package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/e6coord/e6coord/cache"
)

// Defaults of [Options].
const (
	DefaultTimeout           = 250 * time.Millisecond
	DefaultHeartbeatInterval = 500 * time.Millisecond
	DefaultHeartbeatTimeout  = 1500 * time.Millisecond
)

// Options configures a [Store]. The zero value is ready to use.
type Options struct {
	// Prefix starts every key and channel name, so that tenants can share a
	// Redis with ACLs per prefix. It must not contain '{' or '}', which
	// would move the hash tag. Default: "e6coord".
	Prefix string

	// Timeout bounds every call to Redis, within the caller's context.
	// Default: 250ms.
	Timeout time.Duration

	// HeartbeatInterval is how often a watch publishes a heartbeat, through
	// the store's client, for its subscription to hear (see
	// [Store.Watch]). Default: 500ms.
	HeartbeatInterval time.Duration

	// HeartbeatTimeout is how long a watch's subscription may go without
	// hearing one of its heartbeats before it counts as lost and the watch
	// channel closes. Values not above HeartbeatInterval are raised to
	// three intervals. Default: 1.5s.
	HeartbeatTimeout time.Duration
}

// Store is a [cache.Store], [cache.Watcher] and [cache.Clock] over Redis.
// Create it with [New] or [Open]; it is safe for concurrent use by any
// number of goroutines and processes. Close it to end its watches.
type Store struct {
	c       goredis.UniversalClient
	owned   bool // Close closes c
	sharded bool // c is a ClusterClient: notifications use sharded pub/sub
	prefix  string
	// timeout, heartbeat and hbTimeout are Options.Timeout,
	// HeartbeatInterval and HeartbeatTimeout with defaults applied.
	timeout, heartbeat, hbTimeout time.Duration
	// clock is the time of the watches' heartbeats, and hook, when set,
	// hears what they do: both are for tests.
	clock clock
	hook  func(event string)

	// done is cancelled by Close; every watch goroutine stops with it.
	done   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // counts the watch goroutines

	// mu orders Watch's wg.Add before Close's wg.Wait: closed is set, and
	// tested by Watch, with mu held.
	mu     sync.Mutex
	closed atomic.Bool
}

var (
	_ cache.Store   = (*Store)(nil)
	_ cache.Watcher = (*Store)(nil)
	_ cache.Clock   = (*Store)(nil)
)

// New returns a store over c. It does no I/O and does not take ownership of
// c: Close leaves it open. When c is a [*goredis.ClusterClient], the store
// publishes and watches with sharded pub/sub (SPUBLISH, SSUBSCRIBE: Redis
// 7 or later), and otherwise with PUBLISH and SUBSCRIBE; it also asks c to
// reload its map of the cluster when a call gets no reply, so that the
// calls for a failed master's slots go to its replica once it has taken
// over.
//
// go-redis ignores context deadlines unless the client is made with
// ContextTimeoutEnabled: make c with it (as [Open] does), or calls are
// bounded by the client's read and write timeouts instead of
// [Options.Timeout].
func New(c goredis.UniversalClient, opts Options) *Store {
	_, sharded := c.(*goredis.ClusterClient)
	s := &Store{
		c:         c,
		sharded:   sharded,
		prefix:    opts.Prefix,
		timeout:   opts.Timeout,
		heartbeat: opts.HeartbeatInterval,
		hbTimeout: opts.HeartbeatTimeout,
		clock:     wallClock{},
	}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.heartbeat <= 0 {
		s.heartbeat = DefaultHeartbeatInterval
	}
	if s.hbTimeout <= 0 {
		s.hbTimeout = DefaultHeartbeatTimeout
	}
	if s.hbTimeout <= s.heartbeat {
		s.hbTimeout = 3 * s.heartbeat
	}
	s.done, s.cancel = context.WithCancel(context.Background())
	return s
}

// Client returns the Redis client of the store.
func (s *Store) Client() goredis.UniversalClient { return s.c }

// Close closes every watch channel and waits for the watch goroutines, then
// closes the client if [Open] made it. Every later call of a method, Close
// included, returns an error wrapping [cache.ErrClosed].
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return fmt.Errorf("redis: close: %w", cache.ErrClosed)
	}
	s.closed.Store(true)
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	if s.owned {
		if err := s.c.Close(); err != nil {
			return fmt.Errorf("redis: close client: %w", err)
		}
	}
	return nil
}

// Time implements [cache.Clock] with one TIME: it returns the server's
// clock, the one that judges leases, to the microsecond. With Redis Cluster
// or a ring, the client picks the node that answers, whose clock may differ
// from that of the node holding a scope's leases.
func (s *Store) Time(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, fmt.Errorf("redis: time: %w", err)
	}
	if s.closed.Load() {
		return time.Time{}, fmt.Errorf("redis: time: %w", cache.ErrClosed)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	t, err := s.c.Time(ctx).Result()
	if err != nil {
		s.refresh(err)
		return time.Time{}, fmt.Errorf("redis: time: %w", callError(ctx, err))
	}
	return t, nil
}

// begin starts a call named op on scope: it fails when ctx is done or the
// store is closed, and otherwise returns ctx bounded by the store's
// timeout.
func (s *Store) begin(ctx context.Context, op string, scope cache.Scope) (context.Context, context.CancelFunc, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("redis: %s %s: %w", op, scope, err)
	}
	if s.closed.Load() {
		return nil, nil, fmt.Errorf("redis: %s %s: %w", op, scope, cache.ErrClosed)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	return ctx, cancel, nil
}

// fail wraps err, an error of a call named op on scope made with ctx, as
// callError does, after asking for a refresh of the cluster's map.
func (s *Store) fail(ctx context.Context, op string, scope cache.Scope, err error) error {
	s.refresh(err)
	return fmt.Errorf("redis: %s %s: %w", op, scope, callError(ctx, err))
}

// refresh asks a ClusterClient to reload its map of the cluster (in the
// background, and at most every 200ms however often it is asked) after a
// call failed with no reply from Redis. go-redis reloads the map by itself
// on a MOVED reply, but otherwise only every minute, and a call to a
// master that is down gets no reply: without this, the calls for its
// slots would fail for up to a minute after its replica took over.
func (s *Store) refresh(err error) {
	cc, ok := s.c.(*goredis.ClusterClient)
	if !ok {
		return
	}
	var reply goredis.Error
	if errors.As(err, &reply) {
		return // Redis answered
	}
	cc.ReloadState(context.Background())
}

// callError returns err, an error of a call made with ctx, made to wrap
// cache.ErrAccessDenied when Redis refused the credentials or a permission
// the call needs, or cache.ErrReadOnly (which matches ErrAccessDenied too)
// when a read-only replica refused a write (and then nothing else: a
// refusal is an answer, not a timeout). Otherwise, when ctx is done, or its deadline has passed (the
// socket deadline may fire before the context's timer), the error wraps
// the context's error too, so that errors.Is(err,
// context.DeadlineExceeded) holds for a timeout.
func callError(ctx context.Context, err error) error {
	if errors.Is(err, cache.ErrReadOnly) {
		return err // a connection of Open's to a replica
	}
	if readOnly(err) {
		return fmt.Errorf("%w: %w", cache.ErrReadOnly, err)
	}
	if accessDenied(err) {
		return fmt.Errorf("%w: %w", cache.ErrAccessDenied, err)
	}
	return contextError(ctx, err)
}

// deniedPrefixes start the replies of Redis that refuse credentials
// (NOAUTH: none given; WRONGPASS: wrong user or password) or a permission
// (NOPERM: an ACL rule on a command, a key or a channel). Redis 7.0 gives
// an ACL refusal inside a script as "ERR The user executing the script
// can't ..."; later versions say NOPERM there too.
var deniedPrefixes = []string{"NOAUTH ", "WRONGPASS ", "NOPERM ", "ERR The user executing the script can't "}

// accessDenied reports whether err holds a reply of Redis that refuses
// credentials or a permission, however go-redis wrapped it (as it does the
// AUTH or HELLO of a new connection).
func accessDenied(err error) bool {
	var rerr goredis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	if goredis.IsAuthError(rerr) || goredis.IsPermissionError(rerr) {
		return true
	}
	msg := rerr.Error()
	for _, p := range deniedPrefixes {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// readOnly reports whether err holds the reply of a read-only replica to a
// write (READONLY), a configuration error: the URL names a replica.
func readOnly(err error) bool {
	var rerr goredis.Error
	return errors.As(err, &rerr) && strings.HasPrefix(rerr.Error(), "READONLY ")
}

// contextError returns err, made to wrap ctx's error too when ctx is done
// or its deadline has passed.
func contextError(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if cerr == nil {
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			cerr = context.DeadlineExceeded
		}
	}
	if cerr == nil || errors.Is(err, cerr) {
		return err
	}
	return fmt.Errorf("%w: %w", cerr, err)
}

// ms returns d in whole milliseconds, as the scripts take lease lengths:
// rounded down, so that a lease never outlives what was asked.
func ms(d time.Duration) int64 { return d.Milliseconds() }

// gcAfter returns how long, in milliseconds, a key holding a lease that
// ends in ttl is kept before it is garbage-collected: well past the lease,
// so that expiry by the store's clock always comes first.
func gcAfter(ttl time.Duration) int64 {
	return (2*ttl + time.Second).Milliseconds()
}
