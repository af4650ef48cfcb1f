package client_test

import (
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
)

// Two Conns given the same Redis URL share one view: the second learns the
// colour from the first without probing.
func TestRedisURLSharesState(t *testing.T) {
	mr := miniredis.RunT(t)
	srv := newEngine(t, enginetest.Options{Start: enginetest.Green})
	url := "redis://" + mr.Addr() + "/0"
	a := open(t, srv, func(cfg *client.Config) { cfg.RedisURL = url })
	b := open(t, srv, func(cfg *client.Config) { cfg.RedisURL = url })
	ctx := ctxT(t)
	if _, _, err := readAll(ctx, a, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	waitColour(t, b, cache.Green)
	if _, _, err := readAll(ctx, b, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if n := b.Stats().Coordinator.Probes; n != 0 {
		t.Errorf("second Conn probed %d times, want 0", n)
	}
}

// A malformed Redis URL is an error that does not show the password.
func TestRedisURLErrorHidesPassword(t *testing.T) {
	for _, url := range []string{
		"redis://:hunter2@[bad",
		"redis://user:hunter2@127.0.0.1:6379/notanumber",
		"ftp://user:hunter2@host/0",
	} {
		_, err := client.Open(client.Config{Addr: "127.0.0.1:1", RedisURL: url})
		if err == nil {
			t.Errorf("Open(%q) succeeded", url)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q) error shows the password: %v", url, err)
		}
	}
}

// The key prefix of a Redis URL (prefix=) holds for a Conn: Conns of two
// prefixes on one Redis do not share the colour, and every key the first
// writes starts with its prefix.
func TestRedisURLPrefix(t *testing.T) {
	mr := miniredis.RunT(t)
	srv := newEngine(t, enginetest.Options{Start: enginetest.Green})
	a := open(t, srv, func(cfg *client.Config) { cfg.RedisURL = "redis://" + mr.Addr() + "/0?prefix=tenant-a" })
	b := open(t, srv, func(cfg *client.Config) { cfg.RedisURL = "redis://" + mr.Addr() + "/0?prefix=tenant-b" })
	ctx := ctxT(t)
	if _, _, err := readAll(ctx, a, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	for _, k := range mr.Keys() {
		if !strings.HasPrefix(k, "tenant-a:") {
			t.Errorf("key %q in Redis, want every key under tenant-a:", k)
		}
	}
	if len(mr.Keys()) == 0 {
		t.Error("no key in Redis after a query on a shared store")
	}
	if _, _, err := readAll(ctx, b, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if n := b.Stats().Coordinator.Probes; n == 0 {
		t.Error("the Conn of tenant-b made no probe: it saw tenant-a's colour")
	}
}
