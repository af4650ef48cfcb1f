package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/e6coord/e6coord/client/e6xpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// fakeCluster starts the fake-engine command with args and returns
// clients of its two services, a time by which it was listening, and a
// context for the calls; the command is stopped, and its result checked,
// when the test ends.
func fakeCluster(t *testing.T, args ...string) (e6xpb.QueryEngineServiceClient, e6xpb.ClusterServiceClient, time.Time, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	addr, done := startFakeEngine(t, ctx, args...)
	listening := time.Now()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("fake-engine: %v", err)
		}
	})
	return e6xpb.NewQueryEngineServiceClient(cc), e6xpb.NewClusterServiceClient(cc), listening, ctx
}

// --start-suspended and --resume-fails reach the fake: engine calls get
// 503, and a resume (at once, by default) fails.
func TestFakeEngineStartSuspended(t *testing.T) {
	engine, cluster, _, ctx := fakeCluster(t, "--start-suspended", "--resume-fails")
	_, err := engine.Authenticate(ctx, &e6xpb.AuthenticateRequest{})
	if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "503") {
		t.Errorf("authenticate error = %v, want Unavailable with 503", err)
	}
	if st, err := cluster.Status(ctx, &e6xpb.ClusterStatusRequest{}); err != nil || st.GetStatus() != "suspended" {
		t.Errorf("status = %v, %v, want suspended", st, err)
	}
	if st, err := cluster.Resume(ctx, &e6xpb.ResumeRequest{}); err != nil || st.GetStatus() != "failed" {
		t.Errorf("resume = %v, %v, want failed", st, err)
	}
}

// --suspend-after suspends the idle cluster, and --resume-takes keeps
// the resume going.
func TestFakeEngineSuspendAfter(t *testing.T) {
	const idle = 50 * time.Millisecond
	engine, cluster, listening, ctx := fakeCluster(t, "--suspend-after", idle.String(), "--resume-takes", "1h")
	// Not synchronisation: the idle period began before the server was
	// listening, so it is over by then, whatever the scheduling.
	<-time.After(time.Until(listening.Add(idle)))
	if st, err := cluster.Status(ctx, &e6xpb.ClusterStatusRequest{}); err != nil || st.GetStatus() != "suspended" {
		t.Errorf("status after %v idle = %v, %v, want suspended", idle, st, err)
	}
	if st, err := cluster.Resume(ctx, &e6xpb.ResumeRequest{}); err != nil || st.GetStatus() != "resuming" {
		t.Errorf("resume = %v, %v, want resuming", st, err)
	}
	if _, err := engine.Authenticate(ctx, &e6xpb.AuthenticateRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("authenticate while resuming: %v, want Unavailable", err)
	}
}

// The cluster flags are listed in --help, and bad values fail.
func TestFakeEngineClusterFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"fake-engine", "--help"}, &out, &errOut); err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, name := range []string{"-start-suspended", "-suspend-after", "-resume-takes", "-resume-fails"} {
		if !strings.Contains(errOut.String(), name) {
			t.Errorf("--help does not list %s:\n%s", name, errOut.String())
		}
	}
	// Cancelled, so that a fake started by mistake returns at once (nil).
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, args := range [][]string{
		{"--resume-takes", "soon"},
		{"--suspend-after", "-1s"},
	} {
		if err := run(cancelled, append([]string{"fake-engine", "--listen", "127.0.0.1:0"}, args...), &out, &errOut); err == nil {
			t.Errorf("fake-engine %q succeeded", args)
		}
	}
}
