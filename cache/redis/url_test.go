package redis_test

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/cachetest"
	"github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/internal/redistest"
	"github.com/e6coord/e6coord/internal/secrettest"
)

const secret = "hunter2"

func TestRedact(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"redis://localhost:6379/0", "redis://localhost:6379/0"},
		{"redis://user@localhost:6379", "redis://xxxxx@localhost:6379"},
		{"redis://user:hunter2@localhost:6379/1", "redis://xxxxx@localhost:6379/1"},
		{"redis://:hunter2@localhost", "redis://xxxxx@localhost"},
		{"redis://u:@localhost", "redis://xxxxx@localhost"},
		// Every value goes, names stay.
		{"redis://user:hunter2@host:6379/0?dial_timeout=1s&password=hunter2", "redis://xxxxx@host:6379/0?dial_timeout=xxxxx&password=xxxxx"},
		{"redis://127.0.0.1:6379/0?password=hunter2", "redis://127.0.0.1:6379/0?password=xxxxx"},
		{"rediss://u:hunter2@h:1/0?ca=%2Ftmp%2Fca.pem&server_name=x", "rediss://xxxxx@h:1/0?ca=xxxxx&server_name=xxxxx"},
		{"unix://u:hunter2@/run/redis.sock?db=2", "unix://xxxxx@/run/redis.sock?db=xxxxx"},
		{"redis://host?pool_fifo&db=", "redis://host?pool_fifo&db=xxxxx"},
		{"redis://u:hunter2@host/0?prefix=tenant-a", "redis://xxxxx@host/0?prefix=xxxxx"},
		{"redis://host?a=1;password=hunter2&b=%zz", "redis://host?xxxxx=xxxxx&xxxxx=xxxxx"},
		{"redis://host/0?password=hun#ter2", "redis://host/0?password=xxxxx#xxxxx"},
		{"redis://host/0#hunter2", "redis://host/0#xxxxx"},
		// Malformed: the user information ends at the last '@'.
		{"redis://user:hunter2@[bad", "redis://xxxxx"},
		{"redis://user:hun/ter2@host:6379", "redis://xxxxx@host:6379"},
		{"redis://user:hun@ter2@host", "redis://xxxxx@host"},
		{"redis://u:123/hunter2@host", "redis://xxxxx@host"},
		{"redis://u:hun ter2@host", "redis://xxxxx@host"},
		{"redis://u:hun%zzter2@host?x=%zz", "redis://xxxxx@host?xxxxx=xxxxx"},
		// A forgotten '@' leaves the password in the host, port or path:
		// hosts and path not well formed, nothing shows after the scheme.
		{"redis://:Sup3r$ecretPw", "redis://xxxxx"},
		{"redis://:hunter2/0", "redis://xxxxx"},
		{"redis://127.0.0.1:hunter2", "redis://xxxxx"},
		{"redis://127.0.0.1:6379/hun+ter2", "redis://xxxxx"},
		{"redis+sentinel://:hunter2s1:26379/m", "redis+sentinel://xxxxx"},
		{"redis+cluster://h1:7000,:hunter2h2:7001", "redis+cluster://xxxxx"},
		{"redis://[::1]:6379/0", "redis://[::1]:6379/0"},
		{"redis://[:hunter2]:6379/0", "redis://xxxxx"}, // not an IPv6 address: a password, say
		{"redis://[fe80::1%25eth0]:6379/0", "redis://xxxxx"},
		// An '&' in a password ends its value: the tail shows as a name
		// unless it is one Open knows.
		{"redis+sentinel://s1/m?sentinel_password=ab&hunter2", "redis+sentinel://s1/m?sentinel_password=xxxxx&xxxxx"},
		// No scheme: not a URL, most likely a password; nothing shows.
		{"user:hunter2@host", "xxxxx"},
		{":hunter2@host", "xxxxx"},
		{"hunter2", "xxxxx"},
		{"hunter2@localhost:6379", "xxxxx"},
		// A user name alone may be a password: hidden too.
		{"redis://hunter2@localhost:6379/0", "redis://xxxxx@localhost:6379/0"},
		// A '?' or '#' before the last '@': nothing but the scheme is sure.
		{"redis://u:hun?ter2@host", "redis://xxxxx"},
		{"redis://u:hun#ter2@host", "redis://xxxxx"},
		{"redis://host/0?password=hun@ter2", "redis://xxxxx"},
		// Sentinel and Cluster: the hosts and the path stay, the
		// sentinels' password is a value like any other.
		{"redis+sentinel://u:hunter2@s1:26379,s2:26379,[::1]:26379/mymaster/0?sentinel_password=hunter2", "redis+sentinel://xxxxx@s1:26379,s2:26379,[::1]:26379/mymaster/0?sentinel_password=xxxxx"},
		{"rediss+sentinel://s1,s2/m?sentinel_username=admin&sentinel_password=hunter2&ca=%2Fca.pem", "rediss+sentinel://s1,s2/m?sentinel_username=xxxxx&sentinel_password=xxxxx&ca=xxxxx"},
		{"redis+cluster://:hunter2@n1:7000,n2:7001/?addr=n3:7002", "redis+cluster://xxxxx@n1:7000,n2:7001/?addr=xxxxx"},
		{"rediss+cluster://u:hun@ter2@n1:7000,n2:7001", "rediss+cluster://xxxxx@n1:7000,n2:7001"},
		// No valid scheme before "://": not a URL either.
		{"x?password=hunter2://host", "xxxxx"},
		{"not a url", "xxxxx"},
		{"", "xxxxx"},
	}
	for _, tt := range tests {
		if got := redis.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// passwords returns ways to write a password holding s in user
// information: plain, with escaped specials between the halves, with a
// letter %-escaped, and with a raw '@'.
func passwords(s secrettest.Secret) []string {
	return []string{
		s.A + s.B,
		strings.TrimPrefix(url.UserPassword("", s.A+"/@:#?&% +"+s.B).String(), ":"),
		fmt.Sprintf("%%%02X", s.A[0]) + s.A[1:] + s.B,
		s.A + "@" + s.B,
	}
}

// values returns ways to write a query value holding s.
func values(s secrettest.Secret) []string {
	return []string{
		s.A + s.B,
		url.QueryEscape(s.A + "/@#?&=% +" + s.B),
		fmt.Sprintf("%%%02X", s.A[0]) + s.A[1:] + s.B,
	}
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
	ca := redistest.WriteCA(t)
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

// Every error of Open, on a URL with a secret as the password and as
// parameter values, written every way, says what is wrong and holds no
// piece of the secret.
func TestOpenErrorsHideSecrets(t *testing.T) {
	s := secrettest.New()
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, b := s.A, s.B
	tests := []struct {
		url  func(p, v string) string // p, v: the password and a value
		want string                   // in the message
	}{
		// go-redis rejects the URL.
		{func(p, v string) string { return "ftp://u:" + p + "@host/0?client_name=" + v }, "invalid URL scheme: ftp"},
		{func(p, v string) string { return "redis://u:" + p + "@127.0.0.1:6379/0?password=" + v }, "unexpected option: password"},
		{func(_, v string) string { return "redis://127.0.0.1:6379/0?password=" + v }, "unexpected option: password"},
		{func(p, v string) string { return "redis://u:" + p + "@host/0?dial_timeout=abc&password=" + v }, "invalid dial_timeout: want a duration"},
		{func(p, v string) string { return "redis://u:" + p + "@host/0?dial_timeout=" + v }, "invalid dial_timeout: want a duration"},
		{func(p, v string) string { return "redis://u:" + p + "@host/0?db=" + v }, "invalid db: want a whole number"},
		{func(p, v string) string { return "redis://u:" + p + "@host/0?pool_size=" + v }, "invalid pool_size: want a whole number from 1"},
		{func(p, v string) string { return "redis://u:" + p + "@host/0?pool_fifo=" + v }, "invalid pool_fifo boolean"},
		{func(p, v string) string { return "redis://u:" + p + "@host/0/1?client_name=" + v }, "invalid URL path"},
		{func(p, v string) string { return "unix://u:" + p + "@?client_name=" + v }, "empty unix socket path"},
		{func(p, v string) string { return "unix://u:" + p + "@/run/redis.sock?db=" + v }, "invalid db: want a whole number"},
		// The TLS parameters.
		{func(p, v string) string { return "redis://u:" + p + "@host/0?ca=" + v + "&client_name=" + v }, "need a rediss:// url"},
		{func(p, v string) string {
			return "rediss://u:" + p + "@host/0?ca=%2Fno%2Fsuch%2F" + v + "&client_name=" + v
		}, "read ca file: no such file"},
		{func(p, v string) string {
			return "rediss://u:" + p + "@host/0?ca=" + url.QueryEscape(garbage) + "&server_name=" + v
		}, "no PEM certificate"},
		// The query does not parse.
		{func(p, v string) string { return "redis://u:" + p + "@host/0?client_name=" + v + "%zz" }, "invalid query: invalid URL escape"},
		{func(p, v string) string { return "redis://u:" + p + "@host/0?client_name=" + v + ";db=1" }, "invalid query: invalid semicolon separator"},
		// url.Parse fails.
		{func(p, v string) string { return "redis://u:" + p + "@host:notaport/0?client_name=" + v }, "invalid port after host"},
		{func(p, v string) string { return "redis://u:" + p + "@[::1/0?client_name=" + v }, "missing ']' in host"},
		{func(p, v string) string { return ":" + p + "@host/0?client_name=" + v }, "not a url"},
		{func(p, _ string) string { return p }, "not a url"},
		{func(p, _ string) string { return p + "@127.0.0.1:6379" }, "not a url"},
		{func(p, _ string) string { return p + "@127.0.0.1:6379/0" }, "not a url"},
		// The password in the user's slot.
		{func(p, _ string) string { return "redis://" + p + "@127.0.0.1:6379/0" }, "a user name and no password"},
		{func(p, _ string) string { return "redis+sentinel://" + p + "@s1,s2/m" }, "a user name and no password"},
		{func(p, _ string) string { return "rediss+cluster://" + p + "@n1,n2" }, "a user name and no password"},
		{func(string, string) string { return "redis://u:" + a + "%zz" + b + "@host/0" }, "invalid URL escape"},
		{func(string, string) string { return "redis://u:" + a + " " + b + "@host/0" }, "invalid userinfo"},
		{func(string, string) string { return "redis://u:" + a + "\n" + b + "@host/0" }, "invalid control character"},
		{func(string, string) string { return "redis://u:" + a + "#" + b + "@host/0" }, "invalid port after host"},
		{func(string, string) string { return "redis://u:" + a + "/" + b + "@host/0" }, "invalid port after host"},
		{func(string, string) string { return "redis://u:" + a + "?" + b + "@host/0" }, "invalid port after host"},
		// A password that url.Parse reads as a path, a query, a fragment.
		{func(string, string) string { return "redis://u:123/" + a + b + "@host" }, "invalid database number"},
		{func(string, string) string { return "redis://u:1?" + a + b + "@host" }, "unexpected option"},
		{func(string, string) string { return "redis://u:1#" + a + b + "@host?password=1" }, "no fragment"},
		{func(string, string) string { return "redis://host/0?password=" + a + "@" + b }, "unexpected option"},
		{func(string, string) string { return "redis://host/0?password=" + a + "#" + b }, "no fragment"},
		// Sentinel.
		{func(p, v string) string { return "redis+sentinel://u:" + p + "@s1,s2?sentinel_password=" + v }, "names the master"},
		{func(p, v string) string { return "redis+sentinel://u:" + p + "@s1,s2/m/0/1?sentinel_password=" + v }, "invalid URL path"},
		{func(p, v string) string { return "redis+sentinel://u:" + p + "@s1,s2/m/x?sentinel_password=" + v }, "invalid database number"},
		{func(p, v string) string {
			return "redis+sentinel://u:" + p + "@s1/m?sentinel_password=" + v + "&password=" + v
		}, "unexpected option: password"},
		{func(p, v string) string { return "redis+sentinel://u:" + p + "@s1/m?master_name=" + v }, "unexpected option: master_name"},
		{func(p, v string) string { return "redis+sentinel://u:" + p + "@s1/m?replica_only=" + v }, "unexpected option: replica_only"},
		{func(p, v string) string { return "redis+sentinel://u:" + p + "@s1/m?route_by_latency=" + v }, "unexpected option: route_by_latency"},
		{func(p, v string) string {
			return "redis+sentinel://u:" + p + "@s1/m?sentinel_password=" + v + "&bogus=" + v
		}, "unexpected option"},
		{func(p, v string) string {
			return "redis+sentinel://u:" + p + "@s1/m?sentinel_password=" + v + "&addr=" + v
		}, "unable to parse addr param"},
		{func(p, v string) string { return "redis+sentinel://u:" + p + "@s1/m?dial_timeout=" + v }, "invalid dial_timeout: want a duration"},
		{func(p, v string) string { return "redis+sentinel://u:" + p + "@s1/m?ca=" + v }, "need a rediss+sentinel:// url"},
		{func(p, v string) string { return "redis+sentinel://u:" + p + "@s1/m?sentinel_password=" + v + "%zz" }, "invalid query: invalid URL escape"},
		{func(p, v string) string { return "redis+sentinel://u:" + p + "@s1/m?sentinel_password=" + v + "#" + v }, "no fragment"},
		{func(p, v string) string {
			return "redis+sentinel://u:" + p + "@s1:notaport,s2/m?sentinel_password=" + v
		}, "host 1 of the list: invalid port"},
		{func(p, v string) string { return "redis+sentinel://u:" + p + "@s1,,s2/m?sentinel_password=" + v }, "host 2 of the list is empty"},
		{func(p, v string) string { return "redis+sentinel://u:" + p + "@s1,:1/m?sentinel_password=" + v }, "host 2 of the list has no name"},
		{func(p, v string) string { return "redis+sentinel://u:" + p + "@/m?sentinel_password=" + v }, "no host"},
		{func(string, string) string { return "redis+sentinel://u:" + a + "/" + b + "@s1,s2/m" }, "host 1 of the list: invalid port"},
		{func(string, string) string { return "redis+sentinel://u:" + a + "?" + b + "@s1,s2/m" }, "host 1 of the list: invalid port"},
		{func(string, string) string { return "redis+sentinel://u:" + a + "%zz" + b + "@s1,s2/m" }, "invalid URL escape"},
		// Cluster.
		{func(p, v string) string { return "redis+cluster://u:" + p + "@n1,n2/0?client_name=" + v }, "a cluster url has no path"},
		{func(p, v string) string { return "redis+cluster://u:" + p + "@n1,n2?db=" + v }, "unexpected option: db"},
		{func(p, v string) string { return "redis+cluster://u:" + p + "@n1,n2?password=" + v }, "unexpected option: password"},
		{func(p, v string) string { return "redis+cluster://u:" + p + "@n1,n2?read_only=" + v }, "unexpected option: read_only"},
		{func(p, v string) string { return "redis+cluster://u:" + p + "@n1,n2?route_randomly=" + v }, "unexpected option: route_randomly"},
		{func(p, v string) string { return "redis+cluster://u:" + p + "@n1,n2?max_redirects=" + v }, "invalid max_redirects: want a whole number"},
		{func(p, v string) string { return "redis+cluster://u:" + p + "@n1?addr=" + v }, "unable to parse addr param"},
		{func(p, v string) string { return "redis+cluster://u:" + p + "@n1?server_name=" + v }, "need a rediss+cluster:// url"},
		{func(p, v string) string { return "rediss+cluster://u:" + p + "@n1?ca=%2Fno%2Fsuch%2F" + v }, "read ca file: no such file"},
		{func(p, v string) string { return "redis+cluster://u:" + p + "@n1:0,n2?client_name=" + v }, "host 1 of the list: invalid port"},
		{func(p, v string) string { return "redis+cluster://u:" + p + "@[::1,n2?client_name=" + v }, "host 1 of the list: invalid host or port"},
		{func(string, string) string { return "redis+cluster://u:" + a + "#" + b + "@n1,n2" }, "host 1 of the list: invalid port"},
		{func(string, string) string { return "redis+cluster://u:" + a + " " + b + "@n1,n2" }, "invalid userinfo"},
	}
	for i, tt := range tests {
		for _, p := range passwords(s) {
			for _, v := range values(s) {
				raw := tt.url(p, v)
				s.Check(t, fmt.Sprintf("case %d: Redact()", i), redis.Redact(raw))
				st, err := redis.Open(raw, redis.Options{})
				if err == nil {
					st.Close()
					t.Errorf("case %d: Open(%s) error = nil, want one", i, redis.Redact(raw))
					continue
				}
				msg := err.Error()
				s.Check(t, fmt.Sprintf("case %d: Open() error", i), msg)
				if !strings.HasPrefix(msg, "redis: open ") || !strings.Contains(msg, tt.want) {
					t.Errorf("case %d: Open() error = %q, want one starting with \"redis: open \" that mentions %q", i, s.Hide(msg), tt.want)
				}
			}
		}
	}
	// The file error survives, without the path.
	_, err := redis.Open("rediss://:"+a+"@host?ca=%2Fno%2Fsuch%2Ffile", redis.Options{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open() with a missing ca file error = %v, want one wrapping %v", s.Hide(fmt.Sprint(err)), os.ErrNotExist)
	}
	if err != nil && strings.Contains(err.Error(), "/no/such") {
		t.Errorf("Open() error = %q, want the ca path left out", s.Hide(err.Error()))
	}
}

// The password is hidden even where the URL puts it elsewhere (a port
// equal to it), and a parameter named like it is not listed.
func TestOpenErrorScrubsPassword(t *testing.T) {
	for _, raw := range []string{
		"redis://:hunter2@host:hunter2",
		"redis://:hunter2@host?hunter2=1",
	} {
		_, err := redis.Open(raw, redis.Options{})
		if err == nil {
			t.Errorf("Open(%s) error = nil, want one", redis.Redact(raw))
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("Open() error %q holds the password", err)
		}
	}
}

// A store on a server that is down fails its calls with errors that may
// name the address (go-redis retries the dial until the deadline, so they
// need not), never the password or a value of the URL.
func TestStoreErrorsHideSecrets(t *testing.T) {
	s := secrettest.New()
	vs := values(s)
	for _, form := range []struct {
		name string
		url  func(p, v string) string
	}{
		{"single", func(p, v string) string { return "redis://u:" + p + "@127.0.0.1:1/0?client_name=" + v }},
		{"sentinel", func(p, v string) string {
			return "redis+sentinel://u:" + p + "@127.0.0.1:1,127.0.0.1:2/m/0?sentinel_password=" + v + "&client_name=" + v
		}},
		{"cluster", func(p, v string) string {
			return "redis+cluster://u:" + p + "@127.0.0.1:1,127.0.0.1:2?client_name=" + v
		}},
	} {
		for i, p := range passwords(s) {
			t.Run(fmt.Sprintf("form=%s/password=%d", form.name, i), func(t *testing.T) {
				t.Parallel() // each call waits for its timeout
				storeErrors(t, s, form.url(p, vs[i%len(vs)]), "redis: ", 200*time.Millisecond)
			})
		}
	}
}

// A server that refuses the credentials: its errors do not echo them.
func TestStoreAuthErrorsHideSecrets(t *testing.T) {
	redistest.Require(t)
	srv := redistest.Start(t)
	s := secrettest.New()
	raw := "redis://nobody:" + s.A + s.B + "@" + srv.Addr() + "/0?client_name=" + s.A + s.B
	// The refusal comes back in milliseconds; the store's timeout, far
	// longer, only keeps a busy machine from turning it into a timeout.
	storeErrors(t, s, raw, "WRONGPASS", 10*time.Second)
}

// storeErrors opens raw with the store's timeout set to timeout, and
// checks that Load, Pin and Watch fail with an error that mentions want and
// holds no piece of s.
func storeErrors(t *testing.T, s secrettest.Secret, raw, want string, timeout time.Duration) {
	t.Helper()
	st, err := redis.Open(raw, redis.Options{Timeout: timeout})
	if err != nil {
		t.Fatalf("Open(%s) error = %v", redis.Redact(raw), s.Hide(err.Error()))
	}
	defer st.Close()
	ctx := t.Context()
	calls := map[string]func() error{
		"Load": func() error { _, err := st.Load(ctx, scope); return err },
		"Pin":  func() error { return cachetest.Pin(ctx, st, scope, cache.Blue, time.Minute, "q") },
		"Watch": func() error {
			ch, err := st.Watch(ctx, scope)
			if err == nil {
				for range ch { // a watch that started anyway must end
				}
			}
			return err
		},
	}
	for name, call := range calls {
		err := call()
		if err == nil {
			t.Errorf("%s() error = nil, want one", name)
			continue
		}
		s.Check(t, name+"() error", err.Error())
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s() error = %q, want one that mentions %q", name, s.Hide(err.Error()), want)
		}
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

// Every numeric and duration parameter, in every form of URL, with a value
// out of its range or not a number, is an error that names the parameter
// and shows neither the value nor the password: go-redis would panic on a
// negative pool size, and misread the others.
func TestOpenValidatesNumbers(t *testing.T) {
	s := secrettest.New()
	forms := []string{
		"redis://:" + s.A + s.B + "@127.0.0.1:6379/0?",
		"rediss://:" + s.A + s.B + "@127.0.0.1:6379/0?",
		"redis+sentinel://:" + s.A + s.B + "@s1,s2:26380/mymaster/0?",
		"redis+cluster://:" + s.A + s.B + "@n1,n2:7001?",
	}
	ints := map[string][]string{
		"db":                         {"-1", "2147483648"},
		"protocol":                   {"1", "4", "-3"},
		"max_retries":                {"-2", "1001"},
		"max_redirects":              {"-2", "1001"},
		"dialer_retries":             {"-1", "1001"},
		"pool_size":                  {"-1", "0", "10001"},
		"min_idle_conns":             {"-1", "10001"},
		"max_idle_conns":             {"-1", "10001"},
		"max_active_conns":           {"-1", "10001"},
		"max_concurrent_dials":       {"-1", "10001"},
		"pipeline_pool_size":         {"-2", "10001"},
		"pipeline_read_buffer_size":  {"-1", "67108865"},
		"pipeline_write_buffer_size": {"-1", "67108865"},
		"failing_timeout_seconds":    {"-1", "86401"},
	}
	notNumbers := []string{"", "x", "1.5", "1e3", "99999999999999999999", s.A + s.B}
	durations := []string{
		"dial_timeout", "read_timeout", "write_timeout", "pool_timeout",
		"min_retry_backoff", "max_retry_backoff",
		"conn_max_idle_time", "idle_timeout", "conn_max_lifetime", "max_conn_age", "conn_max_lifetime_jitter",
		"dialer_retry_timeout", "route_by_latency_tolerance",
	}
	badDurations := []string{"", "x", "-2", "-1s", "25h", "86401", "99999999999999999999", "9223372036854775807ns1h", s.A + s.B}
	for _, form := range forms {
		check := func(name, v, want string) {
			t.Helper()
			raw := form + name + "=" + url.QueryEscape(v)
			st, err := redis.Open(raw, redis.Options{})
			if err == nil {
				st.Close()
				t.Errorf("Open(%s) with %s=%q: error = nil, want one", redis.Redact(raw), name, v)
				return
			}
			msg := err.Error()
			s.Check(t, "Open() error", msg)
			if !strings.Contains(msg, want) || (v != "" && len(v) > 1 && strings.Contains(msg, "="+v)) {
				t.Errorf("Open(%s) with %s=%q: error = %q, want one that says %q", redis.Redact(raw), name, v, s.Hide(msg), want)
			}
		}
		for name, bad := range ints {
			want := "invalid " + name + ": want a whole number"
			if name == "db" && strings.HasPrefix(form, "redis+cluster") {
				want = "unexpected option: db"
			}
			for _, v := range append(bad, notNumbers...) {
				check(name, v, want)
			}
		}
		for _, name := range durations {
			for _, v := range badDurations {
				check(name, v, "invalid "+name+": want a duration")
			}
		}
	}
	// The bounds themselves, and go-redis's -1, are accepted.
	for _, raw := range []string{
		"redis://127.0.0.1:6379/0?pool_size=1&max_retries=-1&dial_timeout=-1&pool_timeout=24h&protocol=3",
		"redis://127.0.0.1:6379/0?pool_size=10000&min_idle_conns=0&conn_max_idle_time=86400&read_timeout=0",
		"redis+sentinel://s1/m/0?pool_size=3&max_retries=1000&pipeline_pool_size=-1&min_retry_backoff=500ms",
		"redis+cluster://n1,n2?pool_size=2&max_redirects=-1&failing_timeout_seconds=86400&route_by_latency_tolerance=1s",
	} {
		st, err := redis.Open(raw, redis.Options{})
		if err != nil {
			t.Errorf("Open(%s) error = %v, want none", raw, err)
			continue
		}
		st.Close()
	}
	// The database of the path too.
	for _, raw := range []string{"redis://127.0.0.1:6379/-1", "redis+sentinel://s1/m/-1", "redis://127.0.0.1:6379/2147483648"} {
		st, err := redis.Open(raw, redis.Options{})
		if err == nil {
			st.Close()
			t.Errorf("Open(%s) error = nil, want one", raw)
		} else if !strings.Contains(err.Error(), "invalid database number") {
			t.Errorf("Open(%s) error = %v, want one that says \"invalid database number\"", raw, err)
		}
	}
}

// A ca= file that never ends (a device) is an error, not a read forever.
func TestOpenBoundsCAFile(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	_, err := redis.Open("rediss://127.0.0.1:6379/0?ca=%2Fdev%2Fzero", redis.Options{})
	if err == nil || !strings.Contains(err.Error(), "read ca file: larger than 4 MiB") {
		t.Errorf("Open() with ca=/dev/zero error = %v, want one saying the file is too large", err)
	}
}
