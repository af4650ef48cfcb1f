package coordinator

import (
	"errors"
	"time"

	"github.com/e6coord/e6coord/cache"
)

// maxRecoveryBackoff caps the wait between attempts to reach a failed store.
const maxRecoveryBackoff = 500 * time.Millisecond

// loop runs announcements, drain checks and the periodic refresh, one at a
// time, until Close. Events never postpone a refresh that is due: they can
// only bring it forward (a switch became pending, the store failed).
func (c *Coordinator) loop() {
	defer c.wg.Done()
	backoff := c.cfg.PendingRefreshInterval
	failures := 0 // refreshes in a row that found the store unreachable
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var due time.Time // when the armed refresh fires; zero when none is armed
	arm := func() {
		d := c.refreshDelay(backoff)
		if d <= 0 {
			return
		}
		if at := time.Now().Add(d); due.IsZero() || at.Before(due) {
			due = at
			timer.Reset(d)
		}
	}
	arm()
	for {
		select {
		case <-c.ctx.Done():
			return
		case s := <-c.announced:
			c.recordAnnounced(c.ctx, s)
		case <-c.drained:
			c.maybeSwitch(c.ctx, nil)
		case <-c.wake: // the record or the store's health changed: re-time
		case <-timer.C:
			due = time.Time{}
			_ = c.refresh(c.ctx)
			limit := maxRecoveryBackoff
			switch {
			case !c.degraded():
				failures, backoff = 0, c.cfg.PendingRefreshInterval
			case StoreState(c.health.state.Load()) == StoreDenied:
				limit = maxDeniedBackoff
				fallthrough
			default:
				failures++
				backoff = cache.Backoff(failures, c.cfg.PendingRefreshInterval, limit)
			}
		}
		arm()
	}
}

// refreshDelay returns how long until the next refresh, or 0 for none:
// backoff while the store is unreachable (a [cache.Backoff] from twice
// PendingRefreshInterval to maxRecoveryBackoff, or maxDeniedBackoff when it
// refused access); else
// RefreshInterval, or PendingRefreshInterval while a switch is pending, at
// most unwatchedRefresh while the store refuses the change subscription,
// and no later than the next early refresh or expiry of the active colour.
func (c *Coordinator) refreshDelay(backoff time.Duration) time.Duration {
	switch {
	case c.degraded():
		return backoff
	case c.cfg.RefreshInterval < 0:
		return 0
	}
	d := c.cfg.RefreshInterval
	snap := c.snap.Load()
	if snap.state.Pending.Valid() {
		d = c.cfg.PendingRefreshInterval
	}
	if c.health.watchDenied.Load() {
		d = min(d, unwatchedRefresh)
	}
	if next, ok := c.nextDeadline(snap); ok {
		d = min(d, max(next, minDeadlineDelay))
	}
	return d
}

// minDeadlineDelay is the least wait for a deadline of the record, so that
// one the loop cannot act on yet does not spin it.
const minDeadlineDelay = 10 * time.Millisecond

// nextDeadline returns how long until the loop has something to do for the
// active colour of snap: refresh it early, or mark it expired.
func (c *Coordinator) nextDeadline(snap *snapshot) (time.Duration, bool) {
	st := snap.state
	if !st.Active.Valid() || snap.rejected || snap.expired {
		return 0, false
	}
	at := c.expiry(st)
	if c.refreshTried.Load() != st.ConfirmedAt.UnixNano() {
		at = c.refreshAt(st)
	}
	return at.Sub(c.now()), true
}

// watchLoop applies the records the store pushes, and re-reads the record
// after every (re)subscription, since delivery is at most once.
func (c *Coordinator) watchLoop(w cache.Watcher) {
	defer c.wg.Done()
	failures := 0       // failed subscriptions since the last one that worked, or the store answered
	subscribed := false // a subscription was made before
	for c.ctx.Err() == nil {
		answered := c.health.answered.Load()
		ch, err := w.Watch(c.ctx, c.cfg.Scope)
		if err != nil {
			if c.ctx.Err() != nil {
				return
			}
			// A refused subscription (an ACL without the channel) is not an
			// outage: commands may work. Poll the record instead, and try
			// again now and then. Nor is a subscription that failed while
			// other calls answered (a store coming back, reconnecting):
			// try again soon.
			limit := maxRecoveryBackoff
			switch {
			case errors.Is(err, cache.ErrAccessDenied):
				c.watchRefused(err)
				limit = maxDeniedBackoff
			case c.health.answered.Load() != answered:
				c.stats.storeErrors.Add(1)
				failures = 0
			default:
				c.storeFailed("watch", err)
			}
			if sleep(c.ctx, cache.Backoff(failures, c.cfg.WaitPoll, limit)) != nil {
				return
			}
			failures++
			continue
		}
		if c.health.watchDenied.Swap(false) {
			c.poke()
		}
		if subscribed {
			c.stats.resubscribes.Add(1)
		}
		subscribed = true
		failures = 0
		if st, err := c.load(c.ctx); err == nil {
			c.adopt(st)
		}
		for st := range ch {
			c.stats.lastMessage.Store(c.cfg.Now().UnixNano())
			c.sawStored(st.Generation)
			c.adopt(st)
		}
	}
}
