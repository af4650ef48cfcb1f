package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/outputtest"
)

// proxyRun is `e6coord proxy` running in the test process.
type proxyRun struct {
	addr   string
	http   string // the address of --http-listen, if given
	stderr *outputtest.Buffer
	done   <-chan error
}

// startProxyCmd runs `e6coord proxy args...` until ctx ends, and returns
// once it printed its address.
func startProxyCmd(t *testing.T, ctx context.Context, args ...string) *proxyRun {
	t.Helper()
	r := &proxyRun{stderr: &outputtest.Buffer{}}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"proxy"}, args...), pw, r.stderr)
		pw.Close()
	}()
	r.done = done
	br := bufio.NewReader(pr)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("proxy printed no address: %v; stderr:\n%s", err, r.stderr)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		t.Fatalf("first line %q, want listening on <addr>", line)
	}
	r.addr = addr
	for _, a := range args {
		if a == "--http-listen" {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("proxy printed no HTTP address: %v; stderr:\n%s", err, r.stderr)
			}
			r.http, ok = strings.CutPrefix(strings.TrimSpace(line), "http on ")
			if !ok {
				t.Fatalf("second line %q, want http on <addr>", line)
			}
		}
	}
	go io.Copy(io.Discard, br)
	return r
}

func (r *proxyRun) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("e6coord proxy did not end; stderr:\n%s", r.stderr)
		return nil
	}
}

func TestProxyCommandListenChecks(t *testing.T) {
	cleanEnv(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--engine", "e:1", "--listen", "0.0.0.0:0"}, "not a loopback address"},
		{[]string{"--engine", "e:1", "--listen", "192.0.2.1:50051"}, "not a loopback address"},
		{[]string{"--engine", "e:1", "--listen", "nonsense"}, "--listen"},
		{[]string{"--engine", "e:1", "--listen", "unix://"}, "needs a path"},
		{[]string{"--engine", "e:1", "--catalog", "c"}, "do not apply to the proxy"},
		{[]string{"--engine", "e:1", "--session-idle", "0s"}, "--session-idle"},
	} {
		err := run(context.Background(), append([]string{"proxy"}, tt.args...), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("proxy %q: %v, want an error with %q", tt.args, err, tt.want)
		}
	}
	if err := run(context.Background(), []string{"proxy"}, io.Discard, io.Discard); err == nil {
		t.Errorf("proxy without --engine: no error")
	}
}

// TestProxyCommandInsecureListenWarns: --insecure-listen serves a
// non-loopback address and says so on stderr.
func TestProxyCommandInsecureListenWarns(t *testing.T) {
	cleanEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	r := startProxyCmd(t, ctx, "--engine", "127.0.0.1:1", "--listen", "0.0.0.0:0", "--insecure-listen")
	cancel()
	if err := r.wait(t); err != nil {
		t.Errorf("proxy: %v", err)
	}
	if !strings.Contains(r.stderr.String(), "plaintext beyond loopback") {
		t.Errorf("no warning on stderr:\n%s", r.stderr)
	}
}

// TestProxyCommandDrains: after SIGTERM (the end of run's context) the
// proxy refuses new queries but serves the one in flight to its end, then
// exits; with no drain time left it clears the queries still open on the
// engine.
func TestProxyCommandDrains(t *testing.T) {
	cleanEnv(t)
	t.Setenv("E6_PASSWORD", "pw")
	eng, err := enginetest.NewServer(enginetest.Options{User: "alice", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	for _, drain := range []string{"1h", "0s"} {
		t.Run("drain="+drain, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := startProxyCmd(t, ctx, "--engine", eng.Addr(), "--listen", "127.0.0.1:0", "--user", "alice", "--drain", drain)
			cc, err := grpc.NewClient(r.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			stub := e6xpb.NewQueryEngineServiceClient(cc)
			cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer ccancel()
			auth, err := stub.Authenticate(cctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "pw"})
			if err != nil {
				t.Fatal(err)
			}
			sid := auth.GetSessionId()
			prepare := func() (*e6xpb.PrepareStatementResponse, error) {
				return stub.PrepareStatementV2(cctx, &e6xpb.PrepareStatementV2Request{SessionId: sid, Schema: enginetest.Schema, Catalog: enginetest.Catalog, QueryString: "SELECT 1"})
			}
			prep, err := prepare()
			if err != nil {
				t.Fatal(err)
			}
			eng.ResetLog()
			cancel() // SIGTERM
			if drain == "0s" {
				if err := r.wait(t); err != nil {
					t.Errorf("proxy: %v", err)
				}
				cleared := false
				for _, c := range eng.Log() {
					cleared = cleared || c.Method == e6xpb.QueryEngineService_ClearOrCancelQuery_FullMethodName && c.Code == codes.OK
				}
				if !cleared {
					t.Errorf("the open query was not cleared on the engine")
				}
				if !strings.Contains(r.stderr.String(), "cleared queries") {
					t.Errorf("no word of the cleared query on stderr:\n%s", r.stderr)
				}
				return
			}
			// Wait until the drain refuses a new query (each try is a round
			// trip; the client's deadline catches a hang).
			for {
				extra, err := prepare()
				if status.Code(err) == codes.Unavailable && strings.Contains(err.Error(), "shutting down") {
					break
				}
				if err == nil { // prepared before the drain began: clear it
					if _, err := stub.ClearOrCancelQuery(cctx, &e6xpb.ClearOrCancelQueryRequest{EngineIP: extra.GetEngineIP(), SessionId: sid, QueryId: extra.GetQueryId()}); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if cctx.Err() != nil {
					t.Fatalf("the drain never refused a new query: %v", err)
				}
			}
			q := &e6xpb.GetNextResultBatchRequest{EngineIP: prep.GetEngineIP(), SessionId: sid, QueryId: prep.GetQueryId()}
			if _, err := stub.ExecuteStatementV2(cctx, &e6xpb.ExecuteStatementV2Request{EngineIP: q.EngineIP, SessionId: sid, QueryId: q.QueryId}); err != nil {
				t.Fatalf("execute during the drain: %v", err)
			}
			if _, err := stub.GetResultMetadata(cctx, &e6xpb.GetResultMetadataRequest{EngineIP: q.EngineIP, SessionId: sid, QueryId: q.QueryId}); err != nil {
				t.Fatalf("metadata during the drain: %v", err)
			}
			if _, err := stub.GetNextResultBatch(cctx, q); err != nil {
				t.Fatalf("fetch during the drain: %v", err)
			}
			select {
			case err := <-r.done:
				t.Fatalf("the proxy ended (%v) with a query open and an hour of drain left", err)
			default:
			}
			if _, err := stub.ClearOrCancelQuery(cctx, &e6xpb.ClearOrCancelQueryRequest{EngineIP: q.EngineIP, SessionId: sid, QueryId: q.QueryId}); err != nil {
				t.Fatalf("clear during the drain: %v", err)
			}
			if err := r.wait(t); err != nil {
				t.Errorf("proxy: %v", err)
			}
		})
	}
}

// TestProxyCommandUnixSocket: --listen unix:///path serves the engine's
// protocol on a unix socket.
func TestProxyCommandUnixSocket(t *testing.T) {
	cleanEnv(t)
	eng, err := enginetest.NewServer(enginetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	sock := filepath.Join(t.TempDir(), "proxy.sock")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := startProxyCmd(t, ctx, "--engine", eng.Addr(), "--listen", "unix://"+sock)
	if r.addr != "unix://"+sock {
		t.Errorf("listening on %q, want unix://%s", r.addr, sock)
	}
	cc, err := grpc.NewClient(r.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer ccancel()
	if _, err := e6xpb.NewQueryEngineServiceClient(cc).Authenticate(cctx, &e6xpb.AuthenticateRequest{User: "u", Password: "p"}); err != nil {
		t.Errorf("authenticate over the unix socket: %v", err)
	}
	cancel()
	if err := r.wait(t); err != nil {
		t.Errorf("proxy: %v", err)
	}
}

// TestProxyCommandRefusedUser: a --user credential the engine refuses ends
// the command at start with an error that names the user, not the
// password.
func TestProxyCommandRefusedUser(t *testing.T) {
	cleanEnv(t)
	t.Setenv("E6_PASSWORD", "wrong-Zq7Xv2")
	eng, err := enginetest.NewServer(enginetest.Options{User: "alice", Password: "right"})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	var stderr outputtest.Buffer
	err = run(context.Background(), []string{"proxy", "--engine", eng.Addr(), "--listen", "127.0.0.1:0", "--user", "alice"}, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "refused the credential") || !strings.Contains(err.Error(), "alice") {
		t.Errorf("proxy with a refused --user: %v, want the refusal", err)
	}
	if strings.Contains(err.Error(), "Zq7Xv2") || strings.Contains(stderr.String(), "Zq7Xv2") {
		t.Errorf("the password shows: %v\n%s", err, stderr.String())
	}
}

// TestProxyCommandTLSListen: with --tls-cert and --tls-key the proxy
// serves TLS, on a non-loopback address too, without the plaintext
// warning; a plaintext client gets nothing.
func TestProxyCommandTLSListen(t *testing.T) {
	cleanEnv(t)
	eng, err := enginetest.NewServer(enginetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	cfg, caPEM, err := enginetest.SelfSigned("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	key, err := x509.MarshalPKCS8PrivateKey(cfg.Certificates[0].PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cfg.Certificates[0].Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)

	if err := run(context.Background(), []string{"proxy", "--engine", eng.Addr(), "--tls-cert", certFile}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "go together") {
		t.Errorf("--tls-cert alone: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := startProxyCmd(t, ctx, "--engine", eng.Addr(), "--listen", "0.0.0.0:0", "--tls-cert", certFile, "--tls-key", keyFile)
	_, port, err := net.SplitHostPort(r.addr)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", port)
	cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer ccancel()
	for _, tt := range []struct {
		name  string
		creds credentials.TransportCredentials
		ok    bool
	}{
		{"tls", credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}), true},
		{"plaintext", insecure.NewCredentials(), false},
	} {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(tt.creds))
		if err != nil {
			t.Fatal(err)
		}
		_, err = e6xpb.NewQueryEngineServiceClient(cc).Authenticate(cctx, &e6xpb.AuthenticateRequest{User: "u", Password: "p"})
		cc.Close()
		if (err == nil) != tt.ok {
			t.Errorf("%s client: %v", tt.name, err)
		}
	}
	cancel()
	if err := r.wait(t); err != nil {
		t.Errorf("proxy: %v", err)
	}
	if strings.Contains(r.stderr.String(), "plaintext beyond loopback") {
		t.Errorf("a plaintext warning with TLS:\n%s", r.stderr)
	}
}

// TestProxyCommandHTTP: --http-listen serves /healthz, /readyz (ready once
// the --user credential has found the colour) and /metrics.
func TestProxyCommandHTTP(t *testing.T) {
	cleanEnv(t)
	t.Setenv("E6_PASSWORD", "pw")
	eng, err := enginetest.NewServer(enginetest.Options{User: "alice", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := startProxyCmd(t, ctx, "--engine", eng.Addr(), "--listen", "127.0.0.1:0", "--user", "alice", "--http-listen", "127.0.0.1:0")
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ok", "/metrics": "grpc_server_handled_total"} {
		resp, err := hc.Get("http://" + r.http + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d, want 200 with %q", path, resp.StatusCode, want)
		}
	}
	cancel()
	if err := r.wait(t); err != nil {
		t.Errorf("proxy: %v", err)
	}
}

// TestProxyCommandSessionKeyFile: with the same --session-key-file (here
// through E6COORD_SESSION_KEY_FILE) a restarted proxy serves the session
// id the one before gave; without one the proxy warns that sessions end
// with it, and a restart ends them; a bad key file is an error that does
// not show its content.
func TestProxyCommandSessionKeyFile(t *testing.T) {
	cleanEnv(t)
	eng, err := enginetest.NewServer(enginetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("a1", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badFile := filepath.Join(dir, "bad")
	if err := os.WriteFile(badFile, []byte("Zq7Xv2-not-a-key"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), []string{"proxy", "--engine", eng.Addr(), "--session-key-file", badFile}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--session-key-file") || strings.Contains(err.Error(), "Zq7Xv2") {
		t.Errorf("a bad key file: %v, want an error naming the flag, not the content", err)
	}

	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer wcancel()
	// session runs a proxy, authenticates through it with the id of a
	// proxy before (if any), stops it, and returns the id it used and
	// the proxy's stderr.
	session := func(sid string) (string, string) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		r := startProxyCmd(t, ctx, "--engine", eng.Addr(), "--listen", "127.0.0.1:0")
		conn, err := grpc.NewClient(r.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		stub := e6xpb.NewQueryEngineServiceClient(conn)
		if sid == "" {
			resp, err := stub.Authenticate(wctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "a"})
			if err != nil {
				t.Fatal(err)
			}
			sid = resp.GetSessionId()
		}
		_, err = stub.GetSchemaNamesV2(wctx, &e6xpb.GetSchemaNamesV2Request{SessionId: sid, Catalog: enginetest.Catalog})
		conn.Close()
		cancel()
		if werr := r.wait(t); werr != nil {
			t.Errorf("proxy: %v", werr)
		}
		if err != nil {
			return "", r.stderr.String() + "\ncall: " + err.Error()
		}
		return sid, r.stderr.String()
	}

	t.Setenv("E6COORD_SESSION_KEY_FILE", keyFile)
	sid, stderr := session("")
	if strings.Contains(stderr, "random key") {
		t.Errorf("a warning of a random key with a key file:\n%s", stderr)
	}
	if got, stderr := session(sid); got != sid {
		t.Errorf("the restarted proxy with the same key refused the session:\n%s", stderr)
	}

	if err := os.Unsetenv("E6COORD_SESSION_KEY_FILE"); err != nil {
		t.Fatal(err)
	}
	sid, stderr = session("")
	if !strings.Contains(stderr, "random key") {
		t.Errorf("no warning of a random key without a key file:\n%s", stderr)
	}
	if got, stderr := session(sid); got != "" || !strings.Contains(stderr, "Access denied") {
		t.Errorf("a restarted proxy without a key served the session before (%q):\n%s", got, stderr)
	}
}

// A socket file left by a proxy killed without its cleanup is removed
// before the next listens there; one a live process serves is not.
func TestRemoveStaleSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "proxy.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	if err := removeStaleSocket(sock); err == nil || !strings.Contains(err.Error(), "another process serves") {
		t.Errorf("removeStaleSocket of a live socket = %v, want an error saying it is served", err)
	}
	l.SetUnlinkOnClose(false) // as a killed process leaves it
	l.Close()
	if err := removeStaleSocket(sock); err != nil {
		t.Fatalf("removeStaleSocket of a stale socket: %v", err)
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("the stale socket is still there: %v", err)
	}
	if err := removeStaleSocket(filepath.Join(t.TempDir(), "none.sock")); err != nil {
		t.Errorf("removeStaleSocket of no file: %v", err)
	}
}
