package coordinator

import (
	"context"
	"errors"

	"github.com/e6coord/e6coord/cache"
)

// maxSwapTries bounds the compare-and-swap retries of one update.
const maxSwapTries = 8

// update is the one way the shared record changes. It applies change to the
// newest record known, stamps the result with a generation above every
// generation seen (stored or local), and stores it with a compare-and-swap,
// retrying on conflict with the record the store returned. change returns
// false to leave the record as it is. While the store is unreachable the
// change is applied to the local record only and written back on recovery.
// It returns the record in force afterwards and whether change was applied.
func (c *Coordinator) update(ctx context.Context, change func(cur cache.State) (cache.State, bool)) (cache.State, bool) {
	if c.degraded() {
		return c.updateLocal(change)
	}
	base := c.Snapshot()
	old := base.Generation
	for range maxSwapTries {
		next, ok := change(base)
		if !ok {
			return base, false
		}
		got, err := c.swap(ctx, old, next)
		switch {
		case err == nil:
			c.storeAnswered()
			c.sawStored(got.Generation)
			c.adopt(got)
			return got, true
		case errors.Is(err, cache.ErrConflict):
			// Someone else changed the record. Build on theirs if it is
			// newer than ours; if ours is newer (the store lost writes),
			// build on ours, over their generation.
			c.storeAnswered()
			c.sawStored(got.Generation)
			old = got.Generation
			c.adopt(got)
			base = c.Snapshot()
		case ctx.Err() != nil:
			return c.Snapshot(), false
		case errors.Is(err, cache.ErrInvalidRecord), errors.Is(err, cache.ErrInvalidStrategy):
			c.log.Error("refused record", "record", next.String(), "err", err)
			return c.Snapshot(), false
		default:
			c.storeFailed("compare-and-swap", err)
			return c.updateLocal(change)
		}
	}
	c.log.Warn("record changed under us too often; giving up this change")
	return c.Snapshot(), false
}

// swap stamps next with a generation above old and above the local one, and
// with this process as its changer, and stores it if the stored generation
// is old.
func (c *Coordinator) swap(ctx context.Context, old uint64, next cache.State) (cache.State, error) {
	next.Generation = max(old, c.Snapshot().Generation) + 1
	next.ChangedAt = c.now()
	next.ChangedBy = c.cfg.ID
	sctx, cancel := c.storeCtx(ctx)
	defer cancel()
	return c.store.CompareAndSwap(sctx, c.cfg.Scope, old, next)
}

// updateLocal applies change to the local record only, and marks it for
// writing back when the store returns.
func (c *Coordinator) updateLocal(change func(cur cache.State) (cache.State, bool)) (cache.State, bool) {
	for {
		base := c.Snapshot()
		next, ok := change(base)
		if !ok {
			return base, false
		}
		next.Generation = base.Generation + 1
		next.ChangedAt = c.now()
		next.ChangedBy = c.cfg.ID
		if c.adopt(next) {
			return next, true // written back on recovery: see reconcile
		}
	}
}

// load reads the record from the store. A missing record is the zero State.
// A record with an invalid colour is returned with that colour Unknown, and
// counted. Store trouble marks the coordinator degraded.
func (c *Coordinator) load(ctx context.Context) (cache.State, error) {
	sctx, cancel := c.storeCtx(ctx)
	st, err := c.store.Load(sctx, c.cfg.Scope)
	cancel()
	switch {
	case err == nil:
		c.storeAnswered()
		c.sawStored(st.Generation)
		return st, nil
	case errors.Is(err, cache.ErrNotFound):
		c.storeAnswered()
		return cache.State{}, nil
	case errors.Is(err, cache.ErrInvalidStrategy):
		c.storeAnswered()
		c.ignoreInvalid("store", err)
		c.sawStored(st.Generation)
		return st, nil
	case ctx.Err() != nil:
		return cache.State{}, ctx.Err()
	}
	c.storeFailed("load", err)
	return cache.State{}, err
}

// sawStored notes that the store held generation gen.
func (c *Coordinator) sawStored(gen uint64) {
	for {
		cur := c.storeGen.Load()
		if gen <= cur || c.storeGen.CompareAndSwap(cur, gen) {
			return
		}
	}
}

// reconcile settles the local record with st, the record just read from
// the store, given known, the highest generation seen stored before that
// read. It never writes blindly, and never lets older content win:
//   - the store has a newer record: adopt it;
//   - the store went back (it lost writes: restarted empty, or a failover
//     promoted a replica without the last swaps): write the newest record
//     this process knows back, above the store's generation, so that no
//     process adopts the older content the store holds;
//   - the store moved on while we could not see it (its generation is
//     above every one we saw stored), but ours is numbered as high or
//     higher because we changed the record locally meanwhile: the newer
//     evidence of the engine wins, the record whose colour was confirmed
//     later; the fleet's record wins a tie. Write the winner's content at a
//     generation above both, so that no process goes backwards. (A
//     generation says nothing of freshness here: a process that detected
//     the colour while the store was unreachable numbers its record from
//     its own, and may reach a stored generation it never saw with newer
//     content than the stored one.)
//   - we changed the record while the store was down (our generation is
//     above the last stored one) and the store did not move: write ours
//     back.
//
// Every write is a compare-and-swap on st's generation.
func (c *Coordinator) reconcile(ctx context.Context, st cache.State, known uint64) {
	if c.adopt(st) {
		return
	}
	local := c.Snapshot()
	switch {
	case st.Generation > local.Generation:
		return // not adoptable (invalid); ignored
	case st.Generation < known:
		c.log.Warn("store lost writes; writing the newest record back", "stored", st.String(),
			"seen", known, "record", local.String())
	case st.Generation > known:
		if local.Generation > known && local.Active.Valid() && local.ConfirmedAt.After(st.ConfirmedAt) {
			c.log.Info("store moved on while unreachable, to an older confirmation; writing the local record back",
				"stored", st.String(), "record", local.String())
			c.writeOver(ctx, st.Generation, local)
			return
		}
		c.log.Info("store moved on while unreachable; taking its record", "record", st.String())
		c.writeOver(ctx, st.Generation, st)
		return
	case local.Generation > known: // and st.Generation == known
		c.log.Info("writing back the record changed while the store was unreachable", "record", local.String())
	default:
		return
	}
	c.writeOver(ctx, st.Generation, local)
}

// writeOver stores content over the stored generation old, once; a
// conflict means someone else wrote, and their record is adopted.
func (c *Coordinator) writeOver(ctx context.Context, old uint64, content cache.State) {
	got, err := c.swap(ctx, old, content)
	switch {
	case err == nil, errors.Is(err, cache.ErrConflict):
		c.storeAnswered()
		c.sawStored(got.Generation)
		c.adopt(got)
	case ctx.Err() == nil:
		c.storeFailed("write back", err)
	}
}

// ignoreInvalid counts and logs an invalid colour that was ignored.
func (c *Coordinator) ignoreInvalid(from string, err error) {
	if n := c.stats.invalid.Add(1); n&(n-1) == 0 { // 1, 2, 4, 8...: no flood
		c.log.Warn("ignored invalid colour", "from", from, "err", err, "count", n)
	}
}

// recoverStore checks whether the store answers again. If it does, it leaves
// degraded mode, settles the record with the store's (see reconcile), renews
// (or writes again) the pins this process holds, and releases in one call
// the pins released meanwhile that may still be live in the store.
func (c *Coordinator) recoverStore(ctx context.Context) error {
	sctx, cancel := c.storeCtx(ctx)
	st, err := c.store.Load(sctx, c.cfg.Scope)
	cancel()
	switch {
	case err == nil, errors.Is(err, cache.ErrNotFound):
	case errors.Is(err, cache.ErrInvalidStrategy):
		c.ignoreInvalid("store", err)
	default:
		c.stats.storeErrors.Add(1)
		c.health.noteError(err)
		if errors.Is(err, cache.ErrAccessDenied) {
			c.setStoreState(StoreDenied)
			c.logDenied("load", err)
		} else {
			c.setStoreState(StoreUnreachable)
			c.log.Debug("store still unreachable", "err", err)
		}
		return err
	}
	c.storeAnswered()
	known := c.storeGen.Load()
	c.sawStored(st.Generation)
	c.setStoreState(StoreUp) // before the list is taken: releases from now on go to the store
	released, held := c.pins.takeReleasedOffline()
	c.reconcile(ctx, st, known)
	c.pins.renew(ctx)
	c.pins.storeWrite(ctx, cache.PinWrite{Release: released})
	c.log.Info("store reachable again", "record", c.Snapshot().String(), "pins", held,
		"released meanwhile", len(released))
	return nil
}
