package coordinator

import (
	"context"
	"fmt"

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
	if err != nil && ctx.Err() == nil {
		c.storeFailed("pin", err)
	}
}

// storeRelease removes a pin from the store and returns the live pins left,
// or remembers it for when the store is back.
func (c *Coordinator) storeRelease(ctx context.Context, id string) (cache.PinCounts, bool) {
	if c.degraded.Load() {
		c.mu.Lock()
		c.releasedOffline = append(c.releasedOffline, id)
		c.mu.Unlock()
		return cache.PinCounts{}, false
	}
	sctx, cancel := c.storeCtx(ctx)
	counts, err := c.store.Release(sctx, c.cfg.Scope, id)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			c.storeFailed("release", err)
		}
		c.mu.Lock()
		c.releasedOffline = append(c.releasedOffline, id)
		c.mu.Unlock()
		return counts, false
	}
	return counts, true
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

// unpinGone releases from the store those of written, pins just written
// from a copy, that were released locally meanwhile.
func (c *Coordinator) unpinGone(ctx context.Context, written map[string]cache.Strategy) {
	for id := range written {
		c.mu.Lock()
		_, held := c.pins[id]
		c.mu.Unlock()
		if !held {
			c.storeRelease(ctx, id)
		}
	}
}
