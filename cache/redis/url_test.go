package redis_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/internal/redistest"
)

const secret = "hunter2"

func TestRedact(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"redis://localhost:6379/0", "redis://localhost:6379/0"},
		{"redis://user@localhost:6379", "redis://user@localhost:6379"},
		{"redis://user:hunter2@localhost:6379/1", "redis://user:xxxxx@localhost:6379/1"},
		{"redis://:hunter2@localhost", "redis://:xxxxx@localhost"},
		{"rediss://u:hunter2@h:1/0?ca=%2Ftmp%2Fca.pem", "rediss://u:xxxxx@h:1/0?ca=%2Ftmp%2Fca.pem"},
		{"unix://u:hunter2@/run/redis.sock?db=2", "unix://u:xxxxx@/run/redis.sock?db=2"},
		// Malformed: cut at the last '@'.
		{"redis://user:hunter2@[bad", "redis://user:xxxxx@[bad"},
		{"redis://user:hun/ter2@host:6379", "redis://user:xxxxx@host:6379"},
		{"redis://user:hun@ter2@host", "redis://user:xxxxx@host"},
		{"redis://u:123/hunter2@host", "redis://u:xxxxx@host"},
		{"user:hunter2@host", "user:xxxxx@host"},
		{"not a url", "not a url"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := redis.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// writeCA writes a self-signed CA certificate in PEM to a temporary file
// and returns its path.
func writeCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "e6coord test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// clientOptions returns the options of the client Open made.
func clientOptions(t *testing.T, s *redis.Store) *goredis.Options {
	t.Helper()
	c, ok := s.Client().(*goredis.Client)
	if !ok {
		t.Fatalf("Client() is a %T, want *goredis.Client", s.Client())
	}
	return c.Options()
}

func TestOpen(t *testing.T) {
	ca := writeCA(t)
	tests := []struct {
		url   string
		check func(t *testing.T, o *goredis.Options)
	}{
		{"redis://user:hunter2@localhost:6380/3", func(t *testing.T, o *goredis.Options) {
			if o.Network != "tcp" || o.Addr != "localhost:6380" || o.Username != "user" || o.Password != secret || o.DB != 3 {
				t.Errorf("options = %s %s user %q db %d, want tcp localhost:6380 user \"user\" db 3", o.Network, o.Addr, o.Username, o.DB)
			}
			if o.TLSConfig != nil {
				t.Error("TLSConfig set for redis://")
			}
		}},
		{"unix://user:hunter2@/run/redis/redis.sock?db=2", func(t *testing.T, o *goredis.Options) {
			if o.Network != "unix" || o.Addr != "/run/redis/redis.sock" || o.Username != "user" || o.Password != secret || o.DB != 2 {
				t.Errorf("options = %s %s user %q db %d, want unix /run/redis/redis.sock user \"user\" db 2", o.Network, o.Addr, o.Username, o.DB)
			}
		}},
		{"rediss://:hunter2@redis.example:6380/0?ca=" + url.QueryEscape(ca) + "&server_name=internal.example", func(t *testing.T, o *goredis.Options) {
			if o.TLSConfig == nil {
				t.Fatal("TLSConfig is nil for rediss://")
			}
			if o.TLSConfig.ServerName != "internal.example" {
				t.Errorf("TLSConfig.ServerName = %q, want %q", o.TLSConfig.ServerName, "internal.example")
			}
			if o.TLSConfig.RootCAs == nil || o.TLSConfig.RootCAs.Equal(x509.NewCertPool()) {
				t.Error("TLSConfig.RootCAs does not hold the CA of the ca= file")
			}
		}},
		{"rediss://redis.example", func(t *testing.T, o *goredis.Options) {
			if o.TLSConfig == nil || o.TLSConfig.ServerName != "redis.example" || o.TLSConfig.RootCAs != nil {
				t.Errorf("TLSConfig = %+v, want the host as server name and the system roots", o.TLSConfig)
			}
		}},
		{"redis://localhost?read_timeout=30s&write_timeout=-1&dial_timeout=10s", func(t *testing.T, o *goredis.Options) {
			for name, d := range map[string]time.Duration{"read": o.ReadTimeout, "write": o.WriteTimeout, "dial": o.DialTimeout} {
				if d <= 0 || d > time.Second {
					t.Errorf("%s timeout = %v, want in (0, 1s]", name, d)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(redis.Redact(tt.url), func(t *testing.T) {
			s, err := redis.Open(tt.url, redis.Options{})
			if err != nil {
				t.Fatalf("Open() error = %v", err)
			}
			defer func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close() error = %v", err)
				}
			}()
			o := clientOptions(t, s)
			if !o.ContextTimeoutEnabled {
				t.Error("ContextTimeoutEnabled = false, want true")
			}
			if o.ReadTimeout <= 0 || o.ReadTimeout > time.Second || o.WriteTimeout <= 0 || o.WriteTimeout > time.Second {
				t.Errorf("read, write timeouts = %v, %v; want at most 1s", o.ReadTimeout, o.WriteTimeout)
			}
			tt.check(t, o)
		})
	}
}

func TestOpenErrorsHidePassword(t *testing.T) {
	ca := writeCA(t)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		url  string
		want string // in the message
	}{
		{"redis://user:hunter2@[bad", "redis://user:xxxxx@[bad"},
		{"redis://:hunter2@host:6379/notanumber", "invalid database number"},
		{"redis://:hunter2@host:hunter2", "redis://:xxxxx@"},
		{"redis://:hunter2@host?hunter2=1", "unexpected option"},
		{"redis://:hunter2@host?dial_timeout=hunter2", "dial_timeout"},
		{"ftp://:hunter2@host", "invalid URL scheme"},
		{"redis://:hunter2@host?ca=" + url.QueryEscape(ca), "rediss://"},
		{"rediss://:hunter2@host?ca=%2Fno%2Fsuch%2Ffile", "/no/such/file"},
		{"rediss://:hunter2@host?ca=" + url.QueryEscape(garbage), "no PEM certificate"},
		{"redis://:hunt%65r2@host/x", "invalid database number"},
		{"unix://:hunter2@", "empty unix socket path"},
	}
	for _, tt := range tests {
		s, err := redis.Open(tt.url, redis.Options{})
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) error = nil, want one", redis.Redact(tt.url))
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, secret) || strings.Contains(msg, "hunt%65r2") {
			t.Errorf("Open() error %q holds the password", msg)
		}
		if !strings.HasPrefix(msg, "redis: ") || !strings.Contains(msg, tt.want) {
			t.Errorf("Open() error = %q, want one starting with \"redis: \" that mentions %q", msg, tt.want)
		}
	}
	// The wrapped file error survives when it is safe.
	_, err := redis.Open("rediss://:hunter2@host?ca=%2Fno%2Fsuch%2Ffile", redis.Options{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open() with a missing ca file error = %v, want one wrapping %v", err, os.ErrNotExist)
	}
}

// TestOpenServer opens a real server by URL and uses it.
func TestOpenServer(t *testing.T) {
	redistest.Require(t)
	srv := redistest.Start(t)
	s, err := redis.Open(srv.URL(), redis.Options{})
	if err != nil {
		t.Fatalf("Open(%s) error = %v", srv.URL(), err)
	}
	ctx := t.Context()
	if _, err := s.Load(ctx, scope); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Load() error = %v, want one wrapping %v", err, cache.ErrNotFound)
	}
	ch, err := s.Watch(ctx, scope)
	if err != nil {
		t.Fatalf("Watch() error = %v", err)
	}
	if _, err := s.CompareAndSwap(ctx, scope, 0, cache.State{Active: cache.Green, Generation: 1}); err != nil {
		t.Fatalf("CompareAndSwap() error = %v", err)
	}
	wantEvent(t, ch, 1)
	if err := s.Close(); err != nil {
		t.Fatalf("Close() error = %v", err)
	}
	waitClosed(t, ch)
	if err := s.Client().Ping(ctx).Err(); !errors.Is(err, goredis.ErrClosed) {
		t.Errorf("client Ping after Close error = %v, want %v: Close must close the client Open made", err, goredis.ErrClosed)
	}
}
