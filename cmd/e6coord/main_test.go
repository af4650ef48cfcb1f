package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// TestMain lets the test binary stand in for e6coord as a worker process of
// `demo --processes`, which re-executes os.Executable; it ends as main does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "demo-worker" {
		os.Exit(exitCode(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr), os.Stderr))
	}
	os.Exit(m.Run())
}

// Worker processes share the state through an embedded in-memory Redis;
// the password never reaches their command lines.
func TestDemoProcesses(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"demo", "--processes", "2", "--workers", "2", "--duration", "1500ms", "--flip-every", "300ms", "--json"}, &out, &errOut)
	if err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var sum map[string]int64
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatalf("last line %q is not JSON: %v", lines[len(lines)-1], err)
	}
	if sum["processes"] != 2 || sum["failed"] != 0 || sum["mixed"] != 0 || sum["queries"] == 0 || sum["switches"] == 0 {
		t.Errorf("summary %v", sum)
	}
	if sum["probes"] > 2*sum["switches"]+2 {
		t.Errorf("probes %d for %d switches", sum["probes"], sum["switches"])
	}
	if _, ok := sum["max_converge_ms"]; !ok {
		t.Errorf("summary %v lacks max_converge_ms", sum)
	}
}

// Naive workers through an embedded proxy in each of two worker processes
// (demo-worker --naive --proxy), sharing the state through the embedded
// in-memory Redis: no query fails, and the switches reach the proxies.
func TestDemoNaiveProxyProcesses(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"demo", "--client", "naive", "--proxy", "--processes", "2", "--workers", "2",
		"--duration", "2s", "--flip-every", "400ms", "--mode", "switch-on-clear", "--json"}, &out, &errOut)
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var sum map[string]int64
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatalf("last line %q is not JSON: %v", lines[len(lines)-1], err)
	}
	if sum["processes"] != 2 || sum["failed"] != 0 || sum["queries"] == 0 || sum["switches"] == 0 {
		t.Errorf("summary %v: want queries in 2 processes through switches, none failed", sum)
	}
	if !strings.Contains(out.String(), "naive workers through an embedded proxy") {
		t.Errorf("the output does not say the workers are naive, through a proxy")
	}
}

// startFakeEngine runs the fake-engine command with args until ctx ends,
// and returns its address and the channel of run's result.
func startFakeEngine(t *testing.T, ctx context.Context, args ...string) (string, <-chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"fake-engine", "--listen", "127.0.0.1:0"}, args...), pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the first line: %v", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		t.Fatalf("first line %q, want listening on <addr>", line)
	}
	go io.Copy(io.Discard, pr)
	return addr, done
}

func TestFakeEngineServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t.Setenv("E6_PASSWORD", "p") // secrets never on the command line
	addr, done := startFakeEngine(t, ctx, "--start", "green", "--user", "u")

	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	engine := e6xpb.NewQueryEngineServiceClient(cc)
	if _, err := engine.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "u", Password: "p"}); err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	if _, err := engine.HealthCheck(ctx, &e6xpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("healthCheck: %v", err)
	}

	cancel() // as SIGINT does
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run() = %v, want nil after the signal", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("fake-engine did not stop")
	}
}

// --no-health-check leaves healthCheck unimplemented.
func TestFakeEngineNoHealthCheck(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := startFakeEngine(t, ctx, "--no-health-check")
	defer func() {
		cancel()
		<-done
	}()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if _, err := e6xpb.NewQueryEngineServiceClient(cc).HealthCheck(ctx, &e6xpb.HealthCheckRequest{}); status.Code(err) != codes.Unimplemented {
		t.Errorf("healthCheck error = %v, want Unimplemented", err)
	}
}

func TestDemoJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"demo", "--duration", "500ms", "--flip-every", "100ms", "--workers", "2", "--json", "--mode", "switch-on-clear", "--reject", "invalid-argument", "--policy", "eager"}, &out, &errOut)
	if err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var sum map[string]int64
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatalf("last line %q is not JSON: %v", lines[len(lines)-1], err)
	}
	for _, k := range []string{"queries", "failed", "switches", "probes", "mixed", "wrong_strategy", "replays"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("summary %v lacks %q", sum, k)
		}
	}
	if sum["failed"] != 0 || sum["mixed"] != 0 || sum["queries"] == 0 {
		t.Errorf("summary %v", sum)
	}
}

func TestBadInvocations(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"frobnicate"},
		{"demo", "--mode", "sideways"},
		{"demo", "--policy", "lazy"},
		{"demo", "--no-such-flag"},
		{"demo", "--client", "python"},
		{"demo", "--proxy"},
		{"demo", "--client", "naive", "--fetch=false"},
		{"fake-engine", "--start", "red"},
	} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, &out, &errOut); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}

// The fake-engine command serves the built-in tables: demo.types with
// every type, exactly, and demo.big with a row count in its LIMIT.
func TestFakeEngineServesTables(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := startFakeEngine(t, ctx)
	conn, err := client.Open(client.Config{Addr: addr, User: "u", Password: "p", Catalog: enginetest.Catalog, Schema: enginetest.Schema})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	qctx, qcancel := context.WithTimeout(ctx, 20*time.Second)
	defer qcancel()
	for _, tt := range []struct {
		sql  string
		rows int
		row  func(i int) []any
	}{
		{"SELECT * FROM demo.types", enginetest.TypesRows, enginetest.TypesRow},
		{"SELECT * FROM demo.big LIMIT 5000", 5000, func(i int) []any { return enginetest.BigRow(int64(i)) }},
	} {
		rows, err := conn.Query(qctx, tt.sql)
		if err != nil {
			t.Fatalf("%s: %v", tt.sql, err)
		}
		n := 0
		for ; rows.Next(qctx); n++ {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			// Instants, and the zone of every time: cmp would compare
			// instants only.
			zones := cmp.Comparer(func(a, b time.Time) bool {
				na, oa := a.Zone()
				nb, ob := b.Zone()
				return a.Equal(b) && na == nb && oa == ob
			})
			want := tt.row(n)
			for i, v := range want { // the client's Decimal of the same value
				if d, ok := v.(enginetest.Decimal); ok {
					u, _ := new(big.Int).SetString(d.Unscaled, 10)
					if want[i], err = client.NewDecimal(u, d.Scale); err != nil {
						t.Fatal(err)
					}
				}
			}
			if diff := cmp.Diff(want, vals, zones); diff != "" {
				t.Fatalf("%s: row %d (-want +got):\n%s", tt.sql, n, diff)
			}
		}
		if err := rows.Err(); err != nil || n != tt.rows {
			t.Errorf("%s: %d rows, error %v; want %d rows", tt.sql, n, err, tt.rows)
		}
		rows.Close()
	}
	conn.Close()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run() = %v", err)
	}
}
