package redis

import (
	"context"
	"fmt"
	"time"

	"github.com/e6coord/e6coord/cache"
)

// AcquireProbeLease implements [cache.ProbeLeaser] with one script, which
// reads the time from the server: the lease ends ttl, in whole
// milliseconds, after the server's clock at the call, and another holder's
// lease is judged by that clock too. A ttl under a millisecond leaves no
// lease. The error of a lease held by another tells for how long, by the
// server's clock. The lease key expires 2×ttl+1s after the last
// acquisition, as garbage collection only.
func (s *Store) AcquireProbeLease(ctx context.Context, scope cache.Scope, holder string, ttl time.Duration) error {
	ctx, cancel, err := s.begin(ctx, "acquire probe lease", scope)
	if err != nil {
		return err
	}
	defer cancel()
	res, err := acquireScript.Run(ctx, s.c, []string{s.keysOf(scope).lease},
		holder, ms(ttl), gcAfter(ttl)).Slice()
	if err != nil {
		return s.fail(ctx, "acquire probe lease", scope, err)
	}
	if len(res) >= 1 && res[0] == int64(1) {
		return nil
	}
	if len(res) != 4 {
		return fmt.Errorf("redis: acquire probe lease of %s: unexpected script reply %v", scope, res)
	}
	other, _ := res[1].(string)
	left := "?"
	expires, ok1 := res[2].(int64)
	now, ok2 := res[3].(int64)
	if ok1 && ok2 {
		left = (time.Duration(expires-now) * time.Millisecond).String()
	}
	return fmt.Errorf("redis: probe lease of %s held by %q for %s: %w", scope, other, left, cache.ErrLeaseHeld)
}

// ReleaseProbeLease implements [cache.ProbeLeaser] with one script.
func (s *Store) ReleaseProbeLease(ctx context.Context, scope cache.Scope, holder string) error {
	ctx, cancel, err := s.begin(ctx, "release probe lease", scope)
	if err != nil {
		return err
	}
	defer cancel()
	if err := releaseLeaseScript.Run(ctx, s.c, []string{s.keysOf(scope).lease}, holder).Err(); err != nil {
		return s.fail(ctx, "release probe lease", scope, err)
	}
	return nil
}
