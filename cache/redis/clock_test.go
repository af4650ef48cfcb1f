package redis_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/cachetest"
	"github.com/e6coord/e6coord/cache/redis"
)

// TestLeasesFollowServerClock checks that the server's clock alone judges
// leases. miniredis's clock is set 30s behind, then 30s ahead of, this
// host's, which is the clock of both callers: two stores over it, each
// with a client of its own, see the probe lease and the pins end exactly
// when the server's clock says, whatever theirs says, and read the
// server's expiries. A store that judged leases by its caller's clock
// would let the other steal the lease, or purge its live pins, 30s early
// or late.
func TestLeasesFollowServerClock(t *testing.T) {
	for _, skew := range []time.Duration{-30 * time.Second, 30 * time.Second} {
		t.Run(fmt.Sprintf("server=host%+v", skew), func(t *testing.T) {
			ctx := t.Context()
			m := miniredis.RunT(t)
			base := time.Now().Add(skew).Truncate(time.Millisecond)
			m.SetTime(base)
			newStore := func() *redis.Store {
				c := goredis.NewClient(&goredis.Options{Addr: m.Addr()})
				t.Cleanup(func() { c.Close() })
				s := redis.New(c, redis.Options{})
				t.Cleanup(func() { s.Close() })
				return s
			}
			a, b := newStore(), newStore()

			const ttl = 10 * time.Second
			if err := a.AcquireProbeLease(ctx, scope, "A", ttl); err != nil {
				t.Fatalf("A: AcquireProbeLease() error = %v", err)
			}
			if err := cachetest.Pin(ctx, a, scope, cache.Blue, 2*ttl, "qa"); err != nil {
				t.Fatalf("A: Pin() error = %v", err)
			}
			if err := cachetest.Pin(ctx, b, scope, cache.Green, 2*ttl, "qb"); err != nil {
				t.Fatalf("B: Pin() error = %v", err)
			}
			for _, id := range []string{"qa", "qb"} {
				p, err := b.Lookup(ctx, scope, id)
				if want := base.Add(2 * ttl); err != nil || !p.Expires.Equal(want) {
					t.Fatalf("B: Lookup(%s) = %+v, %v; want it to end at the server's now + %v, %v",
						id, p, err, 2*ttl, want)
				}
			}
			wantHeld := func(s *redis.Store, holder, left string) {
				t.Helper()
				err := s.AcquireProbeLease(ctx, scope, holder, ttl)
				if !errors.Is(err, cache.ErrLeaseHeld) {
					t.Fatalf("%s: AcquireProbeLease() error = %v, want one wrapping %v", holder, err, cache.ErrLeaseHeld)
				}
				if want := "for " + left + ":"; !strings.Contains(err.Error(), want) {
					t.Errorf("%s: AcquireProbeLease() error = %q, want it to say %q (by the server's clock)", holder, err, want)
				}
			}
			wantCount := func(s *redis.Store, who string, want cache.PinCounts) {
				t.Helper()
				if got, err := s.Count(ctx, scope); err != nil || got != want {
					t.Fatalf("%s: Count() = %+v, %v; want %+v", who, got, err, want)
				}
			}
			wantHeld(b, "B", "10s")

			// A's lease is live until the server's clock reaches its end,
			// and dead from then on.
			m.SetTime(base.Add(ttl - time.Millisecond))
			wantHeld(b, "B", "1ms")
			m.SetTime(base.Add(ttl))
			if err := b.AcquireProbeLease(ctx, scope, "B", ttl); err != nil {
				t.Fatalf("B: AcquireProbeLease() when A's lease has ended by the server's clock: error = %v", err)
			}
			wantHeld(a, "A", "10s")
			wantCount(b, "B", cache.PinCounts{Blue: 1, Green: 1})

			// Likewise the pins: neither store purges the other's early.
			m.SetTime(base.Add(2*ttl - time.Millisecond))
			wantCount(a, "A", cache.PinCounts{Blue: 1, Green: 1})
			wantCount(b, "B", cache.PinCounts{Blue: 1, Green: 1})
			if missing, err := a.Renew(ctx, scope, ttl, "qb"); err != nil || len(missing) != 0 {
				t.Fatalf("A: Renew(qb) = %q, %v; want it renewed", missing, err)
			}
			m.SetTime(base.Add(2 * ttl))
			wantCount(b, "B", cache.PinCounts{Green: 1})
			if _, err := b.Lookup(ctx, scope, "qa"); !errors.Is(err, cache.ErrNotFound) {
				t.Fatalf("B: Lookup(qa) after its end by the server's clock: error = %v, want one wrapping %v", err, cache.ErrNotFound)
			}
			p, err := b.Lookup(ctx, scope, "qb")
			if want := base.Add(2*ttl - time.Millisecond + ttl); err != nil || !p.Expires.Equal(want) {
				t.Fatalf("B: Lookup(qb) = %+v, %v; want it renewed to %v", p, err, want)
			}
		})
	}
}
