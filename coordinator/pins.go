package coordinator

import (
	"context"
	"fmt"
	"time"

	"github.com/e6coord/e6coord/cache"
)

// Pin ties query id to colour s for the fleet: a Drain switch waits for it.
// The pin is a lease of PinTTL that the coordinator renews in the background
// until [Coordinator.Release], so a crashed process's pins expire. It costs
// one store round trip; store trouble is counted and never fails the query.
// It returns an error only for an invalid colour.
func (c *Coordinator) Pin(ctx context.Context, id string, s cache.Strategy) error {
	if !s.Valid() {
		return fmt.Errorf("coordinator: pin %q: %w", id, cache.ErrInvalidStrategy)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.pins[id] = s
	c.mu.Unlock()
	c.storePin(ctx, id, s)
	return nil
}

// Release removes the pin of query id, if this process holds it. It costs
// one store round trip, which also tells whether the last pin of the old
// colour is gone during a Drain switch. Store trouble is counted, not
// returned.
func (c *Coordinator) Release(ctx context.Context, id string) {
	c.mu.Lock()
	s, ok := c.pins[id]
	delete(c.pins, id)
	c.mu.Unlock()
	if !ok {
		return
	}
	counts, ok := c.storeRelease(ctx, id)
	st := c.Snapshot()
	if !ok || s != st.Active || !st.Pending.Valid() || st.AcceptedAt.IsZero() || counts.Of(s) > 0 {
		return
	}
	select { // the last old-colour pin is gone: let the loop switch
	case c.drained <- struct{}{}:
	default:
	}
}

// Pins returns the number of pins this process holds, per colour.
func (c *Coordinator) Pins() cache.PinCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.localCounts()
}

// localCounts counts the local pins. The caller holds mu.
func (c *Coordinator) localCounts() cache.PinCounts {
	var n cache.PinCounts
	for _, s := range c.pins {
		switch s {
		case cache.Blue:
			n.Blue++
		case cache.Green:
			n.Green++
		}
	}
	return n
}

// countPins counts the fleet's live pins, or the local ones while the store
// is unreachable.
func (c *Coordinator) countPins(ctx context.Context) (cache.PinCounts, error) {
	if !c.degraded.Load() {
		sctx, cancel := c.storeCtx(ctx)
		n, err := c.store.Count(sctx, c.cfg.Scope)
		cancel()
		if err == nil {
			return n, nil
		}
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		c.storeFailed("count pins", err)
	}
	return c.Pins(), nil
}

// storePin writes a pin to the store unless it is unreachable.
func (c *Coordinator) storePin(ctx context.Context, id string, s cache.Strategy) {
	if c.degraded.Load() {
		return
	}
	sctx, cancel := c.storeCtx(ctx)
	err := c.store.Pin(sctx, c.cfg.Scope, id, s, c.cfg.PinTTL)
	cancel()
	switch {
	case err == nil:
		c.storeAnswered()
	case ctx.Err() == nil:
		c.storeFailed("pin", err)
	}
}

// storeRelease removes pins from the store, in one call, and returns the
// live pins left; while the store is unreachable it remembers them for when
// it is back.
func (c *Coordinator) storeRelease(ctx context.Context, ids ...string) (cache.PinCounts, bool) {
	if !c.degraded.Load() {
		sctx, cancel := c.storeCtx(ctx)
		counts, err := c.store.Release(sctx, c.cfg.Scope, ids...)
		cancel()
		if err == nil {
			c.storeAnswered()
			return counts, true
		}
		if ctx.Err() == nil {
			c.storeFailed("release", err)
		}
	}
	c.mu.Lock()
	c.rememberReleased(ids)
	c.mu.Unlock()
	return cache.PinCounts{}, false
}

// rememberReleased notes ids as released while the store could not be
// told. Only releases younger than PinTTL matter: an older one's pin has
// expired in the store, since pins are not renewed while the store is
// unreachable. So the list is pruned of those as it grows, and holds at
// most what this process releases within PinTTL. The caller holds mu.
func (c *Coordinator) rememberReleased(ids []string) {
	if c.releasedOffline == nil {
		c.releasedOffline = make(map[string]time.Time)
	}
	now := c.cfg.Now()
	for _, id := range ids {
		c.releasedOffline[id] = now
	}
	if len(c.releasedOffline) < c.pruneAt {
		return
	}
	for id, at := range c.releasedOffline {
		if now.Sub(at) >= c.cfg.PinTTL {
			delete(c.releasedOffline, id)
		}
	}
	c.pruneAt = 2*len(c.releasedOffline) + 64
}

// takeReleasedOffline empties the list of pins released while the store was
// unreachable, and returns those that may still be live in the store. The
// caller holds mu.
func (c *Coordinator) takeReleasedOffline() []string {
	now := c.cfg.Now()
	var ids []string
	for id, at := range c.releasedOffline {
		if _, held := c.pins[id]; !held && now.Sub(at) < c.cfg.PinTTL {
			ids = append(ids, id)
		}
	}
	c.releasedOffline, c.pruneAt = nil, 0
	return ids
}

// renewPins extends the leases of the pins this process holds, in one
// round trip, and re-pins any the store lost.
func (c *Coordinator) renewPins(ctx context.Context) {
	if c.degraded.Load() {
		return
	}
	c.mu.Lock()
	ids := make([]string, 0, len(c.pins))
	for id := range c.pins {
		ids = append(ids, id)
	}
	c.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	sctx, cancel := c.storeCtx(ctx)
	missing, err := c.store.Renew(sctx, c.cfg.Scope, c.cfg.PinTTL, ids...)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			c.storeFailed("renew pins", err)
		}
		return
	}
	repinned := make(map[string]cache.Strategy, len(missing))
	for _, id := range missing {
		c.mu.Lock()
		s, ok := c.pins[id]
		c.mu.Unlock()
		if ok {
			c.storePin(ctx, id, s)
			repinned[id] = s
		}
	}
	c.unpinGone(ctx, repinned)
}

// unpinGone releases from the store, in one call, those of written, pins
// just written from a copy, that were released locally meanwhile.
func (c *Coordinator) unpinGone(ctx context.Context, written map[string]cache.Strategy) {
	var gone []string
	c.mu.Lock()
	for id := range written {
		if _, held := c.pins[id]; !held {
			gone = append(gone, id)
		}
	}
	c.mu.Unlock()
	if len(gone) > 0 {
		c.storeRelease(ctx, gone...)
	}
}
