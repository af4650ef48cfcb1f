package coordinator

import (
	"context"
	"time"

	"github.com/e6coord/e6coord/cache"
)

// Announce reports a new_strategy value the engine sent in a response. A
// colour other than the active and pending ones is recorded as pending for
// the fleet, in the background; the engine is then probed with it, once for
// the fleet, and the switch follows as the [Policy] says. A value that is
// not blue or green is ignored and counted. It never blocks and does not
// allocate when there is nothing new.
func (c *Coordinator) Announce(raw string) {
	s, err := cache.ParseStrategy(raw)
	if err != nil {
		c.ignoreInvalid("engine", err)
		return
	}
	st := c.snap.Load().state
	if s == st.Active || s == st.Pending {
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

// recordAnnounced records s as the pending colour, unless the record already
// has it, and then probes it.
func (c *Coordinator) recordAnnounced(ctx context.Context, s cache.Strategy) {
	now := c.cfg.Now()
	_, changed := c.update(ctx, func(cur cache.State) (cache.State, bool) {
		if s == cur.Active || s == cur.Pending {
			return cur, false
		}
		next := cur
		next.Pending = s
		next.AnnouncedAt = now
		next.AcceptedAt = time.Time{}
		next.ProbedAt = time.Time{}
		return next, true
	})
	if !changed {
		return
	}
	c.stats.announcements.Add(1)
	c.log.Info("engine announced a colour", "colour", s.String(), "generation", c.Snapshot().Generation)
	c.tryAccept(ctx)
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
			if !c.degraded.Load() {
				if cur, err := c.load(ctx); err == nil {
					c.adopt(cur)
				}
			}
			st = c.Snapshot()
			if !st.Pending.Valid() || !st.AcceptedAt.IsZero() ||
				(!st.ProbedAt.IsZero() && c.cfg.Now().Before(st.ProbedAt.Add(c.cfg.PendingProbeInterval))) {
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
		probed := c.cfg.Now()
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
	now := c.cfg.Now()
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
		if !c.cfg.Now().Before(st.AcceptedAt.Add(c.cfg.DrainTimeout)) {
			reason = "drain timeout"
		} else {
			if counts == nil {
				n, err := c.countPins(ctx)
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
	now := c.cfg.Now()
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

// Refresh re-reads the shared record and acts on it: it adopts a newer
// record, writes the local one back if the store lost it, leaves degraded
// mode when the store answers again, and commits a Drain switch that is due.
// The background loop calls it every RefreshInterval (PendingRefreshInterval
// while a switch is pending or the store is unreachable).
func (c *Coordinator) Refresh(ctx context.Context) error {
	if c.degraded.Load() {
		if err := c.recoverStore(ctx); err != nil {
			return err
		}
	} else {
		known := c.storeGen.Load()
		st, err := c.load(ctx)
		if err != nil {
			return err
		}
		c.reconcile(ctx, st, known)
	}
	if st := c.Snapshot(); st.Pending.Valid() && st.AcceptedAt.IsZero() &&
		!c.cfg.Now().Before(st.ProbedAt.Add(c.cfg.PendingProbeInterval)) {
		c.tryAccept(ctx)
	}
	c.maybeSwitch(ctx, nil)
	return nil
}
