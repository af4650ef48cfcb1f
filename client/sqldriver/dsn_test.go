package sqldriver_test

import (
	"bytes"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/client/sqldriver"
	"github.com/e6coord/e6coord/internal/outputtest"
	"github.com/e6coord/e6coord/internal/secrettest"
)

var cmpConfig = cmpopts.IgnoreFields(sqldriver.Config{}, "Config.TLS", "Config.Logger")

func TestParseDSN(t *testing.T) {
	redis := "rediss://:r3dis@redis.internal:6380/0?ca=/etc/ca.pem"
	tests := []struct {
		dsn  string
		want sqldriver.Config
	}{
		{"e6data://engine:9000", sqldriver.Config{Config: client.Config{Addr: "engine:9000"}}},
		{"E6DATA://engine", sqldriver.Config{Config: client.Config{Addr: "engine"}}},
		{"e6data://alice@10.0.0.1:80/", sqldriver.Config{Config: client.Config{Addr: "10.0.0.1:80", User: "alice"}}},
		{"e6data://alice:pw@[::1]:9000/main", sqldriver.Config{Config: client.Config{Addr: "[::1]:9000", User: "alice", Password: "pw", Catalog: "main"}}},
		{"e6data://alice:p%2Fw%3F%23%25%3A@e.example.com:443/main/sales?cluster=Prod&secure=true",
			sqldriver.Config{Config: client.Config{Addr: "e.example.com:443", User: "alice", Password: "p/w?#%:", Catalog: "main", Schema: "sales", Cluster: "Prod"}, Secure: true}},
		{"e6data://alice:p@ss@e:1", sqldriver.Config{Config: client.Config{Addr: "e:1", User: "alice", Password: "p@ss"}}},
		{"e6data://e:1//sales", sqldriver.Config{Config: client.Config{Addr: "e:1", Schema: "sales"}}},
		{"e6data://e:1/ma%2Fin/s%20s?redis=" + url.QueryEscape(redis) + "&decimal=rat&prefetch_bytes=4096",
			sqldriver.Config{Config: client.Config{Addr: "e:1", Catalog: "ma/in", Schema: "s s", RedisURL: redis, PrefetchBytes: 4096}, Decimal: sqldriver.DecimalRat}},
		{"e6data://e:1?decimal=float64&secure=false&cluster=a+b", sqldriver.Config{Config: client.Config{Addr: "e:1", Cluster: "a b"}, Decimal: sqldriver.DecimalFloat64}},
	}
	for _, tt := range tests {
		got, err := sqldriver.ParseDSN(tt.dsn)
		if err != nil {
			t.Errorf("ParseDSN(%q): %v", tt.dsn, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmpConfig); diff != "" {
			t.Errorf("ParseDSN(%q) (-want +got):\n%s", tt.dsn, diff)
		}
		back, err := sqldriver.ParseDSN(got.FormatDSN())
		if err != nil || !cmp.Equal(got, back, cmpConfig) {
			t.Errorf("ParseDSN(FormatDSN()) of %q = %+v, %v; want it back", tt.dsn, back, err)
		}
	}
}

// A malformed DSN gets an error that says why and holds no piece of the
// password or of the Redis URL, wherever the secret stands.
func TestParseDSNErrorsHideSecrets(t *testing.T) {
	s := secrettest.New()
	pw := s.A + s.B
	redis := url.QueryEscape("redis://:" + s.B + s.A + "@r:6379/0")
	tests := []struct{ dsn, want string }{
		{"mysql://u:" + pw + "@e:1", "must begin with e6data://"},
		{"e6data://u:" + pw + "#x@e:1", "'#' must be escaped"},
		{"e6data://u:" + s.A + "/" + s.B + "@e:1", "invalid port"},
		{"e6data://u:" + pw + "@e!x:1", "malformed engine host"},
		{"e6data://u:" + s.A + "?" + s.B + "@e:1", "invalid port"},
		{"e6data://u:" + s.A + "%zz" + s.B + "@e:1", "percent-encoding in the password"},
		{"e6data://u%zz" + s.A + ":x@e:1", "percent-encoding in the user name"},
		{"e6data://u:" + pw + "@e:notaport", "invalid port"},
		{"e6data://u:" + pw + "@e:70000", "invalid port"},
		{"e6data://u:" + pw + "@", "no engine host"},
		{"e6data://u:" + pw + "@[::1/", "unclosed '['"},
		{"e6data://u:" + pw + "@e:1/a/b/c", "more than /catalog/schema"},
		{"e6data://u:" + pw + "@e:1?redis=" + redis + "&redis=" + redis, "given twice"},
		{"e6data://u:" + pw + "@e:1?" + s.A + "=1", "option 1 is unknown"},
		{"e6data://u:" + pw + "@e:1?cluster=x&bogus=" + s.A, "option 2 is unknown"},
		{"e6data://u:" + pw + "@e:1?secure=" + s.A, "secure must be true or false"},
		{"e6data://u:" + pw + "@e:1?decimal=" + s.A, "decimal must be string, rat or float64"},
		{"e6data://u:" + pw + "@e:1?prefetch_bytes=-1", "prefetch_bytes must be a positive number"},
		{"e6data://u:" + pw + "@e:1?redis=%zz" + s.A, "bad escaping in the value of redis"},
	}
	for i, tt := range tests {
		_, err := sqldriver.ParseDSN(tt.dsn)
		if err == nil {
			t.Errorf("case %d: ParseDSN(%s) succeeded", i, s.Hide(tt.dsn))
			continue
		}
		s.Check(t, fmt.Sprintf("case %d: the error", i), err.Error())
		if !strings.HasPrefix(err.Error(), "sqldriver: malformed DSN: ") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("case %d: error %q, want \"sqldriver: malformed DSN: ...\" mentioning %q", i, s.Hide(err.Error()), tt.want)
		}
		// sql.Open reports the same error, at once.
		if db, err := sqlOpen(tt.dsn); err == nil {
			db.Close()
			t.Errorf("case %d: sql.Open succeeded", i)
		} else {
			s.Check(t, fmt.Sprintf("case %d: sql.Open's error", i), err.Error())
		}
	}
}

// Every way of printing a Config or a Connector hides the password and
// the Redis URL's secrets; a Redis URL that does not parse is reported
// without them.
func TestConfigRedacted(t *testing.T) {
	s := secrettest.New()
	cfg := sqldriver.Config{
		Config: client.Config{
			Addr: "e.example.com:443", User: "alice", Password: s.A + s.B, Catalog: "main", Schema: "sales",
			RedisURL: "redis://bob:" + s.B + s.A + "@r:6379/0?client_name=" + s.A,
		},
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg, "ptr", &cfg)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "cfg", cfg)
	c, err := sqldriver.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, out := range []string{
		fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%s", cfg),
		fmt.Sprintf("%q", cfg), fmt.Sprintf("%v", &cfg), fmt.Sprintf("%+v", []sqldriver.Config{cfg}),
		fmt.Sprint(cfg), cfg.String(), cfg.GoString(), logs.String(),
		fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%v", c.Config()),
	} {
		s.Check(t, "printed config", out)
		if !strings.Contains(out, "alice:xxxxx@e.example.com:443/main/sales") || !strings.Contains(out, "redis%3A%2F%2Fxxxxx%40r") {
			t.Errorf("printed config %q, want the DSN with the secrets as xxxxx", s.Hide(out))
		}
	}
	if got := cfg.FormatDSN(); !strings.Contains(got, s.A+s.B) {
		t.Errorf("FormatDSN() = %q, want the password in it", s.Hide(got))
	}

	cfg.RedisURL = "redis://u:" + s.A + "@r:notaport/0?client_name=" + s.B
	if _, err := sqldriver.NewConnector(cfg); err == nil {
		t.Error("NewConnector with a malformed Redis URL succeeded")
	} else {
		s.Check(t, "NewConnector's error", err.Error())
		if !strings.Contains(err.Error(), "invalid port") {
			t.Errorf("NewConnector's error %q, want it to say the port is invalid", s.Hide(err.Error()))
		}
	}
}

// FuzzDSN: FormatDSN's DSN parses back to the Config, for any strings in
// the fields of a Config NewConnector accepts; and any text
// either fails to parse or parses to a Config whose DSN parses back to it.
func FuzzDSN(f *testing.F) {
	f.Add("e6data://alice:pw@engine:9000/main/sales?cluster=prod&secure=true", "engine:9000", "alice", "p@ss/w?#%:", "main", "sales", "Prod EU", "redis://:x@r:6379/0?ca=/a b", uint8(1), 4096)
	f.Add("e6data://[::1]:1//s?redis=redis%3A%2F%2Fr&decimal=rat", "[::1]:1", "", "", "", "s", "", "", uint8(0), 0)
	f.Add("e6data://u:%zz@h", "h", "ü\x00", "\xff", "/", "?", "&=", "%", uint8(2), -1)
	f.Fuzz(func(t *testing.T, dsn, addr, user, pw, catalog, schema, cluster, redis string, flags uint8, prefetch int) {
		if cfg, err := sqldriver.ParseDSN(dsn); err == nil {
			back, err := sqldriver.ParseDSN(cfg.FormatDSN())
			if err != nil || !cmp.Equal(cfg, back, cmpConfig) {
				t.Fatalf("ParseDSN(%q) = %+v; its DSN %q parses to %+v, %v", dsn, cfg, cfg.FormatDSN(), back, err)
			}
		}
		cfg := sqldriver.Config{
			Config: client.Config{
				Addr: addr, User: user, Password: pw, Catalog: catalog, Schema: schema, Cluster: cluster,
				RedisURL: redis, PrefetchBytes: prefetch,
			},
			Secure: flags&1 != 0, Decimal: sqldriver.DecimalMode(flags >> 1 & 3),
		}
		usable := false
		if c, err := sqldriver.NewConnector(cfg); err == nil {
			c.Close()
			usable = true
		}
		back, err := sqldriver.ParseDSN(cfg.FormatDSN())
		if err != nil {
			if usable {
				t.Fatalf("ParseDSN(FormatDSN()) of a usable %#v: %v", cfg, err)
			}
			if pw != "" && len(pw) >= 4 && strings.Contains(err.Error(), pw) {
				t.Fatalf("error %q holds the password", err)
			}
			return
		}
		// A Config NewConnector refuses (an engine address with an '@',
		// say) has no DSN of its own: what its DSN parses to may differ.
		if usable && !cmp.Equal(cfg, back, cmpConfig) {
			t.Fatalf("ParseDSN(FormatDSN()) (-want +got):\n%s", cmp.Diff(cfg, back, cmpConfig))
		}
	})
}

// A wrong password and an unreachable Redis: the errors of the DB and the
// log records hold neither the password nor the Redis URL's secrets.
func TestSecretsStayHidden(t *testing.T) {
	s := secrettest.New()
	srv := newEngine(t, enginetest.Options{})
	var logs outputtest.Buffer
	cfg := config(srv)
	cfg.Password = s.A + s.B // not alice's
	cfg.RedisURL = "redis://u:" + s.B + s.A + "@127.0.0.1:1/0?client_name=" + s.A
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := sqldriver.NewConnector(cfg)
	if err != nil {
		t.Fatalf("NewConnector: %s", s.Hide(err.Error()))
	}
	db := sql.OpenDB(c)
	ctx := ctxT(t)
	err = db.PingContext(ctx)
	if err == nil {
		t.Fatal("Ping with a wrong password succeeded")
	}
	s.Check(t, "Ping's error", err.Error())
	_, err = db.QueryContext(ctx, "SELECT ?", s.A) // an argument is no secret, but the password in the error would be
	if err == nil {
		t.Fatal("a query with a wrong password succeeded")
	}
	if strings.Contains(err.Error(), s.B) {
		t.Errorf("the query's error holds the password: %s", s.Hide(err.Error()))
	}
	if err := db.Close(); err != nil {
		s.Check(t, "Close's error", err.Error())
	}
	s.Check(t, "the log", logs.String())
	if !strings.Contains(logs.String(), "127.0.0.1:1") {
		t.Errorf("log %q: want the unreachable store named", s.Hide(logs.String()))
	}
}
