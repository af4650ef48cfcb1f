package client

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/internal/resultenc"
)

// Column describes a result column, as the engine's result metadata
// carries it. The metadata carries no precision or scale (a DECIMAL128
// value carries its scale, see [Decimal.Scale]; the precision is not sent)
// and nothing about nullability: any column may hold NULL.
type Column struct {
	Name string // the column's name
	Type string // the engine's type name: LONG, INTEGER, DOUBLE, FLOAT, BOOLEAN, STRING, ... (see [Rows.Values])
}

// ScanType returns the Go type of the column's values other than NULL, as
// [Rows.Values] lists them; for a NULL column, whose values are all nil,
// the type of any.
func (c Column) ScanType() reflect.Type {
	if t, ok := scanTypes[c.Type]; ok {
		return t
	}
	return reflect.TypeFor[any]()
}

// Rows is the result of a query. It is not safe for concurrent use. Read it
// with Next and Values (or Value), then Close it: Close clears the query on
// the engine and releases its pin, as does reaching the end with an error.
//
// Rows holds the batches that Query prefetched (up to
// [Config].PrefetchBytes of them, as the engine encoded them), then one
// batch at a time: Next fetches the next batch only when the current one is
// read, and decodes each batch when it reaches it. A result of any length
// is read in memory bounded by PrefetchBytes and the largest batch.
type Rows struct {
	q     *query
	total int64
	cols  []Column
	types []resultenc.VectorType

	pending [][]byte // fetched batches not decoded yet, as sent
	batch   int      // the number of batches decoded
	base    int64    // the row of the result that is row 0 of the current batch
	size    int      // the rows of the current batch
	row     int      // the row of the current batch Values reads; -1 before the first
	columns []column // the current batch's values
	done    bool     // the engine sent its last batch, or a malformed one
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

// Next advances to the next row, fetching and decoding a batch from the
// engine when needed, and reports whether there is one. When it returns
// false, Err tells whether the result ended or failed. A rejection of the
// query's colour at this point is a [*StrategyError]; a malformed batch is
// a [*ResultError], returned before any row of that batch.
func (r *Rows) Next(ctx context.Context) bool {
	if r.closed || r.err != nil {
		return false
	}
	r.row++
	for r.row >= r.size {
		if len(r.pending) == 0 {
			if r.done {
				r.row = r.size
				return false
			}
			if _, err := r.fetch(ctx); err != nil {
				r.fail(ctx, err)
				return false
			}
			continue
		}
		b := r.pending[0]
		r.pending[0] = nil
		r.pending = r.pending[1:]
		if err := r.load(b); err != nil {
			r.fail(ctx, err)
			return false
		}
	}
	return true
}

// load decodes and checks batch b and makes it the current batch.
func (r *Rows) load(b []byte) error {
	batch := r.batch
	r.batch++
	r.base += int64(r.size)
	r.size, r.row, r.columns = 0, 0, r.columns[:0]
	chunk, err := resultenc.DecodeChunk(b)
	if err == nil {
		err = resultenc.CheckChunk(&chunk, r.types)
	}
	if err != nil {
		r.done = true
		return resultError(r.q.id, batch, r.base, r.cols, err)
	}
	if chunk.Size <= 0 {
		r.done, r.pending = true, nil
		return nil
	}
	for i := range chunk.Vectors {
		c, err := newColumn(&chunk.Vectors[i])
		if err != nil {
			r.done = true
			return resultError(r.q.id, batch, r.base, r.cols, err)
		}
		r.columns = append(r.columns, c)
	}
	r.size = chunk.Size
	return nil
}

// Values returns the current row's values, one per column. The slice is
// reused by the next call of Values; the values themselves stay valid.
// Values never fails once Next has returned true, except when called
// without a current row: Next checks each batch before its first row.
//
// NULL is nil, for every type. Other values have the Go type of their
// column's type ([Column.Type]):
//
//	LONG                     int64
//	INTEGER                  int32
//	DOUBLE                   float64
//	FLOAT                    float32
//	BOOLEAN                  bool
//	STRING                   string
//	ARRAY, MAP, STRUCT       string, as the engine sends it
//	BINARY                   []byte, the same slice for every call on the
//	                           cell: do not modify it
//	DATE, DATETIME,          time.Time in UTC (never time.Local), to the
//	  TIMESTAMP                microsecond, in any year that int64 epoch
//	                           microseconds reach (year 1 and years past
//	                           9999 included)
//	TIMESTAMP_TZ             time.Time in the value's zone: the zone the
//	                           engine sends with the value, else the
//	                           vector's zone offset, else UTC
//	DECIMAL128               [Decimal], exact
//	NULL                     nil
//
// A time zone is "Z", "UTC", "GMT", an offset ("+05:30", "+0530", "-08"),
// or an IANA name that time.LoadLocation knows on this machine; another
// zone makes the batch malformed ([ErrMalformedResult]) rather than a
// value in a zone it was not sent in.
//
// Values and [Rows.Value] allocate nothing per row for any type: each
// batch's values are decoded into typed slices when Next reaches it (one
// string allocation per STRING, ARRAY, MAP or STRUCT value, one []byte per
// BINARY value), and
// the interface values returned point into those slices. A value keeps
// the slice of its column and batch in memory while it is referenced. A
// database/sql driver can copy the values into its []driver.Value without
// allocating either.
func (r *Rows) Values() ([]any, error) {
	if r.row < 0 || r.row >= r.size {
		return nil, errors.New("client: Values called without a current row")
	}
	r.values = r.values[:0]
	for i := range r.columns {
		r.values = append(r.values, r.columns[i].value(r.row))
	}
	return r.values, nil
}

// Value returns the value of column i of the current row, as [Rows.Values]
// does, without allocating. It fails only without a current row or for i
// out of range.
func (r *Rows) Value(i int) (any, error) {
	if r.row < 0 || r.row >= r.size {
		return nil, errors.New("client: Value called without a current row")
	}
	if i < 0 || i >= len(r.columns) {
		return nil, fmt.Errorf("client: column %d out of range [0,%d)", i, len(r.columns))
	}
	return r.columns[i].value(r.row), nil
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
	r.pending, r.columns, r.size = nil, nil, 0
	if r.err != nil {
		return nil // fail cleared it
	}
	return r.q.clear(context.Background()) // bounded by clearTimeout
}

// fail ends the rows with err and the query with them.
func (r *Rows) fail(ctx context.Context, err error) {
	r.q.abandon(ctx, err)
	r.err = r.q.wrap(err)
	r.pending, r.columns, r.size = nil, nil, 0
}

// fetch reads the next batch into pending, as sent, and marks the end: an
// empty batch, or a chunk of no rows. A batch whose size cannot be read is
// kept for Next to report, and marks the end too. It returns the batch's
// size in bytes.
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
	n, err := resultenc.ChunkSize(b)
	if err == nil && n <= 0 {
		// The end, if it is a whole chunk.
		_, err = resultenc.DecodeChunk(b)
	}
	switch {
	case err != nil:
		r.pending, r.done = append(r.pending, b), true
	case n <= 0:
		r.done = true
	default:
		r.pending = append(r.pending, b)
	}
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
	q.conn.coord.Release(q.id)
	if err != nil && !IsWrongStrategy(err) {
		return fmt.Errorf("client: cancel query %s: %w", q.id, err)
	}
	return nil
}

// DecimalScale returns the scale of DECIMAL128 column col (0-based): of
// its first value that is not NULL in the batch being read, or, before the
// first Next, in the first batch (which it decodes to learn it); the
// result metadata does not carry it. It reports false if col is not a
// DECIMAL128 column, or the batch at hand holds no value of it.
func (r *Rows) DecimalScale(col int) (int32, bool) {
	if col < 0 || col >= len(r.types) || r.types[col] != resultenc.TypeDecimal128 {
		return 0, false
	}
	if r.row >= 0 && r.row < r.size {
		for i := range r.size {
			if d, ok := r.columns[col].value(i).(Decimal); ok {
				return d.Scale(), true
			}
		}
		return 0, false
	}
	if r.row >= 0 || len(r.pending) == 0 {
		return 0, false
	}
	chunk, err := resultenc.DecodeChunk(r.pending[0])
	if err != nil || col >= len(chunk.Vectors) || chunk.Vectors[col].AllNull() {
		return 0, false
	}
	switch d := &chunk.Vectors[col].Data; d.Kind {
	case resultenc.KindDecimal128Data, resultenc.KindNumericDecimal128ConstantData:
		return d.Scale, true
	}
	return 0, false
}
