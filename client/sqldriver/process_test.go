package sqldriver_test

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/client/sqldriver"
)

// childEnv makes the test binary, run as a child process, serve a fake
// engine ("engine") or read demo.big through database/sql ("reader"),
// so that what a process costs is measured apart from the other side.
const childEnv = "SQLDRIVER_TEST_CHILD"

// serveEngine is the engine child: it prints its fake engine's address
// on stdout and serves until its stdin is closed.
func serveEngine() {
	srv, err := enginetest.NewServer(enginetest.Options{User: user, Password: password})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := setBenchResults(srv); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(srv.Addr())
	io.Copy(io.Discard, os.Stdin)
	srv.Close()
}

// startEngine starts an engine child and returns its address; the child
// ends with the test.
func startEngine(tb testing.TB) string {
	tb.Helper()
	cmd := child(tb, "engine")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("the engine child: %v", err)
	}
	return strings.TrimSpace(addr)
}

func child(tb testing.TB, role string, env ...string) *exec.Cmd {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+role), env...)
	cmd.Stderr = os.Stderr
	return cmd
}

// readReport is what the reader child prints.
type readReport struct {
	Rows    int64   `json:"rows"`
	Seconds float64 `json:"seconds"`
	VmHWMKB int64   `json:"vm_hwm_kb"` // peak resident set size
	Error   string  `json:"error,omitempty"`
}

// readBig is the reader child: it reads SQLDRIVER_ROWS rows of demo.big
// from the engine at SQLDRIVER_ADDR through database/sql, scanning every
// column into a typed destination and checking every id, and prints a
// readReport with its peak RSS.
func readBig() {
	rep := readReport{}
	err := func() error {
		n, err := strconv.ParseInt(os.Getenv("SQLDRIVER_ROWS"), 10, 64)
		if err != nil {
			return err
		}
		cfg := sqldriver.Config{Config: client.Config{Addr: os.Getenv("SQLDRIVER_ADDR"), User: user, Password: password,
			Catalog: enginetest.Catalog, Schema: enginetest.Schema, PrefetchBytes: 4 << 20}}
		db, err := sql.Open("e6data", cfg.FormatDSN())
		if err != nil {
			return err
		}
		defer db.Close()
		start := time.Now()
		rows, err := db.Query(fmt.Sprintf("SELECT * FROM demo.big LIMIT %d", n))
		if err != nil {
			return err
		}
		defer rows.Close()
		var d bigDest
		for rows.Next() {
			if err := rows.Scan(d.ptrs()...); err != nil {
				return err
			}
			if d.id != rep.Rows {
				return fmt.Errorf("row %d has id %d", rep.Rows, d.id)
			}
			rep.Rows++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rep.Seconds = time.Since(start).Seconds()
		rep.VmHWMKB, err = vmHWM()
		return err
	}()
	if err != nil {
		rep.Error = err.Error()
	}
	json.NewEncoder(os.Stdout).Encode(rep)
}

// vmHWM reads the process's peak resident set size from /proc.
func vmHWM() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// readInChild reads n rows of demo.big from the engine at addr in a
// reader child and returns its report.
func readInChild(t *testing.T, addr string, n int64) readReport {
	t.Helper()
	cmd := child(t, "reader", "SQLDRIVER_ADDR="+addr, "SQLDRIVER_ROWS="+strconv.FormatInt(n, 10))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the reader child: %v", err)
	}
	var rep readReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("the reader child's report %q: %v", out, err)
	}
	if rep.Error != "" {
		t.Fatalf("the reader child: %s", rep.Error)
	}
	if rep.Rows != n {
		t.Fatalf("the reader child read %d rows, want %d", rep.Rows, n)
	}
	return rep
}

// bigDest holds a row of demo.big in typed destinations.
type bigDest struct {
	id  int64
	i   sql.NullInt32
	d   float64
	b   bool
	s   sql.NullString
	ts  time.Time
	dec sql.NullString
	k   string
}

func (d *bigDest) ptrs() []any {
	return []any{&d.id, &d.i, &d.d, &d.b, &d.s, &d.ts, &d.dec, &d.k}
}
