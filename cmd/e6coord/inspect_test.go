package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	redisstore "github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/internal/outputtest"
	"github.com/e6coord/e6coord/internal/redistest"
)

// inspectWait bounds every wait in the tests of status and events.
const inspectWait = 10 * time.Second

// testScope is the scope the tests write, as `--cluster Prod-EU --engine
// e6.example:9000` names it.
var testScope = cache.Scope{Cluster: "prod-eu", Engine: "e6.example:9000"}

var scopeArgs = []string{"--cluster", "Prod-EU", "--engine", "e6.example:9000"}

// cleanEnv unsets, for the test, every variable that sets a flag of
// status or events, and every source of a Redis URL but the flag.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"E6COORD_REDIS_URL", "E6COORD_REDIS_URL_FILE", "CREDENTIALS_DIRECTORY",
		"E6COORD_ENGINE", "E6COORD_CLUSTER", "E6COORD_O", "E6COORD_CACHE_TTL", "E6COORD_WAIT_FOR",
		"E6COORD_TIMEOUT", "E6COORD_LOG_LEVEL", "E6COORD_LOG_FORMAT"} {
		t.Setenv(k, "x")
		if err := os.Unsetenv(k); err != nil {
			t.Fatal(err)
		}
	}
}

// startRedis starts a redis-server for the test, and opens a store on it
// for the test's own writes.
func startRedis(t *testing.T) (*redistest.Server, *redisstore.Store) {
	t.Helper()
	redistest.Require(t)
	srv := redistest.Start(t)
	st, err := redisstore.Open(srv.URL(), redisstore.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return srv, st
}

// write stores rec over the scope's record, whatever its generation, and
// returns what was stored.
func write(t *testing.T, st cache.Store, rec cache.State) cache.State {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), inspectWait)
	defer cancel()
	cur, err := st.Load(ctx, testScope)
	if err != nil && !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("load: %v", err)
	}
	if rec.Generation == 0 {
		rec.Generation = cur.Generation + 1
	}
	got, err := st.CompareAndSwap(ctx, testScope, cur.Generation, rec)
	if err != nil {
		t.Fatalf("store %s: %v", rec, err)
	}
	return got
}

// runCmd runs e6coord with args as main would, and returns its exit status
// and output.
func runCmd(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(ctx, args, &out, &errOut)
	code = exitCode(err, &errOut)
	return code, out.String(), errOut.String()
}

// stateJSON is the JSON of status and events, as a script reads it.
type stateJSON struct {
	Type        string     `json:"type"`
	Time        *time.Time `json:"time"`
	Status      string     `json:"status"`
	Active      string     `json:"active"`
	Pending     string     `json:"pending"`
	Generation  uint64     `json:"generation"`
	ConfirmedAt *time.Time `json:"confirmed_at"`
	ChangedAt   *time.Time `json:"changed_at"`
	ChangedBy   string     `json:"changed_by"`
	Cluster     string     `json:"cluster"`
	Pins        struct {
		Blue  int `json:"blue"`
		Green int `json:"green"`
	} `json:"pins"`
	Store struct {
		State         string     `json:"state"`
		StateSince    *time.Time `json:"state_since"`
		LastErrorKind string     `json:"last_error_kind"`
		Address       string     `json:"address"`
	} `json:"store"`
}

func parseState(t *testing.T, line string) stateJSON {
	t.Helper()
	var s stateJSON
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("output %q is not the state's JSON: %v", line, err)
	}
	return s
}

// lineWriter takes a command's stdout: it fails the test unless every
// Write is exactly one line, and hands each line on lines.
type lineWriter struct {
	t     *testing.T
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	if s := string(p); !strings.HasSuffix(s, "\n") || strings.Count(s, "\n") != 1 {
		w.t.Errorf("stdout got the write %q, want one whole line per Write", s)
	}
	w.lines <- strings.TrimSuffix(string(p), "\n")
	return len(p), nil
}

// bgCmd is a command running in the background.
type bgCmd struct {
	stdout *lineWriter
	stderr *outputtest.Buffer
	cancel context.CancelFunc
	done   chan int // the exit status
}

// startCmd runs e6coord with args in the background until it ends or the
// test does.
func startCmd(t *testing.T, args ...string) *bgCmd {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &bgCmd{
		stdout: &lineWriter{t: t, lines: make(chan string, 100)},
		stderr: new(outputtest.Buffer),
		cancel: cancel,
		done:   make(chan int, 1),
	}
	go func() {
		err := run(ctx, args, c.stdout, c.stderr)
		c.done <- exitCode(err, c.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-c.done:
			c.done <- code
		case <-time.After(inspectWait):
			t.Errorf("%q did not end when cancelled", args)
		}
	})
	return c
}

// next returns the next line of stdout.
func (c *bgCmd) next(t *testing.T) string {
	t.Helper()
	select {
	case l := <-c.stdout.lines:
		return l
	case <-time.After(inspectWait):
		t.Fatalf("no line on stdout within %v; stderr:\n%s", inspectWait, c.stderr.String())
		return ""
	}
}

// wait returns the exit status.
func (c *bgCmd) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-c.done:
		c.done <- code
		return code
	case <-time.After(inspectWait):
		t.Fatalf("the command did not end; stderr:\n%s", c.stderr.String())
		return -1
	}
}

// stop cancels the command, as SIGINT does, and returns its exit status.
func (c *bgCmd) stop(t *testing.T) int {
	t.Helper()
	c.cancel()
	return c.wait(t)
}
