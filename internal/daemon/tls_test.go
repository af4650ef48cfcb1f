package daemon_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/daemon"
)

// tlsTrusting returns a client TLS configuration that trusts the CA of
// caPEM alone.
func tlsTrusting(t *testing.T, caPEM []byte) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("no certificate in the CA's PEM")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// The daemon connects to an engine that speaks TLS when its Client.TLS
// trusts the engine's CA: it becomes ready, having authenticated. With
// another CA, or without TLS, it never authenticates, and /readyz says
// why the colour is unknown. The waits allow ten seconds, which only
// catches a hang.
func TestWatchTLS(t *testing.T) {
	serverTLS, caPEM, err := enginetest.SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	_, otherPEM, err := enginetest.SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	withTLS := func(o *enginetest.Options) { o.TLS = serverTLS }

	t.Run("trusted", func(t *testing.T) {
		srv := newEngine(t, withTLS)
		w := startDaemon(t, srv.Addr(), "", func(cfg *daemon.Config) { cfg.Client.TLS = tlsTrusting(t, caPEM) })
		w.waitCode(t, "/readyz", http.StatusOK, 10*time.Second)
		if n := len(authenticates(srv)); n == 0 {
			t.Error("the daemon is ready, but the engine logged no authenticate call")
		}
		if got := w.Coordinator().Strategy(); got.String() != srv.State().Active.String() {
			t.Errorf("the daemon's colour = %v, want the engine's %v", got, srv.State().Active)
		}
	})
	for name, tc := range map[string]struct {
		tls  *tls.Config
		want string // in /readyz's reason
	}{
		"another CA": {tlsTrusting(t, otherPEM), "engine unreachable"},
		"plaintext":  {nil, "engine unreachable"},
	} {
		t.Run(name, func(t *testing.T) {
			srv := newEngine(t, withTLS)
			w := startDaemon(t, srv.Addr(), "", func(cfg *daemon.Config) { cfg.Client.TLS = tc.tls })
			var body string
			waitUntil(t, "a failed confirmation in /readyz", 10*time.Second, func() bool {
				var code int
				code, body = w.get(t, "/readyz?verbose")
				if code == http.StatusOK {
					t.Fatalf("/readyz = 200 with %s: want no trust in the engine", name)
				}
				return strings.Contains(body, "colour failed: unknown (")
			})
			if !strings.Contains(body, tc.want) {
				t.Errorf("/readyz?verbose = %q, want it to hold %q", body, tc.want)
			}
			if n := len(authenticates(srv)); n != 0 {
				t.Errorf("the engine logged %d authenticate calls, want none", n)
			}
		})
	}
}
