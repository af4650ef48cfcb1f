package main

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/cachetest"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
)

// statusJSON runs `status -o json` with args and returns its exit status
// and state.
func statusJSON(t *testing.T, args ...string) (int, stateJSON, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), inspectWait)
	defer cancel()
	code, out, errOut := runCmd(t, ctx, append([]string{"status", "-o", "json"}, args...)...)
	if strings.Count(out, "\n") != 1 {
		t.Fatalf("status printed %q, want one line; stderr:\n%s", out, errOut)
	}
	return code, parseState(t, out), errOut
}

// switchBudget is how soon a switch the engine accepts should show in
// `status`: a figure TestStatusShowsSwitch logs beside the time it
// measures. It waits for the switch up to inspectWait, ten times as long,
// which only catches a switch that never shows.
const switchBudget = time.Second

// A switch the engine accepts shows in `status -o json`: two worker Conns
// share the state through a real redis-server, and status, run in the
// process over and over, reads it from there.
func TestStatusShowsSwitch(t *testing.T) {
	cleanEnv(t)
	rs, _ := startRedis(t)
	srv, err := enginetest.NewServer(enginetest.Options{User: "u", Password: "p", Start: enginetest.Blue})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var conns []*client.Conn
	for range 2 {
		conn, err := client.Open(client.Config{
			Addr: srv.Addr(), User: "u", Password: "p", Cluster: "Prod-EU",
			Catalog: enginetest.Catalog, Schema: enginetest.Schema, RedisURL: rs.URL(),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conns = append(conns, conn)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for _, conn := range conns { // the workers' queries carry the engine's announcement
		wg.Go(func() {
			for ctx.Err() == nil {
				rows, err := conn.Query(ctx, "SELECT 1")
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("query: %v", err)
					}
					return
				}
				for rows.Next(ctx) {
				}
				rows.Close()
			}
		})
	}
	args := []string{"--cluster", "Prod-EU", "--engine", srv.Addr(), "--redis", rs.URL()}

	// poll runs status until cond holds, and returns the state and how
	// long it took; it fails the test after inspectWait.
	poll := func(what string, cond func(stateJSON) bool) (stateJSON, time.Duration, int) {
		start := time.Now()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for n := 1; ; n++ {
			code, st, errOut := statusJSON(t, args...)
			if cond(st) {
				if code != 0 {
					t.Errorf("status of %+v exited %d, want 0; stderr:\n%s", st, code, errOut)
				}
				return st, time.Since(start), n
			}
			if time.Since(start) > inspectWait {
				t.Fatalf("status never showed %s; last %+v", what, st)
			}
			<-tick.C
		}
	}
	before, _, _ := poll("blue active", func(s stateJSON) bool { return s.Active == "blue" && s.Status == "healthy" })

	begun := time.Now()
	if err := srv.BeginSwitch(enginetest.Green); err != nil { // overlap: the engine accepts green from now on
		t.Fatal(err)
	}
	after, took, runs := poll("green active", func(s stateJSON) bool { return s.Active == "green" })
	t.Logf("the switch showed in status %v after the engine began accepting green (%d runs of status; budget %v)",
		took.Round(time.Millisecond), runs, switchBudget)
	if after.Generation <= before.Generation || after.ChangedBy == "" || after.ChangedAt == nil || after.ChangedAt.Before(begun.Add(-time.Second)) {
		t.Errorf("after the switch: %+v; want a newer generation than %d, changed just now by a worker", after, before.Generation)
	}
	if after.Store.State != "up" || after.Store.Address != rs.URL() {
		t.Errorf("store %+v, want up at %s", after.Store, rs.URL())
	}
	srv.FinishSwitch()
}

func TestStatusWaitFor(t *testing.T) {
	cleanEnv(t)
	rs, st := startRedis(t)
	write(t, st, cache.State{Active: cache.Blue, ConfirmedAt: time.Now(), ChangedBy: "p1"})
	args := append([]string{"status", "--redis", rs.URL(), "-o", "json", "--log-level", "debug"}, scopeArgs...)

	t.Run("becomes active", func(t *testing.T) {
		c := startCmd(t, append(args, "--wait-for", "green", "--timeout", "20s")...)
		c.stderr.WaitFor(t, "watching the store's changes", 1, inspectWait) // subscribed, and blue read
		select {
		case l := <-c.stdout.lines:
			t.Fatalf("status printed %q while blue is active", l)
		default:
		}
		start := time.Now()
		rec := write(t, st, cache.State{Active: cache.Green, ConfirmedAt: time.Now(), ChangedBy: "p2"})
		if code := c.wait(t); code != 0 {
			t.Fatalf("exit status %d, want 0; stderr:\n%s", code, c.stderr.String())
		}
		t.Logf("status --wait-for green exited 0 %v after green was stored", time.Since(start).Round(time.Millisecond))
		got := parseState(t, c.next(t))
		if got.Active != "green" || got.Generation != rec.Generation || got.ChangedBy != "p2" || got.Status != "healthy" {
			t.Errorf("printed %+v, want green at generation %d by p2, healthy", got, rec.Generation)
		}
	})

	t.Run("already active", func(t *testing.T) {
		code, out, errOut := runCmd(t, context.Background(), append(args, "--wait-for", "green", "--timeout", "5s")...)
		if code != 0 || parseState(t, out).Active != "green" {
			t.Errorf("exit %d, output %q, want 0 and green at once; stderr:\n%s", code, out, errOut)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		// The command's own --timeout ends the wait, not the test's
		// context, whose deadline (inspectWait) only catches a hang; and it
		// ends it while status watches the store's changes, having read
		// green, not before. The second of --timeout leaves room for that
		// read on a busy machine.
		ctx, cancel := context.WithTimeout(context.Background(), inspectWait)
		defer cancel()
		start := time.Now()
		code, out, errOut := runCmd(t, ctx, append(args, "--wait-for", "blue", "--timeout", "1s")...)
		t.Logf("status --wait-for blue --timeout 1s exited %d after %v", code, time.Since(start).Round(time.Millisecond))
		if ctx.Err() != nil {
			t.Fatalf("status --wait-for blue --timeout 1s ran past the test's %v deadline; stderr:\n%s", inspectWait, errOut)
		}
		if code != 4 {
			t.Errorf("exit status %d, want 4; stderr:\n%s", code, errOut)
		}
		if !strings.Contains(errOut, "watching the store's changes") {
			t.Errorf("stderr %q; want status to have watched the store's changes before it gave up", errOut)
		}
		if out != "" || !strings.Contains(errOut, "waiting for blue: not active within --timeout 1s; last seen: healthy active=green") {
			t.Errorf("stdout %q, stderr %q; want nothing printed, and why on stderr", out, errOut)
		}
	})
}

func TestStatusExitCodes(t *testing.T) {
	cleanEnv(t)
	rs, st := startRedis(t)
	redisArgs := append([]string{"--redis", rs.URL()}, scopeArgs...)

	t.Run("no record: 3", func(t *testing.T) {
		code, s, errOut := statusJSON(t, redisArgs...)
		if code != 3 || s.Status != "unknown" || s.Generation != 0 || s.Store.State != "up" {
			t.Errorf("exit %d, %+v; want 3, unknown at generation 0 with the store up", code, s)
		}
		if !strings.Contains(errOut, "no active colour known for prod-eu/e6.example:9000") {
			t.Errorf("stderr %q, want the reason", errOut)
		}
	})

	confirmed := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond) // the store keeps milliseconds
	rec := write(t, st, cache.State{Active: cache.Blue, Pending: cache.Green, ConfirmedAt: confirmed, ChangedAt: confirmed, ChangedBy: "host-1"})
	if err := cachetest.Pin(context.Background(), st, testScope, cache.Blue, time.Minute, "q1"); err != nil {
		t.Fatal(err)
	}
	t.Run("stale: 3", func(t *testing.T) {
		code, s, errOut := statusJSON(t, redisArgs...)
		if code != 3 || s.Status != "degraded" || s.Active != "blue" || s.Pending != "green" || s.Generation != rec.Generation {
			t.Errorf("exit %d, %+v; want 3, degraded, blue with green pending at generation %d", code, s, rec.Generation)
		}
		if s.ConfirmedAt == nil || !s.ConfirmedAt.Equal(confirmed) || s.ChangedBy != "host-1" || s.Pins.Blue != 1 || s.Pins.Green != 0 {
			t.Errorf("state %+v, want confirmed at %v by host-1, one blue pin", s, confirmed)
		}
		if !strings.Contains(errOut, "degraded: blue was last confirmed more than --cache-ttl 5m0s ago") {
			t.Errorf("stderr %q, want the reason", errOut)
		}
	})
	t.Run("fresh under a longer --cache-ttl: 0", func(t *testing.T) {
		if code, s, errOut := statusJSON(t, append(redisArgs, "--cache-ttl", "2h")...); code != 0 || s.Status != "healthy" {
			t.Errorf("exit %d, %+v, stderr %q; want 0, healthy", code, s, errOut)
		}
	})
	t.Run("flags from the environment", func(t *testing.T) {
		t.Setenv("E6COORD_ENGINE", "e6.example:9000")
		t.Setenv("E6COORD_CLUSTER", "PROD-eu")
		t.Setenv("E6COORD_CACHE_TTL", "2h")
		t.Setenv("E6COORD_O", "text")
		t.Setenv("E6COORD_REDIS_URL", rs.URL())
		code, out, errOut := runCmd(t, context.Background(), "status")
		if want := "healthy active=blue pending=green gen="; code != 0 || !strings.HasPrefix(out, want) || !strings.Contains(out, "pins blue=1 green=0 store up") {
			t.Errorf("exit %d, output %q, stderr %q; want 0 and a line starting %q", code, out, errOut, want)
		}
	})
	t.Run("unreachable: 1", func(t *testing.T) {
		code, s, errOut := statusJSON(t, append(scopeArgs, "--redis", "redis://127.0.0.1:1/0")...)
		if code != 1 || s.Store.State != "unreachable" || s.Store.LastErrorKind == "" || s.Status != "unknown" || s.Store.Address != "redis://127.0.0.1:1/0" {
			t.Errorf("exit %d, %+v; want 1, the store unreachable", code, s)
		}
		if !strings.Contains(errOut, "e6coord: status: read the record: redis: load prod-eu/e6.example:9000") {
			t.Errorf("stderr %q, want the error", errOut)
		}
	})

	secretFile := filepath.Join(t.TempDir(), "missing")
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string // on stderr
	}{
		{"no engine", nil, []string{"status", "--redis", rs.URL()}, "no engine"},
		{"no redis url", nil, append([]string{"status"}, scopeArgs...), "no Redis URL"},
		{"bad -o", nil, append([]string{"status", "-o", "yaml"}, redisArgs...), `bad -o "yaml"`},
		{"unknown flag", nil, append([]string{"status", "--colour"}, redisArgs...), "flag provided but not defined: -colour"},
		{"bad wait-for", nil, append([]string{"status", "--wait-for", "red"}, redisArgs...), "bad --wait-for"},
		{"bad cache-ttl", nil, append([]string{"status", "--cache-ttl", "0s"}, redisArgs...), "bad --cache-ttl"},
		{"bad env value", map[string]string{"E6COORD_TIMEOUT": "soon"}, append([]string{"status"}, redisArgs...), "E6COORD_TIMEOUT"},
		{"argument", nil, append([]string{"status", "green"}, redisArgs...), `unexpected argument "green"`},
		{"malformed url", nil, append([]string{"status", "--redis", "redis://127.0.0.1:6379/zero"}, scopeArgs...), "invalid database number"},
		{"missing url file", map[string]string{"E6COORD_REDIS_URL_FILE": secretFile}, append([]string{"status"}, scopeArgs...), "read secret file"},
		{"events: no engine", nil, []string{"events", "--redis", rs.URL()}, "no engine"},
		{"events: no redis url", nil, append([]string{"events"}, scopeArgs...), "no Redis URL"},
		{"events: bad -o", nil, append([]string{"events", "-o", "xml"}, redisArgs...), `bad -o "xml"`},
	} {
		t.Run("usage: 2/"+tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, out, errOut := runCmd(t, context.Background(), tt.args...)
			if code != 2 || out != "" || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing on stdout, and %q", code, out, errOut, tt.want)
			}
		})
	}

	for _, cmd := range []string{"status", "events"} {
		code, out, errOut := runCmd(t, context.Background(), cmd, "--help")
		hasWait := strings.Contains(errOut, "-wait-for")
		if code != 0 || !strings.Contains(errOut, "usage: e6coord "+cmd+" --engine host:port") || hasWait != (cmd == "status") {
			t.Errorf("%s --help: exit %d, stdout %q, stderr %q; want 0 and the usage", cmd, code, out, errOut)
		}
	}
}
