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
	"github.com/e6coord/e6coord/coordinator/coordinatortest"
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

// waitRecord waits until cond holds for conn's record, or fails the test
// after timeout.
func waitRecord(t *testing.T, conn *client.Conn, what string, timeout time.Duration, cond func(cache.State) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if _, err := coordinatortest.WaitFor(ctx, conn.Coordinator(), cond); err != nil {
		t.Fatalf("waiting for %s: %v (record %s)", what, err, conn.Coordinator().Snapshot())
	}
}

// waitPins waits until the fleet's live pins on engine satisfy ok (what
// says how), as pins reach the store in the background.
func waitPins(t *testing.T, redisURL, engine, what string, ok func(cache.PinCounts) bool) {
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
		if err == nil && ok(c) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fleet holds %+v pins (%v), want %s", c, err, what)
		}
		<-tick.C
	}
}

// announceHeld announces green on srv and has watcher hear it and see the
// engine accept it, and fails the test (its message starting with label)
// if the fleet switched: the pins hold a Drain switch.
func announceHeld(t *testing.T, srv *enginetest.Server, watcher *client.Conn, label string) {
	t.Helper()
	ctx := context.Background()
	if err := srv.BeginSwitch(enginetest.Green); err != nil {
		t.Fatal(err)
	}
	if _, err := watcher.Schemas(ctx); err != nil { // hears new_strategy
		t.Fatal(err)
	}
	waitRecord(t, watcher, "green accepted", 20*time.Second, func(st cache.State) bool {
		return st.Pending == cache.Green && !st.AcceptedAt.IsZero()
	})
	if err := coordinatortest.Refresh(ctx, watcher.Coordinator()); err != nil {
		t.Fatal(err)
	}
	if got := watcher.Coordinator().Snapshot().Active; got != cache.Blue {
		t.Fatalf("%sswitched with pins held: active %v", label, got)
	}
}
