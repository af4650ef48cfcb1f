package cachetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
)

func testProbeLeaseExclusive(t *testing.T, e *env) {
	const ttl = 5 * time.Second
	e.acquire(e.scope, "A", ttl)
	e.wantHeld(e.scope, "B")
	e.acquire(e.scope, "A", ttl) // A renews its own
	e.releaseLease(e.scope, "B") // not B's to release
	e.wantHeld(e.scope, "B")
	e.releaseLease(e.scope, "A")
	e.acquire(e.scope, "B", ttl)
	e.wantHeld(e.scope, "A")
	e.releaseLease(e.scope, "A")
	e.wantHeld(e.scope, "A")
	e.releaseLease(e.scope, "B")
	e.releaseLease(e.scope, "B") // releasing twice is harmless
	e.acquire(e.scope, "A", ttl)
}

// testProbeLeaseExpiry moves the clock by units, as testPinExpiry does.
func testProbeLeaseExpiry(t *testing.T, e *env) {
	u := e.unit
	ttl := 5 * u
	e.acquire(e.scope, "A", ttl)
	e.clock.Advance(4 * u)
	e.wantHeld(e.scope, "B")
	e.acquire(e.scope, "A", ttl) // now ends at start+9u
	e.clock.Advance(4 * u)
	e.wantHeld(e.scope, "B") // start+8u: live thanks to the renewal
	e.clock.Advance(u)
	e.acquire(e.scope, "B", ttl) // start+9u: A's lease ends now
	e.wantHeld(e.scope, "A")
	e.releaseLease(e.scope, "A") // not A's to release any more
	e.wantHeld(e.scope, "A")
	e.clock.Advance(ttl + time.Millisecond)
	e.acquire(e.scope, "A", ttl)
}

func testProbeLeaseOneWinner(t *testing.T, e *env) {
	const n = 20
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = e.store.AcquireProbeLease(e.ctx, e.scope, fmt.Sprintf("holder-%d", i), time.Minute)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("holders %d and %d both acquired the lease", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, cache.ErrLeaseHeld):
			t.Fatalf("holder %d: AcquireProbeLease error = %v, want nil or one wrapping %v", i, err, cache.ErrLeaseHeld)
		}
	}
	if winner < 0 {
		t.Fatalf("none of %d holders acquired the lease", n)
	}
	e.acquire(e.scope, fmt.Sprintf("holder-%d", winner), time.Minute)
	e.wantHeld(e.scope, fmt.Sprintf("holder-%d", (winner+1)%n))
}
