package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/internal/resultenc"
	"github.com/e6coord/e6coord/coordinator"
)

// query is a prepared query, pinned to the colour and session it was
// prepared with: every later call of it carries them.
type query struct {
	conn      *Conn
	id        string
	plannerIP string
	sess      *session
	call      *callInfo // the colour and planner every call of q carries
}

func (q *query) strategy() cache.Strategy { return q.sess.strategy }

// ctx returns ctx for a call of q: its colour and planner, fixed.
func (q *query) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, callKey{}, q.call)
}

// prepareCall makes the prepare call of sql with sess. The call outlives
// ctx: if ctx ends first, prepareCall returns ctx's error at once and the
// call goes on, for up to clearTimeout, so that a query the engine prepared
// all the same is learnt of and cleared rather than left on the engine.
func (c *Conn) prepareCall(ctx context.Context, sess *session, sql string) (*query, error) {
	req := &e6xpb.PrepareStatementV2Request{
		SessionId:   sess.id,
		Schema:      c.cfg.Schema,
		Catalog:     c.cfg.Catalog,
		QueryString: sql,
	}
	rejections := c.coord.Rejections(sess.strategy) // before the prepare: see callInfo
	newQuery := func(resp *e6xpb.PrepareStatementResponse) *query {
		call := newCallInfo(sess.strategy, resp.GetEngineIP())
		call.watch, call.rejectionsAt = true, rejections
		return &query{conn: c, id: resp.GetQueryId(), plannerIP: resp.GetEngineIP(), sess: sess, call: call}
	}
	if ctx.Done() == nil {
		resp, err := c.engine.PrepareStatementV2(ctx, req)
		if err != nil {
			return nil, err
		}
		return newQuery(resp), nil
	}
	type answer struct {
		resp *e6xpb.PrepareStatementResponse
		err  error
	}
	callCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan answer, 1)
	go func() {
		resp, err := c.engine.PrepareStatementV2(callCtx, req)
		done <- answer{resp, err}
	}()
	select {
	case a := <-done:
		cancel()
		if a.err != nil {
			return nil, a.err
		}
		return newQuery(a.resp), nil
	case <-ctx.Done():
	}
	go func() {
		defer cancel()
		limit := time.NewTimer(clearTimeout)
		defer limit.Stop()
		var a answer
		select {
		case a = <-done:
		case <-limit.C:
			cancel()
			a = <-done
		}
		if a.err == nil {
			_ = newQuery(a.resp).clear(callCtx)
		}
	}()
	return nil, ctx.Err()
}

// run prepares and runs sql as one operation of the coordinator's retry
// loop ([coordinator.Coordinator.Do]), within MaxAttempts in all, prepares
// and replays together: each attempt prepares sql on the live colour (a
// rejection or a lost session there is retried as Do retries any call),
// pins the query and calls start. A rejection of the colour (or of the
// session) before start returns replays the query from prepare, unless
// NoReplay; any other error of start ends the operation.
func (c *Conn) run(ctx context.Context, sql string, start func(ctx context.Context, q *query) error) (*query, error) {
	var q *query
	replay := false // the attempt before failed in start, and is replayed
	err := c.coord.Do(ctx, func(ctx context.Context, s cache.Strategy) error {
		if replay {
			c.replays.Add(1)
			replay = false
		}
		sess, err := c.session(ctx, s)
		if err != nil {
			return err
		}
		p, err := c.prepareCall(c.callCtx(ctx, s), sess, sql)
		if err != nil {
			return c.retryLost(sess, err)
		}
		if err := c.coord.Pin(p.id, p.strategy()); err != nil {
			p.abandon(ctx, err)
			return coordinator.Stop(err)
		}
		if err = start(ctx, p); err == nil {
			q = p
			return nil
		}
		p.abandon(ctx, err)
		wrong := IsWrongStrategy(err)
		switch {
		case (!wrong && !IsSessionLost(err)) || c.cfg.NoReplay:
			return coordinator.Stop(p.wrap(err))
		case !wrong:
			replay = true
			c.dropSession(p.sess)
			return coordinator.Retry(err)
		case isColourGone(err):
			replay = true
			return coordinator.Retry(p.strategyError(err)) // counted when the engine rejected it
		default:
			replay = true
			return p.strategyError(err) // Do invalidates the colour
		}
	})
	if err != nil {
		return nil, err
	}
	return q, nil
}

// execute runs the prepared query.
func (q *query) execute(ctx context.Context) error {
	_, err := q.conn.engine.ExecuteStatementV2(q.ctx(ctx), &e6xpb.ExecuteStatementV2Request{
		EngineIP:  q.plannerIP,
		SessionId: q.sess.id,
		QueryId:   q.id,
	})
	return err
}

// clearTimeout bounds the clear of a query, which runs even when the
// caller's context has ended.
const clearTimeout = 5 * time.Second

// clear tells the engine the query is done, and releases its pin. A
// rejection of the colour is not an error: the query is gone with it. It
// runs even if ctx is cancelled, within clearTimeout.
func (q *query) clear(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), clearTimeout)
	defer cancel()
	_, err := q.conn.engine.ClearOrCancelQuery(q.ctx(ctx), &e6xpb.ClearOrCancelQueryRequest{
		EngineIP:  q.plannerIP,
		SessionId: q.sess.id,
		QueryId:   q.id,
	})
	q.conn.coord.Release(q.id)
	if err != nil && !IsWrongStrategy(err) {
		return fmt.Errorf("client: clear query %s: %w", q.id, err)
	}
	return nil
}

// abandon ends a query that failed: it clears it on the engine when the
// engine may still hold it, and releases its pin.
func (q *query) abandon(ctx context.Context, cause error) {
	if IsWrongStrategy(cause) || IsSessionLost(cause) {
		q.conn.coord.Release(q.id)
		return
	}
	_ = q.clear(ctx)
}

// wrap adds what the caller needs to know to an error of the query: for a
// rejection, the colour sent and the active colour of the local record,
// unless it is the rejected one. It does no I/O: the next call detects the
// colour if none is trusted.
func (q *query) wrap(err error) error {
	if !IsWrongStrategy(err) {
		return err
	}
	if !isColourGone(err) {
		q.conn.coord.Invalidate(q.strategy())
	}
	return q.strategyError(err)
}

// strategyError returns the rejection err of a call of q as a
// [*StrategyError], with the colour sent and the active colour of the
// local record, unless it is the rejected one.
func (q *query) strategyError(err error) error {
	c := q.conn
	se := &StrategyError{Err: err, Sent: q.strategy(), QueryID: q.id}
	var inner *StrategyError
	if errors.As(err, &inner) {
		se.Err = inner.Err
	}
	snap := c.coord.Snapshot()
	if snap.Active != se.Sent {
		se.Active = snap.Active
	}
	se.Generation = snap.Generation
	return se
}

// Exec prepares and executes sql, and clears it, for statements whose rows
// the caller does not want. A rejection of the colour at any step replays
// the statement on the new colour.
func (c *Conn) Exec(ctx context.Context, sql string) error {
	q, err := c.run(ctx, sql, func(ctx context.Context, q *query) error { return q.execute(ctx) })
	if err != nil {
		return err
	}
	return q.clear(ctx)
}

// Query prepares and executes sql, reads its metadata and its first result
// batches (up to PrefetchBytes), and returns its rows. A rejection of the
// colour up to then replays the query on the new colour, so a result that
// fits in PrefetchBytes never fails because of a switch. The caller must
// Close the rows.
func (c *Conn) Query(ctx context.Context, sql string) (*Rows, error) {
	var rows *Rows
	_, err := c.run(ctx, sql, func(ctx context.Context, q *query) error {
		r, err := q.start(ctx)
		rows = r
		return err
	})
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// start executes q, reads its metadata and prefetches its batches.
func (q *query) start(ctx context.Context) (*Rows, error) {
	if err := q.execute(ctx); err != nil {
		return nil, err
	}
	md, err := q.conn.engine.GetResultMetadata(q.ctx(ctx), &e6xpb.GetResultMetadataRequest{
		EngineIP:  q.plannerIP,
		SessionId: q.sess.id,
		QueryId:   q.id,
	})
	if err != nil {
		return nil, err
	}
	total, cols, err := resultenc.DecodeMetadata(md.GetResultMetaData())
	r := &Rows{q: q, total: total, cols: make([]Column, len(cols)), types: make([]resultenc.VectorType, len(cols)), row: -1}
	for i, col := range cols {
		r.cols[i] = Column{Name: col.Name, Type: col.Type}
		r.types[i], _ = resultenc.ParseVectorType(col.Type) // DecodeMetadata has checked it
	}
	if err != nil {
		return nil, resultError(q.id, -1, 0, r.cols, err)
	}
	size := 0
	for !r.done && size < q.conn.cfg.PrefetchBytes {
		n, err := r.fetch(ctx)
		if err != nil {
			return nil, err
		}
		size += n
	}
	return r, nil
}
