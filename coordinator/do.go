package coordinator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/e6coord/e6coord/cache"
)

// Retry wraps err, the error of a call given to [Coordinator.Do], to say
// that Do runs the call again, with the colour it resolves then, without
// invalidating the colour: the caller repaired something (a lost session,
// say). Retry(nil) is nil.
func Retry(err error) error {
	if err == nil {
		return nil
	}
	return &verdict{again: true, err: err}
}

// Stop wraps err, the error of a call given to [Coordinator.Do], to say that
// Do returns err as it is, with no further attempt, whatever it wraps (a
// rejection the caller will not recover from, say). Stop(nil) is nil.
func Stop(err error) error {
	if err == nil {
		return nil
	}
	return &verdict{err: err}
}

// verdict is an error of a call with the caller's word on it: run the call
// again (again), or stop.
type verdict struct {
	again bool
	err   error
}

func (v *verdict) Error() string { return v.err.Error() }
func (v *verdict) Unwrap() error { return v.err }

// Do runs call with the colour it must carry, and recovers from
// rejections, up to MaxAttempts attempts in all. The error of an attempt
// says what comes next:
//
//   - nil: done.
//   - wrapping [ErrWrongStrategy] (the engine rejected the colour): the
//     colour is invalidated, detected again for the fleet, and call runs
//     again, on the new colour.
//   - wrapping [ErrSuspended] (a 503), and not [ErrResumeFailed]: the
//     colour is detected again too, which resumes a suspended cluster (see
//     Config.Cluster), and call runs again.
//   - Retry(err): call runs again, nothing invalidated.
//   - Stop(err): Do returns err, whatever it wraps.
//   - any other error: Do returns it as it is.
//
// Retry and Stop are read first: Retry of a rejection invalidates nothing.
//
// Resolving the colour may fail too: while the engine rejects both
// colours, or answers 503 that no resume explains, Do tries again; other
// errors of [Coordinator.Resolve] are returned. Attempts after the second
// wait for a [cache.Backoff]. After the last attempt the error says so and wraps
// the last attempt's.
func (c *Coordinator) Do(ctx context.Context, call func(ctx context.Context, s cache.Strategy) error) error {
	gaveUp, last := c.attempt(ctx, c.cfg.MaxAttempts, c.resolve, call)
	if gaveUp {
		return fmt.Errorf("coordinator: gave up after %d attempts: %w", c.cfg.MaxAttempts, last)
	}
	return last
}

// resolve is Do's choice of colour for every attempt: the one Resolve
// gives.
func (c *Coordinator) resolve(ctx context.Context, _ int, _ cache.Strategy) (cache.Strategy, error) {
	return c.Resolve(ctx)
}

// The backoff before the third and later attempts of the retry loop.
const (
	doBackoffBase    = 20 * time.Millisecond
	doBackoffCeiling = time.Second
)

// attempt is the one retry loop: it runs call up to attempts times, with
// the colour pick chooses for attempt n (1-based; prev is the colour of the
// attempt before, Unknown for the first), and judges each error as [Do]
// describes. An error of pick ends the loop unless it wraps
// [ErrBothRejected] or a 503 that no resume explained: mid-switch, the next
// attempt may find the colour. It returns whether the attempts ran out,
// and the last error.
func (c *Coordinator) attempt(ctx context.Context, attempts int,
	pick func(ctx context.Context, n int, prev cache.Strategy) (cache.Strategy, error),
	call func(ctx context.Context, s cache.Strategy) error,
) (gaveUp bool, last error) {
	prev := cache.Unknown
	for n := 1; n <= attempts; n++ {
		var wait time.Duration
		if n > 2 {
			wait = cache.Backoff(n-3, doBackoffBase, doBackoffCeiling)
		}
		if err := sleep(ctx, wait); err != nil { // no attempt once ctx is done
			return false, err
		}
		s, err := pick(ctx, n, prev)
		if err != nil {
			if !errors.Is(err, ErrBothRejected) && !isSuspended(err) {
				return false, err
			}
			last = err
			continue
		}
		prev = s
		err = call(ctx, s)
		var v *verdict
		switch {
		case err == nil:
			return false, nil
		case errors.As(err, &v):
			if !v.again {
				return false, v.err
			}
			err = v.err
		case errors.Is(err, ErrWrongStrategy):
			c.Invalidate(s)
		case isSuspended(err):
			// The next attempt confirms the colour again, which resumes the
			// cluster if it is suspended.
			c.markUnconfirmed(s)
		default:
			return false, err
		}
		last = err
	}
	if last == nil {
		last = errors.New("no attempt left")
	}
	return true, last
}

// sleep waits for d, or until ctx is done, and returns ctx's error if it
// is.
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
