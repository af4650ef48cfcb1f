package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	if u, _ := redisURL(""); u != "redis://:c@h:1/0" {
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
	if u, _ := redisURL(""); u != "redis://:f@h:1/0" {
		t.Errorf("url file: %q", u)
	}
	t.Setenv("E6COORD_REDIS_URL", "redis://:e@h:1/0")
	if u, _ := redisURL(""); u != "redis://:e@h:1/0" {
		t.Errorf("url env: %q", u)
	}
	if u, _ := redisURL("redis://h:2/0"); u != "redis://h:2/0" {
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
