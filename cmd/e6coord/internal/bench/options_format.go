package bench

import (
	"fmt"
	"log/slog"

	"github.com/e6coord/e6coord/internal/redact"
)

// String returns o with its Redis URL redacted.
func (o Options) String() string { return redact.Text("bench.Options", o.attrs()...) }

// GoString is String, so that %#v hides the secrets too.
func (o Options) GoString() string { return o.String() }

// Format prints String for every verb and flag.
func (o Options) Format(f fmt.State, verb rune) { redact.Format(f, verb, o.String()) }

// LogValue is o's fields, redacted as in String, for log/slog.
func (o Options) LogValue() slog.Value { return redact.Value(o.attrs()...) }

func (o Options) attrs() []slog.Attr {
	return []slog.Attr{
		slog.Int("Processes", o.Processes),
		slog.Int("Workers", o.Workers),
		slog.Int("Switches", o.Switches),
		slog.String("Query", o.Query),
		slog.String("RedisURL", redact.URL(o.RedisURL)),
	}
}
