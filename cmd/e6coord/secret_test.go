package main

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/secrettest"
)

// demoRun runs `e6coord demo args...` and checks that nothing it printed
// or returned holds s. It returns the error and the output.
func demoRun(t *testing.T, s secrettest.Secret, args ...string) (err error, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	err = run(ctx, append([]string{"demo"}, args...), &out, &errOut)
	s.Check(t, "stdout", out.String())
	s.Check(t, "stderr", errOut.String())
	if err != nil {
		s.Check(t, "the error", err.Error())
	}
	return err, out.String(), errOut.String()
}

// A worker process that cannot start says why: the parent's error names
// each worker's reason, redacted, and nothing shows the secrettest.Secret.
func TestDemoWorkerReportsReason(t *testing.T) {
	s := secrettest.New()
	redisURL := "redis://u:" + s.A + s.B + "@127.0.0.1:6379/0?dial_timeout=abc&client_name=" + url.QueryEscape(s.B+"/@ "+s.A)
	err, out, errOut := demoRun(t, s, "--processes", "2", "--workers", "1", "--duration", "1s", "--redis", redisURL)
	if err == nil {
		t.Fatalf("demo with dial_timeout=abc succeeded\n%s\n%s", s.Hide(out), s.Hide(errOut))
	}
	msg := err.Error()
	for i := range 2 {
		want := fmt.Sprintf("worker %d: exit status 1: fleet: redis: open redis://xxxxx@127.0.0.1:6379/0?dial_timeout=xxxxx&client_name=xxxxx: invalid dial_timeout", i)
		if !strings.Contains(msg, want) {
			t.Errorf("error = %q, want it to hold %q", s.Hide(msg), want)
		}
	}
}

// Every way a Redis URL can fail the demo, with one process or several:
// the error says why and nothing printed holds the secrettest.Secret.
func TestDemoRedisURLErrorsHideSecret(t *testing.T) {
	s := secrettest.New()
	plain, escaped := s.A+s.B, url.QueryEscape(s.A+"/@#?&% "+s.B)
	tests := []struct{ url, want string }{
		{"redis://127.0.0.1:6379/0?password=" + plain, "unexpected option: password"},
		{"redis://u:" + escaped + "@127.0.0.1:6379/0?password=" + escaped, "unexpected option: password"},
		{"redis://u:" + plain + "@127.0.0.1:6379/0?db=" + plain, "invalid db: want a whole number"},
		{"ftp://u:" + plain + "@127.0.0.1:6379/0", "invalid URL scheme"},
		{"redis://u:" + s.A + "%zz" + s.B + "@127.0.0.1:6379/0", "invalid URL escape"},
		{"redis://u:" + s.A + "#" + s.B + "@127.0.0.1:6379/0", "invalid port after host"},
		{"rediss://u:" + plain + "@127.0.0.1:6379/0?ca=%2Fno%2F" + escaped, "read ca file"},
	}
	for i, tt := range tests {
		for _, procs := range []string{"1", "2"} {
			err, _, _ := demoRun(t, s, "--processes", procs, "--workers", "1", "--duration", "1s", "--redis", tt.url)
			if err == nil {
				t.Errorf("case %d, %s processes: demo succeeded", i, procs)
			} else if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("case %d, %s processes: error = %q, want it to mention %q", i, procs, s.Hide(err.Error()), tt.want)
			}
		}
	}
}

// With Redis unreachable, worker processes serve from the engine and log
// that the store is down; no log line, report or error holds the Redis
// secrettest.Secret or the engine password, which reach the workers in their
// environment.
func TestDemoUnreachableRedisHidesSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for a second")
	}
	s := secrettest.New()
	srv, err := enginetest.NewServer(enginetest.Options{User: "u", Password: s.B + s.A})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Setenv("E6_PASSWORD", s.B+s.A)
	t.Setenv("E6COORD_REDIS_URL", "redis://u:"+s.A+s.B+"@127.0.0.1:1/0?client_name="+s.A+s.B)
	err, out, errOut := demoRun(t, s, "--processes", "2", "--workers", "1", "--duration", "1s", "--log-level", "debug",
		"--engine", srv.Addr(), "--user", "u",
		"--catalog", enginetest.Catalog, "--schema", enginetest.Schema)
	if err != nil {
		t.Errorf("demo error = %s, want it served without Redis", s.Hide(err.Error()))
	}
	if !strings.Contains(errOut, "store unreachable") {
		t.Errorf("stderr = %q, want the workers' records of the store unreachable", s.Hide(errOut))
	}
	if !strings.Contains(out, "queries ") {
		t.Errorf("stdout = %q, want the summary", s.Hide(out))
	}
}
