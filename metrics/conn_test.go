package metrics_test

import (
	"context"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/memory"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/metrics"
)

// TestConn scrapes a client.Conn over the fake engine whose execute
// rejects the colour once: the query is replayed, and the rejection, the
// replay and the query's pin show.
func TestConn(t *testing.T) {
	var rejected atomic.Bool
	srv, err := enginetest.NewServer(enginetest.Options{
		User: "alice", Password: "pw",
		Inject: func(_ context.Context, method string, _ proto.Message) error {
			if method == e6xpb.QueryEngineService_ExecuteStatementV2_FullMethodName && !rejected.Swap(true) {
				return status.Error(codes.Unknown, "Received http2 header with status: 456")
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	shared := memory.New(memory.Options{})
	t.Cleanup(func() { shared.Close() })
	store, sm := metrics.InstrumentStore(shared)
	conn, err := client.Open(client.Config{
		Addr: srv.Addr(), User: "alice", Password: "pw",
		Catalog: enginetest.Catalog, Schema: enginetest.Schema,
		Store: store,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	reg := register(t, metrics.NewCollector(conn.Coordinator(), metrics.Options{
		Store:   sm,
		Replays: func() uint64 { return conn.Stats().Replays },
	}))

	ctx := ctxT(t)
	rows, err := conn.Query(ctx, "SELECT 1")
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	if err := conn.Coordinator().Sync(ctx); err != nil { // the pin, written in the background
		t.Fatal(err)
	}
	s := scrapeOf(t, reg)
	s.want(t, 1, "e6coord_pins_in_flight", "colour", "blue") // the open query
	for rows.Next(ctx) {
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if err := conn.Coordinator().Sync(ctx); err != nil { // the release
		t.Fatal(err)
	}

	s = scrapeOf(t, reg)
	st := conn.Stats()
	if st.Replays != 1 {
		t.Fatalf("Replays = %d, want 1", st.Replays)
	}
	s.want(t, 1, "e6coord_replays_total")
	s.want(t, 1, "e6coord_rejections_total", "colour", "blue")
	s.want(t, 0, "e6coord_rejections_total", "colour", "green")
	s.want(t, float64(st.Coordinator.Probes), "e6coord_probes_total")
	s.want(t, 1, "e6coord_active_colour", "colour", cache.Blue.String())
	s.want(t, 0, "e6coord_pins_in_flight", "colour", "blue")
	s.want(t, 1, "e6coord_store_up")
	if n := s.histogram(t, "e6coord_store_command_duration_seconds", "op", "write_pins").GetSampleCount(); n == 0 {
		t.Errorf("no pin write timed for a query")
	}
	for _, op := range ops {
		s.want(t, 0, "e6coord_store_errors_total", "op", op)
	}
}
