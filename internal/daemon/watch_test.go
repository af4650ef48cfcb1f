package daemon_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/e6coord/e6coord/cache"
	redisstore "github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/coordinator/coordinatortest"
	"github.com/e6coord/e6coord/internal/redistest"
	"github.com/e6coord/e6coord/internal/view"
)

// authenticates returns the times of the authenticate calls in srv's log.
func authenticates(srv *enginetest.Server) []time.Time {
	var at []time.Time
	for _, c := range srv.Log() {
		if c.Method == e6xpb.QueryEngineService_Authenticate_FullMethodName {
			at = append(at, c.Time)
		}
	}
	return at
}

// Two watchers on one scope make one probe per interval between them,
// counted in the engine's log over ten confirmations; each of those is a
// heartbeat the other watcher hears. That is checked on the record, not
// on the test's clock: each confirmation b hears is stamped at least an
// interval after the one before it, as the watcher that made it judged the
// record due by the same clock it stamps with (two watchers probing for
// one due record would stamp two confirmations a moment apart), and the
// engine saw one authenticate call per confirmation. The rate measured on
// the test's clock is logged. The waits allow ten times the time the
// confirmations take, which only catches a heartbeat that stops.
func TestTwoWatchersOneProbePerInterval(t *testing.T) {
	redistest.Require(t)
	r := redistest.Start(t)
	srv := newEngine(t)
	a := startDaemon(t, srv.Addr(), r.URL())
	b := startDaemon(t, srv.Addr(), r.URL())
	a.waitCode(t, "/readyz", http.StatusOK, 10*time.Second)
	b.waitCode(t, "/readyz", http.StatusOK, 10*time.Second)

	probesBefore := a.Coordinator().Stats().Probes + b.Coordinator().Stats().Probes
	srv.ResetLog()
	start := time.Now()
	const n = 10
	ctx, cancel := context.WithTimeout(context.Background(), 10*n*interval)
	defer cancel()
	last := b.Coordinator().Snapshot().ConfirmedAt
	var confirmed []time.Time
	if _, err := coordinatortest.WaitFor(ctx, b.Coordinator(), func(st cache.State) bool {
		if st.ConfirmedAt.After(last) {
			confirmed = append(confirmed, st.ConfirmedAt)
			last = st.ConfirmedAt
		}
		return len(confirmed) >= n
	}); err != nil {
		t.Fatalf("%d confirmations heard by b in %v, want %d: %v", len(confirmed), time.Since(start), n, err)
	}
	elapsed := time.Since(start)
	auths := authenticates(srv)
	probes := a.Coordinator().Stats().Probes + b.Coordinator().Stats().Probes - probesBefore

	minGap, maxGap := time.Hour, time.Duration(0)
	for i := 1; i < len(auths); i++ {
		gap := auths[i].Sub(auths[i-1])
		minGap, maxGap = min(minGap, gap), max(maxGap, gap)
	}
	t.Logf("%v (%.1f intervals): %d authenticate calls, %d probes by the watchers (a %d, b %d in all), gaps in the engine's log %v..%v",
		elapsed.Round(time.Millisecond), float64(elapsed)/float64(interval), len(auths), probes,
		a.Coordinator().Stats().Probes, b.Coordinator().Stats().Probes, minGap.Round(time.Millisecond), maxGap.Round(time.Millisecond))
	for i := 1; i < len(confirmed); i++ {
		if gap := confirmed[i].Sub(confirmed[i-1]); gap < interval {
			t.Errorf("confirmations %d and %d stamped %v and %v, %v apart: want at least the %v interval (a record confirmed before it was due)",
				i-1, i, confirmed[i-1], confirmed[i], gap, interval)
		}
	}
	// One authenticate call per confirmation heard, give or take the probe
	// under way when the log was reset and the one under way when it was
	// read.
	if len(auths) < n-1 || len(auths) > n+1 {
		t.Errorf("%d authenticate calls for %d confirmations, want one each", len(auths), n)
	}
	// One authenticate call per probe the watchers count, give or take
	// the probe under way at either end: a probe is counted as it begins,
	// and its call reaches the engine's log a moment later.
	if d := int64(len(auths)) - int64(probes); d < -1 || d > 1 {
		t.Errorf("the engine saw %d authenticate calls, the watchers counted %d probes", len(auths), probes)
	}

	// With one watcher gone the other keeps the heartbeat.
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	srv.ResetLog()
	last = b.Coordinator().Snapshot().ConfirmedAt
	confirmed = nil
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*3*interval)
	defer cancel2()
	if _, err := coordinatortest.WaitFor(ctx2, b.Coordinator(), func(st cache.State) bool {
		if st.ConfirmedAt.After(last) {
			confirmed = append(confirmed, st.ConfirmedAt)
			last = st.ConfirmedAt
		}
		return len(confirmed) >= 3
	}); err != nil {
		t.Fatalf("with a stopped, b made %d confirmations: %v", len(confirmed), err)
	}
}

// /v1/state shows the record, the fleet's pins as the store counts them,
// and the store's address with its password redacted.
func TestState(t *testing.T) {
	redistest.Require(t)
	r := redistest.Start(t)
	const redisPassword = "state-redis-pw"
	rdb := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
	if err := rdb.ConfigSet(context.Background(), "requirepass", redisPassword).Err(); err != nil {
		t.Fatal(err)
	}
	rdb.Close()
	url := "redis://:" + redisPassword + "@" + r.Addr() + "/0"
	srv := newEngine(t)
	w := startDaemon(t, srv.Addr(), url)
	w.waitCode(t, "/readyz", http.StatusOK, 10*time.Second)

	state := func() view.State {
		t.Helper()
		code, body := w.get(t, "/v1/state")
		if code != http.StatusOK {
			t.Fatalf("/v1/state = %d %q", code, body)
		}
		if strings.Contains(body, redisPassword) {
			t.Errorf("/v1/state holds the Redis password: %s", body)
		}
		var v view.State
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("/v1/state %q: %v", body, err)
		}
		return v
	}

	// A worker of the fleet, in this process, holds a query open on blue.
	conn, err := client.Open(client.Config{
		Addr: srv.Addr(), User: user, Password: password,
		Catalog: enginetest.Catalog, Schema: enginetest.Schema, RedisURL: url,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	rows, err := conn.Query(ctx, "SELECT * FROM demo.numbers")
	if err != nil {
		t.Fatal(err)
	}
	if err := coordinatortest.Sync(ctx, conn.Coordinator()); err != nil { // the pin reaches Redis in the background
		t.Fatal(err)
	}
	v := state()
	if v.Status != view.Healthy || v.Active != "blue" || v.Pending != "" || v.Generation == 0 || v.ConfirmedAt == nil ||
		v.Pins != (view.Pins{Blue: 1}) || v.Store.State != "up" || v.Store.Address != redisstore.Redact(url) {
		t.Errorf("/v1/state with a query open = %+v", v)
	}
	if want := "redis://xxxxx@" + r.Addr() + "/0"; v.Store.Address != want {
		t.Errorf("address %q, want %q", v.Store.Address, want)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if err := coordinatortest.Sync(ctx, conn.Coordinator()); err != nil {
		t.Fatal(err)
	}
	if v := state(); v.Pins != (view.Pins{}) {
		t.Errorf("pins after the query closed = %+v, want none", v.Pins)
	}

	// Redis gone: the pins as last counted, the store unreachable.
	r.Kill()
	w.waitCode(t, "/readyz", http.StatusServiceUnavailable, readyWait)
	if v := state(); v.Status != view.Degraded || v.Store.State != "unreachable" || v.Active != "blue" {
		t.Errorf("/v1/state with Redis down = %+v, want degraded, unreachable, blue", v)
	}
}

// Without Redis the state lives in the daemon's memory, and says so.
func TestStateMemory(t *testing.T) {
	srv := newEngine(t)
	w := startDaemon(t, srv.Addr(), "")
	w.waitCode(t, "/readyz", http.StatusOK, 10*time.Second)
	_, body := w.get(t, "/v1/state")
	var v view.State
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	if v.Status != view.Healthy || v.Active != "blue" || v.Store.Address != "memory" || v.Store.State != "up" {
		t.Errorf("/v1/state = %+v", v)
	}
}
