package fleet

import (
	"fmt"
	"log/slog"

	"github.com/e6coord/e6coord/internal/redact"
)

// String returns cfg with the secrets of its Client (the password, the
// Redis URL's), as client.Config's String redacts them, and FloorURL
// redacted.
func (cfg Config) String() string { return redact.Text("fleet.Config", cfg.attrs()...) }

// GoString is String, so that %#v hides the secrets too.
func (cfg Config) GoString() string { return cfg.String() }

// Format prints String for every verb and flag.
func (cfg Config) Format(f fmt.State, verb rune) { redact.Format(f, verb, cfg.String()) }

// LogValue is cfg's fields, redacted as in String, for log/slog.
func (cfg Config) LogValue() slog.Value { return redact.Value(cfg.attrs()...) }

func (cfg Config) attrs() []slog.Attr {
	return []slog.Attr{
		slog.Any("Client", cfg.Client),
		slog.String("Query", cfg.Query),
		slog.Bool("NoFetch", cfg.NoFetch),
		slog.Int("Workers", cfg.Workers),
		slog.Duration("StatusEvery", cfg.StatusEvery),
		slog.String("FloorURL", redact.URL(cfg.FloorURL)),
		slog.Bool("Commands", cfg.Commands != nil),
		slog.Bool("Naive", cfg.Naive),
		slog.Bool("Proxy", cfg.Proxy),
	}
}
