package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/e6coord/e6coord/cache"
)

// AcquireProbeLease implements [cache.ProbeLeaser] with one script. A ttl of
// zero or less leaves no lease. The lease key expires (server time) 2×ttl+1s
// after the last acquisition, as garbage collection only.
func (s *Store) AcquireProbeLease(ctx context.Context, scope cache.Scope, holder string, ttl time.Duration) error {
	ctx, cancel, err := s.begin(ctx, "acquire probe lease", scope)
	if err != nil {
		return err
	}
	defer cancel()
	now := s.now()
	res, err := acquireScript.Run(ctx, s.c, []string{s.keysOf(scope).lease},
		holder, ms(now), ms(now.Add(ttl)), gcAfter(ttl)).Slice()
	if err != nil {
		return fail(ctx, "acquire probe lease", scope, err)
	}
	if len(res) >= 1 && res[0] == int64(1) {
		return nil
	}
	if len(res) != 3 {
		return fmt.Errorf("redis: acquire probe lease of %s: unexpected script reply %v", scope, res)
	}
	other, _ := res[1].(string)
	left := "?"
	if e, err := strconv.ParseInt(fmt.Sprint(res[2]), 10, 64); err == nil {
		left = time.UnixMilli(e).Sub(now).String()
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
		return fail(ctx, "release probe lease", scope, err)
	}
	return nil
}
