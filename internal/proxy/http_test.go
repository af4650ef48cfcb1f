package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/secrettest"
)

// TestHTTPEndpoints: /healthz, /readyz (not ready until there is an engine
// connection with a known colour), and /metrics with the gRPC calls of the
// clients and to the engine by method and code (a rejection counted as
// Unknown on the engine side only) and the coordinator's figures; no
// password in them.
func TestHTTPEndpoints(t *testing.T) {
	secret := secrettest.New()
	pw := secret.A + secret.B
	eng := newEngine(t, enginetest.Options{Rejection: enginetest.RejectUnknown, User: "alice", Password: pw})
	p, addr := startProxy(t, eng)
	hs := httptest.NewServer(p.Handler())
	defer hs.Close()
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := hc.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no engine connection") {
		t.Errorf("/readyz before any client: %d %q", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	n := &naive{stub: e6xpb.NewQueryEngineServiceClient(dial(t, addr)), user: "alice", password: pw}
	if _, err := n.query(ctx, sqlRows); err != nil {
		t.Fatal(err)
	}
	if err := eng.SetActive(eng.State().Active.Other()); err != nil {
		t.Fatal(err)
	}
	if _, err := n.query(ctx, sqlRows); err != nil {
		t.Fatal(err)
	}
	if code, body := get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after queries: %d %q", code, body)
	}
	_, m := get("/metrics")
	for _, want := range []string{
		`grpc_server_handled_total{grpc_code="OK",grpc_method="prepareStatementV2",grpc_service="QueryEngineService",grpc_type="unary"} 2`,
		`grpc_server_handled_total{grpc_code="OK",grpc_method="authenticate",grpc_service="QueryEngineService",grpc_type="unary"} 1`,
		`grpc_client_handled_total{grpc_code="Unknown",grpc_method="prepareStatementV2",grpc_service="QueryEngineService",grpc_type="unary"} 1`,
		`grpc_client_handled_total{grpc_code="OK",grpc_method="getNextResultBatch",grpc_service="QueryEngineService",grpc_type="unary"}`,
		`e6coord_switches_total`,
		`e6coord_replays_total`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if rejected := regexp.MustCompile(`grpc_server_handled_total\{grpc_code="Unknown"[^}]*\} [1-9]`).FindString(m); rejected != "" {
		t.Errorf("a client saw a rejection: %s", rejected)
	}
	secret.Check(t, "/metrics", m)
	p.Close()
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "closed") {
		t.Errorf("/readyz after Close: %d %q", code, body)
	}
}
