// Package inspect reads a scope's shared state straight from the store, for
// `e6coord status` and `e6coord events`: no coordinator runs and the engine
// is never called. A [Reader] reads the record and the pin counts and shows
// them as a [view.State]; [Reader.Follow] follows the store's pushes, and
// [Reader.WaitFor] waits for a colour to become active.
package inspect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/internal/view"
)

// Store is what a [Reader] needs of a store: the record, the pin counts,
// the store's clock and its pushes. The stores of cache/redis and
// cache/memory have them all.
type Store interface {
	Load(ctx context.Context, scope cache.Scope) (cache.State, error)
	Count(ctx context.Context, scope cache.Scope) (cache.PinCounts, error)
	cache.Clock
	cache.Watcher
}

// Options configures a [Reader]. Zero values mean the documented defaults.
type Options struct {
	// Scope names the engine whose state is read.
	Scope cache.Scope
	// Address is the store's address as shown in [view.Store.Address],
	// with its credentials already redacted. Default "".
	Address string
	// CacheTTL is how long an active colour is trusted after its last
	// confirmation, the fleet's (coordinator.Config.CacheTTL); past it the
	// state is stale by [cache.Stale] (and degraded). It must be positive.
	CacheTTL time.Duration
	// Logger receives WARN records for every failed attempt to reach the
	// store while following it, a failed count of a changed record's
	// pins and a record naming an invalid colour; an INFO record when a
	// subscription is lost, and a DEBUG one when it is made. Default: nil,
	// which discards.
	Logger *slog.Logger
	// Now returns the local time; the reader corrects it by its offset to
	// the store's clock, measured on every [Reader.Read], to judge the
	// record's times. Default: time.Now.
	Now func() time.Time
}

// Reader reads one scope's state from a store and keeps what it has seen
// of the store's health. Its methods must not be called concurrently.
type Reader struct {
	store Store
	opts  Options
	log   *slog.Logger

	health view.Store      // the store's state as this reader saw it
	pins   cache.PinCounts // the last pin counts read
	offset time.Duration   // the store's clock minus the local one
	last   view.State      // the last view returned or emitted
	// refusalLogged is set once Follow has logged the store's refusal at
	// Error, until another failure or an answer.
	refusalLogged bool
}

// NewReader returns a reader of store. It does no I/O. It panics if
// opts.CacheTTL is not positive.
func NewReader(store Store, opts Options) *Reader {
	if opts.CacheTTL <= 0 {
		panic(fmt.Sprintf("inspect: CacheTTL %v is not positive", opts.CacheTTL))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reader{store: store, opts: opts, log: log}
	r.health = view.Store{State: view.StoreUnknown, Address: opts.Address}
	return r
}

// Scope returns the scope the reader reads.
func (r *Reader) Scope() cache.Scope { return r.opts.Scope }

// Now returns the store's current time as the reader estimates it: the
// local clock corrected by the offset measured on the last successful
// [Reader.Read] (none before it).
func (r *Reader) Now() time.Time { return r.opts.Now().Add(r.offset) }

// Read reads the scope's record, its pins and the store's clock, in three
// round trips, and returns their view. A missing record is no error: the
// view then has generation 0 and status unknown. A record naming an
// invalid colour shows that colour as unknown, and is logged at Warn.
// When a call fails, Read returns the view of no record with the store
// unreachable (or denied, when it refused the credentials or a permission,
// or is a read-only replica) and the error, which wraps the store's.
func (r *Reader) Read(ctx context.Context) (view.State, error) {
	st, err := r.store.Load(ctx, r.opts.Scope)
	switch {
	case errors.Is(err, cache.ErrNotFound):
		st, err = cache.State{}, nil
	case errors.Is(err, cache.ErrInvalidStrategy):
		r.log.Warn("the record names an invalid colour; shown as unknown", "scope", r.opts.Scope.String(), "err", err)
		err = nil
	}
	if err != nil {
		return r.failed(fmt.Errorf("read the record: %w", err))
	}
	pins, err := r.store.Count(ctx, r.opts.Scope)
	if err != nil {
		return r.failed(fmt.Errorf("count the pins: %w", err))
	}
	before := r.opts.Now()
	storeNow, err := r.store.Time(ctx)
	if err != nil {
		return r.failed(fmt.Errorf("read the store's clock: %w", err))
	}
	after := r.opts.Now()
	r.offset = cache.ClockOffset(before, storeNow, after)
	r.pins = pins
	r.answered()
	return r.viewOf(st), nil
}

// changed returns the view of st, a record the store pushed, with the pins
// counted now. Should the count fail, the view keeps the pins last read
// and shows the store's failure.
func (r *Reader) changed(ctx context.Context, st cache.State) view.State {
	if pins, err := r.store.Count(ctx, r.opts.Scope); err != nil {
		r.noteFailure(err)
		r.log.Warn("count the pins of a changed record", "scope", r.opts.Scope.String(), "err", err)
	} else {
		r.pins = pins
		r.answered()
	}
	return r.viewOf(st)
}

// viewOf returns the view of record st with the pins and health last seen.
func (r *Reader) viewOf(st cache.State) view.State {
	r.last = view.Of(st, r.pins, r.health, cache.Stale(st, r.Now(), r.opts.CacheTTL))
	return r.last
}

// failed notes the failure err and returns the view of no record with it.
func (r *Reader) failed(err error) (view.State, error) {
	r.noteFailure(err)
	r.last = view.Of(cache.State{}, cache.PinCounts{}, r.health, false)
	return r.last, err
}

// answered notes that the store answered.
func (r *Reader) answered() {
	r.refusalLogged = false
	r.setState(view.StoreUp)
}

// noteFailure notes that a store call failed with err.
func (r *Reader) noteFailure(err error) {
	kind := cache.ErrorKind(err)
	r.health.LastErrorKind = kind
	if kind == "denied" || kind == "read-only" {
		r.setState(view.StoreDenied)
	} else {
		r.setState(view.StoreUnreachable)
	}
}

func (r *Reader) setState(s string) {
	if r.health.State == s {
		return
	}
	r.health.State = s
	now := r.opts.Now().UTC()
	r.health.StateSince = &now
}
