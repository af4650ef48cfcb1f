package demo

import (
	"fmt"
	"log/slog"

	"github.com/e6coord/e6coord/internal/redact"
)

// String returns o with the secrets of its Client (the password, the
// Redis URL's) redacted, as client.Config's String redacts them.
func (o Options) String() string { return redact.Text("demo.Options", o.attrs()...) }

// GoString is String, so that %#v hides the secrets too.
func (o Options) GoString() string { return o.String() }

// Format prints String for every verb and flag.
func (o Options) Format(f fmt.State, verb rune) { redact.Format(f, verb, o.String()) }

// LogValue is o's fields, redacted as in String, for log/slog.
func (o Options) LogValue() slog.Value { return redact.Value(o.attrs()...) }

func (o Options) attrs() []slog.Attr {
	return []slog.Attr{
		slog.Duration("Duration", o.Duration),
		slog.Duration("FlipEvery", o.FlipEvery),
		slog.Int("Workers", o.Workers),
		slog.Any("Mode", o.Mode),
		slog.Any("Reject", o.Reject),
		slog.Any("Policy", o.Policy),
		slog.Any("Client", o.Client),
		slog.String("Query", o.Query),
		slog.Bool("NoFetch", o.NoFetch),
		slog.Int("Processes", o.Processes),
		slog.Bool("WorkerCommand", o.WorkerCommand != nil),
		slog.Bool("Naive", o.Naive),
		slog.Bool("Proxy", o.Proxy),
	}
}
