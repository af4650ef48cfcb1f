package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	redisstore "github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/internal/redistest"
	"github.com/e6coord/e6coord/internal/secrettest"
)

// Through Sentinel, status logs nothing at the default level: go-redis's
// "sentinel: new master" line, printed on every start, is Info. And a URL
// that names the topology's replica is a configuration error of its own:
// status exits 1 with the store denied and the kind read-only, and says
// so, where it found the store up (the replica answers reads).
func TestStatusSentinelAndReplica(t *testing.T) {
	cleanEnv(t)
	redistest.Require(t)
	s := redistest.StartSentinel(t, redistest.SentinelOptions{})
	st, err := redisstore.Open(s.URL(), redisstore.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	write(t, st, cache.State{Active: cache.Blue, ConfirmedAt: time.Now(), ChangedBy: "host-1"})
	s.WaitReplicated()

	t.Run("sentinel", func(t *testing.T) {
		args := append([]string{"status", "-o", "json", "--redis", s.URL()}, scopeArgs...)
		code, out, errOut := runCmd(t, context.Background(), args...)
		if code != 0 || parseState(t, out).Status != "healthy" {
			t.Fatalf("exit %d, stdout %q; want 0 and healthy; stderr:\n%s", code, out, errOut)
		}
		if errOut != "" {
			t.Errorf("stderr at the default level %q, want nothing", errOut)
		}
		args = append([]string{"status", "--log-level", "info", "--redis", s.URL()}, scopeArgs...)
		_, _, errOut = runCmd(t, context.Background(), args...)
		if !strings.Contains(errOut, "level=INFO") || !strings.Contains(errOut, "sentinel: new master") || strings.Contains(errOut, "level=WARN") {
			t.Errorf("stderr at info %q, want go-redis's sentinel: new master at INFO, and no WARN", errOut)
		}
	})
	t.Run("replica", func(t *testing.T) {
		replica := s.Nodes()[1]
		if replica == s.Primary() {
			t.Fatal("the topology's second node is its primary")
		}
		args := append([]string{"status", "-o", "json", "--redis", replica.URL()}, scopeArgs...)
		code, out, errOut := runCmd(t, context.Background(), args...)
		got := parseState(t, out)
		if code != 1 || got.Store.State != "denied" || got.Store.LastErrorKind != "read-only" {
			t.Errorf("exit %d, state %+v; want 1 with the store denied, read-only", code, got)
		}
		if !strings.Contains(errOut, "read-only replica") {
			t.Errorf("stderr %q, want it to say the URL names a read-only replica", errOut)
		}
	})
}

// events with a wrong password reports the refusal, once at Error, not
// "cannot reach the store".
func TestEventsWrongPasswordIsADenial(t *testing.T) {
	cleanEnv(t)
	rs, plain := startRedis(t)
	write(t, plain, cache.State{Active: cache.Blue, ConfirmedAt: time.Now(), ChangedBy: "host-1"})
	requirePass(t, rs.Addr(), "", "right-password")
	args := append([]string{"events", "--redis", "redis://:wrong-password@" + rs.Addr() + "/0"}, scopeArgs...)
	c := startCmd(t, args...)
	c.stderr.WaitFor(t, "refused access", 1, inspectWait)
	// Two more attempts (backoff from 100ms): logged at Debug, not shown.
	c.stop(t)
	errOut := c.stderr.String()
	if strings.Contains(errOut, "cannot reach the store") {
		t.Errorf("stderr %q, want the refusal, not an unreachable store", errOut)
	}
	if n := strings.Count(errOut, "refused access"); n != 1 || !strings.Contains(errOut, "level=ERROR") {
		t.Errorf("stderr %q: %d refusals, want one at ERROR", errOut, n)
	}
}

// go-redis's lines that report what it found are Info; its failures Warn.
func TestRedisLoggerLevels(t *testing.T) {
	var buf bytes.Buffer
	l := redisLogger{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	ctx := context.Background()
	l.Printf(ctx, "sentinel: new master=%q addr=%q", "e6coord", "127.0.0.1:6379")
	l.Printf(ctx, "sentinel: discovered new sentinel=%q for master=%q", "x", "e6coord")
	l.Printf(ctx, "sentinel: GetMasterAddrByName name=%q failed: %s", "e6coord", "i/o timeout")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{"level=INFO", "level=INFO", "level=WARN"}
	if len(lines) != len(want) {
		t.Fatalf("logged %q, want %d lines", buf.String(), len(want))
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d = %q, want %s", i, lines[i], w)
		}
	}
}

// demo --flip-every 0 never flips, as its help says, where it flipped
// every 3 s: a run of 3.5 s has no switch.
func TestDemoFlipEveryZeroNeverFlips(t *testing.T) {
	cleanEnv(t)
	code, out, errOut := runCmd(t, context.Background(), "demo", "--flip-every", "0", "--duration", "3500ms", "--workers", "1", "--json")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var sum struct {
		Queries  int64 `json:"queries"`
		Switches int64 `json:"switches"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
	}
	if !strings.Contains(out, "never flips") || sum.Switches != 0 || sum.Queries == 0 {
		t.Errorf("summary %+v, output:\n%s\nwant queries, no switch, and the engine said to never flip", sum, out)
	}
}

// The Redis password written where a URL's password does not go (alone,
// in the user's slot, before the host without a scheme), from each source
// of the URL: status fails as a usage error that names the mistake, and
// shows the password nowhere (it showed it as the URL that did not parse,
// or in the store's address).
func TestStatusHidesMisplacedPassword(t *testing.T) {
	cleanEnv(t)
	s := secrettest.New()
	password := s.A + s.B
	rs, _ := startRedis(t)
	requirePass(t, rs.Addr(), "", password)
	urls := []struct{ url, want string }{
		{password, "not a url"},
		{password + "@" + rs.Addr(), "not a url"},
		{"redis://" + password + "@" + rs.Addr() + "/0", "a user name and no password"},
	}
	for i, u := range urls {
		for _, source := range []string{"--redis", "E6COORD_REDIS_URL", "CREDENTIALS_DIRECTORY"} {
			t.Run(fmt.Sprintf("%d/%s", i, source), func(t *testing.T) {
				args := []string{"status", "-o", "json", "--log-level", "debug"}
				switch source {
				case "--redis":
					args = append(args, "--redis", u.url)
				case "E6COORD_REDIS_URL":
					t.Setenv("E6COORD_REDIS_URL", u.url)
				default:
					dir := t.TempDir()
					if err := os.WriteFile(filepath.Join(dir, "redis-url"), []byte(u.url+"\n"), 0o600); err != nil {
						t.Fatal(err)
					}
					t.Setenv("CREDENTIALS_DIRECTORY", dir)
				}
				code, out, errOut := runCmd(t, context.Background(), append(args, scopeArgs...)...)
				s.Check(t, "stdout", out)
				s.Check(t, "stderr", errOut)
				if code != exitUsage || !strings.Contains(errOut, u.want) {
					t.Errorf("exit %d, stderr %q; want %d and %q", code, s.Hide(errOut), exitUsage, u.want)
				}
			})
		}
	}
}
