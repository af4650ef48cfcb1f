package client

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	redisstore "github.com/e6coord/e6coord/cache/redis"
)

// redacted stands for a secret that is set.
const redacted = "xxxxx"

// String returns cfg in the form %+v prints a struct, with the password
// shown as "xxxxx" when set and the Redis URL redacted as
// [redisstore.Redact] redacts it. TLS and Logger show only whether they
// are set, Store its type, DialOptions their number, and Coordination its
// main settings.
func (cfg Config) String() string {
	var b strings.Builder
	b.WriteString("client.Config{")
	for i, a := range cfg.attrs() {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s:%v", a.Key, a.Value)
	}
	b.WriteByte('}')
	return b.String()
}

// GoString is String, so that %#v hides the secrets too.
func (cfg Config) GoString() string { return cfg.String() }

// Format prints String for every verb, quoted for %q, so that no verb or
// flag of the fmt package shows a secret.
func (cfg Config) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprint(f, strconv.Quote(cfg.String()))
		return
	}
	fmt.Fprint(f, cfg.String())
}

// LogValue is cfg's fields as a group, redacted as in String, for
// log/slog.
func (cfg Config) LogValue() slog.Value { return slog.GroupValue(cfg.attrs()...) }

// attrs are the fields String and LogValue show.
func (cfg Config) attrs() []slog.Attr {
	secret := func(s string) string {
		if s == "" {
			return ""
		}
		return redacted
	}
	typeOf := func(v any) string {
		if v == nil {
			return "<nil>"
		}
		return fmt.Sprintf("%T", v)
	}
	c := cfg.Coordination
	return []slog.Attr{
		slog.String("Addr", cfg.Addr),
		slog.String("User", cfg.User),
		slog.String("Password", secret(cfg.Password)),
		slog.String("Catalog", cfg.Catalog),
		slog.String("Schema", cfg.Schema),
		slog.String("Cluster", cfg.Cluster),
		slog.Bool("TLS", cfg.TLS != nil),
		slog.String("RedisURL", redisstore.Redact(cfg.RedisURL)),
		slog.String("Store", typeOf(cfg.Store)),
		slog.String("Coordination", fmt.Sprintf("{Policy:%v CacheTTL:%v MaxAttempts:%d PinTTL:%v PinDelay:%v StoreTimeout:%v}",
			c.Policy, c.CacheTTL, c.MaxAttempts, c.PinTTL, c.PinDelay, c.StoreTimeout)),
		slog.Bool("NoResume", cfg.NoResume),
		slog.Bool("NoReplay", cfg.NoReplay),
		slog.Int("PrefetchBytes", cfg.PrefetchBytes),
		slog.Int("DialOptions", len(cfg.DialOptions)),
		slog.Bool("Logger", cfg.Logger != nil),
	}
}

// String names the engine c connects to. A Conn holds its Config, secrets
// and all: String and Format keep fmt from printing its fields.
func (c *Conn) String() string { return "client.Conn(" + c.cfg.Addr + ")" }

// Format prints String for every verb and flag, quoted for %q.
func (c *Conn) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprint(f, strconv.Quote(c.String()))
		return
	}
	fmt.Fprint(f, c.String())
}
