// Package retry holds the backoff shared by the coordinator's and the
// client's retry loops.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff before the third and later attempts: base doubles per attempt,
// jittered by ±50%, capped.
const (
	base    = 20 * time.Millisecond
	ceiling = time.Second
)

// Backoff returns the jittered wait before attempt n (1-based) of a retried
// call: none before the first two, then 20ms doubling per attempt, ±50%,
// capped at a second.
func Backoff(n int) time.Duration {
	if n <= 2 {
		return 0
	}
	d := min(base<<min(n-3, 10), ceiling)
	return d/2 + rand.N(d)
}

// Sleep waits for d, or until ctx is done, and returns ctx's error if it
// is.
func Sleep(ctx context.Context, d time.Duration) error {
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
