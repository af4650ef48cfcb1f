package fleet

import (
	"fmt"
	"log/slog"

	"github.com/e6coord/e6coord/internal/redact"
)

// String returns cfg with its password and Redis URLs redacted.
func (cfg Config) String() string { return redact.Text("fleet.Config", cfg.attrs()...) }

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
		slog.String("Query", cfg.Query),
		slog.Bool("NoFetch", cfg.NoFetch),
		slog.Int("Workers", cfg.Workers),
		slog.Duration("StatusEvery", cfg.StatusEvery),
		slog.String("FloorURL", redact.URL(cfg.FloorURL)),
		slog.Bool("Commands", cfg.Commands != nil),
		slog.String("Store", fmt.Sprintf("%T", cfg.Store)),
		slog.String("RedisURL", redact.URL(cfg.RedisURL)),
		slog.Bool("Logger", cfg.Logger != nil),
	}
}
