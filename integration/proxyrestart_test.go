package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/outputtest"
	"github.com/e6coord/e6coord/internal/redistest"
)

// buildE6coord builds the e6coord command into the test's temporary
// directory and returns its path.
func buildE6coord(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "e6coord")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", path, "github.com/e6coord/e6coord/cmd/e6coord").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return path
}

// proxyProcess is an `e6coord proxy` process.
type proxyProcess struct {
	cmd    *exec.Cmd
	stderr *outputtest.Buffer
	waited chan struct{}
}

// startProxyProcess runs `e6coord proxy --listen addr` with env added to
// the test's environment, and returns once it listens.
func startProxyProcess(t *testing.T, bin, engine, addr string, env ...string) *proxyProcess {
	t.Helper()
	cmd := exec.Command(bin, "proxy", "--engine", engine, "--listen", addr, "--log-level", "info")
	cmd.Env = append(os.Environ(), env...)
	p := &proxyProcess{cmd: cmd, stderr: &outputtest.Buffer{}, waited: make(chan struct{})}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		close(p.waited)
	}()
	t.Cleanup(func() { p.kill(t) })
	lines := make(chan string, 1)
	go func() {
		br := bufio.NewReader(out)
		line, _ := br.ReadString('\n')
		lines <- line
		_, _ = br.WriteTo(discard{})
	}()
	select {
	case line := <-lines:
		if !strings.HasPrefix(line, "listening on ") {
			t.Fatalf("e6coord proxy printed %q, want listening on; stderr:\n%s", line, p.stderr)
		}
	case <-time.After(time.Minute):
		t.Fatalf("e6coord proxy does not listen; stderr:\n%s", p.stderr)
	}
	return p
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// kill ends the process at once (SIGKILL: a crash) and waits for it.
func (p *proxyProcess) kill(t *testing.T) {
	p.cmd.Process.Kill()
	select {
	case <-p.waited:
	case <-time.After(time.Minute):
		t.Errorf("e6coord proxy %d did not end after SIGKILL", p.cmd.Process.Pid)
	}
}

// freeAddr returns a loopback address with a port free at the time.
func freeAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().String()
}

// TestProxyRestart: a naive client (the generated stubs, no interceptor,
// no strategy header, one session id for the whole run, never
// authenticating again) runs queries through an `e6coord proxy` process
// while the fake engine switches colours; the proxy is killed (SIGKILL)
// and started again with the same --session-key-file on the same address.
// The queries that overlap the time it is down may fail (counted and
// logged); every query that ends before the kill, and every query begun
// once the client's channel is connected again, succeeds, across switches
// before and after, with the session id of the first proxy.
func TestProxyRestart(t *testing.T) {
	r := redistest.Start(t)
	bin := buildE6coord(t)
	srv, err := enginetest.NewServer(enginetest.Options{Mode: enginetest.SwitchOnClear, Rejection: enginetest.RejectHTTP456, RejectMissingStrategy: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	keyFile := filepath.Join(t.TempDir(), "session-key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("5e", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"E6COORD_REDIS_URL=" + r.URL(), "E6COORD_SESSION_KEY_FILE=" + keyFile}
	addr := freeAddr(t)
	first := startProxyProcess(t, bin, srv.Addr(), addr, env...)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	stub := e6xpb.NewQueryEngineServiceClient(cc)
	auth, err := stub.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "Zq7Xv2-pw"})
	if err != nil {
		t.Fatal(err)
	}
	sid := auth.GetSessionId()

	// phase: 0 while the first proxy runs, 1 from just before the kill,
	// 2 once the client is connected to the second proxy.
	var phase atomic.Int32
	type result struct {
		from, to int32 // the phases at the query's start and end
		err      error
	}
	results := make(chan result, 64)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			from := phase.Load()
			n, err := naiveQuery(ctx, stub, sid, "SELECT * FROM demo.numbers")
			if err == nil && n != 1000 {
				err = fmt.Errorf("%d rows, want 1000", n)
			}
			select {
			case results <- result{from, phase.Load(), err}:
			case <-stop:
				return
			}
			if err != nil {
				// The client's backoff: wait for its channel to change
				// state before the next query.
				st := cc.GetState()
				if st == connectivity.Idle {
					cc.Connect()
				}
				if st != connectivity.Ready {
					cc.WaitForStateChange(ctx, st)
				}
			}
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
	}()

	queries, failedDown, failed := 0, 0, 0
	var downErrs []string
	next := func() result {
		t.Helper()
		select {
		case res := <-results:
			queries++
			if res.err != nil {
				if res.from <= 1 && res.to >= 1 {
					failedDown++
					downErrs = append(downErrs, res.err.Error())
				} else {
					failed++
					t.Errorf("query %d (phase %d to %d) failed: %v", queries, res.from, res.to, res.err)
					if failed == 5 {
						t.FailNow() // no switch completes while every query fails
					}
				}
			}
			return res
		case <-ctx.Done():
			t.Fatalf("no query finished (%d so far); proxy stderr:\n%s", queries, first.stderr)
			return result{}
		}
	}
	switches := func(k int) {
		t.Helper()
		for range k {
			want := srv.State().Switches + 1
			if err := srv.BeginSwitch(srv.State().Active.Other()); err != nil {
				t.Fatal(err)
			}
			for srv.State().Switches < want {
				next()
			}
			for range 3 {
				next()
			}
		}
	}

	switches(3)
	phase.Store(1)
	first.kill(t)
	// The client meets the dead proxy.
	for failedDown < 2 {
		next()
	}
	second := startProxyProcess(t, bin, srv.Addr(), addr, env...)
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	for st := cc.GetState(); st != connectivity.Ready; st = cc.GetState() {
		if st == connectivity.Idle {
			cc.Connect()
		}
		if !cc.WaitForStateChange(wctx, st) {
			wcancel()
			t.Fatalf("the client never connected to the restarted proxy (%v); its stderr:\n%s", st, second.stderr)
		}
	}
	wcancel()
	phase.Store(2)
	before := queries
	// The queries in flight across the restart end first.
	for {
		if res := next(); res.from == 2 {
			break
		}
	}
	switches(3)
	after := queries - before
	if failedDown == 0 {
		t.Errorf("no query failed while the proxy was down: the test did not test a restart")
	}
	t.Logf("%d queries, %d failed while the proxy was down and %d once the client was connected to the restarted proxy; engine %d switches", queries, failedDown, after, srv.State().Switches)
	for i, e := range downErrs {
		if i == 5 {
			t.Logf("  ... %d more", len(downErrs)-5)
			break
		}
		t.Logf("  while down: %s", e)
	}
	if t.Failed() {
		t.Logf("second proxy's stderr:\n%s", second.stderr)
	}
	if logs := first.stderr.String() + second.stderr.String(); strings.Contains(logs, "Zq7Xv2") {
		t.Errorf("a proxy's log shows the password:\n%s", logs)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("the run hit its deadline")
	}
}
