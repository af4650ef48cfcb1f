package redis

import (
	"errors"
	"strings"
	"testing"
)

// fuzzSecret is the password of every URL FuzzOpenURL builds: letters and
// digits that no escaping changes and no message of Open holds.
const fuzzSecret = "Qv7sK2mZp9LxW4tB"

// FuzzOpenURL: no URL makes parseURL, the whole of Open but the client it
// makes (go-redis dials at once when min_idle_conns asks for it), panic,
// and no error of it holds the password, wherever a mistake put it: in
// the password's slot, in the user's, in a URL without a scheme, alone,
// after a forgotten '@' (in the host or port), or after an '&'.
// The same holds of Redact. A ca= file is never read.
func FuzzOpenURL(f *testing.F) {
	read := readCA
	readCA = func(string) ([]byte, error) { return nil, errors.New("no file in a fuzz test") }
	f.Cleanup(func() { readCA = read })
	seeds := []struct {
		scheme, user, rest string
		mode               uint8
	}{
		{"redis", "u", "127.0.0.1:6379/0", 0},
		{"redis", "", "127.0.0.1:6379/0?pool_size=-1", 0},
		{"redis", "", "h:1/0?dial_timeout=99999999999999999999", 1},
		{"rediss", "u", "h/0?ca=%2Fx&server_name=y", 0},
		{"unix", "u", "/run/redis.sock?db=-3", 0},
		{"redis+sentinel", "u", "s1,s2:1/m/0?sentinel_password=x&max_retries=-9", 0},
		{"rediss+sentinel", "", "s1,[::1]/m?pool_timeout=-2s", 1},
		{"redis+cluster", "u", "n1,n2?max_redirects=x&min_idle_conns=1e9", 0},
		{"redis", "", "h:6379", 2},
		{"", "", "", 3},
		{"redis+cluster", "", "n1,n2/?addr=n3:1&pool_size=", 4},
		{"redis", "a:b", "h?x=%zz", 0},
		{"redis", "", "h/0#frag", 1},
		{"redis", "", "", 5},
		{"redis", "", "/0", 5},
		{"redis+sentinel", "", "s1:26379/m", 5},
		{"redis", "127.0.0.1", "", 5},
		{"redis+sentinel", "", "s1/m", 6},
		{"redis", "u", "h/0?prefix=tenant-a&prefix=%7B", 0},
	}
	for _, s := range seeds {
		f.Add(s.scheme, s.user, s.rest, s.mode)
	}
	f.Fuzz(func(t *testing.T, scheme, user, rest string, mode uint8) {
		if strings.Contains(scheme+user+rest, fuzzSecret) {
			return // the secret also sits where it is no secret
		}
		var raw string
		switch mode % 7 {
		case 0: // the password's slot
			raw = scheme + "://" + user + ":" + fuzzSecret + "@" + rest
		case 1: // the user's slot
			raw = scheme + "://" + fuzzSecret + "@" + rest
		case 2: // no scheme
			raw = fuzzSecret + "@" + rest
		case 3: // a file that holds the password alone
			raw = fuzzSecret + strings.TrimLeft(user, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.:/")
		case 4: // a parameter's value
			raw = scheme + "://" + rest + "?x=" + fuzzSecret
		case 5: // the '@' forgotten: the password runs into the host
			raw = scheme + "://" + user + ":" + fuzzSecret + rest
		case 6: // an '&' in a value: the password's tail looks like a name
			raw = scheme + "://" + rest + "?sentinel_password=ab&" + fuzzSecret + user
		}
		if got := Redact(raw); strings.Contains(got, fuzzSecret) {
			t.Fatalf("Redact(%q) = %q, which holds the password", raw, got)
		}
		_, err := parseURL(raw)
		if err != nil && strings.Contains(err.Error(), fuzzSecret) {
			t.Fatalf("parseURL(%q) error = %q, which holds the password", raw, err)
		}
	})
}
