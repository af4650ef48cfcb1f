package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/daemon"
)

// `e6coord status` and the daemon's /v1/state judge the colour by one
// rule (cache.Stale): a colour the daemon's coordinator saw rejected, but
// confirmed within CacheTTL, is not stale, so both show the state healthy.
// (The daemon's view used to count the rejection as staleness and show
// it degraded while status showed it healthy.)
func TestStatusAndStateAgreeOnRejectedColour(t *testing.T) {
	cleanEnv(t)
	rs, _ := startRedis(t)
	srv, err := enginetest.NewServer(enginetest.Options{User: "u", Password: "p", Start: enginetest.Blue})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	d, err := daemon.New(daemon.Config{
		Client: client.Config{
			Addr: srv.Addr(), User: "u", Password: "p", Cluster: "prod",
			Catalog: enginetest.Catalog, Schema: enginetest.Schema, RedisURL: rs.URL(),
		},
		Listen: "127.0.0.1:0", Interval: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), inspectWait)
	defer cancel()
	c := d.Coordinator()
	if s, err := c.Resolve(ctx); err != nil || s != cache.Blue {
		t.Fatalf("Resolve = %v, %v; want blue", s, err)
	}
	c.Invalidate(cache.Blue)
	if c.Strategy().Valid() {
		t.Fatal("the rejected colour is still trusted")
	}

	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/state", nil))
	var state stateJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &state); err != nil {
		t.Fatalf("/v1/state: %v\n%s", err, rec.Body)
	}
	_, status, errOut := statusJSON(t, "--cluster", "prod", "--engine", srv.Addr(), "--redis", rs.URL())
	if state.Active != "blue" || status.Active != "blue" || state.Generation != status.Generation {
		t.Fatalf("/v1/state %+v and status %+v do not show the same record (stderr %s)", state, status, errOut)
	}
	if state.Status != "healthy" || status.Status != "healthy" {
		t.Errorf("status of a rejected colour confirmed just now: /v1/state %q, e6coord status %q; want healthy in both", state.Status, status.Status)
	}
}
