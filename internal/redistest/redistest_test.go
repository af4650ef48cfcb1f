package redistest

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// conn is a raw RESP connection for the tests.
type conn struct {
	c  net.Conn
	rd *bufio.Reader
}

func dial(t *testing.T, addr string) *conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &conn{c: c, rd: bufio.NewReader(c)}
}

// do sends an inline command and returns the first line of the reply,
// waiting at most timeout.
func (c *conn) do(cmd string, timeout time.Duration) (string, error) {
	if err := c.c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	if _, err := c.c.Write([]byte(cmd + "\r\n")); err != nil {
		return "", err
	}
	line, err := c.rd.ReadString('\n')
	return strings.TrimSuffix(line, "\r\n"), err
}

func (c *conn) want(t *testing.T, cmd, want string) {
	t.Helper()
	got, err := c.do(cmd, 5*time.Second)
	if err != nil {
		t.Fatalf("%s: error = %v, want reply %q", cmd, err, want)
	}
	if got != want {
		t.Fatalf("%s = %q, want %q", cmd, got, want)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestRequire(t *testing.T) {
	if !Available() && os.Getenv(RequireEnv) != "1" {
		// Require must skip: run it in a subtest and check.
		t.Run("skips", func(t *testing.T) {
			Require(t)
			t.Error("Require did not skip without redis-server")
		})
		return
	}
	Require(t) // must neither skip nor fail
	if !Available() {
		t.Error("Require returned, but redis-server is not available")
	}
}

func TestServerLifecycle(t *testing.T) {
	Require(t)
	s := Start(t)
	if want := "redis://" + s.Addr() + "/0"; s.URL() != want {
		t.Errorf("URL() = %q, want %q", s.URL(), want)
	}
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") {
		t.Errorf("Addr() = %q, want 127.0.0.1:port", s.Addr())
	}
	pid := s.PID()
	if pid <= 0 {
		t.Fatalf("PID() = %d, want a process id", pid)
	}

	c := dial(t, s.Addr())
	c.want(t, "SET k v", "+OK")
	c.want(t, "DBSIZE", ":1")

	// A paused server keeps the connection and answers nothing.
	s.Pause()
	if got, err := c.do("PING", 200*time.Millisecond); !isTimeout(err) {
		t.Fatalf("PING to a paused server = %q, %v; want a timeout", got, err)
	}
	s.Resume()
	// The PING sent while paused is answered first.
	c.c.SetDeadline(time.Now().Add(5 * time.Second))
	if got, err := c.rd.ReadString('\n'); err != nil || got != "+PONG\r\n" {
		t.Fatalf("reply to the PING sent while paused = %q, %v; want +PONG", got, err)
	}
	c.want(t, "EXISTS k", ":1")

	s.Kill()
	if s.PID() != 0 {
		t.Errorf("PID() after Kill = %d, want 0", s.PID())
	}
	if err := ping(s.Addr(), time.Second); err == nil {
		t.Fatal("PING after Kill succeeded")
	}
	s.Kill() // harmless

	s.Restart()
	if s.PID() <= 0 || s.PID() == pid {
		t.Errorf("PID() after Restart = %d, want a new process (was %d)", s.PID(), pid)
	}
	c2 := dial(t, s.Addr())
	c2.want(t, "DBSIZE", ":0") // empty after the restart
}

func TestProxy(t *testing.T) {
	Require(t)
	s := Start(t)
	p := NewProxy(t, s.Addr())
	if p.Addr() == s.Addr() {
		t.Fatalf("proxy address %s is the server's", p.Addr())
	}
	old := dial(t, p.Addr())
	old.want(t, "PING", "+PONG")

	p.Cut()
	// Nothing gets through, and nothing is closed: the read times out.
	if got, err := old.do("PING", 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("PING through a cut proxy = %q, %v; want a timeout", got, err)
	}
	during := dial(t, p.Addr()) // accepted, but never forwarded
	if got, err := during.do("PING", 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("PING on a connection made during the cut = %q, %v; want a timeout", got, err)
	}

	p.Heal()
	// The connections that lost bytes are closed.
	for name, c := range map[string]*conn{"old": old, "during": during} {
		c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.rd.ReadString('\n'); !errors.Is(err, io.EOF) && !isReset(err) {
			t.Errorf("%s connection after Heal: read error = %v, want EOF", name, err)
		}
	}
	fresh := dial(t, p.Addr())
	fresh.want(t, "PING", "+PONG")
	fresh.want(t, "SET a b", "+OK")
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

func TestProxyClose(t *testing.T) {
	Require(t)
	s := Start(t)
	p := NewProxy(t, s.Addr())
	c := dial(t, p.Addr())
	c.want(t, "PING", "+PONG")
	p.Close() // waits for the copy loops; goleak checks the rest
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.rd.ReadString('\n'); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Errorf("read after Close error = %v, want EOF", err)
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Error("dial after Close succeeded")
	}
	p.Close() // harmless
}

func TestProxyTargetDown(t *testing.T) {
	Require(t)
	s := Start(t)
	p := NewProxy(t, s.Addr())
	s.Kill()
	c := dial(t, p.Addr())
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.rd.ReadString('\n'); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Errorf("read through a proxy whose target is down: error = %v, want EOF", err)
	}
}

// fakeClock is a clock for a Proxy that moves only when Advance is
// called.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer // pending
}

type fakeTimer struct {
	due time.Time
	c   chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Timer(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{due: c.now.Add(d), c: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	c.fire()
	stop := func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, p := range c.timers {
			if p == t {
				c.timers = append(c.timers[:i], c.timers[i+1:]...)
				return true
			}
		}
		return false
	}
	return t.c, stop
}

// Advance moves the clock d on, and fires the timers then due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.fire()
}

// fire fires and forgets the timers due; c.mu is held.
func (c *fakeClock) fire() {
	pending := c.timers[:0]
	for _, t := range c.timers {
		if t.due.After(c.now) {
			pending = append(pending, t)
			continue
		}
		t.c <- c.now // buffered, sent once
	}
	c.timers = pending
}

// waitTimer waits until a timer due at due is pending, which is how a
// delayed chunk waits, or fails the test after 5 s.
func (c *fakeClock) waitTimer(t *testing.T, due time.Time) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		c.mu.Lock()
		var dues []time.Time
		for _, p := range c.timers {
			dues = append(dues, p.due)
		}
		c.mu.Unlock()
		if slices.ContainsFunc(dues, due.Equal) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no timer due at %v; pending: %v", due, dues)
		}
		<-tick.C
	}
}

// setClock makes p count its delays on c, from the next byte it reads.
func (p *Proxy) setClock(c clock) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clock = c
}

// A delayed proxy forwards every byte, each direction d late, in order:
// bytes read after the delay is lifted still wait for those before them,
// and a cut drops the bytes that wait. The delays are counted on a fake
// clock: a chunk waits on a timer due d after the proxy read it.
func TestProxyDelay(t *testing.T) {
	Require(t)
	s := Start(t)
	p := NewProxy(t, s.Addr())
	clk := newFakeClock()
	p.setClock(clk)
	c := dial(t, p.Addr())
	c.want(t, "PING", "+PONG") // no delay: no timer

	// A PING read at t0 is held until t0+d; its reply, read at t0+d, until
	// t0+2d: a round trip is 2d longer.
	const d = 150 * time.Millisecond
	p.Delay(d)
	if err := c.c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	send := func(cmd string) {
		t.Helper()
		n := p.chunks.Load()
		if _, err := c.c.Write([]byte(cmd + "\r\n")); err != nil {
			t.Fatal(err)
		}
		waitChunks(t, p, n+1) // the proxy has read it
	}
	t0 := clk.Now()
	send("PING")
	clk.waitTimer(t, t0.Add(d))
	clk.Advance(d)
	clk.waitTimer(t, t0.Add(2*d))
	clk.Advance(d)
	if line, err := c.rd.ReadString('\n'); err != nil || line != "+PONG\r\n" {
		t.Fatalf("reply to the delayed PING = %q, %v; want +PONG", line, err)
	}

	// A SET read under the delay, then an INCR read after it is lifted:
	// the server sees them in order, and the replies come back in order.
	t1 := clk.Now()
	send("SET k 1")
	p.Delay(0)
	send("INCR k")
	clk.waitTimer(t, t1.Add(d)) // the SET waits, and the INCR behind it
	clk.Advance(d)
	for _, want := range []string{"+OK", ":2"} {
		line, err := c.rd.ReadString('\n')
		if err != nil || strings.TrimSuffix(line, "\r\n") != want {
			t.Fatalf("reply = %q, %v; want %q", line, err, want)
		}
	}

	p.Delay(time.Minute)
	send("SET k dropped")
	p.Cut()
	p.Delay(0)
	p.Heal()
	// The link that held the SET is closed; the SET never reached the
	// server.
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.rd.ReadString('\n'); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Errorf("read on the link a cut ended: error = %v, want EOF", err)
	}
	fresh := dial(t, p.Addr())
	fresh.want(t, "GET k", "$1") // the length line of "2"
}

// waitChunks waits until p has queued n chunks in all.
func waitChunks(t *testing.T, p *Proxy, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for p.chunks.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the proxy queued %d chunks, want %d", p.chunks.Load(), n)
		}
		<-tick.C
	}
}
