package redis

import (
	"net/url"
	"slices"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/e6coord/e6coord/internal/redistest"
)

// The options that the Sentinel and Cluster forms of URL give go-redis:
// the hosts with their default ports, whose credentials go where, the
// parameters, TLS, and the timeouts of every client Open makes.
func TestParseTopologyURL(t *testing.T) {
	ca := redistest.WriteCA(t)
	tests := []struct {
		url      string
		failover func(t *testing.T, o *goredis.FailoverOptions)
		cluster  func(t *testing.T, o *goredis.ClusterOptions)
	}{
		{url: "redis+sentinel://u:hunter2@s1:26380,s2,[::1]:26381,[::2]/mymaster/3?sentinel_password=sp&dial_timeout=3s&max_retries=2",
			failover: func(t *testing.T, o *goredis.FailoverOptions) {
				want := []string{"s1:26380", "s2:26379", "[::1]:26381", "[::2]:26379"}
				if !slices.Equal(o.SentinelAddrs, want) {
					t.Errorf("SentinelAddrs = %q, want %q", o.SentinelAddrs, want)
				}
				if o.MasterName != "mymaster" || o.DB != 3 || o.MaxRetries != 2 {
					t.Errorf("MasterName, DB, MaxRetries = %q, %d, %d; want mymaster, 3, 2", o.MasterName, o.DB, o.MaxRetries)
				}
				if o.Username != "u" || o.Password != "hunter2" {
					t.Errorf("primary's credentials = %q, %q; want u, hunter2 (the user information)", o.Username, o.Password)
				}
				if o.SentinelUsername != "" || o.SentinelPassword != "sp" {
					t.Errorf("sentinels' credentials = %q, %q; want \"\", sp (sentinel_password=)", o.SentinelUsername, o.SentinelPassword)
				}
				if o.TLSConfig != nil {
					t.Error("TLSConfig set for redis+sentinel://")
				}
			}},
		{url: "redis+sentinel://sentinel.internal/m",
			failover: func(t *testing.T, o *goredis.FailoverOptions) {
				if !slices.Equal(o.SentinelAddrs, []string{"sentinel.internal:26379"}) || o.MasterName != "m" || o.DB != 0 {
					t.Errorf("SentinelAddrs, MasterName, DB = %q, %q, %d; want [sentinel.internal:26379], m, 0", o.SentinelAddrs, o.MasterName, o.DB)
				}
				if o.Username != "" || o.Password != "" || o.SentinelUsername != "" || o.SentinelPassword != "" {
					t.Error("credentials set from a URL without any")
				}
			}},
		{url: "REDIS+SENTINEL://s1:1/m%2Fx/?addr=s9:9&sentinel_username=su&sentinel_password=sp",
			failover: func(t *testing.T, o *goredis.FailoverOptions) {
				if !slices.Equal(o.SentinelAddrs, []string{"s1:1", "s9:9"}) || o.MasterName != "m/x" {
					t.Errorf("SentinelAddrs, MasterName = %q, %q; want [s1:1 s9:9], m/x", o.SentinelAddrs, o.MasterName)
				}
				if o.SentinelUsername != "su" || o.SentinelPassword != "sp" {
					t.Errorf("sentinels' credentials = %q, %q; want su, sp", o.SentinelUsername, o.SentinelPassword)
				}
			}},
		{url: "rediss+sentinel://s1,s2/m?ca=" + url.QueryEscape(ca),
			failover: func(t *testing.T, o *goredis.FailoverOptions) {
				if o.TLSConfig == nil || o.TLSConfig.ServerName != "" || o.TLSConfig.RootCAs == nil {
					t.Errorf("TLSConfig = %+v, want the CA of ca= and no server name (each host its own)", o.TLSConfig)
				}
			}},
		{url: "redis+cluster://u:hunter2@n1:7000,n2:7001,n3/?max_redirects=5&read_timeout=30s",
			cluster: func(t *testing.T, o *goredis.ClusterOptions) {
				if want := []string{"n1:7000", "n2:7001", "n3:6379"}; !slices.Equal(o.Addrs, want) {
					t.Errorf("Addrs = %q, want %q", o.Addrs, want)
				}
				if o.Username != "u" || o.Password != "hunter2" || o.MaxRedirects != 5 {
					t.Errorf("Username, Password, MaxRedirects = %q, %q, %d; want u, hunter2, 5", o.Username, o.Password, o.MaxRedirects)
				}
				if o.TLSConfig != nil || o.ReadOnly || o.RouteByLatency || o.RouteRandomly {
					t.Errorf("TLS, ReadOnly, RouteByLatency, RouteRandomly = %v, %v, %v, %v; want none", o.TLSConfig != nil, o.ReadOnly, o.RouteByLatency, o.RouteRandomly)
				}
			}},
		{url: "rediss+cluster://:hunter2@n1:7000?addr=n2:7001&server_name=redis.internal",
			cluster: func(t *testing.T, o *goredis.ClusterOptions) {
				if !slices.Equal(o.Addrs, []string{"n1:7000", "n2:7001"}) || o.Password != "hunter2" {
					t.Errorf("Addrs, Password = %q, %q; want [n1:7000 n2:7001], hunter2", o.Addrs, o.Password)
				}
				if o.TLSConfig == nil || o.TLSConfig.ServerName != "redis.internal" {
					t.Errorf("TLSConfig = %+v, want server name redis.internal", o.TLSConfig)
				}
			}},
		{url: "rediss+cluster://n1:7000,n2:7001",
			cluster: func(t *testing.T, o *goredis.ClusterOptions) {
				if o.TLSConfig == nil || o.TLSConfig.ServerName != "" {
					t.Errorf("TLSConfig = %+v, want TLS with no server name (each host its own)", o.TLSConfig)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(Redact(tt.url), func(t *testing.T) {
			tg, err := parseURL(tt.url)
			if err != nil {
				t.Fatalf("parseURL() error = %v", err)
			}
			var ctxTimeout bool
			var timeouts []time.Duration
			switch {
			case tt.failover != nil:
				if tg.failover == nil {
					t.Fatalf("parseURL() = %+v, want failover options", tg)
				}
				o := tg.failover
				ctxTimeout, timeouts = o.ContextTimeoutEnabled, []time.Duration{o.DialTimeout, o.ReadTimeout, o.WriteTimeout}
				tt.failover(t, o)
			default:
				if tg.cluster == nil {
					t.Fatalf("parseURL() = %+v, want cluster options", tg)
				}
				o := tg.cluster
				ctxTimeout, timeouts = o.ContextTimeoutEnabled, []time.Duration{o.DialTimeout, o.ReadTimeout, o.WriteTimeout}
				tt.cluster(t, o)
			}
			if !ctxTimeout {
				t.Error("ContextTimeoutEnabled = false, want true")
			}
			for i, d := range timeouts {
				if d <= 0 || d > time.Second {
					t.Errorf("timeout %d (dial, read, write) = %v, want in (0, 1s]", i, d)
				}
			}
			// The client is of the kind the URL names.
			c := tg.client()
			defer c.Close()
			_, isCluster := c.(*goredis.ClusterClient)
			if isCluster != (tt.cluster != nil) {
				t.Errorf("client() is a %T", c)
			}
		})
	}
}
