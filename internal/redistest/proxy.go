package redistest

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is a loopback TCP proxy in front of a target address. [Proxy.Cut]
// simulates a silent network drop: connections stay open but no byte gets
// through in either direction, and nothing is closed or reset, so a client
// notices only by a missing reply. [Proxy.Heal] ends the drop.
// [Proxy.Delay] simulates a slow network (a brownout): every byte gets
// through, late.
//
// A Proxy owns its goroutines; Close (run when the test ends) closes every
// connection and waits for them. Its methods are safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup // counts the accept loop, the copy and the forward loops

	mu     sync.Mutex // guards cut, delay, clock, links and closed
	cut    bool
	delay  time.Duration
	clock  clock // what the delays are counted on
	links  map[*link]struct{}
	closed bool

	chunks atomic.Int64 // chunks queued for forwarding, for the tests
}

// clock is the time a proxy's delays are counted on: the real clock, or
// a fake one in this package's tests.
type clock interface {
	Now() time.Time
	// Timer returns a channel that receives once d has passed, and a
	// function that stops the timer.
	Timer(d time.Duration) (<-chan time.Time, func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Timer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// link is one proxied connection. server is nil for a connection accepted
// during a cut: the target was never dialled.
type link struct {
	client, server net.Conn
	// tainted is set when a cut may have dropped bytes of the link: it
	// never forwards again, and Heal closes it. Guarded by Proxy.mu.
	tainted bool

	once sync.Once
	done chan struct{} // closed by close
}

// NewProxy starts a proxy on 127.0.0.1 that forwards every connection to
// target. It is closed when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: proxy listen: %v", err)
	}
	p := &Proxy{ln: ln, target: target, clock: realClock{}, links: make(map[*link]struct{})}
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

// Delay delays the forwarding of every chunk of bytes read from now on, in
// both directions and on every connection, by d: a command's round trip
// through the proxy takes 2d longer. Bytes keep their order: after a
// shorter delay is set, the bytes read later still wait for those read
// before them. Delay(0) ends the brownout. Bytes that wait when a cut
// starts are dropped.
func (p *Proxy) Delay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = max(d, 0)
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
		l := &link{client: c, tainted: cut, done: make(chan struct{})}
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

// copy reads src until it fails and queues what it reads for forward to
// write to dst, each chunk due when the delay of the moment it was read
// has passed; it discards the chunks of a tainted link, or of a nil dst.
func (p *Proxy) copy(l *link, dst, src net.Conn) {
	queue := make(chan chunk, 64)
	p.wg.Go(func() { p.forward(l, dst, queue) })
	defer close(queue)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			drop, delay, clk := l.tainted || dst == nil, p.delay, p.clock
			p.mu.Unlock()
			if !drop {
				c := chunk{b: bytes.Clone(buf[:n]), due: clk.Now().Add(delay)}
				select {
				case queue <- c:
					p.chunks.Add(1)
				case <-l.done:
					return
				}
			}
		}
		if err != nil {
			return // EOF, or closed by Heal or Close
		}
	}
}

// chunk is bytes read from one end of a link, to be written to the other
// end at due.
type chunk struct {
	b   []byte
	due time.Time
}

// forward writes the chunks of queue to dst in order, each at its due
// time, unless the link is tainted by then. Once queue is closed and
// drained, or a write fails, or the link is closed, it closes the link and
// forgets it.
func (p *Proxy) forward(l *link, dst net.Conn, queue <-chan chunk) {
	defer func() {
		l.close()
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
	}()
	for c := range queue {
		p.mu.Lock()
		clk := p.clock
		p.mu.Unlock()
		if wait := c.due.Sub(clk.Now()); wait > 0 {
			fired, stop := clk.Timer(wait) // the brownout's delay
			select {
			case <-fired:
			case <-l.done:
				stop()
				return
			}
		}
		p.mu.Lock()
		drop := l.tainted
		p.mu.Unlock()
		if drop {
			continue
		}
		if _, err := dst.Write(c.b); err != nil {
			return
		}
	}
}

// close closes both connections of l; closing a closed link does nothing.
func (l *link) close() {
	l.once.Do(func() {
		close(l.done)
		_ = l.client.Close()
		if l.server != nil {
			_ = l.server.Close()
		}
	})
}
