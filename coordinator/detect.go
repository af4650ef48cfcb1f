package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/e6coord/e6coord/cache"
)

// Resolve returns the colour a new call carries, detecting it first when
// none is trusted. Detection is shared: goroutines of this process wait for
// one detection, and processes of the fleet wait for the one that holds the
// probe lease (a holder that dies loses it after ProbeLeaseTTL, and the
// next one tries).
//
// A cached colour that merely aged is re-confirmed with one probe. Otherwise
// the pending colour, if one was announced, is probed first, then whatever
// is left of both colours, concurrently. Errors other than a rejection (bad
// credentials, an unreachable engine) are returned at once with their cause;
// when the engine rejects both colours the error wraps [ErrBothRejected] and
// both causes. When the probes find the cluster suspended and Config.Cluster
// is set, the prober resumes it and probes again, and the others wait for
// it, up to ResumeTimeout; a failed or late resume is a [*ResumeError] for
// all of them.
func (c *Coordinator) Resolve(ctx context.Context) (cache.Strategy, error) {
	if s := c.Strategy(); s.Valid() {
		return s, nil
	}
	if c.ctx.Err() != nil {
		return cache.Unknown, ErrClosed
	}
	ch := c.group.DoChan("detect", func() (any, error) {
		if !c.track() {
			return cache.Unknown, ErrClosed
		}
		defer c.wg.Done()
		// Detection outlives a caller that gives up: others may wait for it.
		// It may have to resume the cluster, or wait for another process to.
		limit := 3*c.cfg.ProbeLeaseTTL + c.cfg.ProbeTimeout
		if c.cfg.Cluster != nil {
			limit += c.cfg.ResumeTimeout
		}
		dctx, cancel := context.WithTimeout(c.ctx, limit)
		defer cancel()
		return c.detect(dctx)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return cache.Unknown, r.Err
		}
		return r.Val.(cache.Strategy), nil
	case <-ctx.Done():
		return cache.Unknown, ctx.Err()
	}
}

// detect finds the active colour for the fleet: it adopts a fresh stored
// record, or takes the probe lease and probes, or waits for the holder.
func (c *Coordinator) detect(ctx context.Context) (cache.Strategy, error) {
	c.syncClock(ctx) // before the record's times are judged
	start := c.now()
	for {
		if s := c.Strategy(); s.Valid() {
			return s, nil
		}
		if !c.degraded() {
			if st, err := c.load(ctx); err == nil {
				c.adopt(st)
				if s := c.Strategy(); s.Valid() {
					return s, nil
				}
			}
		}
		won, err := c.acquireLease(ctx)
		if err != nil {
			return cache.Unknown, err
		}
		if won {
			// Double-check: the previous holder may have just finished.
			if !c.degraded() {
				if st, err := c.load(ctx); err == nil {
					c.adopt(st)
				}
			}
			s := c.Strategy()
			var err error
			if !s.Valid() {
				// A resume this detection waited for may have ended.
				if err = c.resumeOutcome(start); err == nil {
					s, err = c.probeAndCommit(ctx)
				}
			}
			c.releaseLease()
			return s, err
		}
		// Another process probes, or resumes the cluster, for the fleet.
		if err := c.resumeOutcome(start); err != nil {
			return cache.Unknown, err
		}
		if err := c.waitChange(ctx); err != nil {
			return cache.Unknown, fmt.Errorf("coordinator: waiting for the fleet's probe: %w", err)
		}
	}
}

// waitChange waits until the local record changes, WaitPoll passes, or ctx
// is done.
func (c *Coordinator) waitChange(ctx context.Context) error {
	c.mu.Lock()
	ch := c.changed
	c.mu.Unlock()
	t := time.NewTimer(c.cfg.WaitPoll)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// acquireLease takes the probe lease of the scope: first the process's own
// (detection and the pending probe take turns), then the fleet's. It
// reports false when another process holds it. With the store unreachable
// it reports true: the process probes for itself rather than fail. After
// true, the caller must call releaseLease.
func (c *Coordinator) acquireLease(ctx context.Context) (bool, error) {
	select {
	case c.probing <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	won, err := c.renewLease(ctx)
	if !won {
		<-c.probing
	}
	return won, err
}

// renewLease takes or extends the fleet's probe lease.
func (c *Coordinator) renewLease(ctx context.Context) (bool, error) {
	if c.degraded() {
		return true, nil
	}
	sctx, cancel := c.storeCtx(ctx)
	err := c.store.AcquireProbeLease(sctx, c.cfg.Scope, c.cfg.ID, c.cfg.ProbeLeaseTTL)
	cancel()
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, cache.ErrLeaseHeld):
		return false, nil
	case ctx.Err() != nil:
		return false, ctx.Err()
	}
	c.storeFailed("acquire probe lease", err)
	return true, nil
}

// releaseLease gives the probe lease up, best effort.
func (c *Coordinator) releaseLease() {
	defer func() { <-c.probing }()
	ctx, cancel := c.storeCtx(context.Background())
	defer cancel()
	if err := c.store.ReleaseProbeLease(ctx, c.cfg.Scope, c.cfg.ID); err != nil {
		c.storeFailed("release probe lease", err)
	}
}

// probeOne asks the engine whether it accepts s, within ProbeTimeout.
func (c *Coordinator) probeOne(ctx context.Context, s cache.Strategy) error {
	c.stats.probes.Add(1)
	pctx, cancel := context.WithTimeout(ctx, c.cfg.ProbeTimeout)
	defer cancel()
	err := c.probe(pctx, s)
	if err != nil {
		err = fmt.Errorf("probe %s: %w", s, err)
	}
	return err
}

// probeResult is what one detection learnt of each colour: nil for
// accepted, else the cause.
type probeResult struct {
	err   [3]error // indexed by Strategy
	tried [3]bool
}

func (r *probeResult) accepted(s cache.Strategy) bool { return r.tried[s] && r.err[s] == nil }

// probeAndCommit probes as Resolve describes and stores the outcome; when
// the probes find the cluster suspended and Config.Cluster is set, it
// resumes the cluster for the fleet and probes again. The caller holds the
// probe lease.
func (c *Coordinator) probeAndCommit(ctx context.Context) (cache.Strategy, error) {
	s, err := c.probeOnce(ctx)
	if c.cfg.Cluster == nil || !isSuspended(err) {
		return s, err
	}
	if err := c.resumeCluster(ctx); err != nil {
		return cache.Unknown, err
	}
	return c.probeOnce(ctx)
}

// probeOnce is one round of probeAndCommit's probes and their commit.
func (c *Coordinator) probeOnce(ctx context.Context) (cache.Strategy, error) {
	c.stats.detections.Add(1)
	snap := c.snap.Load()
	st := snap.state
	c.log.Info("detecting active colour", "cached", st.Active.String(), "rejected", snap.rejected,
		"pending", st.Pending.String(), "generation", st.Generation)

	var r probeResult
	rounds := 0
	probe := func(ss ...cache.Strategy) {
		if rounds++; rounds > 1 {
			_, _ = c.renewLease(ctx) // for this round
		}
		var wg sync.WaitGroup
		for _, s := range ss {
			r.tried[s] = true
			wg.Go(func() { r.err[s] = c.probeOne(ctx, s) })
		}
		wg.Wait()
	}

	// The active colour was rejected and the engine accepted the pending
	// one a moment ago (an overlap ending): that is the switch, no probe.
	if p := st.Pending; snap.rejected && p.Valid() && !st.AcceptedAt.IsZero() &&
		c.now().Before(st.AcceptedAt.Add(c.cfg.CacheTTL)) {
		r.tried[p] = true
		c.log.Info("active colour rejected; switching to the accepted pending colour", "colour", p.String())
		return c.commitDetected(ctx, p, st, &r)
	}
	// An aged colour: one call confirms it.
	if st.Active.Valid() && !snap.rejected {
		probe(st.Active)
		if r.accepted(st.Active) {
			return c.commitDetected(ctx, st.Active, st, &r)
		}
	}
	// A colour the engine announced is the likeliest to be serving.
	if p := st.Pending; p.Valid() && !r.tried[p] {
		probe(p)
	}
	if fatal := r.fatal(); fatal != nil {
		c.log.Info("detection failed", "err", fatal)
		return cache.Unknown, fatal
	}
	if !r.accepted(st.Pending) {
		var rest []cache.Strategy
		for _, s := range cache.Strategies {
			if !r.tried[s] {
				rest = append(rest, s)
			}
		}
		probe(rest...)
	}

	var chosen cache.Strategy
	switch blue, green := r.accepted(cache.Blue), r.accepted(cache.Green); {
	case blue && green:
		chosen = c.chooseOfBoth(st)
	case blue:
		chosen = cache.Blue
	case green:
		chosen = cache.Green
	default:
		err := r.fatal()
		if err == nil {
			err = fmt.Errorf("%w: %w", ErrBothRejected, multierror.Append(nil, r.err[cache.Blue], r.err[cache.Green]))
		}
		c.log.Info("detection failed", "err", err)
		return cache.Unknown, err
	}
	return c.commitDetected(ctx, chosen, st, &r)
}

// fatal returns the errors that are not rejections, if any.
func (r *probeResult) fatal() error {
	var merr *multierror.Error
	for _, s := range cache.Strategies {
		if err := r.err[s]; err != nil && !errors.Is(err, ErrWrongStrategy) {
			merr = multierror.Append(merr, err)
		}
	}
	return merr.ErrorOrNil()
}

// chooseOfBoth picks the active colour when the engine accepts both (an
// overlap): the known active one, or under a pending switch the one the
// policy wants; blue when nothing is known.
func (c *Coordinator) chooseOfBoth(st cache.State) cache.Strategy {
	switch {
	case st.Pending.Valid() && (c.cfg.Policy == Eager || !st.Active.Valid()):
		return st.Pending
	case st.Active.Valid():
		return st.Active
	case st.Pending.Valid():
		return st.Pending.Other()
	}
	return cache.Blue
}

// commitDetected stores chosen as the confirmed active colour. A pending
// colour that the probes saw accepted is marked accepted, or becomes active
// if chosen is it.
func (c *Coordinator) commitDetected(ctx context.Context, chosen cache.Strategy, seen cache.State, r *probeResult) (cache.Strategy, error) {
	now := c.now()
	c.update(ctx, func(cur cache.State) (cache.State, bool) {
		if cur.Active.Valid() && cur.Active != seen.Active && cur.Active != chosen &&
			!(r.tried[cur.Active] && r.err[cur.Active] != nil) {
			return cur, false // another process decided since we looked; our probe says nothing against it
		}
		next := cur
		next.Active = chosen
		next.ConfirmedAt = now
		switch {
		case cur.Pending == chosen:
			clearPending(&next)
		case cur.Pending.Valid() && r.accepted(cur.Pending) && cur.AcceptedAt.IsZero():
			next.AcceptedAt = now
		}
		return next, true
	})
	c.log.Info("detected active colour", "colour", chosen.String(), "was", seen.Active.String(),
		"generation", c.Snapshot().Generation)
	c.maybeSwitch(ctx, nil)
	if s := c.Strategy(); s.Valid() {
		return s, nil
	}
	return chosen, nil
}

// clearPending removes the pending colour and its times from st.
func clearPending(st *cache.State) {
	st.Pending = cache.Unknown
	st.AnnouncedAt = time.Time{}
	st.AcceptedAt = time.Time{}
	st.ProbedAt = time.Time{}
}
