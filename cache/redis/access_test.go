package redis_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/cachetest"
	"github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/internal/redistest"
)

// The passwords of the access tests: none may appear in an error.
const (
	adminPassword = "admin-pw-5e1f"
	userPassword  = "user-pw-9c2a"
	wrongPassword = "wrong-pw-77d0"
)

// accessTimeout is the store's timeout in the access tests, and
// refusalDeadline the deadline of each call's context, far shorter: a
// refusal is an answer, which comes back long before the caller's deadline
// (in milliseconds; checkAccess logs how long), whereas a store that
// waited for its own timeout before it gave up would run into that
// deadline. refusalDeadline only catches such a wait: it is ten times the
// second within which an answer was once required.
const (
	accessTimeout   = time.Minute
	refusalDeadline = 10 * time.Second
)

// storeCall is one method of the store, called on scope.
type storeCall struct {
	name string
	call func(ctx context.Context, s *redis.Store) error
}

// storeCalls are every method of the store that talks to Redis.
var storeCalls = []storeCall{
	{"Load", func(ctx context.Context, s *redis.Store) error { _, err := s.Load(ctx, scope); return err }},
	{"CompareAndSwap", func(ctx context.Context, s *redis.Store) error {
		_, err := s.CompareAndSwap(ctx, scope, 0, cache.State{Active: cache.Blue, Generation: 1})
		return err
	}},
	{"Pin", func(ctx context.Context, s *redis.Store) error {
		return cachetest.Pin(ctx, s, scope, cache.Blue, time.Minute, "q")
	}},
	{"Lookup", func(ctx context.Context, s *redis.Store) error { _, err := s.Lookup(ctx, scope, "q"); return err }},
	{"Renew", func(ctx context.Context, s *redis.Store) error {
		_, err := s.Renew(ctx, scope, time.Minute, "q")
		return err
	}},
	{"Release", func(ctx context.Context, s *redis.Store) error {
		_, err := cachetest.Release(ctx, s, scope, "q", "r")
		return err
	}},
	{"Count", func(ctx context.Context, s *redis.Store) error { _, err := s.Count(ctx, scope); return err }},
	{"AcquireProbeLease", func(ctx context.Context, s *redis.Store) error {
		return s.AcquireProbeLease(ctx, scope, "me", time.Minute)
	}},
	{"ReleaseProbeLease", func(ctx context.Context, s *redis.Store) error { return s.ReleaseProbeLease(ctx, scope, "me") }},
	{"Time", func(ctx context.Context, s *redis.Store) error { _, err := s.Time(ctx); return err }},
	{"Watch", func(ctx context.Context, s *redis.Store) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel() // ends the watch, if it started
		_, err := s.Watch(ctx, scope)
		return err
	}},
}

// accessStore returns a store over a new client of addr that logs in with
// user and password (none when both are empty).
func accessStore(t *testing.T, addr, user, password string) *redis.Store {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr, Username: user, Password: password, ContextTimeoutEnabled: true})
	s := redis.New(c, redis.Options{Timeout: accessTimeout})
	t.Cleanup(func() {
		s.Close()
		c.Close()
	})
	return s
}

// checkAccess calls every method of s, each with a context whose deadline
// is refusalDeadline. Those named in denied must fail with an error
// wrapping cache.ErrAccessDenied, and not context.DeadlineExceeded, before
// that deadline (an answer, not the end of a wait), holding no password;
// every other one must work (a miss is fine).
func checkAccess(t *testing.T, s *redis.Store, denied ...string) {
	t.Helper()
	for _, c := range storeCalls {
		ctx, cancel := context.WithTimeout(t.Context(), refusalDeadline)
		start := time.Now()
		err := c.call(ctx, s)
		took := time.Since(start)
		late := ctx.Err() // the call returned only once its deadline had passed
		cancel()
		if !slices.Contains(denied, c.name) {
			if err != nil && !errors.Is(err, cache.ErrNotFound) {
				t.Errorf("%s error = %v, want it to work", c.name, err)
			}
			continue
		}
		if !errors.Is(err, cache.ErrAccessDenied) {
			t.Errorf("%s error = %v, want one wrapping %v", c.name, err, cache.ErrAccessDenied)
			continue
		}
		t.Logf("%s: refused after %v: %v", c.name, took.Round(time.Microsecond), err)
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s error = %v, wraps %v too: a refusal is no timeout", c.name, err, context.DeadlineExceeded)
		}
		if late != nil {
			t.Errorf("%s was refused only after its context's %v deadline had passed (%v): want an answer, not a wait", c.name, refusalDeadline, late)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "redis: ") {
			t.Errorf("%s error = %q, want it to start with \"redis: \"", c.name, msg)
		}
		for _, pw := range []string{adminPassword, userPassword, wrongPassword} {
			if strings.Contains(msg, pw) {
				t.Errorf("%s error = %q holds a password", c.name, msg)
			}
		}
	}
}

// allCalls are the names of storeCalls.
func allCalls() []string {
	var names []string
	for _, c := range storeCalls {
		names = append(names, c.name)
	}
	return names
}

// aclUser creates or resets user with rules, as the admin client a.
func aclUser(t *testing.T, a *goredis.Client, user string, rules ...string) {
	t.Helper()
	args := []any{"ACL", "SETUSER", user, "reset"}
	for _, r := range rules {
		args = append(args, r)
	}
	if err := a.Do(t.Context(), args...).Err(); err != nil {
		t.Fatalf("ACL SETUSER %s: %v", user, err)
	}
}

// TestAccessDeniedRedisServer checks, on a real redis-server with ACL
// users, that every call Redis refuses for credentials or permissions
// fails with cache.ErrAccessDenied, as an answer rather than a timeout,
// and that the calls a user may make still work.
func TestAccessDeniedRedisServer(t *testing.T) {
	redistest.Require(t)
	srv := redistest.Start(t)
	// The default user has no password yet, so any password logs it in; from
	// the next command on it needs this one.
	admin := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), Password: adminPassword})
	defer admin.Close()
	aclUser(t, admin, "default", "on", ">"+adminPassword, "~*", "&*", "+@all")
	ctx := t.Context()

	t.Run("fault=wrong-password", func(t *testing.T) {
		aclUser(t, admin, "app", "on", ">"+userPassword, "~*", "&*", "+@all")
		checkAccess(t, accessStore(t, srv.Addr(), "app", wrongPassword), allCalls()...)
	})
	t.Run("fault=unknown-user", func(t *testing.T) {
		checkAccess(t, accessStore(t, srv.Addr(), "nobody", userPassword), allCalls()...)
	})
	t.Run("fault=no-password", func(t *testing.T) {
		checkAccess(t, accessStore(t, srv.Addr(), "", ""), allCalls()...) // NOAUTH
	})
	t.Run("fault=no-evalsha-hmget", func(t *testing.T) {
		// Every method but Time and Watch runs a script or HMGET.
		aclUser(t, admin, "noscript", "on", ">"+userPassword, "~*", "&*", "+@all", "-evalsha", "-eval", "-hmget")
		checkAccess(t, accessStore(t, srv.Addr(), "noscript", userPassword),
			"Load", "CompareAndSwap", "Pin", "Lookup", "Renew", "Release", "Count", "AcquireProbeLease", "ReleaseProbeLease")
	})
	t.Run("fault=other-prefix", func(t *testing.T) {
		// A tenant's ACL for another prefix: every key is refused.
		aclUser(t, admin, "tenant", "on", ">"+userPassword, "~other:*", "&*", "+@all")
		checkAccess(t, accessStore(t, srv.Addr(), "tenant", userPassword),
			"Load", "CompareAndSwap", "Pin", "Lookup", "Renew", "Release", "Count", "AcquireProbeLease", "ReleaseProbeLease")
	})
	t.Run("fault=no-channels", func(t *testing.T) {
		aclUser(t, admin, "nochan", "on", ">"+userPassword, "~*", "resetchannels", "+@all")
		s := accessStore(t, srv.Addr(), "nochan", userPassword)
		// A swap publishes, inside its script: refused, it stores nothing.
		checkAccess(t, s, "Watch", "CompareAndSwap")
		if _, err := s.Load(ctx, scope); !errors.Is(err, cache.ErrNotFound) {
			t.Errorf("Load() after the refused swap error = %v, want one wrapping %v: the swap must store nothing", err, cache.ErrNotFound)
		}
	})
	t.Run("allowed", func(t *testing.T) {
		aclUser(t, admin, "app", "on", ">"+userPassword, "~*", "&*", "+@all")
		checkAccess(t, accessStore(t, srv.Addr(), "app", userPassword))
	})
}

// TestAccessDeniedMiniredis checks the refusals miniredis makes: it has
// passwords (RequireAuth, RequireUserAuth) but no ACL rules.
func TestAccessDeniedMiniredis(t *testing.T) {
	m := miniredis.RunT(t)
	m.RequireAuth(adminPassword)
	m.RequireUserAuth("app", userPassword)
	t.Run("fault=no-password", func(t *testing.T) {
		checkAccess(t, accessStore(t, m.Addr(), "", ""), allCalls()...) // NOAUTH
	})
	t.Run("fault=wrong-password", func(t *testing.T) {
		checkAccess(t, accessStore(t, m.Addr(), "", wrongPassword), allCalls()...)
	})
	t.Run("fault=wrong-user-password", func(t *testing.T) {
		checkAccess(t, accessStore(t, m.Addr(), "app", wrongPassword), allCalls()...)
	})
	t.Run("allowed", func(t *testing.T) {
		checkAccess(t, accessStore(t, m.Addr(), "app", userPassword))
	})
}

// TestTimeoutIsNotAccessDenied checks the other side: a call that times
// out does not wrap cache.ErrAccessDenied.
func TestTimeoutIsNotAccessDenied(t *testing.T) {
	redistest.Require(t)
	srv := redistest.Start(t)
	s := accessStore(t, srv.Addr(), "", "")
	ctx := t.Context()
	if _, err := s.Time(ctx); err != nil { // connects
		t.Fatalf("Time() error = %v", err)
	}
	srv.Pause()
	defer srv.Resume()
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err := s.Load(short, scope)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, cache.ErrAccessDenied) {
		t.Errorf("Load() from a paused server error = %v, want one wrapping %v and not %v", err, context.DeadlineExceeded, cache.ErrAccessDenied)
	}
}
