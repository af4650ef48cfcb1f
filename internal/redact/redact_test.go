package redact_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/client/sqldriver"
	"github.com/e6coord/e6coord/internal/daemon"
	"github.com/e6coord/e6coord/internal/demo"
	"github.com/e6coord/e6coord/internal/fleet"
	"github.com/e6coord/e6coord/internal/secrettest"
)

// TestConfigsHideSecrets prints every configuration that holds a secret
// with every verb and through slog's text and JSON handlers, with a
// random secret as the engine password and in the Redis URL, and looks
// for the secret in each output in every form secrettest knows. (The
// bench's Options, private to cmd/e6coord, are checked in its package.)
func TestConfigsHideSecrets(t *testing.T) {
	s := secrettest.New()
	for i, u := range s.RedisURLs() {
		pw := s.A + s.B
		if i%2 == 1 {
			pw = s.B + s.A
		}
		configs := map[string]any{
			"client.Config":      client.Config{Addr: "h:1", User: "u", Password: pw, RedisURL: u},
			"sqldriver.Config":   sqldriver.Config{Config: client.Config{Addr: "h:1", User: "u", Password: pw, RedisURL: u}},
			"daemon.Config":      daemon.Config{Client: client.Config{Addr: "h:1", User: "u", Password: pw, RedisURL: u}},
			"demo.Options":       demo.Options{Client: client.Config{Addr: "h:1", User: "u", Password: pw, RedisURL: u}},
			"fleet.Config":       fleet.Config{Client: client.Config{Addr: "h:1", User: "u", Password: pw, RedisURL: u}, FloorURL: u},
			"enginetest.Options": enginetest.Options{User: "u", Password: pw},
		}
		conn, err := client.Open(client.Config{Addr: "127.0.0.1:1", User: "u", Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		configs["*client.Conn"] = conn
		d, err := daemon.New(daemon.Config{Client: client.Config{Addr: "127.0.0.1:1", User: "u", Password: pw}, Listen: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		configs["*daemon.Daemon"] = d
		srv, err := enginetest.NewServer(enginetest.Options{User: "u", Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		configs["*enginetest.Server"] = srv
		for name, cfg := range configs {
			s.CheckPrinted(t, name, cfg)
		}
	}
}

// TestConfigsShowWhatIsNotSecret checks that the redacted forms still
// say what an operator needs: the address, the user, that a password is
// set.
func TestConfigsShowWhatIsNotSecret(t *testing.T) {
	cfg := client.Config{Addr: "engine.example:443", User: "alice", Password: "pw", RedisURL: "redis://:pw@r.example:6379/0"}
	got := fmt.Sprintf("%+v", cfg)
	for _, want := range []string{"engine.example:443", "alice", "Password:xxxxx", "r.example:6379"} {
		if !bytes.Contains([]byte(got), []byte(want)) {
			t.Errorf("%%+v of client.Config = %s, want it to show %q", got, want)
		}
	}
	got = fmt.Sprintf("%v", daemon.Config{Client: client.Config{Addr: "engine.example:443", User: "alice"}})
	for _, want := range []string{"engine.example:443", "alice", "Password: "} {
		if !bytes.Contains([]byte(got), []byte(want)) {
			t.Errorf("%%v of daemon.Config = %s, want it to show %q", got, want)
		}
	}
	// The configurations that take a client.Config show it as its own
	// String does, once.
	want := fmt.Sprintf("Client:%v ", cfg)
	for name, c := range map[string]any{
		"daemon.Config": daemon.Config{Client: cfg},
		"demo.Options":  demo.Options{Client: cfg},
		"fleet.Config":  fleet.Config{Client: cfg},
	} {
		got := fmt.Sprintf("%+v", c)
		if n := bytes.Count([]byte(got), []byte(want)); n != 1 {
			t.Errorf("%%+v of %s = %s, want it to show %q once", name, got, want)
		}
		if n := bytes.Count([]byte(got), []byte("Password:")); n != 1 {
			t.Errorf("%%+v of %s = %s, want one Password field", name, got)
		}
	}
}
