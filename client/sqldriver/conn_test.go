package sqldriver_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/memory"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/client/sqldriver"
)

// The conns of one sql.DB share one client: one authentication per
// colour, one coordinator, whatever the number of conns.
func TestConnsShareOneClient(t *testing.T) {
	srv := newEngine(t, enginetest.Options{})
	c := connector(t, srv)
	db := sql.OpenDB(c)
	defer db.Close()
	db.SetMaxIdleConns(8)
	ctx := ctxT(t)
	var conns []*sql.Conn
	for range 8 {
		cn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, cn)
	}
	var wg sync.WaitGroup
	for _, cn := range conns {
		wg.Go(func() {
			var n int64
			if err := cn.QueryRowContext(ctx, "SELECT 1").Scan(&n); err != nil || n != 1 {
				t.Errorf("SELECT 1: %d, %v", n, err)
			}
		})
	}
	wg.Wait()
	for _, cn := range conns {
		cn.Close()
	}
	if got := db.Stats().OpenConnections; got != 8 {
		t.Errorf("%d open conns, want 8", got)
	}
	if a := srv.Counts().Authenticates; a.Blue+a.Green > 2 {
		t.Errorf("authenticated %+v times, want once per colour at most", a)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// sql.DB's Close closed the Connector and its client.
	if _, err := c.Connect(ctx); err == nil {
		t.Error("Connect after the DB closed succeeded")
	}
}

// A closed conn says ErrBadConn, having sent nothing; transactions are
// refused; Ping connects; Exec runs the statement and clears it.
func TestConnCalls(t *testing.T) {
	srv := newEngine(t, enginetest.Options{})
	c := connector(t, srv)
	ctx := ctxT(t)
	dc, err := c.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cn := dc.(interface {
		driver.Conn
		driver.Pinger
		driver.QueryerContext
		driver.ExecerContext
		driver.ConnBeginTx
		driver.Validator
		driver.SessionResetter
	})
	if err := cn.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if _, err := cn.BeginTx(ctx, driver.TxOptions{}); !errors.Is(err, sqldriver.ErrNoTransactions) {
		t.Errorf("BeginTx: %v, want ErrNoTransactions", err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	if _, err := db.BeginTx(ctx, nil); !errors.Is(err, sqldriver.ErrNoTransactions) {
		t.Errorf("sql.DB.BeginTx: %v, want ErrNoTransactions", err)
	}
	res, err := db.ExecContext(ctx, "SELECT * FROM demo.numbers")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := res.RowsAffected(); err == nil || !strings.Contains(err.Error(), "no count") {
		t.Errorf("RowsAffected: %v, want the engine reports none", err)
	}
	if !cn.IsValid() || cn.ResetSession(ctx) != nil {
		t.Error("an open conn is not valid")
	}
	cn.Close()
	srv.ResetLog()
	if _, err := cn.QueryContext(ctx, "SELECT 1", nil); !errors.Is(err, driver.ErrBadConn) {
		t.Errorf("Query on a closed conn: %v, want ErrBadConn", err)
	}
	if _, err := cn.ExecContext(ctx, "SELECT 1", nil); !errors.Is(err, driver.ErrBadConn) {
		t.Errorf("Exec on a closed conn: %v, want ErrBadConn", err)
	}
	if cn.IsValid() || !errors.Is(cn.ResetSession(ctx), driver.ErrBadConn) {
		t.Error("a closed conn is valid")
	}
	if n := len(srv.Log()); n != 0 {
		t.Errorf("%d calls reached the engine from a closed conn", n)
	}
	// Errors of the engine are the engine's, not ErrBadConn.
	if _, err := db.QueryContext(ctx, "SELECT * FROM nowhere"); err == nil || errors.Is(err, driver.ErrBadConn) {
		t.Errorf("a bad query: %v, want the engine's error", err)
	}
}

// Driver.Open, for code that uses the driver without database/sql's
// pool, gives a conn with a client of its own.
func TestDriverOpen(t *testing.T) {
	srv := newEngine(t, enginetest.Options{})
	cn, err := sqldriver.Driver{}.Open(config(srv).FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	rows, err := cn.(driver.QueryerContext).QueryContext(ctxT(t), "SELECT 1", nil)
	if err != nil {
		t.Fatal(err)
	}
	dest := make([]driver.Value, 1)
	if err := rows.Next(dest); err != nil || dest[0] != int64(1) {
		t.Errorf("Next: %v, %v", dest, err)
	}
	rows.Close()
	if err := cn.Close(); err != nil {
		t.Fatal(err)
	}
}

// Acceptance: 16 goroutines share one sql.DB through 20 switches of
// colour, in both switch modes, and no query fails or carries two colours.
func TestDBAcrossSwitches(t *testing.T) {
	const switches, workers = 20, 16
	for _, mode := range []enginetest.SwitchMode{enginetest.Overlap, enginetest.SwitchOnClear} {
		t.Run(mode.String(), func(t *testing.T) {
			srv := newEngine(t, enginetest.Options{Mode: mode, MaxLog: 1, BatchSize: 100})
			c := connector(t, srv)
			db := sql.OpenDB(c)
			defer db.Close()
			db.SetMaxOpenConns(workers)
			db.SetMaxIdleConns(workers)
			var (
				stop    = make(chan struct{})
				wg      sync.WaitGroup
				queries atomic.Int64
				failed  atomic.Int64
				done    = make([]atomic.Int64, workers)
				errs    = make(chan error, 10)
			)
			for w := range workers {
				wg.Go(func() {
					ctx := context.Background()
					for {
						select {
						case <-stop:
							return
						default:
						}
						err := work(ctx, db, w)
						queries.Add(1)
						done[w].Add(1)
						if err != nil {
							failed.Add(1)
							select {
							case errs <- err:
							default:
							}
						}
					}
				})
			}
			round := func() { // every worker ends a query begun after now
				want := make([]int64, workers)
				for i := range done {
					want[i] = done[i].Load() + 2
				}
				for i := range done {
					waitFor(t, fmt.Sprintf("worker %d", i), func() bool { return done[i].Load() >= want[i] })
				}
			}
			coord := c.Client().Coordinator()
			waitFor(t, "blue active", func() bool { return coord.Snapshot().Active == cache.Blue })
			for range switches {
				next := srv.State().Active.Other()
				to := strategy(next)
				if err := srv.BeginSwitch(next); err != nil {
					t.Fatal(err)
				}
				if mode == enginetest.Overlap {
					waitFor(t, "the announcement heard", func() bool {
						st := coord.Snapshot()
						return st.Pending == to || st.Active == to
					})
					srv.FinishSwitch()
				}
				waitFor(t, "the engine's switch", func() bool { st := srv.State(); return st.Active == next && !st.Pending.Valid() })
				waitFor(t, "the switch adopted", func() bool { return coord.Snapshot().Active == to })
				round()
			}
			close(stop)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("query failed: %v", err)
			}
			if n := failed.Load(); n > 0 {
				t.Errorf("%d of %d queries failed", n, queries.Load())
			}
			if mixed := srv.MixedQueries(); len(mixed) > 0 {
				t.Errorf("%d queries carried two colours", len(mixed))
			}
			if n := srv.State().Switches; n < switches {
				t.Errorf("the engine switched %d times, want %d", n, switches)
			}
			waitNoPins(t, c)
			t.Logf("%d queries through %d switches, %d probes, %d replays", queries.Load(), srv.State().Switches,
				c.Client().Stats().Coordinator.Probes, c.Client().Stats().Replays)
		})
	}
}

// work runs one query of worker w: a read of all of demo.numbers (ten
// batches, for worker 0 and 1) or of its first 100 rows, a query with
// arguments, or an Exec.
func work(ctx context.Context, db *sql.DB, w int) error {
	query, want := "SELECT * FROM demo.numbers LIMIT 100", 100
	if w < 2 {
		query, want = "SELECT * FROM demo.numbers", enginetest.NumbersRows
	}
	switch w % 4 {
	case 3:
		_, err := db.ExecContext(ctx, "SELECT * FROM demo.numbers")
		return err
	case 2:
		var s string
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT ?, ?", "w", int64(w)).Scan(&s, &n); err != nil {
			return err
		}
		if s != "w" || n != int64(w) {
			return fmt.Errorf("got %q %d", s, n)
		}
		return nil
	}
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id int64
		var name string
		var ratio float64
		var even bool
		if err := rows.Scan(&id, &name, &ratio, &even); err != nil {
			return err
		}
		wid, wname, wratio, weven := enginetest.NumbersRow(n)
		if id != wid || name != wname || ratio != wratio || even != weven {
			return fmt.Errorf("row %d: %d %s %v %v", n, id, name, ratio, even)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("read %d rows, want %d", n, want)
	}
	return rows.Close()
}

// The Config is the client's: a Store given in it is the one the
// Connector's coordinator shares the colour through.
func TestConnectorUsesClientConfigStore(t *testing.T) {
	srv := newEngine(t, enginetest.Options{})
	store := memory.New(memory.Options{})
	defer store.Close()
	c := connector(t, srv, func(cfg *sqldriver.Config) { cfg.Store = store })
	db := sql.OpenDB(c)
	defer db.Close()
	if err := db.PingContext(ctxT(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	scope := cache.Scope{Cluster: "prod", Engine: srv.Addr()}
	if st, err := store.Load(ctxT(t), scope); err != nil || !st.Active.Valid() {
		t.Errorf("the given store's record of %v = %+v, %v; want the colour the connector learnt", scope, st, err)
	}
}
