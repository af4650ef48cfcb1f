package integration

import (
	"context"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	redisstore "github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/coordinator"
)

// openConn opens a Conn in the test process that shares the fleet's state
// through redisURL: Drain, with a long drain timeout.
func openConn(t *testing.T, srv *enginetest.Server, redisURL string, adjust ...func(*client.Config)) *client.Conn {
	t.Helper()
	cfg := client.Config{
		Addr: srv.Addr(), User: user, Password: password,
		Catalog: enginetest.Catalog, Schema: enginetest.Schema,
		RedisURL:     redisURL,
		Coordination: coordinator.Config{Policy: coordinator.Drain, DrainTimeout: time.Minute},
	}
	for _, f := range adjust {
		f(&cfg)
	}
	conn, err := client.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitRecord waits until cond holds for conn's record.
func waitRecord(t *testing.T, conn *client.Conn, what string, cond func(cache.State) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := conn.Coordinator().WaitFor(ctx, cond); err != nil {
		t.Fatalf("waiting for %s: %v (record %s)", what, err, conn.Coordinator().Snapshot())
	}
}

// waitPins waits until the fleet holds n live blue pins on engine.
func waitPins(t *testing.T, redisURL, engine string, n int) {
	t.Helper()
	st, err := redisstore.Open(redisURL, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := st.Count(context.Background(), cache.Scope{Engine: engine})
		if err == nil && c.Blue >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fleet holds %+v pins (%v), want %d blue", c, err, n)
		}
		<-tick.C
	}
}
