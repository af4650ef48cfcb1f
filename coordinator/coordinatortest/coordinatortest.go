// Package coordinatortest gives tests the operations of a
// [coordinator.Coordinator] that only tests need: waiting for a record,
// waiting for the pins to be written, and running the background refresh
// at once. Programs never need them.
package coordinatortest

import (
	"context"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/coordinator"
	"github.com/e6coord/e6coord/coordinator/internal/hooks"
)

// WaitFor blocks until cond holds for c's local record, and returns that
// record, or ctx's error, or coordinator.ErrClosed once c is closed. cond
// is called with each new record and must not block.
func WaitFor(ctx context.Context, c *coordinator.Coordinator, cond func(cache.State) bool) (cache.State, error) {
	return hooks.WaitFor(c, ctx, cond)
}

// Sync waits until the pins and releases c made before it have been
// written to the store (or skipped, while the store is unreachable), or
// ctx is done. Pins are written in the background, within PinDelay.
func Sync(ctx context.Context, c *coordinator.Coordinator) error {
	return hooks.Sync(c, ctx)
}

// Refresh runs c's background refresh once, now: it re-reads the shared
// record and acts on it as the background loop does every
// RefreshInterval (adopting a newer record, recovering from a store
// outage, expiring the active colour, refreshing it early, dropping a
// withdrawn pending colour, accepting one, switching). A coordinator made
// with a negative RefreshInterval refreshes only so.
func Refresh(ctx context.Context, c *coordinator.Coordinator) error {
	return hooks.Refresh(c, ctx)
}
