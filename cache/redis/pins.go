package redis

import (
	"context"
	"fmt"
	"time"

	"github.com/e6coord/e6coord/cache"
)

// pins returns the keys the pin scripts take: pins:blue, pins:green.
func (k keys) pins() []string { return []string{k.blue, k.green} }

// WritePins implements [cache.PinStore] with one script, which reads the
// time from the server: the pins end ttl, in whole milliseconds, after the
// server's clock at the call (a ttl under a millisecond leaves no live
// pin), and the pins of the scope that have expired by that clock are
// purged.
func (s *Store) WritePins(ctx context.Context, scope cache.Scope, ttl time.Duration, w cache.PinWrite) (cache.PinCounts, error) {
	ctx, cancel, err := s.begin(ctx, "write pins", scope)
	if err != nil {
		return cache.PinCounts{}, err
	}
	defer cancel()
	args := make([]any, 0, 4+len(w.Blue)+len(w.Green)+len(w.Release))
	args = append(args, ms(ttl), gcAfter(ttl), len(w.Blue), len(w.Green))
	for _, ids := range [...][]string{w.Blue, w.Green, w.Release} {
		for _, id := range ids {
			args = append(args, id)
		}
	}
	res, err := writePinsScript.Run(ctx, s.c, s.keysOf(scope).pins(), args...).Int64Slice()
	if err != nil {
		return cache.PinCounts{}, s.fail(ctx, "write pins", scope, err)
	}
	return counts(res)
}

// Lookup implements [cache.PinStore] with one script, which purges the pin
// if it has expired by the server's clock. The pin's Expires is the
// server's time, in milliseconds.
func (s *Store) Lookup(ctx context.Context, scope cache.Scope, queryID string) (cache.Pin, error) {
	ctx, cancel, err := s.begin(ctx, "lookup", scope)
	if err != nil {
		return cache.Pin{}, err
	}
	defer cancel()
	res, err := lookupScript.Run(ctx, s.c, s.keysOf(scope).pins(), queryID).Slice()
	if isNil(err) {
		return cache.Pin{}, fmt.Errorf("redis: lookup %q in %s: %w", queryID, scope, cache.ErrNotFound)
	}
	if err != nil {
		return cache.Pin{}, s.fail(ctx, "lookup", scope, err)
	}
	if len(res) != 2 {
		return cache.Pin{}, fmt.Errorf("redis: lookup %q in %s: unexpected script reply %v", queryID, scope, res)
	}
	colour, _ := res[0].(string)
	expires, ok := res[1].(int64)
	if !ok {
		return cache.Pin{}, fmt.Errorf("redis: lookup %q in %s: unexpected script reply %v", queryID, scope, res)
	}
	st, err := cache.ParseStrategy(colour)
	if err != nil {
		return cache.Pin{}, fmt.Errorf("redis: lookup %q in %s: stored pin: %w", queryID, scope, err)
	}
	return cache.Pin{QueryID: queryID, Strategy: st, Expires: time.UnixMilli(expires)}, nil
}

// Renew implements [cache.PinStore] with one script, which reads the time
// from the server, as Pin does. A ttl under a millisecond ends the live
// pins. With no ids it does nothing.
func (s *Store) Renew(ctx context.Context, scope cache.Scope, ttl time.Duration, queryIDs ...string) ([]string, error) {
	ctx, cancel, err := s.begin(ctx, "renew", scope)
	if err != nil {
		return nil, err
	}
	defer cancel()
	if len(queryIDs) == 0 {
		return nil, nil
	}
	args := make([]any, 0, 2+len(queryIDs))
	args = append(args, ms(ttl), gcAfter(ttl))
	for _, id := range queryIDs {
		args = append(args, id)
	}
	missing, err := renewScript.Run(ctx, s.c, s.keysOf(scope).pins(), args...).StringSlice()
	if err != nil && !isNil(err) {
		return nil, s.fail(ctx, "renew", scope, err)
	}
	if len(missing) == 0 {
		return nil, nil
	}
	return missing, nil
}

// Count implements [cache.PinStore] with one script, which purges the pins
// of the scope that have expired by the server's clock.
func (s *Store) Count(ctx context.Context, scope cache.Scope) (cache.PinCounts, error) {
	ctx, cancel, err := s.begin(ctx, "count", scope)
	if err != nil {
		return cache.PinCounts{}, err
	}
	defer cancel()
	res, err := countScript.Run(ctx, s.c, s.keysOf(scope).pins()).Int64Slice()
	if err != nil {
		return cache.PinCounts{}, s.fail(ctx, "count", scope, err)
	}
	return counts(res)
}

func counts(res []int64) (cache.PinCounts, error) {
	if len(res) != 2 {
		return cache.PinCounts{}, fmt.Errorf("redis: unexpected count reply %v", res)
	}
	return cache.PinCounts{Blue: int(res[0]), Green: int(res[1])}, nil
}
