package fleet_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/fleet"
)

// The workers need nothing but the calls of a query: against an engine
// without healthCheck (PROTOCOL.md: it is optional) they run queries and
// none fails.
func TestRunWithoutHealthCheck(t *testing.T) {
	const queries, rowsEach = 20, 10
	stop := make(chan struct{})
	var cleared atomic.Int64
	srv, err := enginetest.NewServer(enginetest.Options{
		NoHealthCheck: true,
		Inject: func(_ context.Context, method string, _ proto.Message) error {
			// Each query ends with a clear: stop once enough have run.
			if method == e6xpb.QueryEngineService_ClearOrCancelQuery_FullMethodName && cleared.Add(1) == queries {
				close(stop)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var failures []string
	var ready bool
	st, err := fleet.Run(ctx, fleet.Config{
		Client:  client.Config{Addr: srv.Addr(), Catalog: enginetest.Catalog, Schema: enginetest.Schema},
		Query:   "SELECT * FROM demo.numbers LIMIT 10",
		Workers: 4,
	}, stop, func(r fleet.Report) {
		mu.Lock()
		defer mu.Unlock()
		switch r.Event {
		case "failed":
			failures = append(failures, r.Error)
		case "ready":
			ready = r.Active == "blue"
		}
	})
	if err != nil {
		t.Fatalf("Run() = %+v, %v", st, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !ready {
		t.Error("no ready report with blue active")
	}
	if st.Queries < queries || st.Failed != 0 || len(failures) != 0 {
		t.Errorf("ran %d queries, %d failed (%q); want at least %d, none failed", st.Queries, st.Failed, failures, queries)
	}
	if st.Rows != st.Queries*rowsEach {
		t.Errorf("read %d rows in %d queries, want %d each", st.Rows, st.Queries, rowsEach)
	}
	for _, c := range srv.Log() {
		if c.Method == e6xpb.QueryEngineService_HealthCheck_FullMethodName {
			t.Errorf("the fleet called healthCheck: %+v", c)
		}
	}
}
