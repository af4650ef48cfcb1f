package daemon

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/coordinator"
)

// newIdle returns a daemon that never runs, on an engine nobody serves.
func newIdle(t *testing.T) *Daemon {
	t.Helper()
	d, err := New(Config{Client: client.Config{Addr: "127.0.0.1:1"}, Listen: "127.0.0.1:0", Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func serve(d *Daemon, path string) (int, string) {
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

// /healthz fails once the loop has begun no iteration for three intervals
// and the confirmation timeout, and only then.
func TestHealthzStall(t *testing.T) {
	d := newIdle(t)
	if code, body := serve(d, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("fresh /healthz = %d %q, want 200 ok", code, body)
	}
	if code, body := serve(d, "/healthz?verbose"); code != http.StatusOK || body != "[+]loop ok\nhealthz check passed\n" {
		t.Errorf("fresh /healthz?verbose = %d %q", code, body)
	}
	stall := d.stallAfter()
	if want := 3*time.Second + d.coord.Config().ProbeLeaseTTL; stall != want {
		t.Errorf("stallAfter() = %v, want %v", stall, want)
	}
	d.progress.Store(time.Now().Add(-stall + time.Second).UnixNano())
	if code, body := serve(d, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz a second before the stall = %d %q, want 200", code, body)
	}
	d.progress.Store(time.Now().Add(-stall - time.Second).UnixNano())
	code, body := serve(d, "/healthz")
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "[-]loop failed: no progress for ") ||
		!strings.HasSuffix(body, "\nhealthz check failed\n") {
		t.Errorf("stalled /healthz = %d %q, want 503 naming the loop", code, body)
	}
}

// /readyz fails, and says why, while the daemon stops.
func TestReadyzStopping(t *testing.T) {
	d := newIdle(t)
	d.stopping.Store(true)
	code, body := serve(d, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "[-]shutdown failed: stopping\n") {
		t.Errorf("/readyz while stopping = %d %q, want 503 naming the shutdown", code, body)
	}
	if want := "[-]colour failed: unknown\n"; !strings.Contains(body, want) { // never run
		t.Errorf("/readyz = %q, want it to hold %q", body, want)
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Client: client.Config{Addr: "e:1"}, Interval: -time.Second},
		{Client: client.Config{Addr: "e:1"}, Interval: 2 * time.Minute},
		{Client: client.Config{Addr: "e:1", Coordination: coordinator.Config{CacheTTL: 2 * time.Second}}, Interval: time.Second},
		{Client: client.Config{Addr: "e:1", RedisURL: "ftp://u:pw@h:1/0"}},
		{Client: client.Config{Addr: "e:1", RedisURL: "redis://h:1/0?prefix=a%7Bb"}},
		{Client: client.Config{Addr: "e:1"}, Listen: "127.0.0.1:-1"},
	} {
		if d, err := New(cfg); err == nil {
			d.Close()
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}
