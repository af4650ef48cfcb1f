package redis_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/cachetest"
	"github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/internal/redistest"
)

// recoveryDeadline bounds how long after a primary or master is killed the
// tests wait for the store to work again. The topologies fail over in about
// two to three seconds, a figure the tests log; the deadline, ten times
// that, only catches a store that never recovers.
const recoveryDeadline = 30 * time.Second

// openURL opens a store on rawURL and closes it when the test ends.
func openURL(t *testing.T, rawURL string, opts redis.Options) *redis.Store {
	t.Helper()
	s, err := redis.Open(rawURL, opts)
	if err != nil {
		t.Fatalf("Open(%s) error = %v", redis.Redact(rawURL), err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, cache.ErrClosed) {
			t.Errorf("Close() error = %v", err)
		}
		waitRedialsEnd(t)
	})
	return s
}

// waitRedialsEnd waits until no goroutine of go-redis redials a server
// that is down. Once a pool has failed to dial a few times, go-redis keeps
// a goroutine that tries again every second until a dial works or the pool
// is closed, and it notices the close only at its next try: up to a
// second, and a dial timeout, after the client was closed. Without this
// wait the leak check of TestMain would count it.
func waitRedialsEnd(t *testing.T) {
	t.Helper()
	const redial = "internal/pool.(*ConnPool).tryDial"
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if !bytes.Contains(buf[:n], []byte(redial)) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("a goroutine of go-redis still redials 5s after the client was closed")
			return
		}
		<-tick.C
	}
}

// makeURLStore returns a cachetest.MakeStore that opens rawURL for each
// subtest.
func makeURLStore(rawURL string) cachetest.MakeStore {
	return func(t *testing.T, _ *cachetest.Clock) (cache.Store, func()) {
		s, err := redis.Open(rawURL, redis.Options{Timeout: 2 * time.Second})
		if err != nil {
			t.Fatalf("Open(%s) error = %v", redis.Redact(rawURL), err)
		}
		return s, func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close() error = %v", err)
			}
		}
	}
}

// outage is what a store's calls did after a fault.
type outage struct {
	failed    int           // calls that failed
	recovered time.Duration // from the fault to the first call that worked
	lastErr   error         // of the last call that failed
}

// waitRecovered calls op every 20 ms from now until it works, and fails
// the test if it still fails recoveryDeadline after since.
func waitRecovered(t *testing.T, since time.Time, op func() error) outage {
	t.Helper()
	var o outage
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := op()
		if err == nil {
			o.recovered = time.Since(since)
			return o
		}
		o.failed++
		o.lastErr = err
		if time.Since(since) > recoveryDeadline {
			t.Fatalf("the store still fails %v after the fault (%d calls failed): %v", recoveryDeadline, o.failed, err)
		}
		<-tick.C
	}
}

// wantGeneration fails the test unless s holds the record of scope at gen.
func wantGeneration(t *testing.T, s *redis.Store, sc cache.Scope, gen uint64) {
	t.Helper()
	got, err := s.Load(t.Context(), sc)
	if err != nil || got.Generation != gen {
		t.Fatalf("Load() = generation %d, %v; want generation %d", got.Generation, err, gen)
	}
}

// swap makes the record of sc go from generation old to old+1, colour
// active.
func swap(t *testing.T, s *redis.Store, sc cache.Scope, old uint64, active cache.Strategy) {
	t.Helper()
	if _, err := s.CompareAndSwap(t.Context(), sc, old, cache.State{Active: active, Generation: old + 1}); err != nil {
		t.Fatalf("CompareAndSwap(%d) error = %v", old, err)
	}
}

// TestSentinel checks, on a Sentinel topology with passwords opened by its
// URL, where each password goes, then kills the primary: the store's calls
// fail until the sentinels have promoted the replica, then work on it,
// with the record as it was replicated; the watch closes, and a new one
// works. Then it runs the suite on the new primary. The failover comes
// first, soon after the topology starts: run after a suite of 20 s, it
// found the cut write on the promoted replica (the sentinels may have
// pointed the replica at the primary's own address meanwhile, bypassing
// the link the test cuts).
func TestSentinel(t *testing.T) {
	redistest.Require(t)
	password, sentinelPassword := "p-"+rand.Text(), "s-"+rand.Text()
	sn := redistest.StartSentinel(t, redistest.SentinelOptions{Password: password, SentinelPassword: sentinelPassword})

	t.Run("WrongPassword", func(t *testing.T) {
		// The primary's password goes to the primary, the sentinels' to
		// the sentinels: each wrong one is refused, and not echoed.
		for _, raw := range []string{
			strings.Replace(sn.URL(), password, "wrong-"+password, 1),
			strings.Replace(sn.URL(), sentinelPassword, "wrong-"+sentinelPassword, 1),
		} {
			// A refusal comes back in milliseconds; the long timeout only
			// keeps a busy machine from turning it into a timeout.
			s := openURL(t, raw, redis.Options{Timeout: 10 * time.Second})
			_, err := s.Load(t.Context(), scope)
			if !errors.Is(err, cache.ErrAccessDenied) {
				t.Errorf("Load() with %s error = %v, want one wrapping %v", redis.Redact(raw), err, cache.ErrAccessDenied)
				continue
			}
			for _, secret := range []string{password, sentinelPassword} {
				if strings.Contains(err.Error(), secret[2:]) {
					t.Errorf("Load() error holds a password: %v", err)
				}
			}
			t.Logf("wrong password: %v", err)
		}
	})

	// One failover, which also loses a write: the replica's link is cut,
	// a swap to generation 2 succeeds on the primary alone, the primary
	// is killed and the replica promoted. The store then reports what it
	// has: generation 1, and a swap from 2 loses to it. The coordinator
	// handles such a store that went back; this only shows that the store
	// does not hide it.
	t.Run("FailoverLosesUnreplicatedWrite", func(t *testing.T) {
		ctx := t.Context()
		s := openURL(t, sn.URL(), redis.Options{})
		sc := cache.Scope{Cluster: "sentinel", Engine: "failover:1"}
		ch, err := s.Watch(ctx, sc)
		if err != nil {
			t.Fatalf("Watch() error = %v", err)
		}
		swap(t, s, sc, 0, cache.Blue)
		wantEvent(t, ch, 1)
		sn.WaitReplicated()
		sn.CutReplication()
		swap(t, s, sc, 1, cache.Green)
		wantEvent(t, ch, 2)
		wantGeneration(t, s, sc, 2)

		old := sn.Primary()
		old.Kill()
		killed := time.Now()
		closed := waitClosed(t, ch).Sub(killed)
		var got cache.State
		o := waitRecovered(t, killed, func() error {
			var err error
			got, err = s.Load(ctx, sc)
			return err
		})
		if o.failed == 0 {
			t.Error("no call failed after the primary was killed, want some to")
		}
		for _, secret := range []string{password, sentinelPassword} {
			if o.lastErr != nil && strings.Contains(o.lastErr.Error(), secret[2:]) {
				t.Errorf("an error during the failover holds a password: %v", o.lastErr)
			}
		}
		next := sn.WaitFailover(old)
		t.Logf("primary killed: watch closed after %v; %d calls failed (last: %v); the store worked again after %v, on %s",
			closed.Round(time.Millisecond), o.failed, o.lastErr, o.recovered.Round(time.Millisecond), next.Addr())
		if next == old {
			t.Fatal("the sentinels still name the killed primary")
		}

		// The new primary has the record as replicated: generation 2 is
		// lost.
		if got.Generation != 1 || got.Active != cache.Blue {
			t.Fatalf("Load() after the failover = generation %d, %v; want generation 1, blue", got.Generation, got.Active)
		}
		cur, err := s.CompareAndSwap(ctx, sc, 2, cache.State{Active: cache.Green, Generation: 3})
		if !errors.Is(err, cache.ErrConflict) || cur.Generation != 1 {
			t.Fatalf("CompareAndSwap(2) after the failover = generation %d, %v; want a conflict with generation 1", cur.Generation, err)
		}
		// It takes swaps, and publishes them to a new watch.
		ch2, err := s.Watch(ctx, sc)
		if err != nil {
			t.Fatalf("Watch() after the failover error = %v", err)
		}
		swap(t, s, sc, 1, cache.Green)
		wantEvent(t, ch2, 2)
	})

	t.Run("Conformance", func(t *testing.T) {
		clock := openURL(t, sn.URL(), redis.Options{Timeout: 2 * time.Second})
		cachetest.RunRealTime(t, clock.Time, makeURLStore(sn.URL()))
	})
}

// TestCluster runs the suite on a Redis Cluster opened by its URL, checks
// that notifications are sharded, that a watch ends when its slot moves,
// and kills a master: the store's calls fail until its replica has taken
// over, then work on it.
func TestCluster(t *testing.T) {
	redistest.Require(t)
	cl := redistest.StartCluster(t)

	t.Run("Conformance", func(t *testing.T) {
		clock := openURL(t, cl.URL(), redis.Options{Timeout: 2 * time.Second})
		cachetest.RunRealTime(t, clock.Time, makeURLStore(cl.URL()))
	})

	t.Run("ShardedChannel", func(t *testing.T) {
		ctx := t.Context()
		s := openURL(t, cl.URL(), redis.Options{})
		if _, ok := s.Client().(*goredis.ClusterClient); !ok {
			t.Fatalf("Client() is a %T, want a *goredis.ClusterClient", s.Client())
		}
		odd := cache.Scope{Cluster: "a/b%", Engine: "{x}:1"}
		base := "e6coord:{a%2Fb%25/%7Bx%7D:1}:"
		slot := cl.Slot(base + "record")
		for _, name := range []string{"events", "pins:blue", "pins:green", "lease"} {
			if got := cl.Slot(base + name); got != slot {
				t.Errorf("slot of %s%s = %d, want the record's %d", base, name, got, slot)
			}
		}
		// A shard subscriber hears the swap: the script uses SPUBLISH,
		// whose messages a plain SUBSCRIBE would not get, nor the
		// reverse.
		ps := s.Client().SSubscribe(ctx, base+"events")
		defer ps.Close()
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatalf("SSUBSCRIBE: %v", err)
		}
		ch, err := s.Watch(ctx, odd)
		if err != nil {
			t.Fatalf("Watch() error = %v", err)
		}
		swap(t, s, odd, 0, cache.Blue)
		wantEvent(t, ch, 1)
		ctxMsg, cancel := context.WithTimeout(ctx, waitTimeout)
		defer cancel()
		msg, err := ps.ReceiveMessage(ctxMsg)
		if err != nil {
			t.Fatalf("the shard subscriber got no message: %v", err)
		}
		if !strings.Contains(msg.Payload, `"generation":1`) {
			t.Errorf("shard message = %s, want generation 1", msg.Payload)
		}
	})

	t.Run("HeartbeatKeepsIdleShardWatch", func(t *testing.T) {
		// Pongs arrive on a sharded subscription: an idle watch outlives
		// its heartbeat timeout (four intervals) five times over on the
		// watch's clock, which the test moves one interval at a time,
		// each step once the heartbeat of the step before was heard.
		const interval, timeout = 10 * time.Millisecond, 40 * time.Millisecond
		s := openURL(t, cl.URL(), redis.Options{HeartbeatInterval: interval, HeartbeatTimeout: timeout})
		sc := cache.Scope{Cluster: "cluster", Engine: "idle:1"}
		ch := idleThroughHeartbeats(t, s, sc, interval)
		swap(t, s, sc, 0, cache.Green)
		wantEvent(t, ch, 1)
	})

	sc := cache.Scope{Cluster: "cluster", Engine: "failover:1"}
	recordKey := "e6coord:{cluster/failover:1}:record"

	t.Run("WatchEndsWhenSlotMoves", func(t *testing.T) {
		ctx := t.Context()
		s := openURL(t, cl.URL(), redis.Options{})
		swap(t, s, sc, 0, cache.Blue)
		ch, err := s.Watch(ctx, sc)
		if err != nil {
			t.Fatalf("Watch() error = %v", err)
		}
		// The old master stays up and answers pings: only Redis's
		// SUNSUBSCRIBE tells the watch.
		start := time.Now()
		next := cl.Failover(recordKey)
		d := waitClosed(t, ch).Sub(start)
		t.Logf("manual failover to %s: watch closed %v after it started", next.Addr(), d.Round(time.Millisecond))
		ch2, err := s.Watch(ctx, sc)
		if err != nil {
			t.Fatalf("Watch() after the failover error = %v", err)
		}
		swap(t, s, sc, 1, cache.Green)
		wantEvent(t, ch2, 2)
	})

	t.Run("MasterKilled", func(t *testing.T) {
		ctx := t.Context()
		s := openURL(t, cl.URL(), redis.Options{})
		wantGeneration(t, s, sc, 2)
		ch, err := s.Watch(ctx, sc)
		if err != nil {
			t.Fatalf("Watch() error = %v", err)
		}
		cl.WaitReplicated(recordKey)

		old := cl.KillMasterOf(recordKey)
		killed := time.Now()
		closed := waitClosed(t, ch).Sub(killed)
		o := waitRecovered(t, killed, func() error { _, err := s.Load(ctx, sc); return err })
		if o.failed == 0 {
			t.Error("no call failed after the master was killed, want some to")
		}
		next := cl.WaitTakeover(recordKey, old)
		t.Logf("master killed: watch closed after %v; %d calls failed (last: %v); the store worked again after %v, on %s",
			closed.Round(time.Millisecond), o.failed, o.lastErr, o.recovered.Round(time.Millisecond), next.Addr())

		wantGeneration(t, s, sc, 2)
		ch2, err := s.Watch(ctx, sc)
		if err != nil {
			t.Fatalf("Watch() after the takeover error = %v", err)
		}
		swap(t, s, sc, 2, cache.Blue)
		wantEvent(t, ch2, 3)
	})
}
