package redis_test

import (
	"errors"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/internal/redistest"
)

// TestWatchHeartbeatUnheard checks, on the watch's clock (the test's),
// that a watch whose heartbeats are not heard closes its channel exactly
// when the heartbeat timeout has passed since it last heard one, not
// before; that the next Watch, once the heartbeats get through again,
// delivers; and that Watch fails with cache.ErrAccessDenied when Redis
// refuses the heartbeat. Redis refuses the heartbeats by an ACL that
// takes PUBLISH away from the store's user, which the subscription cannot
// tell from a publish that goes to another node.
func TestWatchHeartbeatUnheard(t *testing.T) {
	redistest.Require(t)
	ctx := t.Context()
	srv := redistest.Start(t)
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	defer c.Close()
	acl := func(rule string) {
		t.Helper()
		if err := c.Do(ctx, "ACL", "SETUSER", "default", rule).Err(); err != nil {
			t.Fatalf("ACL SETUSER default %s: %v", rule, err)
		}
	}
	const interval, timeout = 10 * time.Millisecond, 40 * time.Millisecond
	if timeout >= silentDropBudget || redis.DefaultHeartbeatTimeout >= silentDropBudget {
		t.Fatalf("heartbeat timeouts %v and %v, want them below the budget %v", timeout, redis.DefaultHeartbeatTimeout, silentDropBudget)
	}
	s := redis.New(c, redis.Options{HeartbeatInterval: interval, HeartbeatTimeout: timeout, Timeout: waitTimeout})
	defer s.Close()
	clk, tr := newFakeClock(), newWatchTrace(t)
	redis.SetWatchClock(s, clk)
	redis.SetWatchHook(s, tr.hook)

	ch, err := s.Watch(ctx, scope)
	if err != nil {
		t.Fatalf("Watch() error = %v", err)
	}
	tr.want("published")
	tr.want("heard")
	acl("-publish")
	// Three intervals: each heartbeat is refused, and the watch stays,
	// since it heard one less than the timeout ago.
	for i := range 3 {
		clk.Advance(interval)
		tr.want("published")
		select {
		case st, ok := <-ch:
			t.Fatalf("watch sent %v (open: %v) %v after its last heartbeat, want nothing before %v", st, ok, time.Duration(i+1)*interval, timeout)
		default:
		}
	}
	// The fourth: the timeout has passed.
	clk.Advance(interval)
	waitClosed(t, ch)

	t.Run("refused", func(t *testing.T) {
		_, err := s.Watch(ctx, scope)
		if !errors.Is(err, cache.ErrAccessDenied) {
			t.Fatalf("Watch() without PUBLISH error = %v, want one wrapping %v", err, cache.ErrAccessDenied)
		}
		tr.want("published")
	})

	t.Run("again", func(t *testing.T) {
		acl("+publish")
		ch, err := s.Watch(ctx, scope)
		if err != nil {
			t.Fatalf("Watch() error = %v", err)
		}
		tr.want("published")
		tr.want("heard")
		if _, err := s.CompareAndSwap(ctx, scope, 0, cache.State{Active: cache.Blue, Generation: 1}); err != nil {
			t.Fatalf("CompareAndSwap() error = %v", err)
		}
		wantEvent(t, ch, 1)
	})
}
