package redis

import "time"

// SetWatchClock makes the heartbeats of s's watches, those made from now
// on, follow c instead of the wall clock. Call it before Watch.
func SetWatchClock(s *Store, c interface {
	Now() time.Time
	At(t time.Time) (<-chan time.Time, func() bool)
}) {
	s.clock = c
}

// SetWatchHook makes the watches of s, those made from now on, call hook
// with "published" when one has published a heartbeat (or failed to), and
// "heard" when one has heard its own. Call it before Watch.
func SetWatchHook(s *Store, hook func(event string)) { s.hook = hook }
