package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/e6coord/e6coord/client/enginetest"
)

// secret is made at random and printed nowhere: its two halves are letters
// and digits of crypto/rand.Text, which no URL escaping changes, so that
// any text holding the secret, however encoded, holds a piece of a half.
type secret struct{ a, b string }

func newSecret() secret { return secret{a: rand.Text(), b: rand.Text()} }

// check fails t if msg holds 12 characters in a row of a half of s.
func (s secret) check(t *testing.T, what, msg string) {
	t.Helper()
	const window = 12
	for _, half := range []string{s.a, s.b} {
		for i := 0; i+window <= len(half); i++ {
			if strings.Contains(msg, half[i:i+window]) {
				t.Errorf("%s holds the secret: %s", what, s.hide(msg))
				return
			}
		}
	}
}

// hide returns msg with the halves of s replaced, for a failure message.
func (s secret) hide(msg string) string {
	return strings.NewReplacer(s.a, "<SECRET-A>", s.b, "<SECRET-B>").Replace(msg)
}

// demoRun runs `e6coord demo args...` and checks that nothing it printed
// or returned holds s. It returns the error and the output.
func demoRun(t *testing.T, s secret, args ...string) (err error, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	err = run(ctx, append([]string{"demo"}, args...), &out, &errOut)
	s.check(t, "stdout", out.String())
	s.check(t, "stderr", errOut.String())
	if err != nil {
		s.check(t, "the error", err.Error())
	}
	return err, out.String(), errOut.String()
}

// A worker process that cannot start says why: the parent's error names
// each worker's reason, redacted, and nothing shows the secret.
func TestDemoWorkerReportsReason(t *testing.T) {
	s := newSecret()
	redisURL := "redis://u:" + s.a + s.b + "@127.0.0.1:6379/0?dial_timeout=abc&client_name=" + url.QueryEscape(s.b+"/@ "+s.a)
	err, out, errOut := demoRun(t, s, "--processes", "2", "--workers", "1", "--duration", "1s", "--redis", redisURL)
	if err == nil {
		t.Fatalf("demo with dial_timeout=abc succeeded\n%s\n%s", s.hide(out), s.hide(errOut))
	}
	msg := err.Error()
	for i := range 2 {
		want := fmt.Sprintf("worker %d: exit status 1: client: redis: open redis://u:xxxxx@127.0.0.1:6379/0?dial_timeout=xxxxx&client_name=xxxxx: invalid dial_timeout", i)
		if !strings.Contains(msg, want) {
			t.Errorf("error = %q, want it to hold %q", s.hide(msg), want)
		}
	}
}

// Every way a Redis URL can fail the demo, with one process or several:
// the error says why and nothing printed holds the secret.
func TestDemoRedisURLErrorsHideSecret(t *testing.T) {
	s := newSecret()
	plain, escaped := s.a+s.b, url.QueryEscape(s.a+"/@#?&% "+s.b)
	tests := []struct{ url, want string }{
		{"redis://127.0.0.1:6379/0?password=" + plain, "unexpected option: password"},
		{"redis://u:" + escaped + "@127.0.0.1:6379/0?password=" + escaped, "unexpected option: password"},
		{"redis://u:" + plain + "@127.0.0.1:6379/0?db=" + plain, "invalid database number"},
		{"ftp://u:" + plain + "@127.0.0.1:6379/0", "invalid URL scheme"},
		{"redis://u:" + s.a + "%zz" + s.b + "@127.0.0.1:6379/0", "invalid URL escape"},
		{"redis://u:" + s.a + "#" + s.b + "@127.0.0.1:6379/0", "invalid port after host"},
		{"rediss://u:" + plain + "@127.0.0.1:6379/0?ca=%2Fno%2F" + escaped, "read ca file"},
	}
	for i, tt := range tests {
		for _, procs := range []string{"1", "2"} {
			err, _, _ := demoRun(t, s, "--processes", procs, "--workers", "1", "--duration", "1s", "--redis", tt.url)
			if err == nil {
				t.Errorf("case %d, %s processes: demo succeeded", i, procs)
			} else if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("case %d, %s processes: error = %q, want it to mention %q", i, procs, s.hide(err.Error()), tt.want)
			}
		}
	}
}

// With Redis unreachable, worker processes serve from the engine and log
// that the store is down; no log line, report or error holds the Redis
// secret or the engine password, which reach the workers in their
// environment.
func TestDemoUnreachableRedisHidesSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for a second")
	}
	s := newSecret()
	srv, err := enginetest.NewServer(enginetest.Options{User: "u", Password: s.b + s.a})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Setenv("E6_PASSWORD", s.b+s.a)
	t.Setenv("E6COORD_REDIS_URL", "redis://u:"+s.a+s.b+"@127.0.0.1:1/0?client_name="+s.a+s.b)
	err, out, errOut := demoRun(t, s, "--processes", "2", "--workers", "1", "--duration", "1s", "--log-level", "debug",
		"--engine", srv.Addr(), "--user", "u",
		"--catalog", enginetest.Catalog, "--schema", enginetest.Schema)
	if err != nil {
		t.Errorf("demo error = %s, want it served without Redis", s.hide(err.Error()))
	}
	if !strings.Contains(errOut, "store unreachable") {
		t.Errorf("stderr = %q, want the workers' records of the store unreachable", s.hide(errOut))
	}
	if !strings.Contains(out, "queries ") {
		t.Errorf("stdout = %q, want the summary", s.hide(out))
	}
}
