package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/coordinator"
)

func TestIsSuspended(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"grpc-go", status.Error(codes.Unavailable, "unexpected HTTP status code received from server: 503 (Service Unavailable)"), true},
		{"c-core", status.Error(codes.Unavailable, "Received http2 header with status: 503"), true},
		{"wrapped", coordinator.ErrSuspended, true},
		{"unavailable without 503", status.Error(codes.Unavailable, "connection refused"), false},
		{"5030", status.Error(codes.Unavailable, "status: 5030"), false},
		{"other code", status.Error(codes.Unknown, "status: 503"), false},
		{"nil", nil, false},
	} {
		if got := client.IsSuspended(tt.err); got != tt.want {
			t.Errorf("%s: IsSuspended(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

// A query to a suspended cluster resumes it through ClusterService, with
// the cluster-name header, and succeeds; the record says the cluster is
// active.
func TestQueryResumesSuspendedCluster(t *testing.T) {
	srv := newEngine(t, enginetest.Options{ClusterStatus: enginetest.StatusSuspended})
	conn := open(t, srv)
	ctx := context.Background()
	rows, err := conn.Query(ctx, "SELECT * FROM demo.numbers")
	if err != nil {
		t.Fatalf("Query on a suspended cluster: %v", err)
	}
	for rows.Next(ctx) {
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if got := srv.ClusterStatus(); got != enginetest.StatusActive {
		t.Errorf("cluster status %q, want active", got)
	}
	st := conn.Stats().Coordinator
	if st.Resumes != 1 {
		t.Errorf("Resumes = %d, want 1", st.Resumes)
	}
	if rec := conn.Coordinator().Snapshot(); rec.Cluster != cache.ClusterActive {
		t.Errorf("record's cluster state %q, want active", rec.Cluster)
	}
	// ClusterService calls carry the cluster-name header as engine calls
	// do; the strategy header once a colour is known.
	var clusterCalls int
	for _, c := range srv.Log() {
		if !strings.HasPrefix(c.Method, "/ClusterService/") {
			continue
		}
		clusterCalls++
		if got := c.Metadata.Get("cluster-name"); len(got) != 1 || got[0] != "prod-eu" {
			t.Errorf("%s: cluster-name %q, want prod-eu", c.Method, got)
		}
	}
	if clusterCalls < 2 {
		t.Errorf("%d ClusterService calls logged, want status and resume at least", clusterCalls)
	}
	if n := srv.ResumeCalls(); n != 1 {
		t.Errorf("resume calls = %d, want 1", n)
	}
}

// ClusterService calls carry the colour the record names, even while it is
// not trusted (a 503 made it unconfirmed): they need no detection.
func TestClusterCallsCarryTheColour(t *testing.T) {
	srv := newEngine(t, enginetest.Options{Start: enginetest.Green})
	conn := open(t, srv)
	ctx := context.Background()
	if err := conn.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	srv.SetClusterStatus(enginetest.StatusSuspended)
	rows, err := conn.Query(ctx, "SELECT * FROM demo.numbers")
	if err != nil {
		t.Fatalf("Query after the cluster suspended: %v", err)
	}
	rows.Close()
	for _, c := range srv.Log() {
		if strings.HasPrefix(c.Method, "/ClusterService/") && c.Strategy != "green" {
			t.Errorf("%s carried strategy %q, want green", c.Method, c.Strategy)
		}
	}
	if n := srv.ResumeCalls(); n != 1 {
		t.Errorf("resume calls = %d, want 1", n)
	}
}

// With NoResume, a 503 is returned after the call's attempts, and the
// cluster stays suspended.
func TestNoResume(t *testing.T) {
	srv := newEngine(t, enginetest.Options{ClusterStatus: enginetest.StatusSuspended})
	conn := open(t, srv, func(cfg *client.Config) { cfg.NoResume = true })
	_, err := conn.Query(context.Background(), "SELECT 1")
	if !client.IsSuspended(err) || !errors.Is(err, coordinator.ErrSuspended) || status.Code(err) != codes.Unavailable {
		t.Errorf("Query error = %v; want the 503 (ErrSuspended, Unavailable)", err)
	}
	if got := srv.ClusterStatus(); got != enginetest.StatusSuspended {
		t.Errorf("cluster status %q, want suspended", got)
	}
}
