package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/e6coord/e6coord/cache"
	redisstore "github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/internal/secrettest"
)

// status and events with the Redis password a random secret, from
// E6COORD_REDIS_URL and from E6COORD_REDIS_URL_FILE, and as the password
// attempted against a Redis that wants another: the secret shows in no
// output, error or argument, at the debug log level too.
func TestInspectHidesRedisPassword(t *testing.T) {
	cleanEnv(t)
	s := secrettest.New()
	password := s.A + s.B
	rs, plain := startRedis(t)
	write(t, plain, cache.State{Active: cache.Blue, ConfirmedAt: time.Now(), ChangedBy: "host-1"})
	requirePass(t, rs.Addr(), "", password)
	secretURL := "redis://:" + password + "@" + rs.Addr() + "/0"
	st, err := redisstore.Open(secretURL, redisstore.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	urlFile := filepath.Join(t.TempDir(), "redis-url")
	if err := os.WriteFile(urlFile, []byte(secretURL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	redacted := "redis://xxxxx@" + rs.Addr() + "/0"

	check := func(t *testing.T, args []string, stdout, stderr string) {
		t.Helper()
		s.Check(t, "the arguments", strings.Join(args, " "))
		s.Check(t, "stdout", stdout)
		s.Check(t, "stderr", stderr)
	}
	sources := []struct {
		name, env, value string
	}{
		{"E6COORD_REDIS_URL", "E6COORD_REDIS_URL", secretURL},
		{"E6COORD_REDIS_URL_FILE", "E6COORD_REDIS_URL_FILE", urlFile},
	}
	for _, src := range sources {
		t.Run("status/"+src.name, func(t *testing.T) {
			t.Setenv(src.env, src.value)
			args := append([]string{"status", "-o", "json", "--log-level", "debug"}, scopeArgs...)
			code, out, errOut := runCmd(t, context.Background(), args...)
			check(t, args, out, errOut)
			if code != 0 {
				t.Fatalf("exit status %d, want 0; stderr:\n%s", code, s.Hide(errOut))
			}
			if got := parseState(t, out); got.Status != "healthy" || got.Store.Address != redacted {
				t.Errorf("state %+v, want healthy, from %s", got, redacted)
			}
		})
		t.Run("events/"+src.name, func(t *testing.T) {
			t.Setenv(src.env, src.value)
			args := append([]string{"events", "-o", "json", "--log-level", "debug"}, scopeArgs...)
			c := startCmd(t, args...)
			snap := c.next(t)
			next := cache.Green
			if parseState(t, snap).Active == "green" {
				next = cache.Blue
			}
			rec := write(t, st, cache.State{Active: next, ConfirmedAt: time.Now(), ChangedBy: "host-2"})
			change := c.next(t)
			code := c.stop(t)
			check(t, args, snap+"\n"+change, c.stderr.String())
			if got := parseState(t, snap); got.Type != "snapshot" || got.Store.Address != redacted {
				t.Errorf("first line %+v, want a snapshot from %s", got, redacted)
			}
			if got := parseState(t, change); got.Type != "change" || got.Generation != rec.Generation {
				t.Errorf("second line %+v, want the change to generation %d", got, rec.Generation)
			}
			if code != 0 {
				t.Errorf("exit status %d, want 0", code)
			}
		})
	}

	// Redis now wants another password: the secret is only attempted.
	requirePass(t, rs.Addr(), password, "another-password")
	t.Run("status/wrong password", func(t *testing.T) {
		t.Setenv("E6COORD_REDIS_URL", secretURL)
		args := append([]string{"status", "-o", "json", "--log-level", "debug"}, scopeArgs...)
		code, out, errOut := runCmd(t, context.Background(), args...)
		check(t, args, out, errOut)
		got := parseState(t, out)
		if code != 1 || got.Store.State != "denied" || got.Store.LastErrorKind != "denied" || got.Store.Address != redacted {
			t.Errorf("exit %d, state %+v; want 1 with the store denied at %s", code, got, redacted)
		}
		if !strings.Contains(errOut, "access denied") {
			t.Errorf("stderr %q, want the refusal", s.Hide(errOut))
		}
	})
	t.Run("events/wrong password", func(t *testing.T) {
		t.Setenv("E6COORD_REDIS_URL_FILE", urlFile)
		args := append([]string{"events", "--log-level", "debug"}, scopeArgs...)
		c := startCmd(t, args...)
		c.stderr.WaitFor(t, "refused access", 1, inspectWait)
		c.stderr.WaitFor(t, "access denied", 1, inspectWait)
		code := c.stop(t)
		check(t, args, "", c.stderr.String())
		if code != 0 {
			t.Errorf("exit status %d, want 0", code)
		}
		select {
		case l := <-c.stdout.lines:
			t.Errorf("stdout %q, want nothing while Redis refuses", s.Hide(l))
		default:
		}
	})
	t.Run("malformed url", func(t *testing.T) {
		t.Setenv("E6COORD_REDIS_URL", "redis://:"+password+"@"+rs.Addr()+"/db"+password)
		for _, cmd := range []string{"status", "events"} {
			args := append([]string{cmd}, scopeArgs...)
			code, out, errOut := runCmd(t, context.Background(), args...)
			check(t, args, out, errOut)
			// The password also sits in the path: nothing shows after
			// the scheme.
			if code != 2 || !strings.Contains(errOut, "redis://xxxxx:") {
				t.Errorf("%s: exit %d, stderr %q; want 2 and the URL hidden after its scheme", cmd, code, s.Hide(errOut))
			}
		}
	})
}

// requirePass makes the Redis at addr, reached with password old, want
// password next.
func requirePass(t *testing.T, addr, old, next string) {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr, Password: old})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), inspectWait)
	defer cancel()
	if err := c.ConfigSet(ctx, "requirepass", next).Err(); err != nil {
		t.Fatalf("config set requirepass: %v", err)
	}
}
