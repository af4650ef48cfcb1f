package coordinator

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/e6coord/e6coord/cache"
)

// StoreState is what a coordinator knows of its store's health.
type StoreState int32

const (
	// StoreUnknown means no store call has finished yet.
	StoreUnknown StoreState = iota
	// StoreUp means the store answers: the first store call answered, or,
	// after a failure, the coordinator reached the store again and settled
	// its record and pins with it.
	StoreUp
	// StoreUnreachable means a store call failed (a timeout, a refused
	// connection): the coordinator is degraded, serves from its local
	// record and tries the store again with backoff, until it has settled
	// with it (StoreUp).
	StoreUnreachable
	// StoreDenied means the store refused the credentials or a permission
	// ([cache.ErrAccessDenied]), or is a read-only replica
	// ([cache.ErrReadOnly]): a configuration error, logged at Error.
	// The coordinator serves from its local record as when the store is
	// unreachable, and tries again less often.
	StoreDenied
)

// String returns "unknown", "up", "unreachable" or "denied".
func (s StoreState) String() string {
	switch s {
	case StoreUnknown:
		return "unknown"
	case StoreUp:
		return "up"
	case StoreUnreachable:
		return "unreachable"
	case StoreDenied:
		return "denied"
	}
	return fmt.Sprintf("StoreState(%d)", int32(s))
}

// storeHealth tracks the store's state for Stats and the logs.
type storeHealth struct {
	// state is the store's health, one word for every reader: while it is
	// StoreUnreachable or StoreDenied the coordinator is degraded (see
	// Coordinator.degraded), until recoverStore has settled with the store
	// and made it StoreUp; a store call that answers meanwhile does not.
	state   atomic.Int32 // a StoreState
	since   atomic.Int64 // when state last changed, unix nanoseconds of Config.Now
	reached atomic.Bool  // some store call has answered since New
	// answered counts the store calls that answered: a watch that fails
	// while others answer is not an outage.
	answered atomic.Uint64
	lastErr  atomic.Int32 // the kind of the last failure: one of errorKinds' indexes
	// watchDenied is set while the store refuses the change subscription
	// (an ACL without the channel) although commands work.
	watchDenied atomic.Bool
	// deniedLogged is when an access-denied error was last logged (unix
	// nanoseconds of Config.Now): at most one Error record per
	// deniedLogEvery.
	deniedLogged atomic.Int64
}

// deniedLogEvery rate-limits the Error records of a store that refuses
// access.
const deniedLogEvery = time.Minute

// maxDeniedBackoff caps the wait between attempts to reach a store that
// refused access, and between attempts to subscribe when the subscription
// is refused: waiting does not mend configuration.
const maxDeniedBackoff = 5 * time.Second

// unwatchedRefresh caps the refresh interval while the store refuses the
// change subscription: the record is polled instead.
const unwatchedRefresh = time.Second

// setStoreState makes s the store's state, and returns the state before.
func (c *Coordinator) setStoreState(s StoreState) StoreState {
	old := StoreState(c.health.state.Swap(int32(s)))
	if old != s {
		c.health.since.Store(c.cfg.Now().UnixNano())
	}
	return old
}

// degraded reports whether the store failed and the coordinator has not
// settled with it since: it serves from its local record.
func (c *Coordinator) degraded() bool { return StoreState(c.health.state.Load()).degraded() }

// degraded reports whether s is a state of a store that failed.
func (s StoreState) degraded() bool { return s == StoreUnreachable || s == StoreDenied }

// errorKinds name the kinds of store failure in Stats.LastStoreError:
// those of [cache.ErrorKind].
var errorKinds = [...]string{"", "timeout", "denied", "error", "read-only"}

// noteError records the kind of a store failure.
func (h *storeHealth) noteError(err error) {
	i := slices.Index(errorKinds[:], cache.ErrorKind(err))
	if i < 0 {
		i = slices.Index(errorKinds[:], "error") // a kind this list lacks
	}
	h.lastErr.Store(int32(i))
}

func (h *storeHealth) lastError() string { return errorKinds[h.lastErr.Load()] }

// storeAnswered notes that a store call succeeded. It makes the state
// StoreUp only from StoreUnknown: a store that failed is up again once
// recoverStore has settled with it.
func (c *Coordinator) storeAnswered() {
	c.health.answered.Add(1)
	if !c.health.reached.Load() {
		c.health.reached.Store(true)
	}
	if c.health.state.CompareAndSwap(int32(StoreUnknown), int32(StoreUp)) {
		c.health.since.Store(c.cfg.Now().UnixNano())
	}
}

// storeFailed counts a failed store call and enters degraded mode. A
// refused credential or permission is logged at Error, at most once per
// deniedLogEvery; other failures at Warn when degraded mode begins.
func (c *Coordinator) storeFailed(op string, err error) {
	c.stats.storeErrors.Add(1)
	c.health.noteError(err)
	denied := errors.Is(err, cache.ErrAccessDenied)
	next := StoreUnreachable
	if denied {
		next = StoreDenied
	}
	was := c.setStoreState(next)
	if denied {
		c.logDenied(op, err)
	}
	if !was.degraded() {
		if !denied {
			c.log.Warn("store unreachable; serving from the local record", "op", op, "err", err)
		}
		c.poke()
	}
}

// logDenied logs a refused credential or permission, or a write refused
// by a read-only replica, at Error, unless one was logged within
// deniedLogEvery.
func (c *Coordinator) logDenied(op string, err error) {
	now := c.cfg.Now().UnixNano()
	last := c.health.deniedLogged.Load()
	if last != 0 && now-last < int64(deniedLogEvery) || !c.health.deniedLogged.CompareAndSwap(last, now) {
		return
	}
	if errors.Is(err, cache.ErrReadOnly) {
		c.log.Error("store is a read-only replica: point the Redis URL at the primary; queries go on uncoordinated",
			"op", op, "err", err)
		return
	}
	c.log.Error("store refused access: check its credentials and ACL; queries go on uncoordinated",
		"op", op, "err", err)
}

// watchRefused notes that the store refused the change subscription while
// commands may work: the coordinator polls the record instead, and does not
// enter degraded mode for it.
func (c *Coordinator) watchRefused(err error) {
	c.stats.storeErrors.Add(1)
	c.health.noteError(err)
	if !c.health.watchDenied.Swap(true) {
		c.poke() // poll faster
	}
	c.logDenied("watch", err)
}
