package coordinator

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/e6coord/e6coord/cache"
)

// Backoff before the third and later attempts of [Coordinator.Do]: base
// doubles per attempt, jittered by ±50%, capped.
const (
	retryBase = 20 * time.Millisecond
	retryCap  = time.Second
)

// Do runs call, a call not tied to a query, with the colour it must carry,
// and recovers from rejections: when call returns an error wrapping
// [ErrRejected], the colour is invalidated, detected again for the fleet,
// and call is retried, up to MaxAttempts in all, with jittered backoff
// before the third and later attempts. Other errors are returned as they
// are. After the last attempt the error wraps the last rejection.
func (c *Coordinator) Do(ctx context.Context, call func(ctx context.Context, s cache.Strategy) error) error {
	var last error
	for attempt := 1; attempt <= c.cfg.MaxAttempts; attempt++ {
		if attempt > 2 {
			if err := sleep(ctx, Backoff(attempt)); err != nil {
				return err
			}
		}
		s, err := c.Resolve(ctx)
		if err != nil {
			if errors.Is(err, ErrBothRejected) {
				last = err // mid-switch: try again
				continue
			}
			return err
		}
		err = call(ctx, s)
		if err == nil || !errors.Is(err, ErrRejected) {
			return err
		}
		last = err
		c.Invalidate(s)
	}
	return fmt.Errorf("coordinator: gave up after %d attempts: %w", c.cfg.MaxAttempts, last)
}

// Backoff returns the jittered wait before attempt n (1-based) of a retried
// call: none before the first two, then 20ms doubling per attempt, ±50%,
// capped at a second.
func Backoff(n int) time.Duration {
	if n <= 2 {
		return 0
	}
	d := retryBase << min(n-3, 10)
	d = min(d, retryCap)
	return d/2 + rand.N(d)
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
