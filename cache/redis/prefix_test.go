package redis_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/internal/redistest"
)

// checkPrefixesApart opens two stores by URL on the Redis at base (a URL
// without a query), with prefixes tenant-a and tenant-b, writes the
// scope's record through the first and checks that the second does not
// see it, and that every key the first wrote starts with its prefix.
func checkPrefixesApart(t *testing.T, base string, keys func() []string) {
	t.Helper()
	ctx := t.Context()
	a, err := redis.Open(base+"?prefix=tenant-a", redis.Options{})
	if err != nil {
		t.Fatalf("Open(prefix=tenant-a) error = %v", err)
	}
	defer a.Close()
	b, err := redis.Open(base+"?prefix=tenant-b", redis.Options{})
	if err != nil {
		t.Fatalf("Open(prefix=tenant-b) error = %v", err)
	}
	defer b.Close()
	if got := a.Channel(scope); !strings.HasPrefix(got, "tenant-a:{") {
		t.Errorf("Channel() of the store of prefix=tenant-a = %q, want it to start with %q", got, "tenant-a:{")
	}
	if _, err := a.CompareAndSwap(ctx, scope, 0, cache.State{Active: cache.Green, Generation: 1}); err != nil {
		t.Fatalf("CompareAndSwap() error = %v", err)
	}
	if rec, err := a.Load(ctx, scope); err != nil || rec.Active != cache.Green {
		t.Fatalf("Load() through tenant-a = %+v, %v; want the green record it wrote", rec, err)
	}
	if rec, err := b.Load(ctx, scope); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Load() through tenant-b = %+v, %v; want an error wrapping %v: the prefixes must keep the records apart", rec, err, cache.ErrNotFound)
	}
	ks := keys()
	if len(ks) == 0 {
		t.Fatal("no key in Redis after a CompareAndSwap")
	}
	for _, k := range ks {
		if !strings.HasPrefix(k, "tenant-a:") {
			t.Errorf("key %q does not start with the prefix tenant-a:", k)
		}
	}
}

// TestOpenPrefixMiniredis: two stores of different prefix= on one Redis do
// not see each other's record (miniredis).
func TestOpenPrefixMiniredis(t *testing.T) {
	m := miniredis.RunT(t)
	checkPrefixesApart(t, "redis://"+m.Addr()+"/0", func() []string { return m.Keys() })
}

// TestOpenPrefixServer: the same on a real redis-server.
func TestOpenPrefixServer(t *testing.T) {
	redistest.Require(t)
	srv := redistest.Start(t)
	c, err := redis.OpenClient(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	checkPrefixesApart(t, srv.URL(), func() []string {
		ks, err := c.Keys(t.Context(), "*").Result()
		if err != nil {
			t.Fatalf("KEYS error = %v", err)
		}
		return ks
	})
}

// TestOpenPrefixOptions: the URL's prefix= and Options.Prefix may agree,
// not differ; without prefix=, Options.Prefix holds, and without either,
// the default.
func TestOpenPrefixOptions(t *testing.T) {
	tests := []struct {
		url, opt, want string
	}{
		{"redis://h:1/0", "", redis.DefaultPrefix + ":{"},
		{"redis://h:1/0", "mine", "mine:{"},
		{"redis://h:1/0?prefix=t.1:x_y-Z", "", "t.1:x_y-Z:{"},
		{"redis://h:1/0?prefix=same", "same", "same:{"},
		{"redis+sentinel://s1,s2/m?prefix=s", "", "s:{"},
		{"redis+cluster://n1,n2?prefix=c", "", "c:{"},
		{"unix:///run/redis.sock?prefix=u", "", "u:{"},
	}
	for _, tt := range tests {
		s, err := redis.Open(tt.url, redis.Options{Prefix: tt.opt})
		if err != nil {
			t.Errorf("Open(%s, Prefix %q) error = %v", tt.url, tt.opt, err)
			continue
		}
		if got := s.Channel(scope); !strings.HasPrefix(got, tt.want) {
			t.Errorf("Open(%s, Prefix %q): Channel() = %q, want it to start with %q", tt.url, tt.opt, got, tt.want)
		}
		s.Close()
	}
	if _, err := redis.Open("redis://h:1/0?prefix=theirs", redis.Options{Prefix: "mine"}); err == nil || !strings.Contains(err.Error(), "differs from Options.Prefix") {
		t.Errorf("Open() with two prefixes error = %v, want one saying they differ", err)
	}
}

// TestOpenPrefixInvalid: a prefix= that is empty, too long, given twice,
// or that holds a brace, an ACL pattern character or anything but
// letters, digits, '-', '_', '.' and ':' is an error that says what is
// allowed and does not quote the value.
func TestOpenPrefixInvalid(t *testing.T) {
	for _, p := range []string{
		"prefix=",
		"prefix",
		"prefix=" + strings.Repeat("a", 65),
		"prefix=a%7Bb",    // {
		"prefix=a%7D",     // }
		"prefix=ten*",     // an ACL pattern
		"prefix=t%3Fx",    // ?
		"prefix=%5Bab%5D", // [ab]
		"prefix=a%5Cb",    // \
		"prefix=a+b",      // a space
		"prefix=t%C3%A9",  // not ASCII
		"prefix=a/b",
		"prefix=a&prefix=b",
		"prefix=a&prefix=a",
	} {
		for _, base := range []string{"redis://h:1/0?", "redis+sentinel://s1/m?", "redis+cluster://n1?"} {
			raw := base + p
			_, err := redis.Open(raw, redis.Options{})
			if err == nil {
				t.Errorf("Open(%s) error = nil, want an invalid prefix", raw)
				continue
			}
			msg := err.Error()
			if !strings.Contains(msg, "prefix") {
				t.Errorf("Open(%s) error = %q, want one about the prefix", raw, msg)
			}
			if _, v, _ := strings.Cut(p, "="); len(v) > 1 && strings.Contains(msg, v) {
				t.Errorf("Open(%s) error = %q quotes the value", raw, msg)
			}
			if _, err := redis.OpenClient(raw); err == nil {
				t.Errorf("OpenClient(%s) error = nil, want an invalid prefix", raw)
			}
		}
	}
	// The rule is said.
	_, err := redis.Open("redis://h:1/0?prefix=a%7Bb", redis.Options{})
	if want := "want 1 to 64 ASCII letters, digits, '-', '_', '.' or ':'"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Open() error = %v, want one that says %q", err, want)
	}
}

// TestOpenClientTakesPrefix: OpenClient accepts a URL with a prefix, which
// a store's URL may carry.
func TestOpenClientTakesPrefix(t *testing.T) {
	c, err := redis.OpenClient("redis://h:1/0?prefix=tenant-a")
	if err != nil {
		t.Fatalf("OpenClient() error = %v", err)
	}
	c.Close()
}
