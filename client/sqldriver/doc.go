// Package sqldriver is a database/sql driver for the e6data engine,
// registered as "e6data", on the blue-green safe client of package client:
//
//	db, err := sql.Open("e6data", "e6data://alice:PASSWORD@engine.example.com:443/main/sales?cluster=prod&secure=true")
//
// Every conn of one sql.DB shares one [client.Conn] (one coordinator, one
// gRPC connection), which the DB's Close closes: calls carry the engine's
// live colour, a query keeps the colour it was prepared with until its
// rows are closed, and a query rejected for its colour before its rows
// reach the caller (up to PrefetchBytes of them) is replayed on the new
// colour (see package client). [ParseDSN] documents the DSN; [Config] and [NewConnector] build
// a connector without one (sql.OpenDB).
//
// # Values
//
// A NULL is nil, never a zero value: scan a nullable column into a
// sql.Null* (or sql.Null[T]) or a pointer. The other values have their
// column's ColumnTypeScanType: int64 (LONG), int32 (INTEGER), float64
// (DOUBLE), float32 (FLOAT), bool (BOOLEAN), string (STRING, and ARRAY,
// MAP and STRUCT as the engine writes them), []byte (BINARY), time.Time
// (DATE, DATETIME and TIMESTAMP in UTC, TIMESTAMP_TZ in its own zone,
// never the process's local zone; microseconds, years past 9999
// included). DECIMAL128 is exact: by default ([DecimalString]) a string
// in plain notation with the scale applied, which scans into a string, a
// [Decimal] (exact, with Rat and Float64) or a float64 (the nearest); the
// DSN's decimal=rat gives a *big.Rat instead, and decimal=float64 the
// nearest float64.
//
// # Parameters
//
// Queries take ? placeholders, which the driver replaces by SQL literals
// before sending the query (the engine's protocol binds none): nil as
// NULL; bool as TRUE or FALSE; every integer type; float32 and float64 in
// exponent form (NaN and infinities have no literal); a string, which
// must be UTF-8, in quotes, its quotes doubled; []byte as X'...' (a nil
// one as NULL); time.Time as TIMESTAMP '...' in UTC, to the microsecond;
// [Decimal], client.Decimal and decimal types with a Decompose method (as
// database/sql knows them) as exact numbers; pointers to these (nil is
// NULL) and driver.Valuer values giving one of them. A negative number is
// written in parentheses. A '?' inside a string literal ('...'), a
// quoted identifier ("..." or `...`) or a comment (-- or /* */) is not a
// placeholder, and a value cannot end its literal. A wrong number of
// arguments, an unsupported type and a named argument are errors naming
// the argument's position.
//
// # Cancellation
//
// When a query's context is cancelled or passes its deadline, during its
// prepare, execute, metadata or any fetch, the driver returns an error
// satisfying errors.Is with context.Canceled or context.DeadlineExceeded
// at once, and the query is cancelled on the engine (clearOrCancelQuery)
// on a context of its own, bounded in time, and its pin released; a
// prepare the engine answers after the cancellation (within 5 s) is
// cleared as soon as it answers. Closing the rows before their end does the same. The driver
// returns driver.ErrBadConn only for a call on a closed conn, which never
// reaches the engine.
//
// # Memory
//
// Rows stream batch by batch: a query reads up to the PrefetchBytes of
// batches (the DSN's prefetch_bytes, 16 MiB by default) before it
// returns, then one batch at a time as they are read, so that the memory
// a result takes does not grow with its number of rows.
//
// The engine has no transactions: BeginTx returns [ErrNoTransactions].
// Exec's result reports neither an insert id nor a count of rows.
package sqldriver
