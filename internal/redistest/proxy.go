package redistest

import (
	"net"
	"sync"
	"testing"
)

// Proxy is a loopback TCP proxy in front of a target address. [Proxy.Cut]
// simulates a silent network drop: connections stay open but no byte gets
// through in either direction, and nothing is closed or reset, so a client
// notices only by a missing reply. [Proxy.Heal] ends the drop.
//
// A Proxy owns its goroutines; Close (run when the test ends) closes every
// connection and waits for them. Its methods are safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup // counts the accept loop and the copy loops

	mu     sync.Mutex // guards cut, links and closed
	cut    bool
	links  map[*link]struct{}
	closed bool
}

// link is one proxied connection. server is nil for a connection accepted
// during a cut: the target was never dialled.
type link struct {
	client, server net.Conn
	// tainted is set when a cut may have dropped bytes of the link: it
	// never forwards again, and Heal closes it. Guarded by Proxy.mu.
	tainted bool
}

// NewProxy starts a proxy on 127.0.0.1 that forwards every connection to
// target. It is closed when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: proxy listen: %v", err)
	}
	p := &Proxy{ln: ln, target: target, links: make(map[*link]struct{})}
	p.wg.Go(p.accept)
	t.Cleanup(p.Close)
	return p
}

// Addr returns the proxy's "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut silently stops forwarding in both directions, on the connections that
// are open and on new ones: bytes are read and discarded, and connections
// are neither closed nor reset.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for l := range p.links {
		l.tainted = true
	}
}

// Heal ends a cut. The connections that were open during the cut have lost
// bytes, so their streams cannot be resumed: Heal closes them, and clients
// reconnect. New connections are forwarded again.
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.cut = false
	var tainted []*link
	for l := range p.links {
		if l.tainted {
			tainted = append(tainted, l)
		}
	}
	p.mu.Unlock()
	for _, l := range tainted {
		l.close()
	}
}

// Close stops the proxy, closes every connection and waits for its
// goroutines. Closing a closed proxy does nothing.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	_ = p.ln.Close()
	for _, l := range links {
		l.close()
	}
	p.wg.Wait()
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		cut, closed := p.cut, p.closed
		p.mu.Unlock()
		if closed {
			_ = c.Close()
			return
		}
		l := &link{client: c, tainted: cut}
		if !cut {
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close() // the target is down: as a refused connection
				continue
			}
			l.server = s
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			l.close()
			return
		}
		p.links[l] = struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() { p.copy(l, l.server, l.client) })
		if l.server != nil {
			p.wg.Go(func() { p.copy(l, l.client, l.server) })
		}
	}
}

// copy forwards src to dst (discarding when the link is tainted or dst is
// nil) until src fails, then closes the link and forgets it.
func (p *Proxy) copy(l *link, dst, src net.Conn) {
	defer func() {
		l.close()
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			drop := l.tainted
			p.mu.Unlock()
			if !drop && dst != nil {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return // EOF, or closed by Heal or Close
		}
	}
}

// close closes both connections of l.
func (l *link) close() {
	_ = l.client.Close()
	if l.server != nil {
		_ = l.server.Close()
	}
}
