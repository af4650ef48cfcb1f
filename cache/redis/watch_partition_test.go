package redis_test

import (
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/internal/redistest"
)

// partitionWait bounds the waits of the partition tests: the sentinels
// promote the replica within a few seconds, and a watch left behind closes
// a heartbeat timeout after go-redis has followed the failover.
const partitionWait = 60 * time.Second

// TestWatchLeavesIsolatedPrimary checks that a watch does not stay on a
// Sentinel primary that a partition cut off from the sentinels and the
// replica but not from the store: the sentinels promote the replica, the
// old primary keeps answering the watch's connection, and go-redis moves
// the store's commands to the new primary but not the subscription. The
// change made on the new primary must reach the watcher: the watch closes
// (its heartbeats, published on the new primary, are not heard on the old
// one), and a new one, made on the new primary, delivers.
func TestWatchLeavesIsolatedPrimary(t *testing.T) {
	redistest.Require(t)
	ctx := t.Context()
	sn := redistest.StartSentinel(t, redistest.SentinelOptions{})
	const user, password = "app", "app-password"
	sn.AddUser(user, password)
	s := openURL(t, sn.URLAs(user, password), redis.Options{Timeout: 2 * time.Second})
	sc := cache.Scope{Cluster: "sentinel", Engine: "partition:1"}

	ch, err := s.Watch(ctx, sc)
	if err != nil {
		t.Fatalf("Watch() error = %v", err)
	}
	if _, err := s.CompareAndSwap(ctx, sc, 0, cache.State{Active: cache.Blue, Generation: 1}); err != nil {
		t.Fatalf("CompareAndSwap(0) error = %v", err)
	}
	wantEvent(t, ch, 1)
	sn.WaitReplicated()

	old := sn.IsolatePrimary()
	isolated := time.Now()
	next := sn.WaitFailover(old)
	promoted := time.Now()

	// The change, on the new primary, by a client of its own.
	direct := goredis.NewClient(&goredis.Options{Addr: next.Addr(), Username: user, Password: password, ContextTimeoutEnabled: true})
	defer direct.Close()
	ds := redis.New(direct, redis.Options{Timeout: waitTimeout})
	defer ds.Close()
	if _, err := ds.CompareAndSwap(ctx, sc, 1, cache.State{Active: cache.Green, Generation: 2}); err != nil {
		t.Fatalf("CompareAndSwap(1) on the new primary error = %v", err)
	}

	// The old primary never gets generation 2: the watch must close.
	timer := time.NewTimer(partitionWait)
	defer timer.Stop()
	for open := true; open; {
		select {
		case st, ok := <-ch:
			if ok {
				t.Logf("watch sent %v", st)
			}
			open = ok
		case <-timer.C:
			t.Fatalf("watch neither closed nor delivered generation 2 within %v of the failover: its subscription stays on the isolated primary %s",
				partitionWait, old.Addr())
		}
	}
	t.Logf("primary %s isolated; %s promoted %v later; the watch closed %v after that",
		old.Addr(), next.Addr(), promoted.Sub(isolated).Round(time.Millisecond), time.Since(promoted).Round(time.Millisecond))

	ch2, err := s.Watch(ctx, sc)
	if err != nil {
		t.Fatalf("Watch() after the failover error = %v", err)
	}
	if st, err := s.Load(ctx, sc); err != nil || st.Generation != 2 {
		t.Fatalf("Load() after the failover = generation %d, %v; want 2, from the new primary", st.Generation, err)
	}
	if _, err := ds.CompareAndSwap(ctx, sc, 2, cache.State{Active: cache.Blue, Generation: 3}); err != nil {
		t.Fatalf("CompareAndSwap(2) on the new primary error = %v", err)
	}
	wantEvent(t, ch2, 3)
}
