package client_test

import (
	"context"
	"math/big"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/e6coord/e6coord/internal/redistest"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/coordinator"
	"github.com/e6coord/e6coord/coordinator/coordinatortest"
)

// TestMain checks that no goroutine outlives the tests, but go-redis's
// tryDial, which a pool starts after failed dials and which sleeps up to a
// second before it sees the pool closed.
func TestMain(m *testing.M) {
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

// open returns a Conn to srv; adjust changes its config.
func open(t testing.TB, srv *enginetest.Server, adjust ...func(*client.Config)) *client.Conn {
	t.Helper()
	cfg := client.Config{
		Addr: srv.Addr(), User: user, Password: password,
		Catalog: enginetest.Catalog, Schema: enginetest.Schema, Cluster: "Prod-EU",
	}
	for _, f := range adjust {
		f(&cfg)
	}
	conn, err := client.Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func policy(p coordinator.Policy) func(*client.Config) {
	return func(cfg *client.Config) { cfg.Coordination.Policy = p }
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// readAll reads every row of sql and returns them.
func readAll(ctx context.Context, conn *client.Conn, sql string) ([][]any, []client.Column, error) {
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var out [][]any
	for rows.Next(ctx) {
		vals, err := rows.Values()
		if err != nil {
			return out, nil, err
		}
		out = append(out, append([]any(nil), vals...))
	}
	if err := rows.Err(); err != nil {
		return out, nil, err
	}
	return out, rows.Columns(), rows.Close()
}

// waitColour waits until conn's coordinator has colour s active with
// nothing pending.
func waitColour(t testing.TB, conn *client.Conn, s cache.Strategy) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := coordinatortest.WaitFor(ctx, conn.Coordinator(), func(st cache.State) bool {
		return st.Active == s
	}); err != nil {
		t.Fatalf("waiting for %s active: %v (record %s)", s, err, conn.Coordinator().Snapshot())
	}
}

// waitEngine waits until cond holds for the engine's state.
func waitEngine(t testing.TB, srv *enginetest.Server, what string, cond func(enginetest.State) bool) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond(srv.State()) {
		select {
		case <-deadline.C:
			t.Fatalf("waiting for the engine: %s (state %s)", what, srv.State())
		case <-tick.C:
		}
	}
}

// strategy returns the client's colour of the fake engine's colour c.
func strategy(c enginetest.Colour) cache.Strategy {
	s, _ := cache.ParseStrategy(c.String())
	return s
}

// clientValues returns row, a row of a fake engine's table, with every
// enginetest.Decimal replaced by the client.Decimal of the same value: the
// row Rows.Values returns.
func clientValues(t testing.TB, row []any) []any {
	t.Helper()
	for i, v := range row {
		if d, ok := v.(enginetest.Decimal); ok {
			u, ok := new(big.Int).SetString(d.Unscaled, 10)
			if !ok {
				t.Fatalf("column %d: bad decimal %q", i, d.Unscaled)
			}
			cd, err := client.NewDecimal(u, d.Scale)
			if err != nil {
				t.Fatal(err)
			}
			row[i] = cd
		}
	}
	return row
}

// clientColumns returns the columns of a fake engine's table as
// Rows.Columns returns them.
func clientColumns(cols []enginetest.Column) []client.Column {
	out := make([]client.Column, len(cols))
	for i, c := range cols {
		out[i] = client.Column{Name: c.Name, Type: c.Type}
	}
	return out
}
