// Package redistest runs real redis-server processes for tests: a single
// server, a [Sentinel] topology (a primary, a replica and three
// sentinels) and a Redis [Cluster] (three masters, three replicas), and a
// loopback TCP [Proxy] that can silently drop, or delay, the traffic
// between a client and a server. [Sentinel.IsolatePrimary] cuts a
// Sentinel primary off from its sentinels and replica, not from its
// clients.
//
// A test calls [Require] to skip (or, with E6COORD_REQUIRE_REDIS=1, fail)
// when redis-server is not installed, then [Start], [StartSentinel] or
// [StartCluster]:
//
//	func TestSomething(t *testing.T) {
//		redistest.Require(t)
//		srv := redistest.Start(t)
//		c := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
//		...
//	}
//
// Every process gets free ports of 127.0.0.1 and a directory of its own
// (t.TempDir), and is killed, and waited for, when the test ends. The
// topologies' helpers poll the servers' state (INFO, SENTINEL, CLUSTER
// NODES) until a condition holds, and fail the test after a deadline.
package redistest

import (
	"fmt"
	"go.uber.org/goleak"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns a missing redis-server
// from a skip into a failure when it is "1".
const RequireEnv = "E6COORD_REQUIRE_REDIS"

// binary is the name of the server looked up on PATH.
const binary = "redis-server"

// startTimeout bounds how long Start and Restart wait for the server to
// answer PING.
const startTimeout = 10 * time.Second

// Available reports whether redis-server is on PATH.
func Available() bool {
	_, err := exec.LookPath(binary)
	return err == nil
}

// Require skips the test when redis-server is not on PATH, or fails it if
// the environment variable E6COORD_REQUIRE_REDIS is "1".
func Require(t testing.TB) {
	t.Helper()
	if Available() {
		return
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("redis-server not installed, and %s=1", RequireEnv)
	}
	t.Skip("redis-server not installed")
}

// Server is a redis-server process listening on 127.0.0.1, without
// persistence: a plain server made by [Start], or a node of a [Sentinel]
// or [Cluster] topology. Its methods are safe for concurrent use.
type Server struct {
	t       testing.TB
	port    int
	busPort int // a cluster node's bus port, else 0
	dir     string
	cfg     serverConfig

	mu   sync.Mutex // guards cmd and done
	cmd  *exec.Cmd  // the running process, or nil after Kill
	done chan struct{}
}

// Start starts redis-server on a free port of 127.0.0.1 with a fresh
// directory, and returns once it answers PING. It fails the test if the
// server does not come up within 10 seconds. The server is killed when the
// test ends. Start fails the test if redis-server is not installed: call
// [Require] first.
func Start(t testing.TB) *Server {
	t.Helper()
	return startServer(t, serverConfig{})
}

// serverConfig is what makes a server more than a plain one.
type serverConfig struct {
	// password is the server's requirepass, sent with AUTH before the
	// commands of this package's helpers.
	password string
	// lead are arguments that come first (a config file, "--sentinel").
	lead []string
	// extra returns arguments that come after the common ones.
	extra func(s *Server) []string
	// bus: a cluster node, which needs a free bus port too.
	bus bool
}

// startServer starts a server of cfg on free ports with a fresh directory,
// and fails the test if it does not come up. It is killed when the test
// ends.
func startServer(t testing.TB, cfg serverConfig) *Server {
	t.Helper()
	s := &Server{t: t, dir: t.TempDir(), cfg: cfg}
	t.Cleanup(s.Kill) // registered after TempDir: runs before the removal
	var lastErr error
	for range 5 { // the free port may be taken before the server binds it
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: find a free port: %v", err)
		}
		s.port = port
		if cfg.bus {
			if s.busPort, err = freePort(); err != nil {
				t.Fatalf("redistest: find a free port: %v", err)
			}
		}
		if lastErr = s.start(); lastErr == nil {
			return s
		}
	}
	t.Fatalf("redistest: start redis-server: %v", lastErr)
	return nil
}

// freePort returns a port of 127.0.0.1 that nothing listened on a moment
// ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// start runs the process on s.port and waits until it answers PING. On
// failure the process is killed and waited for.
func (s *Server) start() error {
	logFile := filepath.Join(s.dir, "redis.log")
	args := append(slices.Clone(s.cfg.lead),
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--protected-mode", "no",
		"--dir", s.dir,
		"--logfile", logFile,
	)
	if s.cfg.password != "" {
		args = append(args, "--requirepass", s.cfg.password)
	}
	if s.cfg.extra != nil {
		args = append(args, s.cfg.extra(s)...)
	}
	cmd := exec.Command(binary, args...)
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for {
		err := s.ping(200 * time.Millisecond)
		if err == nil {
			return nil
		}
		select {
		case <-done:
			s.Kill()
			log, _ := os.ReadFile(logFile)
			return fmt.Errorf("redis-server exited (%v) before answering PING; log:\n%s", cmd.ProcessState, log)
		default:
		}
		if time.Now().After(deadline) {
			s.Kill()
			return fmt.Errorf("redis-server did not answer PING within %v: %w", startTimeout, err)
		}
		// Polling an external process for readiness: there is nothing to
		// wait on but the port.
		time.Sleep(10 * time.Millisecond)
	}
}

// Addr returns the server's "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL returns "redis://127.0.0.1:port/0".
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// PID returns the process id of the running server, or 0 after Kill.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Kill kills the server with SIGKILL, paused or not, and waits until the
// process is gone. Killing a killed server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd, s.done = nil, nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Restart kills the server if it runs and starts a new, empty one on the
// same port, with the same arguments and directory: a cluster node keeps
// its nodes.conf there, and so rejoins its cluster, and a sentinel its
// config file as it last rewrote it. It fails the test if the new server
// does not come up.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	if err := s.start(); err != nil {
		s.t.Fatalf("redistest: restart redis-server on port %d: %v", s.port, err)
	}
}

// Pause stops the server with SIGSTOP: connections stay open and nothing
// answers, as with a hung host.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a paused server with SIGCONT.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.t.Fatalf("redistest: %v: the server is not running", sig)
		return
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("redistest: %v: %v", sig, err)
	}
}

// Port returns the port the server listens on.
func (s *Server) Port() int { return s.port }

// ping sends PING to the server, after AUTH if it has a password, over a
// fresh connection, and waits up to timeout for PONG.
func (s *Server) ping(timeout time.Duration) error {
	return pingAuth(s.Addr(), s.cfg.password, timeout)
}

// do sends one command to the server (after AUTH if it has a password)
// over a fresh connection, and returns its reply (see [command]).
func (s *Server) do(timeout time.Duration, args ...string) (any, error) {
	return command(s.Addr(), s.cfg.password, timeout, args...)
}

// ping sends PING to addr over a fresh connection and waits up to timeout
// for PONG.
func ping(addr string, timeout time.Duration) error { return pingAuth(addr, "", timeout) }

func pingAuth(addr, password string, timeout time.Duration) error {
	reply, err := command(addr, password, timeout, "PING")
	if err != nil {
		return err
	}
	if reply != "PONG" {
		return fmt.Errorf("unexpected reply to PING: %q", reply)
	}
	return nil
}

// IgnoreDial is the goleak option the tests of packages that use go-redis
// pass: go-redis's tryDial, which a pool starts after failed dials, sleeps
// up to a second before it sees the pool closed, and is not a leak.
var IgnoreDial = goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial")
