package sqldriver

import (
	"context"
	"database/sql/driver"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// conn is one conn of a sql.DB: a handle on the Connector's shared
// client, holding no state of the engine's. database/sql uses it from one
// goroutine at a time.
type conn struct {
	c      *Connector
	owned  bool // Close closes c: the conn came from Driver.Open
	closed bool
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)

	_ driver.Stmt             = (*stmt)(nil)
	_ driver.StmtQueryContext = (*stmt)(nil)
	_ driver.StmtExecContext  = (*stmt)(nil)
)

// ErrNoTransactions is the error of BeginTx: the engine runs every
// statement on its own and has no transactions.
var ErrNoTransactions = errors.New("sqldriver: the e6data engine has no transactions; run the statements without one")

// usable returns the error of a call on the conn before it reaches the
// engine: driver.ErrBadConn for a closed conn, which database/sql then
// discards and retries the call on another.
func (cn *conn) usable() error {
	if cn.closed {
		return driver.ErrBadConn
	}
	if cn.c.closed.Load() {
		return errConnectorClosed
	}
	return nil
}

// QueryContext runs query with args interpolated ([conn.CheckNamedValue]
// lists the types) and returns its rows, which stream from the engine
// batch by batch.
func (cn *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if err := cn.usable(); err != nil {
		return nil, err
	}
	text, err := interpolate(query, args)
	if err != nil {
		return nil, err
	}
	r, err := cn.c.client.Query(ctx, text)
	if err != nil {
		return nil, withContext(ctx, err)
	}
	return newRows(ctx, r, cn.c.cfg.Decimal), nil
}

// ExecContext runs query with args interpolated, without reading rows.
func (cn *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if err := cn.usable(); err != nil {
		return nil, err
	}
	text, err := interpolate(query, args)
	if err != nil {
		return nil, err
	}
	if err := cn.c.client.Exec(ctx, text); err != nil {
		return nil, withContext(ctx, err)
	}
	return result{}, nil
}

// Prepare is PrepareContext without a context.
func (cn *conn) Prepare(query string) (driver.Stmt, error) {
	return cn.PrepareContext(context.Background(), query)
}

// PrepareContext returns a statement of query. It does no I/O: each
// execution prepares the query, with its arguments, on the engine's live
// colour, as QueryContext does.
func (cn *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if err := cn.usable(); err != nil {
		return nil, err
	}
	return &stmt{cn: cn, query: query, inputs: len(placeholders(query))}, nil
}

// Begin refuses, as BeginTx does.
func (cn *conn) Begin() (driver.Tx, error) { return nil, ErrNoTransactions }

// BeginTx returns [ErrNoTransactions].
func (cn *conn) BeginTx(context.Context, driver.TxOptions) (driver.Tx, error) {
	return nil, ErrNoTransactions
}

// Ping makes the shared client ready for queries (client.Conn.Connect):
// it resolves the engine's colour and opens a session, with no I/O when
// both are at hand.
func (cn *conn) Ping(ctx context.Context) error {
	if err := cn.usable(); err != nil {
		return err
	}
	return withContext(ctx, cn.c.client.Connect(ctx))
}

// ResetSession keeps the conn unless it or its Connector is closed: it
// has no session state of its own.
func (cn *conn) ResetSession(context.Context) error {
	if !cn.IsValid() {
		return driver.ErrBadConn
	}
	return nil
}

// IsValid reports whether neither the conn nor its Connector is closed.
func (cn *conn) IsValid() bool { return !cn.closed && !cn.c.closed.Load() }

// CheckNamedValue accepts nil, bool, every integer type, float32 and
// float64, string, []byte, time.Time, [Decimal], client.Decimal and
// decimal types with a Decompose method (as database/sql knows them),
// pointers to these (nil is NULL) and driver.Valuer values giving one of
// them. Named arguments are refused: the driver binds by position. An
// error names the argument by its position. (The query then refuses a
// string that is not UTF-8, a float without a literal and a time finer
// than a microsecond.)
func (cn *conn) CheckNamedValue(nv *driver.NamedValue) error { return checkNamedValue(nv) }

// Close closes the conn; the shared client stays open for the other conns
// until the Connector is closed.
func (cn *conn) Close() error {
	if cn.closed {
		return nil
	}
	cn.closed = true
	if cn.owned {
		return cn.c.Close()
	}
	return nil
}

// stmt is a prepared statement: the query and its number of placeholders,
// which database/sql checks the arguments against.
type stmt struct {
	cn     *conn
	query  string
	inputs int
}

func (s *stmt) Close() error  { return nil }
func (s *stmt) NumInput() int { return s.inputs }

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.cn.ExecContext(ctx, s.query, args)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.cn.QueryContext(ctx, s.query, args)
}

func named(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, v := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}

// result is the result of Exec: the engine reports neither an insert id
// nor a count of affected rows.
type result struct{}

func (result) LastInsertId() (int64, error) {
	return 0, errors.New("sqldriver: the e6data engine reports no insert id")
}

func (result) RowsAffected() (int64, error) {
	return 0, errors.New("sqldriver: the e6data engine reports no count of affected rows")
}

// withContext makes err, which ended a call made with ctx, satisfy
// errors.Is with ctx's error when ctx has ended: gRPC reports a cancelled
// call as a status, which does not. A DeadlineExceeded status on a ctx
// with a deadline counts as ctx's deadline even a moment before ctx's own
// timer fires: the engine, told the deadline, may answer first.
func withContext(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	cerr := ctx.Err()
	if cerr == nil {
		if st, ok := status.FromError(err); ok && st.Code() == codes.DeadlineExceeded {
			if _, has := ctx.Deadline(); has {
				cerr = context.DeadlineExceeded
			}
		}
	}
	if cerr == nil || errors.Is(err, cerr) {
		return err
	}
	return &contextError{ctx: cerr, err: err}
}

type contextError struct{ ctx, err error }

func (e *contextError) Error() string   { return e.ctx.Error() + ": " + e.err.Error() }
func (e *contextError) Unwrap() []error { return []error{e.ctx, e.err} }
