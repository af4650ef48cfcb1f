// Package redact prints the application's configurations without their
// secrets. A configuration that holds a secret lists the fields it shows
// once, with the secrets replaced ([Password], [URL]), and hands them to
// [Text], [Format] and [Value] from its String, GoString, Format and
// LogValue methods, so that no verb of the fmt package and no slog
// handler prints a secret.
package redact

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	redisstore "github.com/e6coord/e6coord/cache/redis"
)

// Password returns what is shown for password p: "xxxxx" when it is set,
// "" when not.
func Password(p string) string {
	if p == "" {
		return ""
	}
	return "xxxxx"
}

// URL returns Redis URL u as shown: its user information and parameter
// values replaced, as [redisstore.Redact] does.
func URL(u string) string { return redisstore.Redact(u) }

// Text returns the configuration of type name with fields as %+v prints a
// struct: name{Key:value Key:value}.
func Text(name string, fields ...slog.Attr) string {
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, a := range fields {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s:%v", a.Key, a.Value)
	}
	b.WriteByte('}')
	return b.String()
}

// Format prints text, a configuration's [Text], for every verb and flag:
// quoted for %q, as is otherwise.
func Format(f fmt.State, verb rune, text string) {
	if verb == 'q' {
		fmt.Fprint(f, strconv.Quote(text))
		return
	}
	fmt.Fprint(f, text)
}

// Value returns fields as a slog group, for a LogValue method.
func Value(fields ...slog.Attr) slog.Value { return slog.GroupValue(fields...) }
