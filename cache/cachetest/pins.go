package cachetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
)

func testPinsByColour(t *testing.T, e *env) {
	const ttl = time.Minute
	expires := map[string]span{}
	for _, id := range []string{"b1", "b2", "b3"} {
		expires[id] = e.pin(e.scope, id, cache.Blue, ttl)
	}
	for _, id := range []string{"g1", "g2"} {
		expires[id] = e.pin(e.scope, id, cache.Green, ttl)
	}
	e.wantCount(e.scope, cache.PinCounts{Blue: 3, Green: 2})
	e.wantPin(e.scope, "b2", cache.Blue, expires["b2"])
	e.wantPin(e.scope, "g1", cache.Green, expires["g1"])

	e.wantRelease(e.scope, "b1", cache.PinCounts{Blue: 2, Green: 2})
	e.wantNoPin(e.scope, "b1")
	e.wantRelease(e.scope, "b1", cache.PinCounts{Blue: 2, Green: 2})
	e.wantRelease(e.scope, "never-pinned", cache.PinCounts{Blue: 2, Green: 2})
	e.wantRelease(e.scope, "g2", cache.PinCounts{Blue: 2, Green: 1})

	// Pinning again replaces the colour and the expiry.
	e.clock.Advance(e.unit)
	e.wantPin(e.scope, "b2", cache.Green, e.pin(e.scope, "b2", cache.Green, 2*ttl))
	e.wantCount(e.scope, cache.PinCounts{Blue: 1, Green: 2})
	e.wantPin(e.scope, "b2", cache.Green, e.pin(e.scope, "b2", cache.Green, ttl))
	e.wantCount(e.scope, cache.PinCounts{Blue: 1, Green: 2})

	e.wantRelease(e.scope, "b3", cache.PinCounts{Green: 2})
	e.wantRelease(e.scope, "b2", cache.PinCounts{Green: 1})
	e.wantRelease(e.scope, "g1", cache.PinCounts{})
	e.wantCount(e.scope, cache.PinCounts{})
}

// testPinMany pins several queries in one call, some of them pinned to the
// other colour before, and pins none with no ids.
func testPinMany(t *testing.T, e *env) {
	const ttl = time.Minute
	e.pin(e.scope, "g1", cache.Green, ttl)
	var err error
	at := e.during(func() { _, err = e.store.WritePins(e.ctx, e.scope, ttl, pinsOf(cache.Blue, "b1", "b2", "g1", "b1")) })
	if err != nil {
		t.Fatalf("WritePins of 4 ids: %v", err)
	}
	e.wantCount(e.scope, cache.PinCounts{Blue: 3})
	for _, id := range []string{"b1", "b2", "g1"} {
		e.wantPin(e.scope, id, cache.Blue, at.add(ttl))
	}
	if got, err := e.store.WritePins(e.ctx, e.scope, ttl, cache.PinWrite{}); err != nil || got != (cache.PinCounts{Blue: 3}) {
		t.Fatalf("WritePins of no ids = %+v, %v; want the counts {Blue:3}", got, err)
	}
	e.wantCount(e.scope, cache.PinCounts{Blue: 3})
	e.wantReleaseIDs(e.scope, []string{"b1", "b2", "g1"}, cache.PinCounts{})
}

// testPinExpiry moves the clock by units (e.unit): every check that a pin
// is live is made a unit or more before it ends, and every check that it
// is dead once the clock has reached its end.
func testPinExpiry(t *testing.T, e *env) {
	u := e.unit
	ttl := 4 * u
	short := e.pin(e.scope, "short", cache.Blue, ttl) // ends at start+4u
	e.pin(e.scope, "long", cache.Green, 20*u)

	e.clock.Advance(3 * u) // start+3u
	e.wantPin(e.scope, "short", cache.Blue, short)
	e.wantCount(e.scope, cache.PinCounts{Blue: 1, Green: 1})

	renewed := e.wantRenew(e.scope, ttl, []string{"short", "absent"}, "absent") // to start+7u
	e.wantNoPin(e.scope, "absent")
	e.wantPin(e.scope, "short", cache.Blue, renewed)

	e.clock.Advance(3 * u) // start+6u: past the first lease
	e.wantPin(e.scope, "short", cache.Blue, renewed)
	e.wantCount(e.scope, cache.PinCounts{Blue: 1, Green: 1})

	// start+7u: the lease ends now. Renew comes first, before a Lookup or
	// a Count could purge the pin.
	e.clock.Advance(u)
	long := e.wantRenew(e.scope, ttl, []string{"short", "long"}, "short")
	e.wantNoPin(e.scope, "short")
	e.wantCount(e.scope, cache.PinCounts{Green: 1})
	e.wantRelease(e.scope, "short", cache.PinCounts{Green: 1})
	e.wantPin(e.scope, "long", cache.Green, long)

	// An expired pin can be pinned again, and a pin made after a longer one
	// may expire first. Count comes first after the expiry.
	e.pin(e.scope, "long", cache.Green, 5*u)         // ends at start+12u
	short = e.pin(e.scope, "short", cache.Blue, ttl) // ends at start+11u
	e.wantPin(e.scope, "short", cache.Blue, short)
	e.wantCount(e.scope, cache.PinCounts{Blue: 1, Green: 1})
	e.clock.Advance(ttl) // start+11u
	e.wantCount(e.scope, cache.PinCounts{Green: 1})
	e.wantNoPin(e.scope, "short")

	// Lookup and Release, too, see only live pins, even when nothing else
	// looked at the expired ones first.
	e.pin(e.scope, "long2", cache.Blue, 5*u)  // ends at start+16u
	e.pin(e.scope, "other", cache.Blue, 10*u) // ends at start+21u
	e.clock.Advance(5 * u)                    // start+16u: "long" and "long2" have ended
	e.wantNoPin(e.scope, "long")
	e.wantRelease(e.scope, "other", cache.PinCounts{})
	e.wantNoPin(e.scope, "long2")
	e.wantCount(e.scope, cache.PinCounts{})
}

// testReleaseMany releases several pins in one call, among them ids that
// have no pin, ids named twice, and more ids than a backend may send in
// one command.
func testReleaseMany(t *testing.T, e *env) {
	for _, id := range []string{"b1", "b2", "b3", "b4"} {
		e.pin(e.scope, id, cache.Blue, time.Minute)
	}
	g3 := span{}
	for _, id := range []string{"g1", "g2", "g3"} {
		g3 = e.pin(e.scope, id, cache.Green, time.Minute)
	}
	e.wantReleaseIDs(e.scope, []string{"b1", "absent", "g1", "b2", "b1", "never-pinned"}, cache.PinCounts{Blue: 2, Green: 2})
	for _, id := range []string{"b1", "b2", "g1", "absent", "never-pinned"} {
		e.wantNoPin(e.scope, id)
	}
	e.wantPin(e.scope, "g3", cache.Green, g3)
	e.wantCount(e.scope, cache.PinCounts{Blue: 2, Green: 2})

	// Only absent ids: nothing changes.
	e.wantReleaseIDs(e.scope, []string{"absent", "b1", "g1"}, cache.PinCounts{Blue: 2, Green: 2})

	// An expired pin among the ids is not counted either way.
	e.pin(e.scope, "short", cache.Blue, e.unit)
	e.clock.Advance(e.unit)
	e.wantReleaseIDs(e.scope, []string{"short", "b3"}, cache.PinCounts{Blue: 1, Green: 2})

	// Every pin at once.
	e.wantReleaseIDs(e.scope, []string{"g2", "b4", "g3"}, cache.PinCounts{})
	e.wantCount(e.scope, cache.PinCounts{})

	// Many ids in one call, live ones and absent ones interleaved.
	const n = 300 // 600 ids: more than the 500 a Redis script unpacks at once
	var ids []string
	for i := range n {
		id := fmt.Sprintf("many-%d", i)
		ids = append(ids, id, id+"-absent")
		e.pin(e.scope, id, cache.Strategies[i%2], time.Minute)
	}
	e.pin(e.scope, "kept", cache.Green, time.Minute)
	e.wantCount(e.scope, cache.PinCounts{Blue: n / 2, Green: n/2 + 1})
	e.wantReleaseIDs(e.scope, ids, cache.PinCounts{Green: 1})
	e.wantNoPin(e.scope, "many-0")
	e.wantNoPin(e.scope, fmt.Sprintf("many-%d", n-1))
	e.wantCount(e.scope, cache.PinCounts{Green: 1})
}

// testReleaseNone checks that a Release of no ids only counts the live
// pins.
func testReleaseNone(t *testing.T, e *env) {
	e.wantReleaseIDs(e.scope, nil, cache.PinCounts{})
	e.wantReleaseIDs(e.scope, []string{}, cache.PinCounts{})

	b := e.pin(e.scope, "b", cache.Blue, time.Minute)
	e.pin(e.scope, "g", cache.Green, time.Minute)
	e.pin(e.scope, "short", cache.Green, e.unit)
	e.wantReleaseIDs(e.scope, nil, cache.PinCounts{Blue: 1, Green: 2})
	e.clock.Advance(e.unit) // "short" ends
	e.wantReleaseIDs(e.scope, nil, cache.PinCounts{Blue: 1, Green: 1})
	e.wantPin(e.scope, "b", cache.Blue, b)
	e.wantCount(e.scope, cache.PinCounts{Blue: 1, Green: 1})
}

// testPinAndReleaseInOneWrite pins to both colours and releases in one
// write: the pins are made before the releases, so an id in both ends
// released, and the counts returned are those left.
func testPinAndReleaseInOneWrite(t *testing.T, e *env) {
	const ttl = time.Minute
	e.pin(e.scope, "old", cache.Blue, ttl)
	e.pin(e.scope, "moves", cache.Blue, ttl)
	var got cache.PinCounts
	var err error
	at := e.during(func() {
		got, err = e.store.WritePins(e.ctx, e.scope, ttl, cache.PinWrite{
			Blue:    []string{"b1", "both"},
			Green:   []string{"g1", "moves"},
			Release: []string{"old", "both", "never-pinned"},
		})
	})
	if err != nil {
		t.Fatalf("WritePins error = %v", err)
	}
	if want := (cache.PinCounts{Blue: 1, Green: 2}); got != want {
		t.Fatalf("WritePins = %+v, want %+v", got, want)
	}
	e.wantPin(e.scope, "b1", cache.Blue, at.add(ttl))
	e.wantPin(e.scope, "g1", cache.Green, at.add(ttl))
	e.wantPin(e.scope, "moves", cache.Green, at.add(ttl))
	e.wantNoPin(e.scope, "old")
	e.wantNoPin(e.scope, "both")
	e.wantCount(e.scope, cache.PinCounts{Blue: 1, Green: 2})
}
