package redact_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/client/sqldriver"
	"github.com/e6coord/e6coord/internal/bench"
	"github.com/e6coord/e6coord/internal/daemon"
	"github.com/e6coord/e6coord/internal/demo"
	"github.com/e6coord/e6coord/internal/fleet"
	"github.com/e6coord/e6coord/internal/secrettest"
)

// redisURLs are the Redis URL forms that hold a password, each with
// secret s in every place a password may sit, and the plausible mistakes
// of an operator.
func redisURLs(s secrettest.Secret) []string {
	return []string{
		"redis://user:" + s.A + s.B + "@127.0.0.1:6379/0",
		"redis://:" + s.A + "@127.0.0.1:6379/0?pool_size=2",
		"rediss://u:" + s.B + "@h:6380/0?ca=/etc/ca.pem",
		"redis+sentinel://:" + s.A + "@h1:26379,h2:26379/mymaster?sentinel_password=" + s.B,
		"redis+cluster://u:" + s.B + s.A + "@h1:7000,h2:7001",
		// Mistakes: the password in the user slot, no scheme, the
		// password alone.
		"redis://" + s.A + s.B + "@127.0.0.1:6379/0",
		s.B + "@127.0.0.1:6379",
		s.A + s.B,
		"redis://:" + s.A,                                   // the '@' forgotten
		"redis+sentinel://:" + s.B + "s1:26379/m",           // the same, into a host
		"redis+sentinel://s1/m?sentinel_password=ab&" + s.A, // an '&' in it
	}
}

// TestConfigsHideSecrets prints every configuration that holds a secret
// with every verb and through slog's text and JSON handlers, with a
// random secret as the engine password and in the Redis URL, and looks
// for the secret in each output in every form secrettest knows.
func TestConfigsHideSecrets(t *testing.T) {
	s := secrettest.New()
	for i, u := range redisURLs(s) {
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
			"bench.Options":      bench.Options{RedisURL: u},
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
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
				s.Check(t, name+" "+verb, fmt.Sprintf(verb, cfg))
				// As a field of a struct, and behind a pointer.
				s.Check(t, name+" in a struct "+verb, fmt.Sprintf(verb, struct{ C any }{cfg}))
			}
			for hname, h := range map[string]func(*bytes.Buffer) slog.Handler{
				"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
				"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
			} {
				var b bytes.Buffer
				slog.New(h(&b)).Info("config", "cfg", cfg, slog.Any("any", cfg))
				if b.Len() == 0 {
					t.Fatalf("%s: slog %s printed nothing", name, hname)
				}
				s.Check(t, name+" slog "+hname, b.String())
			}
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
