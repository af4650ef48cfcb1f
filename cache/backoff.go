package cache

import (
	"math/rand/v2"
	"time"
)

// Backoff returns how long to wait before the nth retry (n from 0) of
// something that keeps failing: base doubled n times, at most ceiling,
// and then jittered, drawn uniformly from [d/2, d]. The jitter spreads the
// fleet's retries; it never waits longer than the doubling alone, so that
// a ceiling holds as given (a lease renewed at every retry, say). It
// neither sleeps nor reads a clock: every loop of the module that backs
// off (a coordinator's retries, store recovery and resume polling, the
// daemon's confirmations, e6coord's status and events) waits for it on
// its own timer or clock.
func Backoff(n int, base, ceiling time.Duration) time.Duration {
	d := min(base, ceiling)
	for ; n > 0 && d < ceiling; n-- {
		d = min(2*d, ceiling)
	}
	if d <= 0 {
		return 0
	}
	return d - d/2 + rand.N(d/2+1)
}
