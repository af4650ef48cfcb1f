package coordinator_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/coordinator"
)

// §1: 100 goroutines over 3 coordinators sharing one store, all cold, cost
// the engine at most two probes and all learn the same colour.
func TestColdStartFleetProbesOnce(t *testing.T) {
	e := newEnv(t, cache.Green)
	hold := make(chan struct{})
	e.eng.mu.Lock()
	e.eng.hold = hold
	e.eng.mu.Unlock()
	coords := []*coordinator.Coordinator{e.coord(), e.coord(), e.coord()}

	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		c := coords[i%len(coords)]
		wg.Go(func() {
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			s, err := c.Resolve(ctx)
			if err == nil && s != cache.Green {
				err = errors.New("resolved " + s.String())
			}
			errs <- err
		})
	}
	close(start)
	e.eng.waitProbe(t, cache.Blue) // the prober is in; everyone else piles up
	close(hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
	}
	if n := e.eng.total(); n > 2 {
		t.Errorf("probe calls = %d, want at most 2", n)
	}
	var detections uint64
	for _, c := range coords {
		detections += c.Stats().Detections
		if got := c.Strategy(); got != cache.Green {
			t.Errorf("Strategy() = %v, want green", got)
		}
	}
	if detections != 1 {
		t.Errorf("detections across the fleet = %d, want 1", detections)
	}
}

// §1: both colours answer 456: one error that says so and carries both causes.
func TestBothRejected(t *testing.T) {
	e := newEnv(t) // accepts nothing
	c := e.coord()
	_, err := c.Resolve(context.Background())
	if !errors.Is(err, coordinator.ErrBothRejected) || !errors.Is(err, coordinator.ErrWrongStrategy) {
		t.Fatalf("Resolve() error = %v, want ErrBothRejected wrapping ErrWrongStrategy", err)
	}
	var merr *multierror.Error
	if !errors.As(err, &merr) || len(merr.Errors) != 2 {
		t.Fatalf("error %v does not carry both causes in a multierror", err)
	}
	for _, want := range []string{"probe blue", "probe green"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if got := c.Snapshot().Active; got != cache.Unknown {
		t.Errorf("active after failed detection = %v, want unknown", got)
	}
}

// §1: a non-456 error (bad credentials) surfaces at once: no retry loop.
func TestBadCredentialsSurfaceAtOnce(t *testing.T) {
	e := newEnv(t, cache.Blue)
	errCreds := errors.New("unauthenticated: bad credentials")
	e.eng.setFatal(errCreds)
	c := e.coord()
	calls := 0
	err := c.Do(context.Background(), func(context.Context, cache.Strategy) error {
		calls++
		return nil
	})
	if !errors.Is(err, errCreds) {
		t.Fatalf("Do() error = %v, want the credentials error", err)
	}
	if errors.Is(err, coordinator.ErrBothRejected) {
		t.Errorf("Do() error %v claims a rejection", err)
	}
	if calls != 0 {
		t.Errorf("call ran %d times without a colour", calls)
	}
	if n := e.eng.total(); n != 2 {
		t.Errorf("probe calls = %d, want 2 (one detection, no retry)", n)
	}
}

// §2: a colour is trusted for CacheTTL since its confirmation, then
// re-confirmed with one probe; a full probe follows only on 456.
func TestCacheTTL(t *testing.T) {
	e := newEnv(t, cache.Green)
	c := e.coord(func(cfg *coordinator.Config) { cfg.CacheTTL = time.Minute })
	resolve(t, c, cache.Green)
	if n := e.eng.total(); n != 2 {
		t.Fatalf("cold detection probes = %d, want 2", n)
	}
	e.clock.Advance(59 * time.Second)
	resolve(t, c, cache.Green)
	if n := e.eng.total(); n != 2 {
		t.Fatalf("probes within the TTL = %d, want still 2", n)
	}
	e.clock.Advance(2 * time.Second)
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.Strategy(); got != cache.Unknown {
		t.Fatalf("Strategy() after the TTL = %v, want unknown", got)
	}
	resolve(t, c, cache.Green)
	if n := e.eng.callsOf(cache.Green); n != 2 || e.eng.total() != 3 {
		t.Fatalf("re-confirmation probes: green %d, total %d; want one more green probe", n, e.eng.total())
	}
	if got := c.Snapshot().ConfirmedAt; !got.Equal(e.clock.Now()) {
		t.Errorf("ConfirmedAt = %v, want %v", got, e.clock.Now())
	}

	// The engine moved without telling: the aged colour is rejected, the
	// other one is probed.
	e.eng.set(cache.Blue)
	e.clock.Advance(2 * time.Minute)
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	resolve(t, c, cache.Blue)
	if n := e.eng.total(); n != 5 {
		t.Errorf("total probes = %d, want 5", n)
	}
}

// §6: a 456 on a call not tied to a query invalidates the colour, the fleet
// detects again, and the call is retried with the new colour.
func TestDoRecoversFromRejection(t *testing.T) {
	e := newEnv(t, cache.Blue)
	a, b := e.coord(), e.coord()
	resolve(t, a, cache.Blue)
	waitFor(t, b, "b to learn blue", func(st cache.State) bool { return st.Active == cache.Blue })

	e.eng.set(cache.Green)
	var sent []cache.Strategy
	err := a.Do(context.Background(), func(ctx context.Context, s cache.Strategy) error {
		sent = append(sent, s)
		return e.eng.probe(ctx, s) // the engine's answer to a real call
	})
	if err != nil {
		t.Fatalf("Do() = %v", err)
	}
	if len(sent) != 2 || sent[0] != cache.Blue || sent[1] != cache.Green {
		t.Errorf("colours sent = %v, want [blue green]", sent)
	}
	if got := a.Stats().WrongStrategy; got != 1 {
		t.Errorf("WrongStrategy = %d, want 1", got)
	}
	// The other process hears of it without probing.
	waitFor(t, b, "b to learn green", func(st cache.State) bool { return st.Active == cache.Green })
	if got := b.Stats().Probes; got != 0 {
		t.Errorf("b probed %d times, want 0", got)
	}
}

// §6: rejections are retried MaxAttempts times, then returned.
func TestDoGivesUpAfterMaxAttempts(t *testing.T) {
	e := newEnv(t, cache.Blue, cache.Green)
	c := e.coord(func(cfg *coordinator.Config) { cfg.MaxAttempts = 3 })
	calls := 0
	err := c.Do(context.Background(), func(ctx context.Context, s cache.Strategy) error {
		calls++
		return coordinator.ErrWrongStrategy
	})
	if !errors.Is(err, coordinator.ErrWrongStrategy) {
		t.Fatalf("Do() = %v, want a rejection", err)
	}
	if calls != 3 {
		t.Errorf("calls = %d, want 3", calls)
	}
}

// §1, §6: a stale cache or a 456 with a pending colour known costs one probe.
func TestRejectionWithPendingProbesPendingFirst(t *testing.T) {
	e := newEnv(t, cache.Blue)
	c := e.coord()
	resolve(t, c, cache.Blue)
	e.eng.forgetProbes()
	c.Announce("green") // not accepted yet: switch-on-clear
	e.eng.waitProbe(t, cache.Green)
	waitFor(t, c, "pending green", func(st cache.State) bool { return st.Pending == cache.Green })
	before := e.eng.total()

	e.eng.set(cache.Green) // the engine switched at a clear
	c.Invalidate(cache.Blue)
	resolve(t, c, cache.Green)
	if n := e.eng.total() - before; n != 1 {
		t.Errorf("probes after the 456 = %d, want 1", n)
	}
	if n := e.eng.total(); n > 4 {
		t.Errorf("probes for cold start plus one switch = %d, want at most 4", n)
	}
	if st := c.Snapshot(); st.Pending != cache.Unknown {
		t.Errorf("pending after the switch = %v, want none", st.Pending)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	e := newEnv(t)
	for name, cfg := range map[string]coordinator.Config{
		"negative ttl":      {CacheTTL: -time.Second},
		"negative attempts": {MaxAttempts: -1},
		"unknown policy":    {Policy: 7},
	} {
		if _, err := coordinator.New(e.store, e.eng.probe, cfg); err == nil {
			t.Errorf("%s: New() succeeded", name)
		}
	}
	if _, err := coordinator.New(nil, e.eng.probe, coordinator.Config{}); err == nil {
		t.Error("New(nil store) succeeded")
	}
}

// §2, §5: a slow re-confirmation of an aged colour does not undo a switch
// that another process committed meanwhile.
func TestReconfirmDoesNotUndoSwitch(t *testing.T) {
	e := newEnv(t, cache.Blue, cache.Green)
	slow := newEngine(cache.Blue, cache.Green)
	a, err := coordinator.New(e.store, slow.probe, coordinator.Config{
		Scope: scope, Now: e.clock.Now, RefreshInterval: -1, CacheTTL: time.Minute, Policy: coordinator.Drain,
		PendingTTL: time.Hour, DrainTimeout: time.Hour,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b := e.coord(drain, func(cfg *coordinator.Config) {
		cfg.CacheTTL, cfg.DrainTimeout, cfg.PendingTTL, cfg.PinTTL = time.Hour, time.Hour, time.Hour, time.Hour
	})
	resolve(t, b, cache.Blue)
	ctx := context.Background()
	if err := pinSynced(ctx, b, "q", cache.Blue); err != nil {
		t.Fatal(err)
	}
	b.Announce("green") // accepted, but the pin holds the drain
	waitFor(t, a, "green accepted, on a", accepted(cache.Green))

	hold := make(chan struct{})
	slow.mu.Lock()
	slow.hold = hold
	slow.mu.Unlock()
	e.clock.Advance(2 * time.Minute) // a's blue has aged
	done := make(chan error, 1)
	go func() {
		if err := a.Refresh(ctx); err != nil { // blue expires
			done <- err
			return
		}
		_, err := a.Resolve(ctx)
		done <- err
	}()
	slow.waitProbe(t, cache.Blue) // a holds the lease, re-confirming blue

	releaseSynced(t, ctx, b, "q") // the drain ends: b switches the fleet
	waitFor(t, b, "green on b", active(cache.Green))
	close(hold) // a's probe: blue accepted, stale news
	if err := <-done; err != nil {
		t.Fatalf("a.Resolve: %v", err)
	}
	st, err := e.store.Load(ctx, scope)
	if err != nil || st.Active != cache.Green {
		t.Fatalf("stored record %s, %v; want green kept", st, err)
	}
	waitFor(t, a, "green on a", active(cache.Green))
}

// §6: an error made with Retry retries the call with the same colour,
// without invalidating it, within the same budget; one made with Stop ends
// Do at once with the caller's error, though it is a rejection.
func TestDoRetriesWithoutInvalidating(t *testing.T) {
	e := newEnv(t, cache.Blue)
	c := e.coord()
	var sent []cache.Strategy
	err := c.Do(context.Background(), func(_ context.Context, s cache.Strategy) error {
		sent = append(sent, s)
		if len(sent) == 1 {
			return coordinator.Retry(errors.New("session lost"))
		}
		return nil
	})
	if err != nil || len(sent) != 2 || sent[1] != cache.Blue {
		t.Fatalf("Do() = %v after %v, want success on the second blue attempt", err, sent)
	}
	if got := c.Stats().WrongStrategy; got != 0 {
		t.Errorf("WrongStrategy = %d, want 0", got)
	}
	lost := errors.New("session lost")
	calls := 0
	err = c.Do(context.Background(), func(context.Context, cache.Strategy) error {
		calls++
		return coordinator.Retry(lost)
	})
	if !errors.Is(err, lost) || calls != c.Config().MaxAttempts {
		t.Errorf("Do() = %v after %d calls, want the retried error after %d", err, calls, c.Config().MaxAttempts)
	}
	rejected := fmt.Errorf("no replay: %w", coordinator.ErrWrongStrategy)
	calls = 0
	err = c.Do(context.Background(), func(context.Context, cache.Strategy) error {
		calls++
		return coordinator.Stop(rejected)
	})
	if err != rejected || calls != 1 {
		t.Errorf("Do() = %v after %d calls, want the stopped error itself after 1", err, calls)
	}
	if got := c.Stats().WrongStrategy; got != 0 {
		t.Errorf("WrongStrategy = %d after a stopped rejection, want 0", got)
	}
}

// Do makes no attempt once its context is done, even with a trusted
// colour.
func TestDoMakesNoAttemptOnceCtxIsDone(t *testing.T) {
	e := newEnv(t, cache.Blue)
	c := e.coord()
	resolve(t, c, cache.Blue)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	err := c.Do(ctx, func(context.Context, cache.Strategy) error {
		calls++
		return nil
	})
	if !errors.Is(err, context.Canceled) || calls != 0 {
		t.Errorf("Do() on a done context = %v after %d calls, want Canceled and none", err, calls)
	}
}
