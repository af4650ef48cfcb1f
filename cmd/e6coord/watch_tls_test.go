package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/outputtest"
)

// watch --tls --ca FILE connects to an engine that speaks TLS with a
// certificate of that CA, and becomes ready; with --server-name naming
// another host, the certificate does not match and it does not authenticate.
// The waits allow ten seconds, which only catches a hang.
func TestWatchTLS(t *testing.T) {
	serverTLS, caPEM, err := enginetest.SelfSigned("127.0.0.1", "engine.test")
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("E6_PASSWORD", "p")
	for _, tt := range []struct {
		name  string
		args  []string
		ready bool
	}{
		{"ca", []string{"--tls", "--ca", ca}, true},
		{"ca and server name", []string{"--tls", "--ca", ca, "--server-name", "engine.test"}, true},
		{"another server name", []string{"--tls", "--ca", ca, "--server-name", "other.test"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := enginetest.NewServer(enginetest.Options{User: "u", Password: "p", TLS: serverTLS})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w := startWatch(t, ctx, append([]string{"--engine", srv.Addr(), "--user", "u", "--interval", "200ms"}, tt.args...)...)
			if tt.ready {
				w.waitBody(t, "/readyz", 10*time.Second, ready)
			} else {
				w.waitBody(t, "/readyz?verbose", 10*time.Second, func(code int, body string) bool {
					if code == 200 {
						t.Fatalf("/readyz = 200 with %q: want the certificate refused", tt.args)
					}
					return strings.Contains(body, "colour failed: unknown (engine unreachable)")
				})
			}
			authenticated := false
			for _, c := range srv.Log() {
				authenticated = authenticated || c.Method == e6xpb.QueryEngineService_Authenticate_FullMethodName
			}
			if authenticated != tt.ready {
				t.Errorf("the engine logged an authenticate call: %t, want %t", authenticated, tt.ready)
			}
			cancel()
			if err, _ := w.wait(t, 10*stopBudget); err != nil {
				t.Errorf("run() = %v", err)
			}
		})
	}
}

// The TLS flags: --ca and --server-name need --tls; a --ca file that
// cannot be read or holds no certificate is an error that names it.
func TestWatchTLSInvocations(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--ca", notPEM}, "need --tls"},
		{[]string{"--server-name", "x"}, "need --tls"},
		{[]string{"--tls", "--ca", filepath.Join(dir, "missing.pem")}, "missing.pem"},
		{[]string{"--tls", "--ca", notPEM}, "no PEM certificate"},
		{[]string{"--tls=maybe"}, "tls"},
	} {
		args := append([]string{"watch", "--engine", "127.0.0.1:1", "--listen", "127.0.0.1:0"}, tt.args...)
		errOut := &outputtest.Buffer{}
		err := run(context.Background(), args, io.Discard, errOut)
		if err == nil {
			t.Errorf("run(%q) succeeded", args)
			continue
		}
		errOut2 := &outputtest.Buffer{}
		if code := exitCode(err, errOut2); code == 0 {
			t.Errorf("run(%q): exit code 0", args)
		}
		if got := errOut.String() + errOut2.String(); !strings.Contains(got, tt.want) {
			t.Errorf("run(%q) = %v, stderr %q; want it to say %q", args, err, got, tt.want)
		}
	}
	errOut := &outputtest.Buffer{}
	if err := run(context.Background(), []string{"watch", "--help"}, io.Discard, errOut); err != nil {
		t.Errorf("watch --help = %v", err)
	}
	for _, want := range []string{"-tls", "-ca", "-server-name"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("watch --help printed %q, want it to mention %q", errOut.String(), want)
		}
	}
}
