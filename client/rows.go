package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/internal/resultenc"
)

// Column describes a result column.
type Column struct {
	Name string // the column's name
	Type string // the engine's type name: LONG, INTEGER, DOUBLE, FLOAT, BOOLEAN, STRING, ...
}

// Rows is the result of a query. It is not safe for concurrent use. Read it
// with Next and Values, then Close it: Close clears the query on the engine
// and releases its pin, as does reaching the end with an error.
type Rows struct {
	q     *query
	total int64
	cols  []Column

	pending []resultenc.Chunk // fetched batches not read yet
	chunk   resultenc.Chunk   // the batch being read
	row     int               // the row of chunk Values reads; -1 before the first
	done    bool              // the engine sent its last batch
	values  []any
	err     error
	closed  bool
}

// Columns returns the result's columns.
func (r *Rows) Columns() []Column { return r.cols }

// RowCount returns the row count the engine reported in the result's
// metadata.
func (r *Rows) RowCount() int64 { return r.total }

// QueryID returns the engine's id of the query.
func (r *Rows) QueryID() string { return r.q.id }

// Strategy returns the colour the query is pinned to.
func (r *Rows) Strategy() cache.Strategy { return r.q.strategy() }

// Next advances to the next row, fetching a batch from the engine when
// needed, and reports whether there is one. When it returns false, Err
// tells whether the result ended or failed. A rejection of the query's
// colour at this point is a [*StrategyError].
func (r *Rows) Next(ctx context.Context) bool {
	if r.closed || r.err != nil {
		return false
	}
	r.row++
	for r.row >= r.chunk.Size {
		if len(r.pending) == 0 {
			if r.done {
				return false
			}
			if _, err := r.fetch(ctx); err != nil {
				r.fail(ctx, err)
				return false
			}
			continue
		}
		r.chunk, r.row = r.pending[0], 0
		r.pending = r.pending[1:]
	}
	return true
}

// Values returns the current row's values: int64 (LONG), int32 (INTEGER),
// float64 (DOUBLE), float32 (FLOAT), bool (BOOLEAN), string (STRING),
// time.Time (DATE, DATETIME, TIMESTAMP), and nil for NULL. The slice is
// reused by the next call.
func (r *Rows) Values() ([]any, error) {
	if r.row < 0 || r.row >= r.chunk.Size {
		return nil, errors.New("client: Values called without a current row")
	}
	r.values = r.values[:0]
	for i := range r.chunk.Vectors {
		v, err := r.chunk.Vectors[i].Value(r.row)
		if err != nil {
			return nil, fmt.Errorf("client: query %s: column %s: %w", r.q.id, r.cols[i].Name, err)
		}
		r.values = append(r.values, v)
	}
	return r.values, nil
}

// Err returns the error that ended the rows, if any.
func (r *Rows) Err() error { return r.err }

// Close clears the query on the engine and releases its pin. It is safe to
// call more than once.
func (r *Rows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.err != nil {
		return nil // fail cleared it
	}
	return r.q.clear(context.Background()) // bounded by clearTimeout
}

// fail ends the rows with err and the query with them.
func (r *Rows) fail(ctx context.Context, err error) {
	r.q.abandon(ctx, err)
	r.err = r.q.wrap(err)
}

// fetch reads and decodes the next batch into pending, and marks the end:
// an empty batch, or a chunk of no rows. It returns the batch's size in
// bytes.
func (r *Rows) fetch(ctx context.Context) (int, error) {
	q := r.q
	resp, err := q.conn.engine.GetNextResultBatch(q.ctx(ctx), &e6xpb.GetNextResultBatchRequest{
		EngineIP:  q.plannerIP,
		SessionId: q.sess.id,
		QueryId:   q.id,
	})
	if err != nil {
		return 0, err
	}
	b := resp.GetResultBatch()
	if len(b) == 0 {
		r.done = true
		return 0, nil
	}
	chunk, err := resultenc.DecodeChunk(b)
	if err != nil {
		return 0, fmt.Errorf("client: query %s: result batch: %w", q.id, err)
	}
	if chunk.Size <= 0 {
		r.done = true
		return len(b), nil
	}
	if len(chunk.Vectors) != len(r.cols) {
		return 0, fmt.Errorf("client: query %s: batch has %d columns, metadata %d", q.id, len(chunk.Vectors), len(r.cols))
	}
	r.pending = append(r.pending, chunk)
	return len(b), nil
}

// Status reports whether the query has finished, and its row count.
func (r *Rows) Status(ctx context.Context) (done bool, rowCount int64, err error) {
	q := r.q
	resp, err := q.conn.engine.Status(q.ctx(ctx), &e6xpb.StatusRequest{
		EngineIP: q.plannerIP, SessionId: q.sess.id, QueryId: q.id,
	})
	if err != nil {
		return false, 0, q.wrap(err)
	}
	return resp.GetStatus(), resp.GetRowCount(), nil
}

// Explain returns the engine's plan of the query.
func (r *Rows) Explain(ctx context.Context) (string, error) {
	q := r.q
	resp, err := q.conn.engine.Explain(q.ctx(ctx), &e6xpb.ExplainRequest{
		EngineIP: q.plannerIP, SessionId: q.sess.id, QueryId: q.id,
	})
	if err != nil {
		return "", q.wrap(err)
	}
	return resp.GetExplain(), nil
}

// ExplainAnalyze returns the engine's analysis of the executed query.
func (r *Rows) ExplainAnalyze(ctx context.Context) (string, error) {
	q := r.q
	resp, err := q.conn.engine.ExplainAnalyze(q.ctx(ctx), &e6xpb.ExplainAnalyzeRequest{
		EngineIP: q.plannerIP, SessionId: q.sess.id, QueryId: q.id,
	})
	if err != nil {
		return "", q.wrap(err)
	}
	return resp.GetExplainAnalyze(), nil
}

// Cancel cancels the query on the engine and releases its pin; the rows
// end. A rejection of the query's colour is not an error: the query is gone
// with it.
func (r *Rows) Cancel(ctx context.Context) error {
	if r.closed {
		return nil
	}
	r.closed = true
	q := r.q
	_, err := q.conn.engine.CancelQuery(q.ctx(ctx), &e6xpb.CancelQueryRequest{
		EngineIP: q.plannerIP, SessionId: q.sess.id, QueryId: q.id,
	})
	q.conn.coord.Release(context.WithoutCancel(ctx), q.id)
	if err != nil && !IsWrongStrategy(err) {
		return fmt.Errorf("client: cancel query %s: %w", q.id, err)
	}
	return nil
}

// DecimalScale returns the scale of DECIMAL128 column col (0-based) in
// the batch being read, or before the first Next in the first batch; the
// result metadata does not carry it. It reports false if col is not a
// DECIMAL128 column or no batch is at hand (an empty result).
func (r *Rows) DecimalScale(col int) (int32, bool) {
	c := &r.chunk
	if r.row < 0 || r.row >= r.chunk.Size {
		if len(r.pending) == 0 {
			return 0, false
		}
		c = &r.pending[0]
	}
	if col < 0 || col >= len(c.Vectors) {
		return 0, false
	}
	switch d := &c.Vectors[col].Data; d.Kind {
	case resultenc.KindDecimal128Data, resultenc.KindNumericDecimal128ConstantData:
		return d.Scale, true
	}
	return 0, false
}
