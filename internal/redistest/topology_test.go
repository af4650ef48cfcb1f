package redistest

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"
)

// mustDo sends commands to s on one connection and returns their replies.
func mustDo(t *testing.T, s *Server, cmds ...[]string) []any {
	t.Helper()
	replies, err := commands(s.Addr(), s.cfg.password, 5*time.Second, cmds...)
	if err != nil {
		t.Fatalf("%v on %s: %v", cmds, s.Addr(), err)
	}
	return replies
}

// TestSentinelTopology checks the helpers of a Sentinel topology with
// passwords: the primary the sentinels name, a cut replication link, and a
// failover to the replica after the primary is killed.
func TestSentinelTopology(t *testing.T) {
	Require(t)
	start := time.Now()
	sn := StartSentinel(t, SentinelOptions{Password: "p-" + rand.Text(), SentinelPassword: "s-" + rand.Text()})
	t.Logf("topology up in %v", time.Since(start).Round(time.Millisecond))
	nodes := sn.Nodes()
	primary, replica := nodes[0], nodes[1]
	if got := sn.Primary(); got != primary {
		t.Fatalf("Primary() = %s, want the first node %s", got.Addr(), primary.Addr())
	}
	for _, n := range append(nodes, sn.Sentinels()...) {
		if _, err := command(n.Addr(), "", time.Second, "PING"); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
			t.Errorf("PING without a password on %s error = %v, want NOAUTH", n.Addr(), err)
		}
	}
	if u := sn.URL(); !strings.HasPrefix(u, "redis+sentinel://:p-") || !strings.Contains(u, "/"+SentinelMaster+"/0?sentinel_password=s-") {
		t.Errorf("URL() = %q, want the Sentinel form with both passwords", u)
	}

	// In sync: WAIT counts the replica, which has the write.
	replies := mustDo(t, primary, []string{"SET", "k", "v1"}, []string{"WAIT", "1", "5000"})
	if replies[1] != int64(1) {
		t.Fatalf("WAIT 1 after SET = %v, want 1 replica", replies[1])
	}
	sn.WaitReplicated()
	if got := mustDo(t, replica, []string{"GET", "k"})[0]; got != "v1" {
		t.Fatalf("GET k on the replica = %v, want v1", got)
	}

	// Cut: the next write reaches no replica.
	sn.CutReplication()
	replies = mustDo(t, primary, []string{"SET", "k", "v2"}, []string{"WAIT", "1", "300"})
	if replies[1] != int64(0) {
		t.Fatalf("WAIT 1 after SET with the link cut = %v, want 0 replicas", replies[1])
	}

	primary.Kill()
	killed := time.Now()
	next := sn.WaitFailover(primary)
	t.Logf("failover %v after the kill", time.Since(killed).Round(time.Millisecond))
	if next != replica {
		t.Fatalf("WaitFailover() = %s, want the replica %s", next.Addr(), replica.Addr())
	}
	if got := sn.Primary(); got != replica {
		t.Errorf("Primary() after the failover = %s, want %s", got.Addr(), replica.Addr())
	}
	// The write made during the cut is lost.
	if got := mustDo(t, next, []string{"GET", "k"})[0]; got != "v1" {
		t.Errorf("GET k on the new primary = %v, want v1 (v2 was written during the cut)", got)
	}
	mustDo(t, next, []string{"SET", "k", "v3"}) // writable

	// A killed node restarts with its configuration (its password).
	primary.Restart()
	if err := primary.ping(time.Second); err != nil {
		t.Errorf("PING after Restart: %v", err)
	}
}

// TestClusterTopology checks the helpers of a Cluster: the master of a
// key's slot, and the takeover by its replica after it is killed.
func TestClusterTopology(t *testing.T) {
	Require(t)
	start := time.Now()
	c := StartCluster(t)
	t.Logf("cluster up in %v", time.Since(start).Round(time.Millisecond))
	if n := len(c.Nodes()); n != 6 {
		t.Fatalf("Nodes() has %d nodes, want 6", n)
	}
	if u := c.URL(); u != "redis+cluster://"+strings.Join(c.Addrs(), ",") {
		t.Errorf("URL() = %q", u)
	}
	const key = "{topology}:k"
	m := c.MasterOf(key)
	for _, n := range c.Nodes() {
		_, err := command(n.Addr(), "", time.Second, "SET", key, "v1")
		var rerr respError
		switch {
		case n == m && err != nil:
			t.Fatalf("SET on the master of the slot %s: %v", n.Addr(), err)
		case n != m && (!errors.As(err, &rerr) || !strings.HasPrefix(string(rerr), "MOVED ") || !strings.HasSuffix(string(rerr), m.Addr())):
			t.Errorf("SET on %s, not the master of the slot, error = %v, want MOVED to %s", n.Addr(), err, m.Addr())
		}
	}
	c.WaitReplicated(key)

	// A manual failover: the master becomes a replica of its replica.
	next := c.Failover(key)
	if next == m {
		t.Fatal("Failover() returned the old master")
	}
	if r, err := m.replication(); err != nil || r.role != "slave" || r.masterPort != next.Port() {
		t.Errorf("the old master after Failover(): %+v, %v; want a replica of %s", r, err, next.Addr())
	}
	m = next

	if old := c.KillMasterOf(key); old != m || m.PID() != 0 {
		t.Fatalf("KillMasterOf() = %s (pid %d), want %s killed", old.Addr(), old.PID(), m.Addr())
	}
	killed := time.Now()
	next = c.WaitTakeover(key, m)
	t.Logf("replica took over %v after the kill", time.Since(killed).Round(time.Millisecond))
	if next == m {
		t.Fatal("WaitTakeover() returned the killed master")
	}
	if got := mustDo(t, next, []string{"GET", key})[0]; got != "v1" {
		t.Errorf("GET on the new master = %v, want v1", got)
	}
	if got := c.MasterOf(key); got != next {
		t.Errorf("MasterOf() after the takeover = %s, want %s", got.Addr(), next.Addr())
	}
}
