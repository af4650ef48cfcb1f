package redistest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SentinelMaster is the name under which a [Sentinel] topology's sentinels
// know its primary.
const SentinelMaster = "e6coord"

// Timings of a Sentinel topology: the sentinels count the primary down
// after a second of silence, and a failover that stalls is retried soon.
const (
	downAfter       = 1000 * time.Millisecond
	failoverTimeout = 3000 * time.Millisecond
)

// topologyTimeout bounds how long the helpers of the topologies wait for a
// topology to come up, fail over or replicate.
const topologyTimeout = 20 * time.Second

// SentinelOptions configures a [Sentinel] topology. The zero value is a
// topology without passwords. A password must hold no space or quote: it
// is written in the sentinels' config files.
type SentinelOptions struct {
	// Password is the requirepass of the primary and the replica, which the
	// replica and the sentinels also authenticate with (masterauth,
	// sentinel auth-pass). Default: none.
	Password string
	// SentinelPassword is the requirepass of the sentinels, with which they
	// also authenticate to one another (sentinel sentinel-pass). Default:
	// none.
	SentinelPassword string
}

// Sentinel is a Redis primary, one replica and three sentinels (quorum
// two) that monitor them as [SentinelMaster], each a process of its own on
// its own ports of 127.0.0.1, with its own directory. The replica
// replicates from the first primary through a [Proxy], so that
// [Sentinel.CutReplication] can cut its link silently. Every process is
// killed when the test ends. Its methods are safe for concurrent use, but
// those that fail the test must be called from the test's goroutine.
type Sentinel struct {
	t         testing.TB
	opts      SentinelOptions
	nodes     []*Server // the first primary, then the replica
	sentinels []*Server
	link      *Proxy // the replica's link to the first primary
}

// StartSentinel starts a Sentinel topology and returns once the replica is
// in sync and each sentinel knows the primary, the replica and the two
// other sentinels, so that a failover can start as soon as the primary
// fails. It takes a few seconds, and fails the test if a process does not
// start, or if the replica or a sentinel is not ready within 20 seconds.
func StartSentinel(t testing.TB, opts SentinelOptions) *Sentinel {
	t.Helper()
	s := &Sentinel{t: t, opts: opts}
	dataNode := func(extra ...string) serverConfig {
		return serverConfig{
			password: opts.Password,
			extra: func(*Server) []string {
				args := []string{"--repl-diskless-sync-delay", "0"}
				if opts.Password != "" {
					args = append(args, "--masterauth", opts.Password)
				}
				return append(args, extra...)
			},
		}
	}
	primary := startServer(t, dataNode())
	s.link = NewProxy(t, primary.Addr())
	_, linkPort, _ := net.SplitHostPort(s.link.Addr())
	replica := startServer(t, dataNode("--replicaof", "127.0.0.1", linkPort))
	s.nodes = []*Server{primary, replica}
	waitFor(t, topologyTimeout, "the replica in sync", func() (bool, string) {
		r, err := replica.replication()
		if err != nil {
			return false, err.Error()
		}
		return r.role == "slave" && r.linkUp, fmt.Sprintf("role %s, link up %v", r.role, r.linkUp)
	})

	for range 3 {
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		if err := os.WriteFile(conf, []byte(s.sentinelConf(primary)), 0o600); err != nil {
			t.Fatalf("redistest: write sentinel config: %v", err)
		}
		s.sentinels = append(s.sentinels, startServer(t, serverConfig{
			password: opts.SentinelPassword,
			lead:     []string{conf, "--sentinel"},
		}))
	}
	for _, sn := range s.sentinels {
		waitFor(t, topologyTimeout, "sentinel "+sn.Addr()+" ready", func() (bool, string) {
			return s.sentinelReady(sn)
		})
	}
	return s
}

// sentinelConf returns the config file of a sentinel that monitors
// primary.
func (s *Sentinel) sentinelConf(primary *Server) string {
	var b strings.Builder
	fmt.Fprintf(&b, "sentinel monitor %s 127.0.0.1 %d 2\n", SentinelMaster, primary.port)
	fmt.Fprintf(&b, "sentinel down-after-milliseconds %s %d\n", SentinelMaster, downAfter.Milliseconds())
	fmt.Fprintf(&b, "sentinel failover-timeout %s %d\n", SentinelMaster, failoverTimeout.Milliseconds())
	fmt.Fprintf(&b, "sentinel parallel-syncs %s 1\n", SentinelMaster)
	if s.opts.Password != "" {
		fmt.Fprintf(&b, "sentinel auth-pass %s %s\n", SentinelMaster, s.opts.Password)
	}
	if s.opts.SentinelPassword != "" {
		fmt.Fprintf(&b, "sentinel sentinel-pass %s\n", s.opts.SentinelPassword)
	}
	return b.String()
}

// sentinelReady reports whether sn knows the replica and two other
// sentinels, and can reach the quorum.
func (s *Sentinel) sentinelReady(sn *Server) (bool, string) {
	if _, err := sn.do(commandTimeout, "SENTINEL", "CKQUORUM", SentinelMaster); err != nil {
		return false, "CKQUORUM: " + err.Error()
	}
	for _, what := range []string{"REPLICAS", "SENTINELS"} {
		reply, err := sn.do(commandTimeout, "SENTINEL", what, SentinelMaster)
		if err != nil {
			return false, what + ": " + err.Error()
		}
		list, _ := reply.([]any)
		want := map[string]int{"REPLICAS": 1, "SENTINELS": 2}[what]
		if len(list) != want {
			return false, fmt.Sprintf("knows %d %s, want %d", len(list), strings.ToLower(what), want)
		}
	}
	return true, ""
}

// Nodes returns the primary and the replica as started: the current
// primary is [Sentinel.Primary].
func (s *Sentinel) Nodes() []*Server { return append([]*Server(nil), s.nodes...) }

// Sentinels returns the three sentinels.
func (s *Sentinel) Sentinels() []*Server { return append([]*Server(nil), s.sentinels...) }

// SentinelAddrs returns the "127.0.0.1:port" of each sentinel.
func (s *Sentinel) SentinelAddrs() []string {
	var addrs []string
	for _, sn := range s.sentinels {
		addrs = append(addrs, sn.Addr())
	}
	return addrs
}

// URL returns the topology's URL in the Sentinel form that cache/redis's
// Open accepts, with the passwords of the options:
// redis+sentinel://[:password@]s1,s2,s3/e6coord/0[?sentinel_password=...].
func (s *Sentinel) URL() string {
	var b strings.Builder
	b.WriteString("redis+sentinel://")
	if s.opts.Password != "" {
		b.WriteString(url.UserPassword("", s.opts.Password).String() + "@")
	}
	b.WriteString(strings.Join(s.SentinelAddrs(), ","))
	b.WriteString("/" + SentinelMaster + "/0")
	if s.opts.SentinelPassword != "" {
		b.WriteString("?sentinel_password=" + url.QueryEscape(s.opts.SentinelPassword))
	}
	return b.String()
}

// masterAddr returns the address that sn names as the primary.
func (s *Sentinel) masterAddr(sn *Server) (string, error) {
	reply, err := sn.do(commandTimeout, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SentinelMaster)
	if err != nil {
		return "", err
	}
	pair, _ := reply.([]any)
	if len(pair) != 2 {
		return "", fmt.Errorf("get-master-addr-by-name replied %v", reply)
	}
	host, _ := pair[0].(string)
	port, _ := pair[1].(string)
	return net.JoinHostPort(host, port), nil
}

// node returns the node at addr, or nil.
func (s *Sentinel) node(addr string) *Server {
	for _, n := range s.nodes {
		if n.Addr() == addr {
			return n
		}
	}
	return nil
}

// Primary returns the node that the first sentinel to answer names as the
// primary. It fails the test if no sentinel answers, or if one names a
// node that is not the topology's.
func (s *Sentinel) Primary() *Server {
	s.t.Helper()
	var errs []string
	for _, sn := range s.sentinels {
		if !sn.running() {
			continue
		}
		addr, err := s.masterAddr(sn)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		n := s.node(addr)
		if n == nil {
			s.t.Fatalf("redistest: sentinel %s names %s as the primary, not a node of the topology", sn.Addr(), addr)
		}
		return n
	}
	s.t.Fatalf("redistest: no sentinel names the primary: %s", strings.Join(errs, "; "))
	return nil
}

// CutReplication silently cuts the link of the replica to the first
// primary (see [Proxy.Cut]): what is written on the primary from then on
// does not reach the replica, and neither side notices before its
// replication timeout. The sentinels still reach both nodes. It affects
// only the link the replica was started with, not one that the sentinels
// set up after a failover.
func (s *Sentinel) CutReplication() { s.link.Cut() }

// HealReplication ends a cut: the replica reconnects and resynchronises.
func (s *Sentinel) HealReplication() { s.link.Heal() }

// WaitReplicated waits until the replicas of the current primary have
// processed what was written on it before the call, and fails the test if
// that takes longer than 20 seconds (as it does while the link is cut).
func (s *Sentinel) WaitReplicated() {
	s.t.Helper()
	waitReplicated(s.t, s.Primary(), s.nodes, topologyTimeout)
}

// WaitFailover waits until every running sentinel names the same primary,
// not old, and that node says it is a primary (INFO replication), then
// returns it. It fails the test if that takes longer than 20 seconds. Kill
// old first: with the timings of the topology, a failover takes about
// two to five seconds.
func (s *Sentinel) WaitFailover(old *Server) *Server {
	s.t.Helper()
	var next *Server
	waitFor(s.t, topologyTimeout, "a failover from "+old.Addr(), func() (bool, string) {
		var named string
		for _, sn := range s.sentinels {
			if !sn.running() {
				continue
			}
			addr, err := s.masterAddr(sn)
			if err != nil {
				return false, err.Error()
			}
			if addr == old.Addr() {
				return false, "sentinel " + sn.Addr() + " still names " + addr
			}
			if named != "" && addr != named {
				return false, "the sentinels name " + named + " and " + addr
			}
			named = addr
		}
		next = s.node(named)
		if next == nil {
			return false, "the sentinels name " + named + ", not a node of the topology"
		}
		r, err := next.replication()
		if err != nil {
			return false, err.Error()
		}
		return r.role == "master", named + " is a " + r.role
	})
	return next
}
