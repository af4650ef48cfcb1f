package sqldriver_test

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/e6coord/e6coord/internal/redistest"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/client/sqldriver"
)

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "engine":
		serveEngine()
		return
	case "reader":
		readBig()
		return
	}
	// go-redis's tryDial, which a pool starts after failed dials, sleeps
	// up to a second before it sees the pool closed.
	goleak.VerifyTestMain(m, redistest.IgnoreDial)
}

// waitTimeout bounds every wait on a condition in these tests.
const waitTimeout = 20 * time.Second

const user, password = "alice", "s3cret-pw"

// newEngine starts a fake engine that accepts alice's credentials.
func newEngine(t testing.TB, o enginetest.Options) *enginetest.Server {
	t.Helper()
	o.User, o.Password = user, password
	srv, err := enginetest.NewServer(o)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// config returns the Config of a sql.DB on srv.
func config(srv *enginetest.Server) sqldriver.Config {
	return sqldriver.Config{
		Config: client.Config{
			Addr: srv.Addr(), User: user, Password: password,
			Catalog: enginetest.Catalog, Schema: enginetest.Schema, Cluster: "prod",
		},
	}
}

// openDB opens a sql.DB on srv through sql.Open and the DSN of cfg
// (config(srv) if adjust is nil), closed at the end of the test.
func openDB(t testing.TB, srv *enginetest.Server, adjust ...func(*sqldriver.Config)) *sql.DB {
	t.Helper()
	cfg := config(srv)
	for _, f := range adjust {
		f(&cfg)
	}
	db, err := sql.Open("e6data", cfg.FormatDSN())
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// connector opens a Connector on srv, closed at the end of the test.
func connector(t testing.TB, srv *enginetest.Server, adjust ...func(*sqldriver.Config)) *sqldriver.Connector {
	t.Helper()
	cfg := config(srv)
	for _, f := range adjust {
		f(&cfg)
	}
	c, err := sqldriver.NewConnector(cfg)
	if err != nil {
		t.Fatalf("NewConnector: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// waitCall waits for the first call of method for query id in srv's log
// and returns it.
func waitCall(t testing.TB, srv *enginetest.Server, method, queryID string) enginetest.Call {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		for _, c := range srv.Log() {
			if c.Method == method && (queryID == "" || c.QueryID == queryID) {
				return c
			}
		}
		select {
		case <-deadline.C:
			t.Fatalf("no %s call for query %q in the engine's log", method, queryID)
		case <-tick.C:
		}
	}
}

func sqlOpen(dsn string) (*sql.DB, error) { return sql.Open("e6data", dsn) }

// waitFor waits until cond holds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// strategy returns the client's colour of the fake engine's colour c.
func strategy(c enginetest.Colour) cache.Strategy {
	s, _ := cache.ParseStrategy(c.String())
	return s
}
