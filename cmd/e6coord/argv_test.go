package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/secrettest"
)

// The demo's worker processes get the engine password and the Redis URL
// in their environment, never on their command lines: while they run,
// their real command lines (/proc/PID/cmdline) hold neither secret.
func TestDemoWorkersArgvHoldNoSecret(t *testing.T) {
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		t.Skip("no /proc")
	}
	s := secrettest.New()
	srv, err := enginetest.NewServer(enginetest.Options{User: "u", Password: s.B + s.A})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Setenv("E6_PASSWORD", s.B+s.A)
	// Unreachable, so that the workers serve from the engine alone.
	t.Setenv("E6COORD_REDIS_URL", "redis://u:"+s.A+s.B+"@127.0.0.1:1/0")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // only catches a hang
	defer cancel()
	done := make(chan error, 1)
	var out, errOut bytes.Buffer
	go func() {
		done <- run(ctx, []string{"demo", "--processes", "2", "--workers", "1", "--duration", "30s",
			"--engine", srv.Addr(), "--user", "u", "--catalog", enginetest.Catalog, "--schema", enginetest.Schema}, &out, &errOut)
	}()

	seen := map[int]string{} // worker PID → its command line
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for len(seen) < 2 {
		select {
		case err := <-done:
			t.Fatalf("demo ended (%v) before both workers were seen; stderr: %s", err, s.Hide(errOut.String()))
		case <-ctx.Done():
			t.Fatalf("saw %d of 2 workers before the deadline", len(seen))
		case <-tick.C:
		}
		for pid, argv := range workerCommandLines(t) {
			seen[pid] = argv
		}
	}
	cancel()
	<-done
	for pid, argv := range seen {
		if !strings.Contains(argv, "demo-worker") || !strings.Contains(argv, srv.Addr()) {
			t.Errorf("worker %d: command line %q lacks demo-worker or the engine's address", pid, s.Hide(argv))
		}
		s.Check(t, "worker "+strconv.Itoa(pid)+"'s command line", argv)
	}
}

// workerCommandLines returns the command lines, arguments joined by
// spaces, of this process's children that run demo-worker.
func workerCommandLines(t *testing.T) map[int]string {
	t.Helper()
	me := strconv.Itoa(os.Getpid())
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	found := map[int]string{}
	for _, stat := range stats {
		b, err := os.ReadFile(stat)
		if err != nil {
			continue // gone
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		rest := string(b[bytes.LastIndexByte(b, ')')+1:])
		fields := strings.Fields(rest)
		if len(fields) < 2 || fields[1] != me {
			continue
		}
		dir := filepath.Dir(stat)
		argv, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil || !bytes.Contains(argv, []byte("demo-worker")) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(dir))
		found[pid] = string(bytes.ReplaceAll(argv, []byte{0}, []byte{' '}))
	}
	return found
}
