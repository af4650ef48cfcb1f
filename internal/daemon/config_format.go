package daemon

import (
	"fmt"
	"log/slog"

	"github.com/e6coord/e6coord/internal/redact"
)

// String returns cfg with the secrets of its Client (the password, the
// Redis URL's) redacted, as client.Config's String redacts them.
func (cfg Config) String() string { return redact.Text("daemon.Config", cfg.attrs()...) }

// GoString is String, so that %#v hides the secrets too.
func (cfg Config) GoString() string { return cfg.String() }

// Format prints String for every verb and flag.
func (cfg Config) Format(f fmt.State, verb rune) { redact.Format(f, verb, cfg.String()) }

// LogValue is cfg's fields, redacted as in String, for log/slog.
func (cfg Config) LogValue() slog.Value { return redact.Value(cfg.attrs()...) }

func (cfg Config) attrs() []slog.Attr {
	return []slog.Attr{
		slog.Any("Client", cfg.Client),
		slog.String("Listen", cfg.Listen),
		slog.Duration("Interval", cfg.Interval),
		slog.String("Version", cfg.Version),
		slog.Bool("Logger", cfg.Logger != nil),
	}
}

// String names the engine d watches. A Daemon holds its Config, secrets
// and all: String and Format keep fmt from printing its fields.
func (d *Daemon) String() string { return "daemon.Daemon(" + d.cfg.Client.Addr + ")" }

// Format prints String for every verb and flag.
func (d *Daemon) Format(f fmt.State, verb rune) { redact.Format(f, verb, d.String()) }
