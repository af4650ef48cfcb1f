// Package hooks carries the coordinator's test-only operations to package
// coordinatortest, so that they are not part of package coordinator's API.
// Package coordinator sets the functions when it is initialised; c is a
// *coordinator.Coordinator.
package hooks

import (
	"context"

	"github.com/e6coord/e6coord/cache"
)

var (
	WaitFor func(c any, ctx context.Context, cond func(cache.State) bool) (cache.State, error)
	Sync    func(c any, ctx context.Context) error
	Refresh func(c any, ctx context.Context) error
)
