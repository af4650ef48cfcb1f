package daemon_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/redistest"
)

// readyBudget is how soon /readyz should follow the store going and coming
// back: a figure TestReadyzFollowsRedis logs beside the times it measures.
// It waits up to readyWait, ten times as long, which only catches a /readyz
// that does not follow.
const (
	readyBudget = 2 * time.Second
	readyWait   = 10 * readyBudget
)

// /readyz is 503 after Redis is SIGKILLed and 200 after its restart, twice;
// a Redis down when the daemon starts only makes it not ready. /healthz
// stays 200 throughout.
func TestReadyzFollowsRedis(t *testing.T) {
	redistest.Require(t)
	r := redistest.Start(t)
	srv := newEngine(t)
	r.Kill() // down at start
	w := startDaemon(t, srv.Addr(), r.URL())
	waitUntil(t, "the store reported unreachable", 5*time.Second, func() bool {
		code, body := w.get(t, "/readyz?verbose")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "[-]store failed: unreachable")
	})
	if code, body := w.get(t, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with Redis down at start = %d %q, want 200", code, body)
	}
	r.Restart()
	took := w.waitCode(t, "/readyz", http.StatusOK, readyWait)
	t.Logf("ready %v after Redis came up (budget %v)", took.Round(time.Millisecond), readyBudget)

	for round := range 2 {
		r.Kill()
		took := w.waitCode(t, "/readyz", http.StatusServiceUnavailable, readyWait)
		_, body := w.get(t, "/readyz?verbose")
		t.Logf("round %d: /readyz 503 %v after SIGKILL (budget %v):\n%s", round, took.Round(time.Millisecond), readyBudget, body)
		if !strings.Contains(body, "[-]store failed: unreachable") || !strings.Contains(body, "[+]colour ok") {
			t.Errorf("round %d: /readyz?verbose = %q, want the store unreachable and the colour ok", round, body)
		}
		if code, body := w.get(t, "/healthz"); code != http.StatusOK {
			t.Errorf("round %d: /healthz with Redis down = %d %q, want 200", round, code, body)
		}
		r.Restart()
		took = w.waitCode(t, "/readyz", http.StatusOK, readyWait)
		t.Logf("round %d: /readyz 200 %v after the restart (budget %v)", round, took.Round(time.Millisecond), readyBudget)
	}
	if code, body := w.get(t, "/readyz?verbose"); code != http.StatusOK ||
		body != "[+]colour ok\n[+]store ok\n[+]shutdown ok\nreadyz check passed\n" {
		t.Errorf("/readyz?verbose = %d %q", code, body)
	}
	if code, body := w.get(t, "/readyz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/readyz = %d %q, want 200 ok", code, body)
	}
}

// With a wrong Redis password the daemon stays not ready, and ?verbose
// says the store denied access; the colour is known all the same.
func TestReadyzWrongRedisPassword(t *testing.T) {
	redistest.Require(t)
	r := redistest.Start(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
	if err := rdb.ConfigSet(context.Background(), "requirepass", "the-right-one").Err(); err != nil {
		t.Fatal(err)
	}
	rdb.Close()
	srv := newEngine(t)
	w := startDaemon(t, srv.Addr(), "redis://:the-wrong-one@"+r.Addr()+"/0")
	waitUntil(t, "the store reported denied", 5*time.Second, func() bool {
		_, body := w.get(t, "/readyz?verbose")
		return strings.Contains(body, "[-]store failed: denied\n")
	})
	// It stays so: every answer over ten intervals is 503 and says why.
	deadline := time.Now().Add(10 * interval)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	polls := 0
	for ; time.Now().Before(deadline); <-tick.C {
		code, body := w.get(t, "/readyz?verbose")
		polls++
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "[-]store failed: denied\n") ||
			!strings.HasSuffix(body, "readyz check failed\n") {
			t.Fatalf("/readyz?verbose = %d %q, want 503 with the store denied", code, body)
		}
	}
	_, body := w.get(t, "/readyz?verbose")
	t.Logf("%d polls over %v, all 503:\n%s", polls, 10*interval, body)
	if !strings.Contains(body, "[+]colour ok") {
		t.Errorf("/readyz?verbose = %q, want the colour known without the store", body)
	}
}

// An engine that is down when the daemon starts makes it not ready, not
// gone: it becomes ready once the engine is up.
func TestStartsWithEngineDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	w := startDaemon(t, addr, "")
	waitUntil(t, "the engine reported unreachable", 5*time.Second, func() bool {
		_, body := w.get(t, "/readyz?verbose")
		return strings.Contains(body, "[-]colour failed: unknown (engine unreachable)\n")
	})
	if code, body := w.get(t, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with the engine down = %d %q, want 200", code, body)
	}
	newEngine(t, func(o *enginetest.Options) { o.Addr = addr })
	took := w.waitCode(t, "/readyz", http.StatusOK, 10*time.Second)
	t.Logf("ready %v after the engine came up", took.Round(time.Millisecond))
}

// Run returns nil when its ctx ends, and nothing listens after it.
func TestStopping(t *testing.T) {
	srv := newEngine(t)
	w := startDaemon(t, srv.Addr(), "")
	w.waitCode(t, "/readyz", http.StatusOK, 10*time.Second)
	if err := w.stop(); err != nil {
		t.Fatalf("Run() = %v, want nil", err)
	}
	if _, err := http.Get(w.base + "/healthz"); err == nil {
		t.Error("the HTTP server still answers after Run returned")
	}
}

// A watcher does not resume a suspended cluster: it stays not ready, and
// says why, until the cluster is active again.
func TestSuspendedClusterNotResumed(t *testing.T) {
	srv := newEngine(t, func(o *enginetest.Options) { o.ClusterStatus = enginetest.StatusSuspended })
	w := startDaemon(t, srv.Addr(), "")
	waitUntil(t, "the cluster reported suspended", 5*time.Second, func() bool {
		_, body := w.get(t, "/readyz?verbose")
		return strings.Contains(body, "[-]colour failed: unknown (cluster suspended or starting)\n")
	})
	if n := srv.ResumeCalls(); n != 0 {
		t.Errorf("the watcher resumed the cluster %d times, want never", n)
	}
	srv.SetClusterStatus(enginetest.StatusActive) // a worker's query resumed it, say
	took := w.waitCode(t, "/readyz", http.StatusOK, 5*time.Second)
	t.Logf("ready %v after the cluster was active", took.Round(time.Millisecond))
}
