package daemon

import (
	"fmt"
	"log/slog"

	"github.com/e6coord/e6coord/internal/redact"
)

// String returns cfg with its password and Redis URL redacted.
func (cfg Config) String() string { return redact.Text("daemon.Config", cfg.attrs()...) }

// GoString is String, so that %#v hides the secrets too.
func (cfg Config) GoString() string { return cfg.String() }

// Format prints String for every verb and flag.
func (cfg Config) Format(f fmt.State, verb rune) { redact.Format(f, verb, cfg.String()) }

// LogValue is cfg's fields, redacted as in String, for log/slog.
func (cfg Config) LogValue() slog.Value { return redact.Value(cfg.attrs()...) }

func (cfg Config) attrs() []slog.Attr {
	return []slog.Attr{
		slog.String("Engine", cfg.Engine),
		slog.String("User", cfg.User),
		slog.String("Password", redact.Password(cfg.Password)),
		slog.String("Catalog", cfg.Catalog),
		slog.String("Schema", cfg.Schema),
		slog.String("Cluster", cfg.Cluster),
		slog.String("RedisURL", redact.URL(cfg.RedisURL)),
		slog.String("Listen", cfg.Listen),
		slog.Duration("Interval", cfg.Interval),
		slog.Duration("CacheTTL", cfg.CacheTTL),
		slog.String("Version", cfg.Version),
		slog.Bool("Logger", cfg.Logger != nil),
	}
}

// String names the engine d watches. A Daemon holds its Config, secrets
// and all: String and Format keep fmt from printing its fields.
func (d *Daemon) String() string { return "daemon.Daemon(" + d.cfg.Engine + ")" }

// Format prints String for every verb and flag.
func (d *Daemon) Format(f fmt.State, verb rune) { redact.Format(f, verb, d.String()) }
