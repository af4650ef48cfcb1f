package coordinator

import (
	"context"
	"time"

	"github.com/e6coord/e6coord/cache"
)

// Announce reports a new_strategy value the engine sent in a response. A
// colour other than the active and pending ones is recorded as pending for
// the fleet, in the background; the engine is then probed with it, once for
// the fleet, and the switch follows as the [Policy] says. The pending colour
// announced again refreshes the record's AnnouncedAt, at most every
// PendingTTL/4, so that it does not expire while the engine announces it. A
// value that is not blue or green is ignored and counted. It never blocks
// and does not allocate.
func (c *Coordinator) Announce(raw string) {
	s, err := cache.ParseStrategy(raw)
	if err != nil {
		c.ignoreInvalid("engine", err)
		return
	}
	st := c.snap.Load().state
	if s == st.Active || s == st.Pending && !c.reannounceDue(st) {
		return
	}
	// Newest wins: replace an announcement the loop has not taken yet.
	for {
		select {
		case c.announced <- s:
			return
		default:
		}
		select {
		case <-c.announced:
		default:
		}
	}
}

// reannounceDue reports whether st's AnnouncedAt is old enough to be
// refreshed by a new announcement of its pending colour.
func (c *Coordinator) reannounceDue(st cache.State) bool {
	return !c.now().Before(st.AnnouncedAt.Add(c.cfg.PendingTTL / 4))
}

// recordAnnounced records s as the pending colour, unless the record already
// has it, and then probes it; if the record has it, it refreshes its
// AnnouncedAt when that is due.
func (c *Coordinator) recordAnnounced(ctx context.Context, s cache.Strategy) {
	now := c.now()
	fresh := false
	_, changed := c.update(ctx, func(cur cache.State) (cache.State, bool) {
		next := cur
		switch {
		case s == cur.Active:
			return cur, false
		case s == cur.Pending:
			if !c.reannounceDue(cur) {
				return cur, false
			}
			fresh = false
		default:
			fresh = true
			next.Pending = s
			next.AcceptedAt = time.Time{}
			next.ProbedAt = time.Time{}
		}
		next.AnnouncedAt = now
		return next, true
	})
	if !changed || !fresh {
		return
	}
	c.stats.announcements.Add(1)
	c.log.Info("engine announced a colour", "colour", s.String(), "generation", c.Snapshot().Generation)
	c.tryAccept(ctx)
}

// dropWithdrawn drops the pending colour if the engine has not announced it
// for PendingTTL: the engine withdrew it, and the fleet stops polling and
// probing for it.
func (c *Coordinator) dropWithdrawn(ctx context.Context) {
	withdrawn := func(st cache.State) bool {
		return st.Pending.Valid() && !c.now().Before(st.AnnouncedAt.Add(c.cfg.PendingTTL))
	}
	st := c.Snapshot()
	if !withdrawn(st) {
		return
	}
	_, changed := c.update(ctx, func(cur cache.State) (cache.State, bool) {
		if cur.Pending != st.Pending || !withdrawn(cur) {
			return cur, false
		}
		next := cur
		clearPending(&next)
		return next, true
	})
	if changed {
		c.stats.withdrawn.Add(1)
		c.log.Info("pending colour no longer announced; dropped", "colour", st.Pending.String(),
			"announced", st.AnnouncedAt, "generation", c.Snapshot().Generation)
	}
}

// tryAccept probes the pending colour, under the probe lease, and marks it
// accepted (or, under Eager or with no active colour, makes it active).
func (c *Coordinator) tryAccept(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*c.cfg.ProbeLeaseTTL)
	defer cancel()
	var st cache.State
	for {
		st = c.Snapshot()
		if !st.Pending.Valid() || !st.AcceptedAt.IsZero() {
			return
		}
		won, err := c.acquireLease(ctx)
		if err != nil {
			return
		}
		if won {
			// Double-check: the previous holder may have settled it.
			if !c.degraded() {
				if cur, err := c.load(ctx); err == nil {
					c.adopt(cur)
				}
			}
			st = c.Snapshot()
			if !st.Pending.Valid() || !st.AcceptedAt.IsZero() ||
				(!st.ProbedAt.IsZero() && c.now().Before(st.ProbedAt.Add(c.cfg.PendingProbeInterval))) {
				c.releaseLease()
				return
			}
			break
		}
		// Another process is probing; it may settle the pending colour,
		// or it was busy with something else and lets go soon.
		if err := c.waitChange(ctx); err != nil {
			return
		}
	}
	defer c.releaseLease()
	if err := c.probeOne(ctx, st.Pending); err != nil {
		c.log.Info("pending colour not accepted yet", "colour", st.Pending.String(), "err", err)
		probed := c.now()
		c.update(ctx, func(cur cache.State) (cache.State, bool) {
			if cur.Pending != st.Pending || !cur.AcceptedAt.IsZero() {
				return cur, false
			}
			next := cur
			next.ProbedAt = probed
			return next, true
		})
		return
	}
	now := c.now()
	c.update(ctx, func(cur cache.State) (cache.State, bool) {
		if cur.Pending != st.Pending || !cur.AcceptedAt.IsZero() {
			return cur, false
		}
		next := cur
		next.AcceptedAt = now
		if c.cfg.Policy == Eager || !cur.Active.Valid() {
			switchToPending(&next, now)
		}
		return next, true
	})
	c.maybeSwitch(ctx, nil)
}

// maybeSwitch makes an accepted pending colour active when the policy
// allows: at once under Eager; under Drain when no live pin holds the old
// colour (counts, or a fresh count when nil) or DrainTimeout has passed
// since the engine accepted the new colour.
func (c *Coordinator) maybeSwitch(ctx context.Context, counts *cache.PinCounts) {
	st := c.Snapshot()
	if !st.Pending.Valid() || st.AcceptedAt.IsZero() {
		return
	}
	reason := "eager"
	if c.cfg.Policy == Drain && st.Active.Valid() {
		reason = "drained"
		if !c.now().Before(st.AcceptedAt.Add(c.cfg.DrainTimeout)) {
			reason = "drain timeout"
		} else {
			if counts == nil {
				n, err := c.pins.countFleet(ctx)
				if err != nil {
					return
				}
				counts = &n
			}
			if counts.Of(st.Active) > 0 {
				return
			}
		}
	}
	now := c.now()
	_, changed := c.update(ctx, func(cur cache.State) (cache.State, bool) {
		if cur.Pending != st.Pending || cur.AcceptedAt.IsZero() {
			return cur, false
		}
		next := cur
		switchToPending(&next, now)
		return next, true
	})
	if changed {
		c.log.Info("switch committed", "from", st.Active.String(), "to", st.Pending.String(),
			"reason", reason, "generation", c.Snapshot().Generation)
	}
}

// switchToPending makes st's pending colour active, confirmed at now.
func switchToPending(st *cache.State, now time.Time) {
	st.Active = st.Pending
	st.ConfirmedAt = now
	clearPending(st)
}

// refresh re-reads the shared record and acts on it: it adopts a newer
// record, writes the local one back if the store lost it, leaves degraded
// mode when the store answers again, re-confirms the active colour when it
// is due for an early refresh (one process for the fleet, under the probe
// lease) unless CacheTTL has passed without confirmation, which marks it
// expired,
// drops a pending colour the engine stopped announcing, probes a pending
// colour again when that is due, and commits a Drain switch that is due.
// The background loop calls it every RefreshInterval (PendingRefreshInterval
// while a switch is pending or the store is unreachable) and when the active
// colour is due for an early refresh or expires; tests call it through
// coordinatortest.Refresh.
func (c *Coordinator) refresh(ctx context.Context) error {
	if c.degraded() {
		if err := c.recoverStore(ctx); err != nil {
			c.expire()
			return err
		}
	} else {
		known := c.storeGen.Load()
		st, err := c.load(ctx)
		if err != nil {
			c.expire()
			return err
		}
		c.reconcile(ctx, st, known)
	}
	c.syncClock(ctx)
	c.expire()
	c.refreshEarly(ctx)
	c.dropWithdrawn(ctx)
	if st := c.Snapshot(); st.Pending.Valid() && st.AcceptedAt.IsZero() &&
		!c.now().Before(st.ProbedAt.Add(c.cfg.PendingProbeInterval)) {
		c.tryAccept(ctx)
	}
	c.maybeSwitch(ctx, nil)
	return nil
}

// refreshAt returns when this process re-confirms st's active colour ahead
// of its expiry: RefreshAhead before it, delayed by this process's share of
// half of RefreshAhead, so that the fleet's processes do not all try at
// once and the first one's confirmation spares the others their probe.
func (c *Coordinator) refreshAt(st cache.State) time.Time {
	ahead := c.cfg.RefreshAhead
	return c.expiry(st).Add(-ahead + time.Duration(c.jitter*float64(ahead/2)))
}

// refreshEarly re-confirms the active colour with one probe, under the
// fleet's probe lease, when it is due (see refreshAt), once per
// confirmation. A process that finds the lease held, or the colour
// confirmed by another once it has the lease, does not probe.
func (c *Coordinator) refreshEarly(ctx context.Context) {
	due := func(snap *snapshot) bool {
		st := snap.state
		return st.Active.Valid() && !snap.rejected && !snap.expired && !c.now().Before(c.refreshAt(st))
	}
	snap := c.snap.Load()
	if !due(snap) {
		return
	}
	if key := snap.state.ConfirmedAt.UnixNano(); c.refreshTried.Swap(key) == key {
		return
	}
	if err := c.confirmUnderLease(ctx, due); err != nil {
		c.log.Warn("early refresh of the active colour failed", "err", err)
	}
}

// Confirm re-confirms the active colour for the fleet unless the shared
// record shows it confirmed within maxAge: under the fleet's probe lease,
// with one probe, so that any number of processes calling Confirm every
// maxAge make one probe per maxAge between them. A process that finds the
// lease held leaves the probe to its holder. With no trusted colour it
// resolves one as [Coordinator.Resolve] does. It returns the probe's or
// the detection's error; the daemon calls it every interval.
func (c *Coordinator) Confirm(ctx context.Context, maxAge time.Duration) error {
	if c.ctx.Err() != nil {
		return ErrClosed
	}
	if !c.Strategy().Valid() {
		_, err := c.Resolve(ctx)
		return err
	}
	due := func(snap *snapshot) bool {
		return snap.colour.Valid() && !c.now().Before(snap.state.ConfirmedAt.Add(maxAge))
	}
	if !due(c.snap.Load()) {
		return nil
	}
	return c.confirmUnderLease(ctx, due)
}

// confirmUnderLease takes the fleet's probe lease, re-reads the record, and
// if due still holds for it, re-confirms the active colour with one probe
// (a full detection should the engine reject it). It does nothing when
// another process holds the lease: that one is probing.
func (c *Coordinator) confirmUnderLease(ctx context.Context, due func(*snapshot) bool) error {
	won, err := c.acquireLease(ctx)
	if err != nil || !won {
		return err
	}
	defer c.releaseLease()
	if !c.degraded() {
		if st, err := c.load(ctx); err == nil {
			c.adopt(st)
		}
	}
	if !due(c.snap.Load()) {
		return nil
	}
	c.stats.refreshes.Add(1)
	_, err = c.probeAndCommit(ctx)
	return err
}
