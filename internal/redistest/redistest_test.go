package redistest

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"strings"
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

// A delayed proxy forwards every byte, each direction d late, in order:
// bytes read after the delay is lifted still wait for those before them,
// and a cut drops the bytes that wait.
func TestProxyDelay(t *testing.T) {
	Require(t)
	s := Start(t)
	p := NewProxy(t, s.Addr())
	c := dial(t, p.Addr())
	c.want(t, "PING", "+PONG")

	const d = 150 * time.Millisecond
	p.Delay(d)
	began := time.Now()
	c.want(t, "PING", "+PONG")
	if took := time.Since(began); took < 2*d {
		t.Errorf("PING through a proxy delayed %v took %v, want at least %v", d, took, 2*d)
	}

	// A SET read under the delay, then an INCR read after it is lifted:
	// the server sees them in order, and the replies come back in order.
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
	send("SET k 1")
	p.Delay(0)
	send("INCR k")
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
