package main

import (
	"bytes"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/e6coord/e6coord/internal/secrettest"
)

func TestApplyEnv(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	engine := fs.String("engine", "", "")
	interval := fs.Duration("interval", time.Second, "")
	cluster := fs.String("cluster", "", "")
	redis := fs.String("redis", "", "")
	t.Setenv("E6COORD_ENGINE", "from-env:1")
	t.Setenv("E6COORD_INTERVAL", "3s")
	t.Setenv("E6COORD_CLUSTER", "env-cluster")
	t.Setenv("E6COORD_REDIS", "redis://not-this")
	if err := fs.Parse([]string{"--cluster", "flag-cluster"}); err != nil {
		t.Fatal(err)
	}
	if err := applyEnv(fs); err != nil {
		t.Fatal(err)
	}
	if *engine != "from-env:1" || *interval != 3*time.Second || *cluster != "flag-cluster" || *redis != "" {
		t.Errorf("engine %q, interval %v, cluster %q, redis %q; want from-env:1, 3s, flag-cluster (the flag wins), empty",
			*engine, *interval, *cluster, *redis)
	}
	t.Setenv("E6COORD_INTERVAL", "soon")
	fs2 := flag.NewFlagSet("x", flag.ContinueOnError)
	fs2.Duration("interval", time.Second, "")
	if err := applyEnv(fs2); err == nil || !strings.Contains(err.Error(), "E6COORD_INTERVAL") {
		t.Errorf("applyEnv with a bad value = %v, want an error naming E6COORD_INTERVAL", err)
	}
}

func TestSecretSources(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, k := range []string{"E6_PASSWORD", "E6COORD_REDIS_URL", "E6COORD_REDIS_URL_FILE", "CREDENTIALS_DIRECTORY"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	if p, err := enginePassword(""); err != nil || p != "" {
		t.Errorf("no source: %q, %v; want empty", p, err)
	}
	creds := t.TempDir()
	if err := os.WriteFile(filepath.Join(creds, "e6-password"), []byte("from-cred\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(creds, "redis-url"), []byte("redis://:c@h:1/0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	if p, _ := enginePassword(""); p != "from-cred" {
		t.Errorf("credential: %q, want from-cred", p)
	}
	if u, _ := redisURL("", slog.New(slog.DiscardHandler)); u != "redis://:c@h:1/0" {
		t.Errorf("credential: %q, want redis://:c@h:1/0", u)
	}
	t.Setenv("E6_PASSWORD", "from-env")
	if p, _ := enginePassword(""); p != "from-env" {
		t.Errorf("env: %q, want from-env", p)
	}
	if p, _ := enginePassword(write("pw", "from-file\n")); p != "from-file" {
		t.Errorf("file: %q, want from-file", p)
	}
	t.Setenv("E6COORD_REDIS_URL_FILE", write("url", "redis://:f@h:1/0\n"))
	if u, _ := redisURL("", slog.New(slog.DiscardHandler)); u != "redis://:f@h:1/0" {
		t.Errorf("url file: %q", u)
	}
	t.Setenv("E6COORD_REDIS_URL", "redis://:e@h:1/0")
	if u, _ := redisURL("", slog.New(slog.DiscardHandler)); u != "redis://:e@h:1/0" {
		t.Errorf("url env: %q", u)
	}
	if u, _ := redisURL("redis://h:2/0", slog.New(slog.DiscardHandler)); u != "redis://h:2/0" {
		t.Errorf("url flag: %q", u)
	}
	secret := write("missing-dir-check", "s3cret")
	os.Remove(secret)
	if _, err := enginePassword(secret); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a missing file: %v; want an error without the content", err)
	}
}

func TestLogFormats(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		f := logFlags{level: "info", format: format}
		l, err := f.logger(&buf)
		if err != nil {
			t.Fatal(err)
		}
		l.Info("hello")
		if format == "json" && !strings.HasPrefix(buf.String(), "{") || !strings.Contains(buf.String(), "hello") {
			t.Errorf("%s: %q", format, buf.String())
		}
	}
	if _, err := (&logFlags{level: "info", format: "xml"}).logger(&bytes.Buffer{}); err == nil {
		t.Error("--log-format xml accepted")
	}
}

// TestRedisURLOnArgvWarns: a --redis URL that holds a password is logged
// once at Warn, naming the safe sources and not the URL; one without a
// secret, or one from the environment, is not.
func TestRedisURLOnArgvWarns(t *testing.T) {
	s := secrettest.New()
	for _, tc := range []struct {
		flag, env string
		warn      bool
	}{
		{flag: "redis://:" + s.A + "@h:1/0", warn: true},
		{flag: "redis://u:" + s.B + "@h:1/0?pool_size=2", warn: true},
		{flag: "redis+sentinel://h:1/m?sentinel_password=" + s.A, warn: true},
		{flag: "redis://h:1/0", warn: false},
		{flag: "redis://h:1/0?dial_timeout=1s&pool_size=2", warn: false},
		{flag: "redis://:" + s.A, warn: true}, // the '@' forgotten: malformed
		{flag: s.B, warn: true},               // the password alone
		{env: "redis://:" + s.A + "@h:1/0", warn: false},
	} {
		t.Setenv("E6COORD_REDIS_URL", tc.env)
		var b bytes.Buffer
		log := slog.New(slog.NewTextHandler(&b, nil))
		if _, err := redisURL(tc.flag, log); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		s.Check(t, "the warning", out)
		if got := strings.Count(out, "level=WARN"); tc.warn != (got == 1) || got > 1 {
			t.Errorf("--redis %q, env %q: %d warnings, want %v: %s", s.Hide(tc.flag), s.Hide(tc.env), got, tc.warn, s.Hide(out))
		}
		if tc.warn && (!strings.Contains(out, "E6COORD_REDIS_URL") || !strings.Contains(out, "E6COORD_REDIS_URL_FILE")) {
			t.Errorf("the warning names neither E6COORD_REDIS_URL nor E6COORD_REDIS_URL_FILE: %s", out)
		}
	}
}
