package inspect

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/internal/view"
)

// Types of [Event].
const (
	Snapshot = "snapshot" // the state when following began
	Change   = "change"   // a record the store pushed
	Resync   = "resync"   // the state re-read after the subscription was lost and made again
)

// Event is one change of a scope's state, as `e6coord events` prints it.
// Its JSON is the [view.State]'s with two more fields, "type" and "time".
type Event struct {
	Type string    `json:"type"` // Snapshot, Change or Resync
	Time time.Time `json:"time"` // when the reader saw it, by the local clock, in UTC
	view.State
}

// Text returns e on one line, for `-o text`:
// "2026-12-01T10:00:00.123Z change gen=5 active=green pending=- by=host-1".
func (e Event) Text() string {
	return fmt.Sprintf("%s %s gen=%d active=%s pending=%s by=%s",
		e.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"), e.Type, e.Generation,
		dash(e.Active), dash(e.Pending), dash(e.ChangedBy))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Join(strings.Fields(s), "_") // one word, so that the line splits on spaces
}

// Follow subscribes to the scope's changes, reads its state and calls emit
// with it as a [Snapshot]; then with a [Change] for every record the store
// pushes whose generation is above the last one emitted (the pins counted
// when it arrives). When the subscription is lost, Follow subscribes
// again, re-reads the state and emits it as a [Resync], whatever its
// generation, which becomes the one later changes must exceed. While the
// store cannot be reached, it tries again after a backoff growing from
// 100ms to 5s, logging every failed attempt at Warn, but a refusal (a
// wrong password or ACL, a read-only replica: [cache.ErrorKind] "denied" or
// "read-only") at Error once, and at Debug while it goes on; nothing is
// emitted before the first successful read.
//
// Follow returns ctx's error when ctx is done, or the first error of emit,
// which stops it.
func (r *Reader) Follow(ctx context.Context, emit func(Event) error) error {
	first := true
	failures := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		wctx, cancel := context.WithCancel(ctx)
		ch, err := r.subscribe(wctx)
		if err != nil {
			cancel()
			failures++
			if err := r.backoff(ctx, failures, err); err != nil {
				return err
			}
			continue
		}
		failures = 0
		typ := Resync
		if first {
			typ = Snapshot
		}
		first = false
		last := r.last.Generation
		if err = emit(r.event(typ, r.last)); err != nil {
			cancel() // closes ch
		}
		for st := range ch {
			if err != nil || st.Generation <= last {
				continue // draining after an error, or not newer
			}
			last = st.Generation
			err = emit(r.event(Change, r.changed(ctx, st)))
			if err != nil {
				cancel() // closes ch
			}
		}
		cancel()
		if err != nil {
			return err
		}
		if ctx.Err() == nil {
			r.log.Info("lost the subscription to the store's changes; re-reading the record", "scope", r.opts.Scope.String())
		}
	}
}

// subscribe watches the scope with ctx and reads its state (into r.last),
// in that order, so that no change after the read is missed. On a failed
// read it ends the watch and returns the error.
func (r *Reader) subscribe(ctx context.Context) (<-chan cache.State, error) {
	ch, err := r.store.Watch(ctx, r.opts.Scope)
	if err != nil {
		r.noteFailure(err)
		return nil, fmt.Errorf("watch the record: %w", err)
	}
	if _, err := r.Read(ctx); err != nil {
		return nil, err // the caller cancels ctx, which closes ch
	}
	r.log.Debug("watching the store's changes", "scope", r.opts.Scope.String(), "generation", r.last.Generation)
	return ch, nil
}

// backoff logs the n-th failure in a row, err, and waits before the next
// attempt, or until ctx is done.
func (r *Reader) backoff(ctx context.Context, n int, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	d := cache.Backoff(n-1, minBackoff, maxBackoff)
	attrs := []any{"scope", r.opts.Scope.String(), "attempt", n, "retry_in", d.Round(time.Millisecond), "err", err}
	switch kind := cache.ErrorKind(err); {
	case kind != "denied" && kind != "read-only":
		r.refusalLogged = false
		r.log.Warn("cannot reach the store; trying again", attrs...)
	case r.refusalLogged:
		r.log.Debug("the store still refuses; trying again", attrs...)
	case kind == "read-only":
		r.refusalLogged = true
		r.log.Error("the store is a read-only replica: point the Redis URL at the primary; trying again", attrs...)
	default:
		r.refusalLogged = true
		r.log.Error("the store refused access: check the Redis password and ACL; trying again", attrs...)
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

// Backoff bounds of [Reader.Follow].
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

func (r *Reader) event(typ string, v view.State) Event {
	return Event{Type: typ, Time: r.opts.Now().UTC(), State: v}
}

// errReached stops Follow in WaitFor.
var errReached = errors.New("inspect: colour reached")

// WaitFor follows the scope, as [Reader.Follow] does, until colour s is
// active, and returns the view of that moment. When ctx is done first, it
// returns ctx's error with the last view read (generation 0 and status
// unknown if none was), whose store state tells whether the store was
// reachable.
func (r *Reader) WaitFor(ctx context.Context, s cache.Strategy) (view.State, error) {
	var got view.State
	err := r.Follow(ctx, func(e Event) error {
		if e.Active == s.String() {
			got = e.State
			return errReached
		}
		return nil
	})
	if errors.Is(err, errReached) {
		return got, nil
	}
	return r.last, err
}
