package redistest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pollInterval is how often the helpers of the topologies look again at
// the servers' state: there is nothing to wait on but their replies.
const pollInterval = 20 * time.Millisecond

// commandTimeout bounds each command the helpers send.
const commandTimeout = time.Second

// waitFor calls cond every pollInterval until it returns true, and fails
// the test if that takes longer than timeout, quoting what and the last
// reason cond gave for false.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (ok bool, why string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: %s: not within %v: %s", what, timeout, why)
		}
		<-tick.C
	}
}

// info returns the text of INFO section on s.
func (s *Server) info(section string) (string, error) {
	reply, err := s.do(commandTimeout, "INFO", section)
	if err != nil {
		return "", err
	}
	text, ok := reply.(string)
	if !ok {
		return "", fmt.Errorf("INFO %s replied %T", section, reply)
	}
	return text, nil
}

// replication is what INFO replication says of a server.
type replication struct {
	role       string // "master" or "slave"
	linkUp     bool   // a replica: master_link_status:up
	offset     int64  // master_repl_offset of a primary, slave_repl_offset of a replica
	masterPort int    // a replica: master_port
	replicas   []int  // a primary: the listening ports of its replicas
}

// replication returns what INFO replication says of s.
func (s *Server) replication() (replication, error) {
	text, err := s.info("replication")
	if err != nil {
		return replication{}, err
	}
	var r replication
	r.role, _ = infoField(text, "role")
	if r.role == "slave" {
		st, _ := infoField(text, "master_link_status")
		r.linkUp = st == "up"
		off, _ := infoField(text, "slave_repl_offset")
		r.offset, _ = strconv.ParseInt(off, 10, 64)
		p, _ := infoField(text, "master_port")
		r.masterPort, _ = strconv.Atoi(p)
		return r, nil
	}
	off, _ := infoField(text, "master_repl_offset")
	r.offset, _ = strconv.ParseInt(off, 10, 64)
	for line := range strings.SplitSeq(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(k, "slave") {
			continue
		}
		if _, err := strconv.Atoi(strings.TrimPrefix(k, "slave")); err != nil {
			continue
		}
		for kv := range strings.SplitSeq(v, ",") {
			if p, ok := strings.CutPrefix(kv, "port="); ok {
				if port, err := strconv.Atoi(p); err == nil {
					r.replicas = append(r.replicas, port)
				}
			}
		}
	}
	return r, nil
}

// running reports whether s has a process.
func (s *Server) running() bool { return s.PID() != 0 }

// byPort returns the server of nodes that listens on port, or nil.
func byPort(nodes []*Server, port int) *Server {
	for _, n := range nodes {
		if n.port == port {
			return n
		}
	}
	return nil
}

// waitReplicated waits until every replica that primary lists, among
// nodes, has processed primary's replication stream up to where it was
// when waitReplicated was called.
func waitReplicated(t testing.TB, primary *Server, nodes []*Server, timeout time.Duration) {
	t.Helper()
	r, err := primary.replication()
	if err != nil {
		t.Fatalf("redistest: INFO replication on %s: %v", primary.Addr(), err)
	}
	if r.role != "master" {
		t.Fatalf("redistest: %s is a %s, not a primary", primary.Addr(), r.role)
	}
	if len(r.replicas) == 0 {
		t.Fatalf("redistest: the primary %s has no replica", primary.Addr())
	}
	for _, port := range r.replicas {
		n := byPort(nodes, port)
		if n == nil {
			t.Fatalf("redistest: the primary %s lists a replica on port %d, not one of the topology's", primary.Addr(), port)
		}
		waitFor(t, timeout, fmt.Sprintf("replica %s at offset %d of %s", n.Addr(), r.offset, primary.Addr()), func() (bool, string) {
			rr, err := n.replication()
			if err != nil {
				return false, err.Error()
			}
			return rr.offset >= r.offset, fmt.Sprintf("at offset %d", rr.offset)
		})
	}
}
