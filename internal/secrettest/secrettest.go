// Package secrettest makes random secrets for tests, and checks that what a
// program printed, returned or served does not hold them, in the forms a
// secret takes in output: as is, in lower or upper case, URL-escaped,
// Go-quoted or JSON-escaped (which leave its letters and digits as they
// are), and hex or base64 encoded.
package secrettest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// Secret is made at random and printed nowhere: its two halves are letters
// and digits of crypto/rand.Text, which no URL escaping, Go quoting or
// JSON escaping changes, so that any text holding the secret in those
// forms holds a piece of a half. Tests use A, B, A+B or B+A as passwords.
type Secret struct{ A, B string }

// New returns a new random secret.
func New() Secret { return Secret{A: rand.Text(), B: rand.Text()} }

// window is the length of the pieces of a half that Check looks for.
const window = 12

// base64s are the base64 encodings a program may use.
var base64s = []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding}

// Check fails t if msg holds a piece of window characters in a row of a
// half of s, in any of the forms the package names; what names msg in the
// failure. A piece is base64-encoded at each offset, so that a secret
// encoded inside a longer text, whatever its alignment, is found: one of
// its pieces starts a group of three bytes.
func (s Secret) Check(t testing.TB, what, msg string) {
	t.Helper()
	if form, ok := s.find(msg); ok {
		t.Errorf("%s holds the secret (%s): %s", what, form, s.Hide(msg))
	}
}

// find returns the form in which msg holds a piece of s, if it does.
func (s Secret) find(msg string) (form string, ok bool) {
	lower := strings.ToLower(msg)
	for _, half := range []string{s.A, s.B} {
		for i := 0; i+window <= len(half); i++ {
			piece := half[i : i+window]
			if strings.Contains(lower, strings.ToLower(piece)) {
				return "as is or in another case", true
			}
			if strings.Contains(lower, hex.EncodeToString([]byte(piece))) {
				return "hex", true
			}
			for _, enc := range base64s {
				// window is a multiple of 3: no padding inside.
				if strings.Contains(msg, enc.EncodeToString([]byte(piece))) {
					return "base64", true
				}
			}
		}
	}
	return "", false
}

// Hide returns msg with the halves of s replaced, so that a failure can
// show it.
func (s Secret) Hide(msg string) string {
	return strings.NewReplacer(s.A, "<SECRET-A>", s.B, "<SECRET-B>").Replace(msg)
}

// RedisURLs returns the Redis URL forms that hold a password, each with s
// in every place a password may sit, and the plausible mistakes of an
// operator.
func (s Secret) RedisURLs() []string {
	return []string{
		"redis://user:" + s.A + s.B + "@127.0.0.1:6379/0",
		"redis://:" + s.A + "@127.0.0.1:6379/0?pool_size=2",
		"rediss://u:" + s.B + "@h:6380/0?ca=/etc/ca.pem",
		"redis+sentinel://:" + s.A + "@h1:26379,h2:26379/mymaster?sentinel_password=" + s.B,
		"redis+cluster://u:" + s.B + s.A + "@h1:7000,h2:7001",
		// Mistakes: the password in the user slot, no scheme, the
		// password alone.
		"redis://" + s.A + s.B + "@127.0.0.1:6379/0",
		s.B + "@127.0.0.1:6379",
		s.A + s.B,
		"redis://:" + s.A,                                   // the '@' forgotten
		"redis+sentinel://:" + s.B + "s1:26379/m",           // the same, into a host
		"redis+sentinel://s1/m?sentinel_password=ab&" + s.A, // an '&' in it
	}
}

// CheckPrinted prints v with every verb (%v, %+v, %#v, %s, %q), alone and
// as a field of a struct, and through slog's text and JSON handlers, and
// checks every output with [Secret.Check]; name names v in the failures.
func (s Secret) CheckPrinted(t testing.TB, name string, v any) {
	t.Helper()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		s.Check(t, name+" "+verb, fmt.Sprintf(verb, v))
		// As a field of a struct, and behind a pointer.
		s.Check(t, name+" in a struct "+verb, fmt.Sprintf(verb, struct{ C any }{v}))
	}
	for hname, h := range map[string]func(*bytes.Buffer) slog.Handler{
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var b bytes.Buffer
		slog.New(h(&b)).Info("config", "cfg", v, slog.Any("any", v))
		if b.Len() == 0 {
			t.Fatalf("%s: slog %s printed nothing", name, hname)
		}
		s.Check(t, name+" slog "+hname, b.String())
	}
}
