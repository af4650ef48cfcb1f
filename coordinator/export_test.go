package coordinator

import (
	"context"

	"github.com/e6coord/e6coord/cache"
)

// The test-only operations, as methods for this package's tests; other
// packages' tests have them from coordinatortest.

func (c *Coordinator) WaitFor(ctx context.Context, cond func(cache.State) bool) (cache.State, error) {
	return c.waitFor(ctx, cond)
}

func (c *Coordinator) Sync(ctx context.Context) error { return c.pins.sync(ctx) }

func (c *Coordinator) Refresh(ctx context.Context) error { return c.refresh(ctx) }
