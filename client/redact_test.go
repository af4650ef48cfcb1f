package client_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/outputtest"
	"github.com/e6coord/e6coord/internal/secrettest"
)

// A malformed Redis URL fails Open with an error that says why and holds
// neither its password nor its values, however they are written.
func TestOpenRedactsRedisURL(t *testing.T) {
	s := secrettest.New()
	plain := s.A + s.B
	value := s.B + s.A // not the password: no scrubbing of it may hide it
	escaped := url.QueryEscape(s.A + "/@#?&% " + s.B)
	tests := []struct{ url, want string }{
		{"ftp://u:" + plain + "@127.0.0.1:6379/0?client_name=" + value, "invalid URL scheme"},
		{"redis://u:" + plain + "@127.0.0.1:notaport/0?client_name=" + value, "invalid port"},
		{"redis://127.0.0.1:6379/0?password=" + value, "unexpected option: password"},
		{"redis://u:" + escaped + "@127.0.0.1:6379/0?password=" + escaped, "unexpected option: password"},
		{"redis://u:" + plain + "@127.0.0.1:6379/0?dial_timeout=" + value, "invalid dial_timeout"},
		{"redis://u:" + plain + "@127.0.0.1:6379/0?ca=" + escaped, "rediss://"},
		{"rediss://u:" + plain + "@127.0.0.1:6379/0?ca=%2Fno%2F" + escaped, "read ca file"},
		{"redis://u:" + s.A + "%zz" + s.B + "@127.0.0.1:6379/0", "invalid URL escape"},
		{"redis://u:" + s.A + " " + s.B + "@127.0.0.1:6379/0", "invalid userinfo"},
		{"redis://u:" + s.A + "#" + s.B + "@127.0.0.1:6379/0", "invalid port"},
		{"unix://u:" + plain + "@?client_name=" + value, "empty unix socket path"},
	}
	for i, tt := range tests {
		conn, err := client.Open(client.Config{Addr: "127.0.0.1:1", Password: plain, RedisURL: tt.url})
		if err == nil {
			conn.Close()
			t.Errorf("case %d: Open() succeeded", i)
			continue
		}
		msg := err.Error()
		s.Check(t, fmt.Sprintf("case %d: Open() error", i), msg)
		if !strings.HasPrefix(msg, "client: redis: open ") || !strings.Contains(msg, tt.want) {
			t.Errorf("case %d: Open() error = %q, want \"client: redis: open ...\" mentioning %q", i, s.Hide(msg), tt.want)
		}
	}
}

// With Redis down, queries go on against the engine, and neither the
// errors nor the log records show the Redis password or values, nor the
// engine password.
func TestUnreachableRedisHidesSecret(t *testing.T) {
	s := secrettest.New()
	plain := s.A + s.B
	srv, err := enginetest.NewServer(enginetest.Options{User: "u", Password: plain})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var logs outputtest.Buffer
	conn, err := client.Open(client.Config{
		Addr: srv.Addr(), User: "u", Password: plain,
		Catalog: enginetest.Catalog, Schema: enginetest.Schema,
		RedisURL: "redis://u:" + plain + "@127.0.0.1:1/0?client_name=" + plain,
		Logger:   slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatalf("Open() error = %s", s.Hide(err.Error()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := conn.HealthCheck(ctx); err != nil {
		s.Check(t, "HealthCheck() error", err.Error())
		t.Errorf("HealthCheck() error = %s, want the engine served without Redis", s.Hide(err.Error()))
	}
	if err := conn.Close(); err != nil {
		s.Check(t, "Close() error", err.Error())
	}
	out := logs.String()
	s.Check(t, "the log", out)
	if !strings.Contains(out, "store unreachable") || !strings.Contains(out, "127.0.0.1:1") {
		t.Errorf("log = %q, want a record of the store at 127.0.0.1:1 unreachable", s.Hide(out))
	}
}

// With the engine down too, the call fails with an error that holds no
// secrettest.Secret.
func TestUnreachableEngineHidesSecret(t *testing.T) {
	s := secrettest.New()
	plain := s.A + s.B
	conn, err := client.Open(client.Config{
		Addr: "127.0.0.1:1", User: "u", Password: plain,
		RedisURL: "redis://u:" + plain + "@127.0.0.1:1/0?client_name=" + plain,
	})
	if err != nil {
		t.Fatalf("Open() error = %s", s.Hide(err.Error()))
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = conn.HealthCheck(ctx)
	if err == nil {
		t.Fatal("HealthCheck() on 127.0.0.1:1 succeeded")
	}
	s.Check(t, "HealthCheck() error", err.Error())
}
