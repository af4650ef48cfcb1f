package cachetest

import (
	"errors"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
)

func testPinsByColour(t *testing.T, e *env) {
	const ttl = time.Minute
	expires := e.clock.Now().Add(ttl)
	for _, id := range []string{"b1", "b2", "b3"} {
		e.pin(e.scope, id, cache.Blue, ttl)
	}
	for _, id := range []string{"g1", "g2"} {
		e.pin(e.scope, id, cache.Green, ttl)
	}
	e.wantCount(e.scope, cache.PinCounts{Blue: 3, Green: 2})
	e.wantPin(e.scope, "b2", cache.Blue, expires)
	e.wantPin(e.scope, "g1", cache.Green, expires)

	e.wantRelease(e.scope, "b1", cache.PinCounts{Blue: 2, Green: 2})
	e.wantNoPin(e.scope, "b1")
	e.wantRelease(e.scope, "b1", cache.PinCounts{Blue: 2, Green: 2})
	e.wantRelease(e.scope, "never-pinned", cache.PinCounts{Blue: 2, Green: 2})
	e.wantRelease(e.scope, "g2", cache.PinCounts{Blue: 2, Green: 1})

	// Pinning again replaces the colour and the expiry.
	e.clock.Advance(time.Second)
	e.pin(e.scope, "b2", cache.Green, 2*ttl)
	e.wantPin(e.scope, "b2", cache.Green, e.clock.Now().Add(2*ttl))
	e.wantCount(e.scope, cache.PinCounts{Blue: 1, Green: 2})
	e.pin(e.scope, "b2", cache.Green, ttl)
	e.wantPin(e.scope, "b2", cache.Green, e.clock.Now().Add(ttl))
	e.wantCount(e.scope, cache.PinCounts{Blue: 1, Green: 2})

	e.wantRelease(e.scope, "b3", cache.PinCounts{Green: 2})
	e.wantRelease(e.scope, "b2", cache.PinCounts{Green: 1})
	e.wantRelease(e.scope, "g1", cache.PinCounts{})
	e.wantCount(e.scope, cache.PinCounts{})
}

func testPinExpiry(t *testing.T, e *env) {
	const ttl = 10 * time.Second
	start := e.clock.Now()
	e.pin(e.scope, "short", cache.Blue, ttl)
	e.pin(e.scope, "long", cache.Green, time.Hour)

	e.clock.Advance(9 * time.Second)
	e.wantPin(e.scope, "short", cache.Blue, start.Add(ttl))
	e.wantCount(e.scope, cache.PinCounts{Blue: 1, Green: 1})

	e.wantRenew(e.scope, ttl, []string{"short", "absent"}, "absent")
	e.wantNoPin(e.scope, "absent")
	renewed := e.clock.Now().Add(ttl) // start+19s
	e.wantPin(e.scope, "short", cache.Blue, renewed)

	e.clock.Advance(9 * time.Second) // start+18s: past the first lease
	e.wantPin(e.scope, "short", cache.Blue, renewed)
	e.wantCount(e.scope, cache.PinCounts{Blue: 1, Green: 1})

	// start+19s: the lease ends now. Renew comes first, before a Lookup or
	// a Count could purge the pin.
	e.clock.Advance(time.Second)
	e.wantRenew(e.scope, ttl, []string{"short", "long"}, "short")
	e.wantNoPin(e.scope, "short")
	e.wantCount(e.scope, cache.PinCounts{Green: 1})
	e.wantRelease(e.scope, "short", cache.PinCounts{Green: 1})
	e.wantPin(e.scope, "long", cache.Green, e.clock.Now().Add(ttl))

	// An expired pin can be pinned again, and a pin made after a longer one
	// may expire first. Count comes first after the expiry.
	e.pin(e.scope, "long", cache.Green, time.Hour)
	e.pin(e.scope, "short", cache.Blue, ttl)
	e.wantPin(e.scope, "short", cache.Blue, e.clock.Now().Add(ttl))
	e.wantCount(e.scope, cache.PinCounts{Blue: 1, Green: 1})
	e.clock.Advance(ttl)
	e.wantCount(e.scope, cache.PinCounts{Green: 1})
	e.wantNoPin(e.scope, "short")

	// Lookup and Release, too, see only live pins, even when nothing else
	// looked at the expired ones first.
	e.pin(e.scope, "long2", cache.Blue, time.Hour)
	e.pin(e.scope, "other", cache.Blue, 2*time.Hour)
	e.clock.Advance(time.Hour) // "long" and "long2" end
	e.wantNoPin(e.scope, "long")
	e.wantRelease(e.scope, "other", cache.PinCounts{})
	e.wantNoPin(e.scope, "long2")
	e.wantCount(e.scope, cache.PinCounts{})
}

func testPinInvalidColour(t *testing.T, e *env) {
	for _, s := range []cache.Strategy{cache.Unknown, cache.Strategy(3), cache.Strategy(255)} {
		if err := e.store.Pin(e.ctx, e.scope, "q", s, time.Minute); !errors.Is(err, cache.ErrInvalidStrategy) {
			t.Fatalf("Pin(colour %d) error = %v, want one wrapping %v", s, err, cache.ErrInvalidStrategy)
		}
	}
	e.wantNoPin(e.scope, "q")
	e.wantCount(e.scope, cache.PinCounts{})

	// A rejected pin leaves the existing one alone.
	e.pin(e.scope, "q", cache.Blue, time.Minute)
	if err := e.store.Pin(e.ctx, e.scope, "q", cache.Strategy(3), time.Hour); !errors.Is(err, cache.ErrInvalidStrategy) {
		t.Fatalf("Pin(colour 3) over a pin error = %v, want one wrapping %v", err, cache.ErrInvalidStrategy)
	}
	e.wantPin(e.scope, "q", cache.Blue, e.clock.Now().Add(time.Minute))
	e.wantCount(e.scope, cache.PinCounts{Blue: 1})
}
