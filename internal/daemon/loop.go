package daemon

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/coordinator"
)

// checksPerInterval is how many times per interval the loop asks Confirm
// whether the record is due, which costs an atomic load when it is not.
// So the record is re-confirmed between one interval and a quarter more
// after its last confirmation, whichever daemon of the fleet made it, and
// never less than an interval after it.
const checksPerInterval = 4

// backoffBase is the first wait after a failed confirmation, unless a check
// comes sooner.
const backoffBase = 250 * time.Millisecond

// loop confirms the active colour until ctx is done.
func (d *Daemon) loop(ctx context.Context) {
	failures := 0
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		d.progress.Store(time.Now().UnixNano())
		maxAge := d.maxAge()
		err := d.confirm(ctx, maxAge)
		if ctx.Err() != nil {
			return
		}
		d.noteResult(err)
		wait := maxAge / checksPerInterval
		if err != nil {
			failures++
			wait = cache.Backoff(failures-1, min(wait, backoffBase), maxAge)
		} else {
			failures = 0
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
	}
}

// maxAge is the age at which the record is due for a confirmation: the
// interval, or at most a second while a switch is pending.
func (d *Daemon) maxAge() time.Duration {
	if d.coord.Snapshot().Pending.Valid() {
		return min(d.cfg.Interval, pendingInterval)
	}
	return d.cfg.Interval
}

// confirmTimeout bounds one confirmation: the interval, and at least the
// probe lease, within which a detection makes its probes.
func (d *Daemon) confirmTimeout() time.Duration {
	return max(d.cfg.Interval, d.coord.Config().ProbeLeaseTTL)
}

// stallAfter is how long the loop may go without beginning an iteration
// before /healthz fails: an iteration takes at most confirmTimeout and then
// waits at most an interval.
func (d *Daemon) stallAfter() time.Duration {
	return 3*d.cfg.Interval + d.confirmTimeout()
}

func (d *Daemon) confirm(ctx context.Context, maxAge time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d.confirmTimeout())
	defer cancel()
	return d.coord.Confirm(ctx, maxAge)
}

// noteResult keeps why the confirmation failed, for /readyz, and logs when
// that changes.
func (d *Daemon) noteResult(err error) {
	reason := ""
	if err != nil {
		reason = failureReason(err)
	}
	prev := d.lastFailure.Swap(&reason)
	switch {
	case err != nil && (prev == nil || *prev != reason):
		d.log.Warn("confirmation of the active colour failed; retrying with backoff", "reason", reason, "err", err)
	case err == nil && prev != nil && *prev != "":
		d.log.Info("active colour confirmed again", "colour", d.coord.Strategy().String(),
			"generation", d.coord.Snapshot().Generation)
	}
}

// failureReason says in a few words why a confirmation failed.
func failureReason(err error) string {
	switch {
	case errors.Is(err, coordinator.ErrBothRejected):
		return "engine rejected both colours"
	case errors.Is(err, coordinator.ErrSuspended):
		return "cluster suspended or starting"
	case errors.Is(err, coordinator.ErrClosed):
		return "closed"
	case errors.Is(err, context.DeadlineExceeded):
		return "engine timed out"
	}
	switch status.Code(err) {
	case codes.Unauthenticated, codes.PermissionDenied:
		return "engine refused the credentials"
	case codes.Unavailable:
		return "engine unreachable"
	case codes.DeadlineExceeded:
		return "engine timed out"
	}
	return "error"
}
