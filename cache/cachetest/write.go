package cachetest

import (
	"context"
	"fmt"
	"time"

	"github.com/e6coord/e6coord/cache"
)

// Pin pins ids to colour s in scope, live for ttl, with one
// [cache.PinStore.WritePins]: for tests and tools that pin one colour at a
// time. An invalid colour is an error wrapping [cache.ErrInvalidStrategy].
func Pin(ctx context.Context, store cache.PinStore, scope cache.Scope, s cache.Strategy, ttl time.Duration, ids ...string) error {
	var w cache.PinWrite
	switch s {
	case cache.Blue:
		w.Blue = ids
	case cache.Green:
		w.Green = ids
	default:
		return fmt.Errorf("cachetest: pin %d queries: %w: %d", len(ids), cache.ErrInvalidStrategy, s)
	}
	_, err := store.WritePins(ctx, scope, ttl, w)
	return err
}

// Release ends the pins of ids in scope with one
// [cache.PinStore.WritePins], and returns the live pins left.
func Release(ctx context.Context, store cache.PinStore, scope cache.Scope, ids ...string) (cache.PinCounts, error) {
	return store.WritePins(ctx, scope, 0, cache.PinWrite{Release: ids})
}
