package coordinator

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/e6coord/e6coord/cache"
)

// pinner holds the pins of a coordinator's queries: the pins themselves,
// the batch its loop writes to the store next, the lease renewal, and the
// releases the store could not be told of while unreachable. It has its
// own lock; it reaches the store, its health and the record through c.
type pinner struct {
	c *Coordinator

	mu     sync.Mutex                // guards the fields below
	closed bool                      // the coordinator is closing: no new pins
	held   map[string]cache.Strategy // pins this process holds
	// unwritten holds the pins not yet given to the pin loop, unreleased
	// the releases of pins it may have written; see loop.
	unwritten, unreleased map[string]cache.Strategy
	// releasedOffline holds the pins released while the store was
	// unreachable, with when (Config.Now); pruneAt is the size at which it
	// is next pruned. See rememberReleased.
	releasedOffline map[string]time.Time
	pruneAt         int

	dirty chan struct{}      // unwritten or unreleased has urgent entries for the loop; buffer 1
	flush chan struct{}      // a switch began: write what is queued now; buffer 1
	syncs chan chan struct{} // sync's requests to the loop, closed when served
}

func newPinner(c *Coordinator) *pinner {
	return &pinner{
		c:          c,
		held:       make(map[string]cache.Strategy),
		unwritten:  make(map[string]cache.Strategy),
		unreleased: make(map[string]cache.Strategy),
		dirty:      make(chan struct{}, 1),
		flush:      make(chan struct{}, 1),
		syncs:      make(chan chan struct{}),
	}
}

// Pin ties query id to colour s for the fleet: a Drain switch waits for it.
// The pin is a lease of PinTTL that the coordinator renews in the background
// until [Coordinator.Release], so a crashed process's pins expire.
//
// Pin does no I/O: the pin is written to the store in the background, in
// a batch (see [Config].PinDelay: within PinDelay while a switch is under
// way, else with the renewal), so a query never waits on the store.
// Store trouble is counted and never fails the query. It returns an error
// only for an invalid colour, or ErrClosed.
func (c *Coordinator) Pin(id string, s cache.Strategy) error { return c.pins.pin(id, s) }

func (p *pinner) pin(id string, s cache.Strategy) error {
	if !s.Valid() {
		return fmt.Errorf("coordinator: pin %q: %w", id, cache.ErrInvalidStrategy)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.held[id] = s
	p.unwritten[id] = s
	p.mu.Unlock()
	if p.urgent(s) { // else the renewal writes it, or a switch beginning
		p.poke()
	}
	return nil
}

// Release removes the pin of query id, if this process holds it. Like Pin
// it does no I/O: the store is told in the background, and that call also
// tells whether the last pin of the old colour is gone during a Drain
// switch. Store trouble is counted, not returned.
func (c *Coordinator) Release(id string) { c.pins.release(id) }

func (p *pinner) release(id string) {
	p.mu.Lock()
	s, ok := p.held[id]
	delete(p.held, id)
	written := ok
	if _, queued := p.unwritten[id]; queued {
		delete(p.unwritten, id) // never written: nothing to tell the store
		written = false
	}
	if written {
		p.unreleased[id] = s
	}
	p.mu.Unlock()
	switch {
	case written && p.urgent(s):
		p.poke()
	case written: // the renewal writes it, or a switch beginning
	case ok:
		p.c.releasedOf(s) // the store never knew it: the loop counts the fleet's pins
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

// sync waits until the pins and releases made before it have been
// written to the store (or skipped, while the store is unreachable), or ctx
// is done. Queries never need it; tests that read the store's pins do
// (coordinatortest.Sync).
func (p *pinner) sync(ctx context.Context) error {
	c := p.c
	done := make(chan struct{})
	select {
	case p.syncs <- done:
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

// poke tells the pin loop there is something to write.
func (p *pinner) poke() {
	select {
	case p.dirty <- struct{}{}:
	default:
	}
}

// switching tells the pin loop that the record went from old to next: if
// a switch began (a new pending colour) or the active colour changed, the
// pins and releases queued are written at once, since a Drain switch, an
// engine draining a colour or an operator now counts them.
func (p *pinner) switching(old, next cache.State) {
	if next.Pending.Valid() && next.Pending != old.Pending || next.Active != old.Active {
		select {
		case p.flush <- struct{}{}:
		default:
		}
	}
}

// urgent reports whether a pin or release of colour s is to be written
// within PinDelay: while a switch is pending or no colour is active, when s
// is not the active colour (a query a switch left on the old colour, whose
// end the fleet waits for), and always with a negative PinDelay. In steady
// state it waits for the next renewal, and a query costs the store nothing
// unless a renewal or a switch finds it running. A pin queued just before
// a switch begins is written by switching's flush: it is queued before
// the snapshot read here, and the flush follows the new snapshot.
func (p *pinner) urgent(s cache.Strategy) bool {
	st := p.c.Snapshot()
	return p.c.cfg.PinDelay < 0 || st.Pending.Valid() || !st.Active.Valid() || s != st.Active
}

// loop writes the pins and releases made since its last write, all in
// one store call. While a switch is under way (see urgent) it writes them
// PinDelay after the first of them (or as long as the last write took, if
// longer), while the next batch gathers, and at once when a switch
// begins; in steady state, every PinTTL/3, with the renewal of the pins
// written before; at once for sync. One goroutine does this pin traffic
// (the coordinator's refresh loop adds a renewal when the store answers
// again after an outage), so a process needs one store connection for it
// however many queries run.
func (p *pinner) loop() {
	c := p.c
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
		p.write(c.ctx)
		took = time.Since(start)
	}
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-p.dirty: // something urgent is queued
			switch {
			case waiting:
			case c.cfg.PinDelay < 0:
				write()
			default:
				// A batch waits PinDelay, or as long as the last write
				// took if longer: the pins keep the store's connection
				// at most half the time, however slow it gets.
				delay.Reset(max(c.cfg.PinDelay, took))
				waiting = true
			}
		case <-p.flush:
			write()
		case <-delay.C:
			waiting = false
			write()
		case done := <-p.syncs:
			write()
			close(done)
		case <-t.C:
			p.renew(c.ctx) // the pins written before, then the new ones
			write()
		}
	}
}

// write writes the queued pins and releases in one store call, and then,
// in a second, the releases of the pins it wrote made while it wrote them.
func (p *pinner) write(ctx context.Context) {
	p.mu.Lock()
	pins, released := p.unwritten, p.unreleased
	if len(pins) == 0 && len(released) == 0 {
		p.mu.Unlock()
		return
	}
	p.unwritten = make(map[string]cache.Strategy)
	p.unreleased = make(map[string]cache.Strategy)
	p.mu.Unlock()

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
	counts, ok := p.storeWrite(ctx, w)
	if ok {
		// The queries of the pins just written that were released while
		// they were being written go at once, not a PinDelay later.
		var again cache.PinWrite
		p.mu.Lock()
		for id, s := range p.unreleased {
			if _, written := pins[id]; written {
				again.Release = append(again.Release, id)
				released[id] = s
				delete(p.unreleased, id)
			}
		}
		p.mu.Unlock()
		if len(again.Release) > 0 {
			counts, ok = p.storeWrite(ctx, again)
		}
	}
	if !ok || len(released) == 0 || counts.Of(p.c.Snapshot().Active) > 0 {
		return
	}
	for _, s := range released { // the last old-colour pin may be gone: let the loop switch
		p.c.releasedOf(s)
	}
}

// Pins returns the number of pins this process holds, per colour.
func (c *Coordinator) Pins() cache.PinCounts { return c.pins.counts() }

// counts counts the local pins.
func (p *pinner) counts() cache.PinCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n cache.PinCounts
	for _, s := range p.held {
		switch s {
		case cache.Blue:
			n.Blue++
		case cache.Green:
			n.Green++
		}
	}
	return n
}

// countFleet counts the fleet's live pins, or the local ones while the
// store is unreachable.
func (p *pinner) countFleet(ctx context.Context) (cache.PinCounts, error) {
	c := p.c
	if !c.degraded() {
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
	return p.counts(), nil
}

// storeWrite makes the pin changes of w in one store call, and returns the
// live pins left. While the store is unreachable it writes no pins (they
// are written when it is back, by renew) and remembers the releases
// for then.
func (p *pinner) storeWrite(ctx context.Context, w cache.PinWrite) (cache.PinCounts, bool) {
	c := p.c
	if len(w.Blue)+len(w.Green)+len(w.Release) == 0 {
		return cache.PinCounts{}, false
	}
	if !c.degraded() {
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
		p.mu.Lock()
		if c.degraded() || ctx.Err() != nil {
			p.rememberReleased(w.Release)
		} else {
			// The store came back since the check above, and the list of
			// releases made offline may have been taken already: the
			// next batch tells the store.
			for _, id := range w.Release {
				if _, held := p.held[id]; !held {
					p.unreleased[id] = cache.Unknown
				}
			}
			defer p.poke()
		}
		p.mu.Unlock()
	}
	return cache.PinCounts{}, false
}

// rememberReleased notes ids as released while the store could not be
// told. Only releases younger than PinTTL matter: an older one's pin has
// expired in the store, since pins are not renewed while the store is
// unreachable. So the list is pruned of those as it grows, and holds at
// most what this process releases within PinTTL. The caller holds p.mu.
func (p *pinner) rememberReleased(ids []string) {
	if p.releasedOffline == nil {
		p.releasedOffline = make(map[string]time.Time)
	}
	now := p.c.cfg.Now()
	for _, id := range ids {
		p.releasedOffline[id] = now
	}
	if len(p.releasedOffline) < p.pruneAt {
		return
	}
	for id, at := range p.releasedOffline {
		if now.Sub(at) >= p.c.cfg.PinTTL {
			delete(p.releasedOffline, id)
		}
	}
	p.pruneAt = 2*len(p.releasedOffline) + 64
}

// takeReleasedOffline empties the list of pins released while the store was
// unreachable, and returns those that may still be live in the store,
// with the number of pins held.
func (p *pinner) takeReleasedOffline() (ids []string, held int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.c.cfg.Now()
	for id, at := range p.releasedOffline {
		if _, held := p.held[id]; !held && now.Sub(at) < p.c.cfg.PinTTL {
			ids = append(ids, id)
		}
	}
	p.releasedOffline, p.pruneAt = nil, 0
	return ids, len(p.held)
}

// renew extends the leases of the pins this process holds, in one
// round trip, and re-pins any the store lost.
func (p *pinner) renew(ctx context.Context) {
	c := p.c
	if c.degraded() {
		return
	}
	p.mu.Lock()
	ids := make([]string, 0, len(p.held))
	for id := range p.held {
		if _, queued := p.unwritten[id]; !queued { // the pin loop writes it
			ids = append(ids, id)
		}
	}
	p.mu.Unlock()
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
	p.mu.Lock()
	for _, id := range missing {
		switch s, ok := p.held[id]; {
		case !ok:
		case s == cache.Blue:
			w.Blue = append(w.Blue, id)
			repinned[id] = s
		default:
			w.Green = append(w.Green, id)
			repinned[id] = s
		}
	}
	p.mu.Unlock()
	if len(repinned) == 0 || c.degraded() {
		return
	}
	p.storeWrite(ctx, w)
	p.unpinGone(ctx, repinned)
}

// unpinGone releases from the store, in one call, those of written, pins
// just written from a copy, that were released locally meanwhile.
func (p *pinner) unpinGone(ctx context.Context, written map[string]cache.Strategy) {
	var gone []string
	p.mu.Lock()
	for id := range written {
		if _, held := p.held[id]; !held {
			gone = append(gone, id)
		}
	}
	p.mu.Unlock()
	p.storeWrite(ctx, cache.PinWrite{Release: gone})
}

// close refuses new pins from now on.
func (p *pinner) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}

// drop forgets every pin, and returns the ids the store may still hold:
// the pins held, the releases not written yet, and those made while the
// store could not be told (within PinTTL). Close releases them.
func (p *pinner) drop() []string {
	offline, _ := p.takeReleasedOffline()
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]string, 0, len(p.held)+len(p.unreleased)+len(offline))
	for id := range p.held {
		ids = append(ids, id)
	}
	for id := range p.unreleased {
		ids = append(ids, id)
	}
	ids = append(ids, offline...)
	clear(p.held)
	clear(p.unwritten)
	clear(p.unreleased)
	return ids
}
