// Package secrettest makes random secrets for tests, and checks that what a
// program printed, returned or served does not hold them, in any encoding.
package secrettest

import (
	"crypto/rand"
	"strings"
	"testing"
)

// Secret is made at random and printed nowhere: its two halves are letters
// and digits of crypto/rand.Text, which no URL escaping changes, so that
// any text holding the secret, however encoded, holds a piece of a half.
// Tests use A, B, A+B or B+A as passwords.
type Secret struct{ A, B string }

// New returns a new random secret.
func New() Secret { return Secret{A: rand.Text(), B: rand.Text()} }

// window is the length of the pieces of a half that Check looks for.
const window = 12

// Check fails t if msg holds window characters in a row of a half of s;
// what names msg in the failure.
func (s Secret) Check(t testing.TB, what, msg string) {
	t.Helper()
	for _, half := range []string{s.A, s.B} {
		for i := 0; i+window <= len(half); i++ {
			if strings.Contains(msg, half[i:i+window]) {
				t.Errorf("%s holds the secret: %s", what, s.Hide(msg))
				return
			}
		}
	}
}

// Hide returns msg with the halves of s replaced, so that a failure can
// show it.
func (s Secret) Hide(msg string) string {
	return strings.NewReplacer(s.A, "<SECRET-A>", s.B, "<SECRET-B>").Replace(msg)
}
