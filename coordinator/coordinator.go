package coordinator

import (
	"context"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/coordinator/internal/hist"
)

// Coordinator decides the colour of every call to one engine and shares it
// with the fleet through a store. It is safe for concurrent use. Make one
// with [New] per engine and process, and Close it when done.
type Coordinator struct {
	cfg   Config
	store cache.Store
	probe ProbeFunc
	log   *slog.Logger

	snap  atomic.Pointer[snapshot] // the local view; replaced, never mutated
	stats counters
	group singleflight.Group // one detection at a time per process

	// notifyMu serialises reports of changes, so OnChange sees them in
	// generation order. It is taken before mu, never after.
	notifyMu sync.Mutex

	mu      sync.Mutex    // guards the fields below and replacing snap
	closed  bool          // Close has begun; no new background work
	changed chan struct{} // closed and replaced when snap changes

	pins *pinner // the pins of this process's queries

	announced chan cache.Strategy // latest announced colour for the loop; buffer 1
	drained   chan struct{}       // an old-colour pin went away during a drain; buffer 1
	wake      chan struct{}       // the loop's timing may have changed; buffer 1
	probing   chan struct{}       // held with the probe lease: one prober per process too; buffer 1

	// storeGen is the highest generation read from or written to the
	// store: a store found below it has lost writes.
	storeGen atomic.Uint64

	// offset is what to add to Config.Now to read the store's clock, in
	// nanoseconds; clockRead is when it was last measured (Config.Now, unix
	// nanoseconds; 0 for never). See now.
	offset, clockRead atomic.Int64
	// refreshTried is the ConfirmedAt (unix nanoseconds) of the last record
	// whose early refresh this process attempted: one attempt per
	// confirmation.
	refreshTried atomic.Int64
	// jitter spreads the early refreshes of the fleet's processes over the
	// first half of RefreshAhead, so that one goes first and the others
	// find its confirmation: a fraction in [0, 1), fixed at New.
	jitter float64

	health storeHealth

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
	// expired is set once the fleet's clock has reached
	// state.ConfirmedAt + CacheTTL without a new confirmation.
	expired bool
	// colour is what Strategy returns: state.Active while it is trusted
	// (neither rejected nor expired), else Unknown.
	colour cache.Strategy
}

// newSnapshot returns the snapshot of st with the given flags.
func newSnapshot(st cache.State, rejected, expired bool) *snapshot {
	s := &snapshot{state: st, rejected: rejected, expired: expired}
	if !rejected && !expired {
		s.colour = st.Active // valid or Unknown: adopt validates every record
	}
	return s
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
		changed:   make(chan struct{}),
		announced: make(chan cache.Strategy, 1),
		drained:   make(chan struct{}, 1),
		wake:      make(chan struct{}, 1),
		probing:   make(chan struct{}, 1),
		jitter:    mrand.Float64(),
		ctx:       ctx,
		cancel:    cancel,
	}
	c.pins = newPinner(c)
	c.stats.adoptLag = hist.New(adoptLagBounds)
	c.snap.Store(newSnapshot(cache.State{}, false, false))
	c.wg.Add(2)
	go c.loop()
	go c.pins.loop()
	if w, ok := store.(cache.Watcher); ok {
		c.wg.Add(1)
		go c.watchLoop(w)
	}
	return c, nil
}

// Close stops the background work, waits for it, and releases the pins this
// process still holds or released without the store being told yet, in
// one store call bounded by StoreTimeout (best
// effort: pins that stay expire with their lease). It does not close the
// store. Calls after Close fail with ErrClosed.
func (c *Coordinator) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.wg.Wait()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.pins.close()
	c.cancel()
	c.wg.Wait()
	ids := c.pins.drop()
	if len(ids) > 0 && !c.degraded() {
		ctx, cancel := c.storeCtx(context.Background())
		_, _ = c.store.WritePins(ctx, c.cfg.Scope, c.cfg.PinTTL, cache.PinWrite{Release: ids}) // expiry covers a failure
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
// none is trusted (unknown, rejected, or unconfirmed for CacheTTL); then
// call [Coordinator.Resolve]. It is one atomic load: it reads no clock and
// never blocks. The background loop re-confirms the colour before CacheTTL
// runs out and marks it expired if that failed.
func (c *Coordinator) Strategy() cache.Strategy { return c.snap.Load().colour }

// Snapshot returns the local copy of the shared record.
func (c *Coordinator) Snapshot() cache.State { return c.snap.Load().state }

// Stale reports whether the active colour of the local record is stale
// now, by [cache.Stale] on the fleet's clock with Config.CacheTTL: the
// judgement of the daemon's /v1/state, the same as `e6coord status` makes
// from the store. A rejected colour is untrusted ([Coordinator.Strategy])
// but not stale.
func (c *Coordinator) Stale() bool {
	return cache.Stale(c.snap.Load().state, c.now(), c.cfg.CacheTTL)
}

// waitFor blocks until cond holds for the local record, and returns that
// record, or ctx's error. cond is called with each new record and must not
// block.
func (c *Coordinator) waitFor(ctx context.Context, cond func(cache.State) bool) (cache.State, error) {
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
	c.snap.Store(newSnapshot(next,
		cur.rejected && next.Active == cur.state.Active && next.ConfirmedAt.Equal(cur.state.ConfirmedAt),
		cache.Stale(next, c.now(), c.cfg.CacheTTL)))
	c.count(cur.state, next) // before waiters wake: they may read Stats
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()

	c.poke()
	c.pins.switching(cur.state, next)
	c.report(cur.state, next)
	return true
}

// count counts a change of the local record from old to next in Stats.
func (c *Coordinator) count(old, next cache.State) {
	if next.ChangedBy != c.cfg.ID && !next.ChangedAt.IsZero() {
		c.stats.adoptLag.Observe(c.now().Sub(next.ChangedAt))
	}
	if old.Active.Valid() && next.Active.Valid() && old.Active != next.Active {
		c.stats.switchesTo[next.Active].Add(1)
	}
}

// poke wakes the loop to recompute when it next refreshes.
func (c *Coordinator) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// report logs a change of the local record and calls OnChange.
// The caller holds notifyMu.
func (c *Coordinator) report(old, next cache.State) {
	if old.Active != next.Active && next.Active.Valid() {
		if old.Active.Valid() {
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
	if s.Valid() {
		c.stats.wrongStrategy[s].Add(1)
	}
	if c.markRejected(s) {
		c.log.Info("active colour rejected; cache invalidated", "colour", s.String(),
			"generation", c.Snapshot().Generation)
	}
}

// Rejections returns the number of calls with colour s that the engine
// has rejected in this process ([Coordinator.Invalidate]). A rejection
// means the engine does not serve s at that moment, in-flight queries
// included, so a query prepared with s while the count was n is rejected
// for good once the count is above n: the client ends it without a call.
func (c *Coordinator) Rejections(s cache.Strategy) uint64 {
	if !s.Valid() {
		return 0
	}
	return c.stats.wrongStrategy[s].Load()
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
	c.snap.Store(newSnapshot(cur.state, true, cur.expired))
	return true
}

// markUnconfirmed stops trusting the local active colour if it is s, as if
// it had expired: the next Resolve confirms it with one probe.
func (c *Coordinator) markUnconfirmed(s cache.Strategy) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur := c.snap.Load(); s.Valid() && cur.state.Active == s && !cur.expired {
		c.snap.Store(newSnapshot(cur.state, cur.rejected, true))
	}
}

// expiry returns when st's active colour stops being trusted.
func (c *Coordinator) expiry(st cache.State) time.Time { return st.ConfirmedAt.Add(c.cfg.CacheTTL) }

// expire marks the local active colour expired if the fleet's clock has
// reached its expiry, and reports whether it changed anything.
func (c *Coordinator) expire() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.snap.Load()
	if cur.expired || !cache.Stale(cur.state, c.now(), c.cfg.CacheTTL) {
		return false
	}
	c.snap.Store(newSnapshot(cur.state, cur.rejected, true))
	return true
}

// now reads the fleet's clock: Config.Now corrected by the offset to the
// store's clock last measured (see syncClock). Every time written to the
// shared record, and every time compared with one, is read here, so that
// hosts whose clocks disagree judge the record alike.
func (c *Coordinator) now() time.Time {
	return c.cfg.Now().Add(time.Duration(c.offset.Load()))
}

// clockSyncInterval is how often the offset to the store's clock is
// measured again.
const clockSyncInterval = time.Minute

// syncClock measures the offset of Config.Now to the store's clock, if the
// store has one ([cache.Clock]) and it was not measured within
// clockSyncInterval. It takes one store round trip and assumes the store
// read its clock half-way through it.
func (c *Coordinator) syncClock(ctx context.Context) {
	clk, ok := c.store.(cache.Clock)
	if !ok || c.degraded() {
		return
	}
	if last := c.clockRead.Load(); last != 0 && c.cfg.Now().UnixNano()-last < int64(clockSyncInterval) {
		return
	}
	sctx, cancel := c.storeCtx(ctx)
	t1 := c.cfg.Now()
	st, err := clk.Time(sctx)
	t2 := c.cfg.Now()
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			c.storeFailed("time", err)
		}
		return
	}
	c.storeAnswered()
	off := cache.ClockOffset(t1, st, t2)
	if old := time.Duration(c.offset.Swap(int64(off))); (old - off).Abs() > time.Second {
		c.log.Info("clock differs from the store's", "offset", off.Round(time.Millisecond).String())
	}
	c.clockRead.Store(t2.UnixNano())
}

// storeCtx bounds one store call by StoreTimeout.
func (c *Coordinator) storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.cfg.StoreTimeout)
}
