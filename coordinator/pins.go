package coordinator

import (
	"context"
	"fmt"
	"time"

	"github.com/e6coord/e6coord/cache"
)

// Pin ties query id to colour s for the fleet: a Drain switch waits for it.
// The pin is a lease of PinTTL that the coordinator renews in the background
// until [Coordinator.Release], so a crashed process's pins expire.
//
// Pin does no I/O: the pin is written to the store in the background,
// within [Config].PinDelay (longer on a store slower than that), in one
// call with the other pins made meanwhile
// (see [Coordinator.Sync]), so a query never waits on the store, and a
// query released before its pin was written costs the store nothing. Store
// trouble is counted and never fails the query. It returns an error only
// for an invalid colour, or ErrClosed.
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
	c.unwritten[id] = s
	c.mu.Unlock()
	c.pokePins()
	return nil
}

// Release removes the pin of query id, if this process holds it. Like Pin
// it does no I/O: the store is told in the background, and that call also
// tells whether the last pin of the old colour is gone during a Drain
// switch. Store trouble is counted, not returned.
func (c *Coordinator) Release(ctx context.Context, id string) {
	c.mu.Lock()
	s, ok := c.pins[id]
	delete(c.pins, id)
	written := ok
	if _, queued := c.unwritten[id]; queued {
		delete(c.unwritten, id) // never written: nothing to tell the store
		written = false
	}
	if written {
		c.unreleased[id] = s
	}
	c.mu.Unlock()
	switch {
	case written:
		c.pokePins()
	case ok:
		c.releasedOf(s) // the store never knew it: the loop counts the fleet's pins
	}
}

// releasedOf tells the loop, during a Drain switch, that a pin of the old
// colour s went away, so that it counts the fleet's pins again.
func (c *Coordinator) releasedOf(s cache.Strategy) {
	if st := c.Snapshot(); s != st.Active || !st.Pending.Valid() || st.AcceptedAt.IsZero() {
		return
	}
	select {
	case c.drained <- struct{}{}:
	default:
	}
}

// Sync waits until the pins and releases made before it have been written
// to the store (or skipped, while the store is unreachable), or ctx is
// done. Queries never need it; tests and tools that read the store's pins
// do.
func (c *Coordinator) Sync(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case c.syncs <- done:
	case <-c.ctx.Done():
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-c.ctx.Done():
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pokePins tells the pin loop there is something to write.
func (c *Coordinator) pokePins() {
	select {
	case c.pinsDirty <- struct{}{}:
	default:
	}
}

// pinLoop writes the pins and releases made since its last write, all in
// one store call, PinDelay after the first of them (or as long as
// the last write took, if longer; at once for Sync), while the next batch
// gathers. It also renews the pins every
// PinTTL/3. One goroutine does all pin traffic, so a process needs one
// store connection for it however many queries run.
func (c *Coordinator) pinLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.PinTTL / 3)
	defer t.Stop()
	delay := time.NewTimer(0)
	<-delay.C
	waiting := false       // delay runs for queued pins or releases
	var took time.Duration // the last write
	write := func() {
		if waiting && !delay.Stop() {
			<-delay.C
		}
		waiting = false
		start := time.Now()
		c.writePins(c.ctx)
		took = time.Since(start)
	}
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.pinsDirty:
			switch {
			case c.cfg.PinDelay < 0:
				write()
			case !waiting:
				// A batch waits PinDelay, or as long as the last write
				// took if longer: the pins keep the store's connection
				// at most half the time, however slow it gets.
				delay.Reset(max(c.cfg.PinDelay, took))
				waiting = true
			}
		case <-delay.C:
			waiting = false
			write()
		case done := <-c.syncs:
			write()
			close(done)
		case <-t.C:
			c.renewPins(c.ctx)
		}
	}
}

// writePins writes the queued pins and releases in one store call.
func (c *Coordinator) writePins(ctx context.Context) {
	c.mu.Lock()
	pins, released := c.unwritten, c.unreleased
	if len(pins) == 0 && len(released) == 0 {
		c.mu.Unlock()
		return
	}
	c.unwritten = make(map[string]cache.Strategy)
	c.unreleased = make(map[string]cache.Strategy)
	c.mu.Unlock()

	var w cache.PinWrite
	for id, s := range pins {
		if s == cache.Blue {
			w.Blue = append(w.Blue, id)
		} else {
			w.Green = append(w.Green, id)
		}
	}
	for id := range released {
		w.Release = append(w.Release, id)
	}
	counts, ok := c.storeWrite(ctx, w)
	if !ok || len(released) == 0 || counts.Of(c.Snapshot().Active) > 0 {
		return
	}
	for _, s := range released { // the last old-colour pin may be gone: let the loop switch
		c.releasedOf(s)
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

// storeWrite makes the pin changes of w in one store call, and returns the
// live pins left. While the store is unreachable it writes no pins (they
// are written when it is back, by renewPins) and remembers the releases
// for then.
func (c *Coordinator) storeWrite(ctx context.Context, w cache.PinWrite) (cache.PinCounts, bool) {
	if len(w.Blue)+len(w.Green)+len(w.Release) == 0 {
		return cache.PinCounts{}, false
	}
	if !c.degraded.Load() {
		sctx, cancel := c.storeCtx(ctx)
		counts, err := c.store.WritePins(sctx, c.cfg.Scope, c.cfg.PinTTL, w)
		cancel()
		if err == nil {
			c.storeAnswered()
			return counts, true
		}
		if ctx.Err() == nil {
			c.storeFailed("write pins", err)
		}
	}
	if len(w.Release) > 0 {
		c.mu.Lock()
		c.rememberReleased(w.Release)
		c.mu.Unlock()
	}
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
		if _, queued := c.unwritten[id]; !queued { // the pin loop writes it
			ids = append(ids, id)
		}
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
	var w cache.PinWrite
	c.mu.Lock()
	for _, id := range missing {
		switch s, ok := c.pins[id]; {
		case !ok:
		case s == cache.Blue:
			w.Blue = append(w.Blue, id)
			repinned[id] = s
		default:
			w.Green = append(w.Green, id)
			repinned[id] = s
		}
	}
	c.mu.Unlock()
	if len(repinned) == 0 || c.degraded.Load() {
		return
	}
	c.storeWrite(ctx, w)
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
	c.storeWrite(ctx, cache.PinWrite{Release: gone})
}
