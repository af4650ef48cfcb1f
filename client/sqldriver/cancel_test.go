package sqldriver_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/client/sqldriver"
)

// cancelBudget is how soon after a cancellation the engine should hear of
// it: a figure the tests log beside the lag they measure. What they check
// is that the engine gets the query's ClearOrCancelQuery, waited for by
// waitCall up to waitTimeout, a hundred times the budget, which only
// catches a cancellation that never comes.
const cancelBudget = 200 * time.Millisecond

const clearMethod = e6xpb.QueryEngineService_ClearOrCancelQuery_FullMethodName

// block holds one engine call of a method until the client gives up on it
// (its context ends on the server) or release is closed.
type block struct {
	method  string
	skip    int // calls of method let through first
	arrived chan struct{}
	release chan struct{}

	mu sync.Mutex
	n  int
}

func newBlock(method string, skip int) *block {
	return &block{method: method, skip: skip, arrived: make(chan struct{}), release: make(chan struct{})}
}

func (b *block) inject(ctx context.Context, method string, _ proto.Message) error {
	if method != b.method {
		return nil
	}
	b.mu.Lock()
	b.n++
	n := b.n
	b.mu.Unlock()
	if n != b.skip+1 {
		return nil
	}
	close(b.arrived)
	select {
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	case <-b.release:
		return nil
	}
}

func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// preparedID returns the id of the one query the engine prepared.
func preparedID(t *testing.T, srv *enginetest.Server) string {
	t.Helper()
	c := waitCall(t, srv, e6xpb.QueryEngineService_PrepareStatementV2_FullMethodName, "")
	if c.QueryID == "" {
		t.Fatalf("the prepare returned no query: %+v", c)
	}
	return c.QueryID
}

// A context cancelled, or past its deadline, while the engine works on
// the execute (of a query or an Exec), the metadata or a fetch: the caller gets an error that
// errors.Is the context's, the engine gets the query's cancellation, the
// pin is released and no goroutine is left.
func TestCancelDuringCall(t *testing.T) {
	for _, tt := range []struct {
		name, method string
		skip         int
		deadline     bool
		exec         bool // ExecContext rather than QueryContext
	}{
		{"execute", e6xpb.QueryEngineService_ExecuteStatementV2_FullMethodName, 0, false, false},
		{"metadata", e6xpb.QueryEngineService_GetResultMetadata_FullMethodName, 0, false, false},
		{"fetch", e6xpb.QueryEngineService_GetNextResultBatch_FullMethodName, 1, false, false},
		{"execute-deadline", e6xpb.QueryEngineService_ExecuteStatementV2_FullMethodName, 0, true, false},
		{"fetch-deadline", e6xpb.QueryEngineService_GetNextResultBatch_FullMethodName, 1, true, false},
		{"exec", e6xpb.QueryEngineService_ExecuteStatementV2_FullMethodName, 0, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			b := newBlock(tt.method, tt.skip)
			defer close(b.release)
			srv, err := enginetest.NewServer(enginetest.Options{User: user, Password: password, Inject: b.inject, BatchSize: 100})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			cfg := config(srv)
			cfg.PrefetchBytes = 1 // one batch before Query returns; the others as they are read
			c, err := sqldriver.NewConnector(cfg)
			if err != nil {
				t.Fatal(err)
			}
			db := sql.OpenDB(c)
			defer db.Close()

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var deadline time.Time
			if tt.deadline {
				deadline = time.Now().Add(time.Second)
				ctx, cancel = context.WithDeadline(ctx, deadline)
				defer cancel()
			}
			errc := make(chan error, 1)
			var read int
			go func() {
				if tt.exec {
					_, err := db.ExecContext(ctx, "SELECT * FROM demo.numbers")
					errc <- err
					return
				}
				rows, err := db.QueryContext(ctx, "SELECT * FROM demo.numbers")
				if err != nil {
					errc <- err
					return
				}
				defer rows.Close()
				for rows.Next() {
					read++
				}
				errc <- rows.Err()
			}()
			wait(t, b.arrived, tt.name+" call")
			cancelAt := deadline
			if !tt.deadline {
				cancelAt = time.Now()
				cancel()
			}
			var gotErr error
			select {
			case gotErr = <-errc:
			case <-time.After(waitTimeout):
				t.Fatal("the query did not end with its context")
			}
			want := context.Canceled
			if tt.deadline {
				want = context.DeadlineExceeded
			}
			if !errors.Is(gotErr, want) {
				t.Errorf("error %v, want errors.Is %v", gotErr, want)
			}
			if errors.Is(gotErr, driver.ErrBadConn) {
				t.Errorf("error %v is ErrBadConn: the call reached the engine", gotErr)
			}
			if tt.method == e6xpb.QueryEngineService_GetNextResultBatch_FullMethodName && read != 100 {
				t.Errorf("read %d rows before the fetch, want the first batch's 100", read)
			}
			id := preparedID(t, srv)
			clear := waitCall(t, srv, clearMethod, id)
			t.Logf("the engine heard of the cancellation %v after it (budget %v)", clear.Time.Sub(cancelAt).Round(time.Microsecond), cancelBudget)
			waitNoPins(t, c)
		})
	}
}

// A context cancelled while the engine prepares: the caller gets its error
// without waiting for the prepare, and the query the engine prepares all
// the same is cancelled once the engine answers.
func TestCancelDuringPrepare(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	b := newBlock(e6xpb.QueryEngineService_PrepareStatementV2_FullMethodName, 0)
	srv, err := enginetest.NewServer(enginetest.Options{User: user, Password: password, Inject: b.inject})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := sqldriver.NewConnector(config(srv))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	defer db.Close()

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := db.QueryContext(ctx, "SELECT * FROM demo.numbers")
		errc <- err
	}()
	wait(t, b.arrived, "the prepare")
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want errors.Is context.Canceled", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the query waited for the prepare after its context ended")
	}
	releaseAt := time.Now()
	close(b.release) // the engine prepares the query all the same
	id := preparedID(t, srv)
	clear := waitCall(t, srv, clearMethod, id)
	t.Logf("the query was cancelled %v after the engine prepared it (budget %v)", clear.Time.Sub(releaseAt).Round(time.Microsecond), cancelBudget)
	waitNoPins(t, c)
}

// Rows closed before their end, and rows whose context is cancelled
// between two Next calls, cancel the query on the engine, which then
// fetches no more of it.
func TestCloseBeforeEnd(t *testing.T) {
	for _, how := range []string{"close", "cancel"} {
		t.Run(how, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			srv, err := enginetest.NewServer(enginetest.Options{User: user, Password: password, BatchSize: 10})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			cfg := config(srv)
			cfg.PrefetchBytes = 1
			c, err := sqldriver.NewConnector(cfg)
			if err != nil {
				t.Fatal(err)
			}
			db := sql.OpenDB(c)
			defer db.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rows, err := db.QueryContext(ctx, "SELECT * FROM demo.numbers")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			if !rows.Next() {
				t.Fatal(rows.Err())
			}
			at := time.Now()
			if how == "close" {
				if err := rows.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				cancel() // database/sql closes the rows
			}
			clear := waitCall(t, srv, clearMethod, preparedID(t, srv))
			t.Logf("the engine heard of it %v later (budget %v)", clear.Time.Sub(at).Round(time.Microsecond), cancelBudget)
			if rows.Next() {
				t.Error("Next after the end")
			}
			if how == "cancel" && !errors.Is(rows.Err(), context.Canceled) {
				t.Errorf("Err() = %v, want context.Canceled", rows.Err())
			}
			waitNoPins(t, c)
			if n := len(srv.Log()); n > 12 {
				t.Errorf("%d engine calls, want the few of one query: rows fetched past the close?", n)
			}
		})
	}
}

// waitNoPins waits until c's client holds no pin: the pin of a query is
// released just after its cancellation is sent.
func waitNoPins(t *testing.T, c *sqldriver.Connector) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for c.Client().Coordinator().Pins().Total() != 0 {
		select {
		case <-deadline.C:
			t.Fatalf("pins left: %+v", c.Client().Coordinator().Pins())
		case <-tick.C:
		}
	}
}
