package coordinator

import (
	"context"
	"errors"
	"fmt"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/internal/retry"
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
			if err := retry.Sleep(ctx, retry.Backoff(attempt)); err != nil {
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
