package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clusterNodeTimeout is the cluster-node-timeout of a [Cluster]: a master
// silent for that long is failing, and its replica takes over a second or
// two later.
const clusterNodeTimeout = 1000 * time.Millisecond

// cliBinary is the Redis command-line client, which creates a cluster.
const cliBinary = "redis-cli"

// Cluster is a Redis Cluster of three masters and three replicas, one
// replica per master, each a process of its own on its own ports of
// 127.0.0.1 (a client port and a bus port), with its own directory. Every
// process is killed when the test ends. Its methods are safe for
// concurrent use, but those that fail the test must be called from the
// test's goroutine.
type Cluster struct {
	t     testing.TB
	nodes []*Server
}

// StartCluster starts a cluster, creates it with redis-cli --cluster
// create, and returns once every node says the cluster is ok, knows the
// six nodes, and every replica is in sync. It takes a few seconds, and
// fails the test if the cluster does not come up within 20 seconds or if
// redis-cli is not installed (Debian's redis-tools, which redis-server
// depends on).
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	if _, err := exec.LookPath(cliBinary); err != nil {
		t.Fatalf("redistest: %s not installed: %v", cliBinary, err)
	}
	c := &Cluster{t: t}
	for range 6 {
		c.nodes = append(c.nodes, startServer(t, serverConfig{
			bus: true,
			extra: func(s *Server) []string {
				return []string{
					"--cluster-enabled", "yes",
					"--cluster-config-file", "nodes.conf", // in the node's directory
					"--cluster-port", strconv.Itoa(s.busPort),
					"--cluster-node-timeout", strconv.FormatInt(clusterNodeTimeout.Milliseconds(), 10),
					// A replica takes over however long it was cut off.
					"--cluster-replica-validity-factor", "0",
					"--repl-diskless-sync-delay", "0",
				}
			},
		}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), topologyTimeout)
	defer cancel()
	args := append(c.Addrs(), "--cluster-replicas", "1", "--cluster-yes")
	out, err := exec.CommandContext(ctx, cliBinary, append([]string{"--cluster", "create"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("redistest: %s --cluster create: %v; output:\n%s", cliBinary, err, out)
	}
	waitFor(t, topologyTimeout, "the cluster ok and in sync", c.ready)
	return c
}

// ready reports whether every node says the cluster is ok with six known
// nodes and three masters, and every replica is in sync.
func (c *Cluster) ready() (bool, string) {
	for _, n := range c.nodes {
		info, err := n.clusterInfo()
		if err != nil {
			return false, err.Error()
		}
		for field, want := range map[string]string{"cluster_state": "ok", "cluster_known_nodes": "6", "cluster_size": "3"} {
			if got, _ := infoField(info, field); got != want {
				return false, fmt.Sprintf("%s says %s:%s", n.Addr(), field, got)
			}
		}
		r, err := n.replication()
		if err != nil {
			return false, err.Error()
		}
		if r.role == "slave" && !r.linkUp {
			return false, "replica " + n.Addr() + " not in sync"
		}
	}
	return true, ""
}

// clusterInfo returns the text of CLUSTER INFO on s.
func (s *Server) clusterInfo() (string, error) {
	reply, err := s.do(commandTimeout, "CLUSTER", "INFO")
	if err != nil {
		return "", err
	}
	text, _ := reply.(string)
	return text, nil
}

// Nodes returns the six nodes.
func (c *Cluster) Nodes() []*Server { return append([]*Server(nil), c.nodes...) }

// Addrs returns the "127.0.0.1:port" of each node.
func (c *Cluster) Addrs() []string {
	var addrs []string
	for _, n := range c.nodes {
		addrs = append(addrs, n.Addr())
	}
	return addrs
}

// URL returns the cluster's URL in the Cluster form that cache/redis's
// Open accepts: redis+cluster://n1,n2,...,n6.
func (c *Cluster) URL() string { return "redis+cluster://" + strings.Join(c.Addrs(), ",") }

// anyRunning returns a running node, failing the test if there is none.
func (c *Cluster) anyRunning() *Server {
	c.t.Helper()
	for _, n := range c.nodes {
		if n.running() {
			return n
		}
	}
	c.t.Fatal("redistest: no node of the cluster is running")
	return nil
}

// Slot returns the hash slot of key (CLUSTER KEYSLOT).
func (c *Cluster) Slot(key string) int {
	c.t.Helper()
	n := c.anyRunning()
	reply, err := n.do(commandTimeout, "CLUSTER", "KEYSLOT", key)
	if err != nil {
		c.t.Fatalf("redistest: CLUSTER KEYSLOT on %s: %v", n.Addr(), err)
	}
	slot, ok := reply.(int64)
	if !ok {
		c.t.Fatalf("redistest: CLUSTER KEYSLOT replied %v", reply)
	}
	return int(slot)
}

// servedBy returns the address of the master that n says serves slot
// (CLUSTER NODES: a master, not failing, whose ranges hold slot), or "".
func (n *Server) servedBy(slot int) (string, error) {
	reply, err := n.do(commandTimeout, "CLUSTER", "NODES")
	if err != nil {
		return "", err
	}
	text, _ := reply.(string)
	for line := range strings.SplitSeq(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		flags := strings.Split(f[2], ",")
		if !slices.Contains(flags, "master") || slices.Contains(flags, "fail") || slices.Contains(flags, "fail?") {
			continue
		}
		for _, r := range f[8:] {
			if strings.HasPrefix(r, "[") { // a slot being migrated
				continue
			}
			lo, hi, isRange := strings.Cut(r, "-")
			if !isRange {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 == nil && err2 == nil && a <= slot && slot <= b {
				addr, _, _ := strings.Cut(f[1], "@")
				return addr, nil
			}
		}
	}
	return "", nil
}

// node returns the node at addr, or nil.
func (c *Cluster) node(addr string) *Server {
	for _, n := range c.nodes {
		if n.Addr() == addr {
			return n
		}
	}
	return nil
}

// agreedServer returns the node that every running node says serves slot,
// when they agree and the cluster is ok on each, with why not otherwise.
func (c *Cluster) agreedServer(slot int) (*Server, string) {
	var addr string
	for _, n := range c.nodes {
		if !n.running() {
			continue
		}
		info, err := n.clusterInfo()
		if err != nil {
			return nil, err.Error()
		}
		if st, _ := infoField(info, "cluster_state"); st != "ok" {
			return nil, n.Addr() + " says cluster_state:" + st
		}
		a, err := n.servedBy(slot)
		if err != nil {
			return nil, err.Error()
		}
		if a == "" {
			return nil, fmt.Sprintf("%s names no master of slot %d", n.Addr(), slot)
		}
		if addr != "" && a != addr {
			return nil, fmt.Sprintf("nodes name %s and %s as the master of slot %d", addr, a, slot)
		}
		addr = a
	}
	m := c.node(addr)
	if m == nil {
		return nil, addr + " is not a node of the cluster"
	}
	return m, ""
}

// MasterOf returns the master that serves the slot of key, once every
// running node agrees on it and says the cluster is ok; it fails the test
// if they do not within 20 seconds.
func (c *Cluster) MasterOf(key string) *Server {
	c.t.Helper()
	slot := c.Slot(key)
	var m *Server
	waitFor(c.t, topologyTimeout, fmt.Sprintf("the master of slot %d", slot), func() (bool, string) {
		var why string
		m, why = c.agreedServer(slot)
		return m != nil, why
	})
	return m
}

// KillMasterOf kills the master that serves the slot of key with SIGKILL,
// and returns it.
func (c *Cluster) KillMasterOf(key string) *Server {
	c.t.Helper()
	m := c.MasterOf(key)
	m.Kill()
	return m
}

// WaitTakeover waits until every running node says the cluster is ok and
// names the same master, not old, for the slot of key, and returns that
// master. It fails the test if that takes longer than 20 seconds. With the
// cluster's node timeout of a second, a replica takes over about two to
// three seconds after its master was killed.
func (c *Cluster) WaitTakeover(key string, old *Server) *Server {
	c.t.Helper()
	slot := c.Slot(key)
	var m *Server
	waitFor(c.t, topologyTimeout, fmt.Sprintf("a new master of slot %d", slot), func() (bool, string) {
		var why string
		m, why = c.agreedServer(slot)
		if m == old {
			m, why = nil, "still served by "+old.Addr()
		}
		return m != nil, why
	})
	return m
}

// WaitReplicated waits until the replicas of the master of key's slot
// have processed what was written on it before the call, and fails the
// test if that takes longer than 20 seconds.
func (c *Cluster) WaitReplicated(key string) {
	c.t.Helper()
	waitReplicated(c.t, c.MasterOf(key), c.nodes, topologyTimeout)
}

// Failover makes a replica of the master of key's slot take over with a
// manual failover (CLUSTER FAILOVER on the replica: the master stops
// writes until the replica has caught up, then the two swap roles), waits
// as [Cluster.WaitTakeover] does, and returns the new master. The old
// master stays up, as a replica.
func (c *Cluster) Failover(key string) *Server {
	c.t.Helper()
	old := c.MasterOf(key)
	r, err := old.replication()
	if err != nil {
		c.t.Fatalf("redistest: INFO replication on %s: %v", old.Addr(), err)
	}
	if len(r.replicas) == 0 {
		c.t.Fatalf("redistest: the master %s has no replica", old.Addr())
	}
	replica := byPort(c.nodes, r.replicas[0])
	if replica == nil {
		c.t.Fatalf("redistest: the master %s lists a replica on port %d, not a node of the cluster", old.Addr(), r.replicas[0])
	}
	if _, err := replica.do(commandTimeout, "CLUSTER", "FAILOVER"); err != nil {
		c.t.Fatalf("redistest: CLUSTER FAILOVER on %s: %v", replica.Addr(), err)
	}
	return c.WaitTakeover(key, old)
}
