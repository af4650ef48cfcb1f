package coordinator

import (
	"context"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/coordinator/internal/hooks"
)

// The test-only operations, for package coordinatortest.
func init() {
	hooks.WaitFor = func(c any, ctx context.Context, cond func(cache.State) bool) (cache.State, error) {
		return c.(*Coordinator).waitFor(ctx, cond)
	}
	hooks.Sync = func(c any, ctx context.Context) error { return c.(*Coordinator).pins.sync(ctx) }
	hooks.Refresh = func(c any, ctx context.Context) error { return c.(*Coordinator).refresh(ctx) }
}
