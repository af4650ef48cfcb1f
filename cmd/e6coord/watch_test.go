package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/outputtest"
	"github.com/e6coord/e6coord/internal/redistest"
	"github.com/e6coord/e6coord/internal/secrettest"
)

// watchRun is `e6coord watch` running in the test process.
type watchRun struct {
	args   []string
	base   string // "http://addr"
	stdout *outputtest.Buffer
	stderr *outputtest.Buffer
	done   <-chan error
	http   *http.Client // without keep-alives: it leaves no goroutine
}

// startWatch runs `e6coord watch --listen 127.0.0.1:0 args...` until ctx
// ends, and returns once it printed its address.
func startWatch(t *testing.T, ctx context.Context, args ...string) *watchRun {
	t.Helper()
	w := &watchRun{
		args:   append([]string{"watch", "--listen", "127.0.0.1:0"}, args...),
		stdout: &outputtest.Buffer{}, stderr: &outputtest.Buffer{},
		http: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second},
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, w.args, io.MultiWriter(pw, w.stdout), w.stderr)
		pw.Close()
	}()
	w.done = done
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("watch printed no address: %v; stderr:\n%s", err, w.stderr)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		t.Fatalf("first line %q, want listening on <addr>", line)
	}
	go io.Copy(io.Discard, pr)
	w.base = "http://" + addr
	return w
}

func (w *watchRun) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := w.http.Get(w.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// waitBody polls GET path every 10ms until cond holds for its answer, or
// fails the test after timeout.
func (w *watchRun) waitBody(t *testing.T, path string, timeout time.Duration, cond func(code int, body string) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		code, body := w.get(t, path)
		if cond(code, body) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s after %v: %d %q", path, timeout, code, body)
		}
		<-tick.C
	}
}

// wait returns run's result, or fails the test if it takes over timeout.
func (w *watchRun) wait(t *testing.T, timeout time.Duration) (error, time.Duration) {
	t.Helper()
	start := time.Now()
	select {
	case err := <-w.done:
		return err, time.Since(start)
	case <-time.After(timeout):
		t.Fatalf("watch did not return within %v of the signal", timeout)
		return nil, 0
	}
}

func ready(code int, _ string) bool { return code == http.StatusOK }

// newFakeEngine starts a fake engine accepting user u with password.
func newFakeEngine(t *testing.T, password string) *enginetest.Server {
	t.Helper()
	srv, err := enginetest.NewServer(enginetest.Options{User: "u", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// stopBudget is how soon watch should return after SIGTERM: a figure
// TestWatchStopsOnSignal logs beside the time it measures. It waits up to
// ten times as long, which only catches a watch that does not stop.
const stopBudget = 2 * time.Second

// On SIGTERM (ctx cancelled, as main's signal.NotifyContext does) watch
// returns nil, having closed its subscription, its store connections and
// its HTTP server, and leaves no goroutine.
func TestWatchStopsOnSignal(t *testing.T) {
	redistest.Require(t)
	r := redistest.Start(t)
	srv := newFakeEngine(t, "p")
	t.Setenv("E6_PASSWORD", "p")
	t.Setenv("E6COORD_REDIS_URL", r.URL())
	rdb := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	before := goleak.IgnoreCurrent()

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := startWatch(t, wctx, "--engine", srv.Addr(), "--user", "u", "--interval", "200ms")
	w.waitBody(t, "/readyz", 10*time.Second, ready)
	// The scope's channel, and the heartbeat channel of the store's watch.
	chans, err := rdb.PubSubChannels(ctx, "*").Result()
	slices.Sort(chans)
	if err != nil || len(chans) != 2 || !strings.HasSuffix(chans[0], ":events") || !strings.HasPrefix(chans[1], chans[0]+":heartbeat:") {
		t.Fatalf("channels subscribed while watch runs: %q, %v; want the scope's events and one heartbeat channel", chans, err)
	}

	cancel() // SIGTERM
	err, took := w.wait(t, 10*stopBudget)
	t.Logf("watch returned %v after the signal (budget %v): %v", took.Round(time.Millisecond), stopBudget, err)
	if err != nil {
		t.Errorf("run() = %v, want nil", err)
	}
	if code := exitCode(err, io.Discard); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if chans, err := rdb.PubSubChannels(ctx, "*").Result(); err != nil || len(chans) != 0 {
		t.Errorf("channels subscribed after watch returned: %q, %v; want none", chans, err)
	}
	if clients, err := rdb.ClientList(ctx).Result(); err != nil || strings.Count(strings.TrimSpace(clients), "\n") != 0 {
		t.Errorf("Redis clients after watch returned, want only this test's:\n%s (%v)", clients, err)
	}
	if _, err := w.http.Get(w.base + "/healthz"); err == nil {
		t.Error("watch's HTTP server still answers after it returned")
	}
	goleak.VerifyNone(t, before)
}

// Neither the engine password nor the Redis password, random each time,
// appears in watch's stdout, stderr (at debug level), /metrics, /v1/state,
// /readyz or /healthz, nor in its arguments: the engine password from
// E6_PASSWORD or --password-file, the Redis URL from E6COORD_REDIS_URL.
// With both passwords wrong, the errors it logs and serves hold neither.
func TestWatchHidesSecrets(t *testing.T) {
	redistest.Require(t)
	for _, tt := range []struct {
		name     string
		fromFile bool
		wrong    bool // the server expects other passwords
	}{
		{"engine=E6_PASSWORD", false, false},
		{"engine=password-file", true, false},
		{"both-wrong", false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := secrettest.New()
			enginePW, redisPW := s.A+s.B, s.B+s.A
			r := redistest.Start(t)
			serverEnginePW, serverRedisPW := enginePW, redisPW
			if tt.wrong {
				serverEnginePW, serverRedisPW = "other-engine-pw", "other-redis-pw"
			}
			requirePass(t, r.Addr(), "", serverRedisPW)
			srv := newFakeEngine(t, serverEnginePW)
			t.Setenv("E6COORD_REDIS_URL", "redis://:"+redisPW+"@"+r.Addr()+"/0")
			args := []string{"--engine", srv.Addr(), "--user", "u", "--interval", "200ms", "--log-level", "debug"}
			if tt.fromFile {
				pwFile := filepath.Join(t.TempDir(), "e6-password")
				if err := os.WriteFile(pwFile, []byte(enginePW+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--password-file", pwFile)
				t.Setenv("E6_PASSWORD", "")
				os.Unsetenv("E6_PASSWORD")
			} else {
				t.Setenv("E6_PASSWORD", enginePW)
			}

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w := startWatch(t, ctx, args...)
			if tt.wrong {
				w.waitBody(t, "/readyz?verbose", 10*time.Second, func(_ int, body string) bool {
					return strings.Contains(body, "[-]colour failed: unknown (engine refused the credentials)\n") &&
						strings.Contains(body, "[-]store failed: denied\n")
				})
			} else {
				// Ready: both passwords reached their servers.
				w.waitBody(t, "/readyz", 10*time.Second, ready)
				r.Kill() // and an error to log
				w.waitBody(t, "/readyz?verbose", 20*time.Second, func(_ int, body string) bool {
					return strings.Contains(body, "[-]store failed: unreachable")
				})
			}
			for _, path := range []string{"/metrics", "/v1/state", "/readyz?verbose", "/healthz?verbose"} {
				_, body := w.get(t, path)
				s.Check(t, path, body)
			}
			cancel()
			if err, _ := w.wait(t, 10*stopBudget); err != nil {
				t.Errorf("run() = %v", s.Hide(err.Error()))
				s.Check(t, "the error", err.Error())
			}
			s.Check(t, "stdout", w.stdout.String())
			s.Check(t, "stderr", w.stderr.String())
			s.Check(t, "the arguments", strings.Join(w.args, " "))
			if !strings.Contains(w.stderr.String(), "level=DEBUG") && !strings.Contains(w.stderr.String(), "level=INFO") {
				t.Errorf("stderr = %q, want the debug log", s.Hide(w.stderr.String()))
			}
		})
	}
}

// watch without --engine, or with a bad flag, fails and says why; --help
// succeeds and describes the command. Its stderr is an outputtest.Buffer: a
// command that set up its logger leaves go-redis's process-wide logger
// writing there, from whatever go-redis goroutine of an earlier test is
// still dialing.
func TestWatchInvocations(t *testing.T) {
	for _, args := range [][]string{
		{"watch"},
		{"watch", "--engine", "e:1", "--interval", "soon"},
		{"watch", "--engine", "e:1", "extra"},
		{"watch", "--engine", "e:1", "--interval", "1h"},
		{"watch", "--engine", "e:1", "--listen", "127.0.0.1:-1"},
	} {
		errOut := &outputtest.Buffer{}
		if err := run(context.Background(), args, io.Discard, errOut); err == nil {
			t.Errorf("run(%q) succeeded", args)
		} else if exitCode(err, errOut) == 0 || errOut.String() == "" {
			t.Errorf("run(%q) = %v with stderr %q, want a reason", args, err, errOut.String())
		}
	}
	t.Setenv("E6COORD_INTERVAL", "never")
	errOut := &outputtest.Buffer{}
	if err := run(context.Background(), []string{"watch", "--engine", "e:1"}, io.Discard, errOut); err == nil ||
		!strings.Contains(err.Error(), "E6COORD_INTERVAL") {
		t.Errorf("a bad E6COORD_INTERVAL: %v, want an error naming it", err)
	}
	errOut = &outputtest.Buffer{}
	if err := run(context.Background(), []string{"watch", "--help"}, io.Discard, errOut); err != nil {
		t.Errorf("watch --help = %v", err)
	}
	for _, want := range []string{"usage: e6coord watch", "-interval", "-cache-ttl", "/readyz", "E6COORD_REDIS_URL"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("watch --help printed %q, want it to mention %q", errOut.String(), want)
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help"}, &out, io.Discard); err != nil || !strings.Contains(out.String(), "  watch ") {
		t.Errorf("help = %v, %q; want the watch command listed", err, out.String())
	}
}
