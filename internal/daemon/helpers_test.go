package daemon_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/e6coord/e6coord/internal/redistest"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/daemon"
)

// TestMain checks that no goroutine outlives the tests, but go-redis's
// tryDial, which a pool starts after failed dials and which sleeps up to a
// second before it sees the pool closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, redistest.IgnoreDial)
}

const user, password = "watcher", "watch-secret"

// interval is the daemons' confirmation interval in these tests.
const interval = 200 * time.Millisecond

// newEngine starts a fake engine that accepts user and password.
func newEngine(t *testing.T, adjust ...func(*enginetest.Options)) *enginetest.Server {
	t.Helper()
	o := enginetest.Options{User: user, Password: password, MaxLog: 10000}
	for _, f := range adjust {
		f(&o)
	}
	srv, err := enginetest.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// watcher is a daemon running in the test process.
type watcher struct {
	*daemon.Daemon
	base string // "http://addr"
	stop func() error
}

// startDaemon runs a daemon on engine and redisURL ("" for memory) with
// interval, on a free port, until the test ends or stop is called.
func startDaemon(t *testing.T, engine, redisURL string, adjust ...func(*daemon.Config)) *watcher {
	t.Helper()
	cfg := daemon.Config{
		Client: client.Config{
			Addr: engine, User: user, Password: password,
			Catalog: enginetest.Catalog, Schema: enginetest.Schema,
			RedisURL: redisURL,
		},
		Listen: "127.0.0.1:0", Interval: interval,
	}
	for _, f := range adjust {
		f(&cfg)
	}
	d, err := daemon.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stopped := false
	var runErr error
	stop := func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("daemon did not stop within 10s")
			}
		}
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run() = %v", err)
		}
	})
	return &watcher{Daemon: d, base: "http://" + d.Addr(), stop: stop}
}

// get returns the status code and body of GET w.base+path.
func (w *watcher) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(w.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

// waitCode polls GET path until it answers code, and returns how long that
// took; it fails the test after timeout.
func (w *watcher) waitCode(t *testing.T, path string, code int, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		got, body := w.get(t, path)
		if got == code {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s answered %d after %v, want %d:\n%s", path, got, timeout, code, body)
		}
		<-tick.C
	}
}

// waitUntil polls cond every 10ms until it holds, or fails the test after
// timeout.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}
