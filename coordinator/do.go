package coordinator

import (
	"context"
	"errors"
	"fmt"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/internal/retry"
)

// ErrRetry marks an error after which Do retries the call with the same
// colour, without invalidating it: the caller repaired something (a lost
// session, say). Wrap it with the cause.
var ErrRetry = errors.New("coordinator: retry")

// Do runs call, a call not tied to a query, with the colour it must carry,
// and recovers from rejections: when call returns an error wrapping
// [ErrWrongStrategy], the colour is invalidated, detected again for the fleet,
// and call is retried; after an error wrapping [ErrSuspended] (a 503) the
// colour is detected again too, which resumes a suspended cluster (see
// Config.Cluster), and call is retried; after an error wrapping [ErrRetry]
// it is retried as it is. Up to MaxAttempts in all, with jittered backoff before the third
// and later attempts. Other errors are returned as they are. After the
// last attempt the error wraps the last rejection.
func (c *Coordinator) Do(ctx context.Context, call func(ctx context.Context, s cache.Strategy) error) error {
	left := c.cfg.MaxAttempts
	return c.DoWithin(ctx, &left, call)
}

// DoWithin is Do with an attempt budget the caller shares between several
// steps of one operation: each attempt takes one from *left.
func (c *Coordinator) DoWithin(ctx context.Context, left *int, call func(ctx context.Context, s cache.Strategy) error) error {
	var last error
	for *left > 0 {
		attempt := c.cfg.MaxAttempts - *left + 1
		*left--
		if err := retry.Sleep(ctx, retry.Backoff(attempt)); err != nil {
			return err
		}
		s, err := c.Resolve(ctx)
		if err != nil {
			if errors.Is(err, ErrBothRejected) || isSuspended(err) {
				last = err // mid-switch, or a 503 that resuming did not explain: try again
				continue
			}
			return err
		}
		err = call(ctx, s)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrWrongStrategy):
			c.Invalidate(s)
		case isSuspended(err):
			// The next attempt confirms the colour again, which resumes the
			// cluster if it is suspended.
			c.markUnconfirmed(s)
		case !errors.Is(err, ErrRetry):
			return err
		}
		last = err
	}
	if last == nil {
		last = errors.New("no attempt left")
	}
	return fmt.Errorf("coordinator: gave up after %d attempts: %w", c.cfg.MaxAttempts, last)
}
