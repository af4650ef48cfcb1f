package cache_test

import (
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
)

// Backoff doubles from base to ceiling and draws the wait from [d/2, d]:
// never longer than the doubling alone.
func TestBackoff(t *testing.T) {
	const base, ceiling = 20 * time.Millisecond, time.Second
	for n := 0; n <= 20; n++ {
		d := min(base<<min(n, 10), ceiling)
		for range 50 {
			if got := cache.Backoff(n, base, ceiling); got < d-d/2 || got > d {
				t.Fatalf("Backoff(%d) = %v, want in [%v, %v]", n, got, d-d/2, d)
			}
		}
	}
	if got := cache.Backoff(1000, time.Hour, 2*time.Hour); got < time.Hour || got > 2*time.Hour {
		t.Errorf("Backoff(1000, 1h, 2h) = %v, want in [1h, 2h]: no overflow", got)
	}
	if got := cache.Backoff(0, time.Second, 100*time.Millisecond); got < 50*time.Millisecond || got > 100*time.Millisecond {
		t.Errorf("Backoff with a ceiling below base = %v, want in [50ms, 100ms]", got)
	}
	if got := cache.Backoff(3, 0, time.Second); got != 0 {
		t.Errorf("Backoff from 0 = %v, want 0", got)
	}
}
