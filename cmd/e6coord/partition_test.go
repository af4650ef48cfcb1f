package main

import (
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	redisstore "github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/internal/redistest"
)

// partitionWait bounds the waits of TestInspectLeavesIsolatedPrimary: the
// sentinels promote the replica within a few seconds, and a subscription
// left behind is given up a heartbeat timeout (1.5s) after go-redis has
// followed the failover.
const partitionWait = 60 * time.Second

// TestInspectLeavesIsolatedPrimary runs `events` and `status --wait-for
// green` on a Sentinel topology whose primary a partition cuts off from
// the sentinels and the replica but not from the commands: the sentinels
// promote the replica, and the old primary, still a primary, keeps
// answering the commands' connections. Green, written on the new primary,
// must reach both: events prints it, and status exits 0.
func TestInspectLeavesIsolatedPrimary(t *testing.T) {
	cleanEnv(t)
	redistest.Require(t)
	sn := redistest.StartSentinel(t, redistest.SentinelOptions{})
	const user, password = "app", "app-password"
	sn.AddUser(user, password)
	u := sn.URLAs(user, password)
	st, err := redisstore.Open(u, redisstore.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	first := write(t, st, cache.State{Active: cache.Blue, ConfirmedAt: time.Now(), ChangedBy: "p1"})

	events := startCmd(t, append([]string{"events", "-o", "json", "--redis", u}, scopeArgs...)...)
	if snap := parseState(t, events.next(t)); snap.Type != "snapshot" || snap.Generation != first.Generation || snap.Active != "blue" {
		t.Fatalf("events: first line %+v, want a snapshot of blue at generation %d", snap, first.Generation)
	}
	status := startCmd(t, append([]string{"status", "-o", "json", "--redis", u, "--log-level", "debug",
		"--wait-for", "green", "--timeout", partitionWait.String()}, scopeArgs...)...)
	status.stderr.WaitFor(t, "watching the store's changes", 1, inspectWait) // subscribed, and blue read
	sn.WaitReplicated()

	old := sn.IsolatePrimary()
	isolated := time.Now()
	next := sn.WaitFailover(old)
	promoted := time.Now()
	t.Logf("primary %s isolated; %s promoted %v later", old.Addr(), next.Addr(), promoted.Sub(isolated).Round(time.Millisecond))

	// Green, on the new primary, by a client of its own.
	direct, err := redisstore.Open("redis://"+user+":"+password+"@"+next.Addr()+"/0", redisstore.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	green := write(t, direct, cache.State{Active: cache.Green, ConfirmedAt: time.Now(), ChangedBy: "p2"})
	written := time.Now()

	// events prints it: as a change, or as the state re-read (a resync)
	// once the subscription left behind is given up.
	timer := time.NewTimer(partitionWait)
	defer timer.Stop()
	for seen := false; !seen; {
		select {
		case l := <-events.stdout.lines:
			ev := parseState(t, l)
			t.Logf("events, %v after the write: %s %s generation %d", time.Since(written).Round(time.Millisecond), ev.Type, ev.Active, ev.Generation)
			seen = ev.Generation == green.Generation && ev.Active == "green" && ev.ChangedBy == "p2"
		case <-timer.C:
			t.Fatalf("events printed no line of generation %d (green) within %v of its write on the new primary; stderr:\n%s",
				green.Generation, partitionWait, events.stderr.String())
		}
	}

	select {
	case code := <-status.done:
		status.done <- code // for the cleanup of startCmd
		t.Logf("status --wait-for green exited %d %v after the write", code, time.Since(written).Round(time.Millisecond))
		if code != 0 {
			t.Fatalf("status --wait-for green: exit status %d, want 0; stderr:\n%s", code, status.stderr.String())
		}
	case <-timer.C:
		t.Fatalf("status --wait-for green did not end within %v of the write on the new primary; stderr:\n%s",
			partitionWait, status.stderr.String())
	}
	if got := parseState(t, status.next(t)); got.Active != "green" || got.Generation != green.Generation {
		t.Errorf("status printed %+v, want green at generation %d", got, green.Generation)
	}
}
