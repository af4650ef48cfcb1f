package redistest

import (
	"net/url"
	"strings"
)

// AddUser creates user, with password, on each node of the topology (the
// primary and the replica, not the sentinels), allowed every command on
// every key and channel. Clients that log in as user keep the primary
// that [Sentinel.IsolatePrimary] cuts off from the sentinels and the
// replica; [Sentinel.URLAs] is their URL. Call it before IsolatePrimary.
func (s *Sentinel) AddUser(user, password string) {
	s.t.Helper()
	for _, n := range s.nodes {
		if _, err := n.do(commandTimeout, "ACL", "SETUSER", user, "reset", "on", ">"+password, "~*", "&*", "+@all"); err != nil {
			s.t.Fatalf("redistest: ACL SETUSER %s on %s: %v", user, n.Addr(), err)
		}
	}
}

// URLAs returns the topology's URL, as [Sentinel.URL] does, with user and
// password as the primary's credentials.
func (s *Sentinel) URLAs(user, password string) string {
	rest := strings.TrimPrefix(s.URL(), "redis+sentinel://")
	if i := strings.Index(rest, "@"); i >= 0 {
		rest = rest[i+1:]
	}
	return "redis+sentinel://" + url.UserPassword(user, password).String() + "@" + rest
}

// IsolatePrimary cuts the current primary off from the sentinels and the
// replica, but not from its clients, as a network partition that leaves
// the clients on the primary's side would, and returns it. The sentinels
// and the replica log in to the primary as its default user: IsolatePrimary
// turns that user off on the primary and ends their connections, so that
// each attempt of theirs to reconnect is refused. The clients that log in
// as another user (see [Sentinel.AddUser]) keep their connections and may
// open more. The sentinels then count the primary down and promote the
// replica (wait for it with [Sentinel.WaitFailover]), and cannot tell the
// old primary to follow the new one: it stays a primary, and answers its
// clients, with what was written on it. From then on this package's
// helpers cannot query the old primary either.
func (s *Sentinel) IsolatePrimary() *Server {
	s.t.Helper()
	p := s.Primary()
	_, err := commands(p.Addr(), p.cfg.password, commandTimeout,
		[]string{"ACL", "SETUSER", "default", "off"},
		[]string{"CLIENT", "KILL", "USER", "default", "SKIPME", "yes"})
	if err != nil {
		s.t.Fatalf("redistest: isolate the primary %s: %v", p.Addr(), err)
	}
	return p
}
