package coordinator_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/coordinator"
)

// setClock moves the env's clock to at, which must not be in its past.
func (e *env) setClock(at time.Time) { e.clock.Advance(at.Sub(e.clock.Now())) }

// skewed returns a clock that reads the env's clock shifted by d.
func (e *env) skewed(d time.Duration) func(*coordinator.Config) {
	return func(cfg *coordinator.Config) { cfg.Now = func() time.Time { return e.clock.Now().Add(d) } }
}

// §3: coordinators whose clocks are 30 s ahead of and behind the store's
// share one store: they stamp the record's times by the store's clock, a
// Drain switch waits for every live pin however skewed the host judging
// its timeout, and no pin or probe lease is lost to skew.
func TestClockSkewHarmless(t *testing.T) {
	e := newEnv(t, cache.Blue)
	drainMinute := func(cfg *coordinator.Config) { cfg.DrainTimeout, cfg.PinTTL = time.Minute, 5*time.Minute }
	fast := e.coord(drain, drainMinute, e.skewed(30*time.Second))
	slow := e.coord(drain, drainMinute, e.skewed(-30*time.Second))
	exact := e.coord(drain, drainMinute)
	ctx := context.Background()

	resolve(t, slow, cache.Blue)
	if got, want := slow.Snapshot().ConfirmedAt, e.clock.Now(); !got.Equal(want) {
		t.Errorf("ConfirmedAt stamped by the slow host = %v, want the store's time %v", got, want)
	}
	for _, c := range []*coordinator.Coordinator{fast, exact} {
		resolve(t, c, cache.Blue)
	}
	if n := e.eng.total(); n != 2 {
		t.Errorf("probes = %d, want 2 (one detection for the fleet)", n)
	}

	// The slow host's query pins blue; the engine announces green and
	// accepts it; the slow host records the acceptance.
	if err := pinSynced(ctx, slow, "q", cache.Blue); err != nil {
		t.Fatal(err)
	}
	e.eng.set(cache.Blue, cache.Green)
	slow.Announce("green")
	st := waitFor(t, slow, "green accepted", accepted(cache.Green))
	if !st.AcceptedAt.Equal(e.clock.Now()) {
		t.Errorf("AcceptedAt stamped by the slow host = %v, want the store's time %v", st.AcceptedAt, e.clock.Now())
	}

	// 40 s later by the store's clock: the fast host's own clock says 70 s
	// since the slow one's, which would end the drain early.
	e.clock.Advance(40 * time.Second)
	for _, c := range []*coordinator.Coordinator{fast, exact, slow} {
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if st := c.Snapshot(); st.Active != cache.Blue {
			t.Fatalf("after 40 s with a live pin: %s; want blue held by the drain", st)
		}
	}
	if pin, err := e.store.Lookup(ctx, scope, "q"); err != nil || pin.Strategy != cache.Blue {
		t.Errorf("the slow host's pin: %+v, %v; want live", pin, err)
	}
	// The pin goes: the drain ends.
	releaseSynced(t, ctx, slow, "q")
	for _, c := range []*coordinator.Coordinator{fast, exact} {
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, slow, "green active", active(cache.Green))
}

// §2: with a colour re-confirmed ahead of its expiry by one process for the
// fleet, no call under steady load finds the colour untrusted across three
// CacheTTL periods, and each period costs the fleet one probe.
func TestEarlyRefreshNoCallWaits(t *testing.T) {
	const ttl = time.Minute
	e := newEnv(t, cache.Blue)
	var coords []*coordinator.Coordinator
	for range 4 {
		coords = append(coords, e.coord(func(cfg *coordinator.Config) { cfg.CacheTTL = ttl }))
	}
	ahead := coords[0].Config().RefreshAhead
	for _, c := range coords {
		resolve(t, c, cache.Blue)
	}
	probes := e.eng.total()

	// Steady load: every process keeps asking for the colour of a call.
	var untrusted, calls atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range coords {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				calls.Add(1)
				if c.Strategy() != cache.Blue {
					untrusted.Add(1)
				}
			}
		})
	}
	refreshAll := func() {
		var rw sync.WaitGroup
		for _, c := range coords {
			rw.Go(func() {
				if err := c.Refresh(context.Background()); err != nil {
					t.Error(err)
				}
			})
		}
		rw.Wait()
	}
	for period := range 3 {
		confirmed := coords[0].Snapshot().ConfirmedAt
		// Every process is due (its turn is in the first half of the
		// window), then the old confirmation expires.
		e.setClock(confirmed.Add(ttl - ahead/2))
		refreshAll()
		e.setClock(confirmed.Add(ttl + time.Second))
		refreshAll()
		if n := e.eng.total() - probes; n != period+1 {
			t.Errorf("period %d: %d probes since start, want %d (one per period)", period, n, period+1)
		}
	}
	close(stop)
	wg.Wait()
	if n := untrusted.Load(); n != 0 {
		t.Errorf("%d of %d calls found no trusted colour, want 0", n, calls.Load())
	}
	if got := coords[0].Stats().Refreshes + coords[1].Stats().Refreshes +
		coords[2].Stats().Refreshes + coords[3].Stats().Refreshes; got != 3 {
		t.Errorf("early refreshes in the fleet = %d, want 3", got)
	}
}

// §2: a colour whose early refresh could not happen (the engine was
// unreachable) expires at CacheTTL, and the next call detects it again.
func TestColourExpiresWhenRefreshFails(t *testing.T) {
	const ttl = time.Minute
	e := newEnv(t, cache.Blue)
	c := e.coord(func(cfg *coordinator.Config) { cfg.CacheTTL = ttl })
	resolve(t, c, cache.Blue)
	confirmed := c.Snapshot().ConfirmedAt
	e.eng.setFatal(errDown)
	e.setClock(confirmed.Add(ttl - time.Second))
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.Strategy(); got != cache.Blue {
		t.Fatalf("Strategy() before the TTL = %v, want blue", got)
	}
	e.setClock(confirmed.Add(ttl))
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.Strategy(); got != cache.Unknown {
		t.Fatalf("Strategy() at the TTL with no refresh = %v, want unknown", got)
	}
	e.eng.setFatal(nil)
	resolve(t, c, cache.Blue)
}

// Confirm: two daemons confirming every interval make one probe per
// interval between them, and a colour confirmed within the interval is not
// probed again.
func TestConfirmOneProbePerInterval(t *testing.T) {
	const interval = 10 * time.Second
	e := newEnv(t, cache.Blue)
	a, b := e.coord(), e.coord()
	ctx := context.Background()
	if err := a.Confirm(ctx, interval); err != nil { // nothing known: detects
		t.Fatal(err)
	}
	probes := e.eng.total()
	for i := range 5 {
		e.clock.Advance(interval)
		for _, c := range []*coordinator.Coordinator{a, b, b, a} {
			if err := c.Confirm(ctx, interval); err != nil {
				t.Fatal(err)
			}
		}
		if n := e.eng.total() - probes; n != i+1 {
			t.Errorf("interval %d: %d probes since detection, want %d", i, n, i+1)
		}
	}
	if st := b.Snapshot(); !st.ConfirmedAt.Equal(e.clock.Now()) {
		t.Errorf("ConfirmedAt = %v, want %v", st.ConfirmedAt, e.clock.Now())
	}
}

// Stats: switches by direction, rejections by colour, and the adoption lag
// of records committed by another process.
func TestStatsByColour(t *testing.T) {
	e := newEnv(t, cache.Blue, cache.Green)
	a, b := e.coord(), e.coord()
	resolve(t, a, cache.Blue)
	waitFor(t, b, "b to learn blue", active(cache.Blue))
	a.Announce("green")
	waitFor(t, b, "green on b", active(cache.Green))
	b.Invalidate(cache.Green)
	st := b.Stats()
	if st.SwitchesTo[cache.Green] != 1 || st.SwitchesTo[cache.Blue] != 0 || st.Switches != 1 {
		t.Errorf("b: SwitchesTo %v, Switches %d; want one to green", st.SwitchesTo, st.Switches)
	}
	if st.WrongStrategyOf[cache.Green] != 1 || st.WrongStrategy != 1 {
		t.Errorf("b: WrongStrategyOf %v, WrongStrategy %d; want one on green", st.WrongStrategyOf, st.WrongStrategy)
	}
	if h := st.AdoptLag; h.Count == 0 || len(h.Counts) != len(h.Bounds)+1 || h.Counts[0] != h.Count {
		t.Errorf("b: AdoptLag %+v; want every lag in the first bucket (the clock stands still)", h)
	}
	if h := a.Stats().AdoptLag; h.Count != 0 {
		t.Errorf("a adopted its own records as another's: %+v", h)
	}
	if st.Store != coordinator.StoreUp || st.StoreSince.IsZero() {
		t.Errorf("b: Store %v since %v; want up, with a time", st.Store, st.StoreSince)
	}
}
