package coordinator

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/e6coord/e6coord/cache"
)

// Coordinator decides the colour of every call to one engine and shares it
// with the fleet through a store. It is safe for concurrent use. Make one
// with [New] per engine and process, and Close it when done.
type Coordinator struct {
	cfg   Config
	store cache.Store
	probe ProbeFunc
	log   *slog.Logger

	snap     atomic.Pointer[snapshot] // the local view; replaced, never mutated
	degraded atomic.Bool              // the store failed and has not answered since
	stats    counters
	group    singleflight.Group // one detection at a time per process

	// notifyMu serialises reports of changes, so OnChange sees them in
	// generation order. It is taken before mu, never after.
	notifyMu sync.Mutex

	mu      sync.Mutex                // guards the fields below and replacing snap
	closed  bool                      // Close has begun; no new background work
	pins    map[string]cache.Strategy // pins this process holds
	changed chan struct{}             // closed and replaced when snap changes
	// releasedOffline lists pins released while the store was unreachable.
	releasedOffline []string

	announced chan cache.Strategy // latest announced colour for the loop; buffer 1
	drained   chan struct{}       // an old-colour pin went away during a drain; buffer 1
	wake      chan struct{}       // the loop's timing may have changed; buffer 1
	probing   chan struct{}       // held with the probe lease: one prober per process too; buffer 1

	// storeGen is the generation last read from or written to the store:
	// on recovery it tells whether the fleet moved on meanwhile.
	storeGen atomic.Uint64

	ctx    context.Context // cancelled by Close; parent of background work
	cancel context.CancelFunc
	wg     sync.WaitGroup // background goroutines
}

// snapshot is the local view of the shared record.
type snapshot struct {
	state cache.State
	// rejected is set when a call or probe with state.Active was rejected
	// after state.ConfirmedAt: the colour must be detected again.
	rejected bool
	// expires is when state.Active stops being trusted without a new
	// confirmation: ConfirmedAt + CacheTTL.
	expires time.Time
}

// New returns a coordinator for the engine of cfg.Scope that shares its
// state through store and asks the engine through probe. It does no I/O: the
// store and the engine are first used by the first call that needs them.
// It starts background goroutines (change watch, refresh, pin renewal) that
// Close stops. It returns an error only for impossible configuration.
func New(store cache.Store, probe ProbeFunc, cfg Config) (*Coordinator, error) {
	if store == nil {
		return nil, fmt.Errorf("coordinator: nil store")
	}
	if probe == nil {
		return nil, fmt.Errorf("coordinator: nil probe function")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Coordinator{
		cfg:       cfg,
		store:     store,
		probe:     probe,
		log:       cfg.Logger.With("scope", cfg.Scope.String()),
		pins:      make(map[string]cache.Strategy),
		changed:   make(chan struct{}),
		announced: make(chan cache.Strategy, 1),
		drained:   make(chan struct{}, 1),
		wake:      make(chan struct{}, 1),
		probing:   make(chan struct{}, 1),
		ctx:       ctx,
		cancel:    cancel,
	}
	c.snap.Store(&snapshot{})
	c.wg.Add(2)
	go c.loop()
	go c.renewLoop()
	if w, ok := store.(cache.Watcher); ok {
		c.wg.Add(1)
		go c.watchLoop(w)
	}
	return c, nil
}

// Close stops the background work, waits for it, and releases the pins this
// process still holds (best effort, bounded by StoreTimeout). It does not
// close the store. Calls after Close fail with ErrClosed.
func (c *Coordinator) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.wg.Wait()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	c.mu.Lock()
	ids := make([]string, 0, len(c.pins))
	for id := range c.pins {
		ids = append(ids, id)
	}
	clear(c.pins)
	c.mu.Unlock()
	for _, id := range ids {
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.StoreTimeout)
		_, _ = c.store.Release(ctx, c.cfg.Scope, id)
		cancel()
	}
	return nil
}

// track registers background work that Close must wait for. It reports
// false, registering nothing, once Close has begun.
func (c *Coordinator) track() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	return true
}

// Config returns the configuration in force, defaults filled in.
func (c *Coordinator) Config() Config { return c.cfg }

// Strategy returns the colour a new call carries now, or cache.Unknown when
// none is trusted (unknown, rejected, or unconfirmed for longer than
// CacheTTL); then call [Coordinator.Resolve]. It is one atomic load and a
// clock read, and never blocks.
func (c *Coordinator) Strategy() cache.Strategy {
	s := c.snap.Load()
	if s.rejected || !c.cfg.Now().Before(s.expires) {
		return cache.Unknown
	}
	return s.state.Active // valid or Unknown: adopt validates every record
}

// Snapshot returns the local copy of the shared record.
func (c *Coordinator) Snapshot() cache.State { return c.snap.Load().state }

// WaitFor blocks until cond holds for the local record, and returns that
// record, or ctx's error. cond is called with each new record and must not
// block.
func (c *Coordinator) WaitFor(ctx context.Context, cond func(cache.State) bool) (cache.State, error) {
	for {
		c.mu.Lock()
		ch := c.changed
		st := c.snap.Load().state
		c.mu.Unlock()
		if cond(st) {
			return st, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return st, ctx.Err()
		case <-c.ctx.Done():
			return st, ErrClosed
		}
	}
}

// adopt makes next the local record if it is newer than the local one, and
// reports the change. It returns whether it did. A generation never goes
// backwards here: this is the only place that replaces the record.
func (c *Coordinator) adopt(next cache.State) bool {
	c.notifyMu.Lock()
	defer c.notifyMu.Unlock()
	if next.Generation <= c.snap.Load().state.Generation {
		return false // fast path; checked again under the lock
	}
	if err := next.Validate(); err != nil {
		c.ignoreInvalid("record", err)
		return false
	}
	c.mu.Lock()
	cur := c.snap.Load()
	if next.Generation <= cur.state.Generation {
		c.mu.Unlock()
		return false
	}
	c.snap.Store(&snapshot{
		state: next,
		rejected: cur.rejected && next.Active == cur.state.Active &&
			next.ConfirmedAt.Equal(cur.state.ConfirmedAt),
		expires: next.ConfirmedAt.Add(c.cfg.CacheTTL),
	})
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()

	c.poke()
	c.report(cur.state, next)
	return true
}

// poke wakes the loop to recompute when it next refreshes.
func (c *Coordinator) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// report logs and counts a change of the local record and calls OnChange.
// The caller holds notifyMu.
func (c *Coordinator) report(old, next cache.State) {
	if old.Active != next.Active && next.Active.Valid() {
		if old.Active.Valid() {
			c.stats.switches.Add(1)
			c.log.Info("switched", "from", old.Active.String(), "to", next.Active.String(),
				"generation", next.Generation, "by", next.ChangedBy)
		} else {
			c.log.Info("active colour known", "colour", next.Active.String(),
				"generation", next.Generation, "by", next.ChangedBy)
		}
	}
	if next.Pending.Valid() && (old.Pending != next.Pending || old.AcceptedAt.IsZero() != next.AcceptedAt.IsZero()) {
		c.log.Info("colour pending", "colour", next.Pending.String(),
			"accepted", !next.AcceptedAt.IsZero(), "generation", next.Generation)
	}
	if c.cfg.OnChange != nil {
		c.cfg.OnChange(old, next)
	}
}

// Invalidate reports that the engine rejected a call made with colour s (a
// 456). If s is the trusted active colour, it stops being trusted, and the
// next [Coordinator.Resolve] detects the colour again, for the fleet.
func (c *Coordinator) Invalidate(s cache.Strategy) {
	c.stats.wrongStrategy.Add(1)
	if c.markRejected(s) {
		c.log.Info("active colour rejected; cache invalidated", "colour", s.String(),
			"generation", c.Snapshot().Generation)
	}
}

// markRejected marks the local active colour rejected if it is s, and
// reports whether it changed anything.
func (c *Coordinator) markRejected(s cache.Strategy) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.snap.Load()
	if !s.Valid() || cur.state.Active != s || cur.rejected {
		return false
	}
	next := *cur
	next.rejected = true
	c.snap.Store(&next)
	return true
}

// storeCtx bounds one store call by StoreTimeout.
func (c *Coordinator) storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.cfg.StoreTimeout)
}
