package coordinator_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/memory"
	"github.com/e6coord/e6coord/coordinator"
)

// §8: with the store down, the coordinator serves from its snapshot, pins
// without failing, switches locally, and on recovery writes its newer
// record back with a compare-and-swap and carries its pins over.
func TestStoreOutageAndRecovery(t *testing.T) {
	e := newEnv(t, cache.Blue)
	fs := newFlakyStore(t, e.clock.Now)
	c := e.coordOn(fs)
	resolve(t, c, cache.Blue)
	ctx := context.Background()

	fs.down.Store(true)
	if err := pinSynced(ctx, c, "q1", cache.Blue); err != nil {
		t.Fatalf("Pin during outage: %v", err)
	}
	if !c.Stats().Degraded {
		t.Fatal("not degraded after a failed store call")
	}
	resolve(t, c, cache.Blue) // from the snapshot
	e.eng.set(cache.Blue, cache.Green)
	c.Announce("green")
	waitFor(t, c, "green active, locally", active(cache.Green))
	if err := c.Refresh(ctx); err == nil {
		t.Fatal("Refresh succeeded with the store down")
	}
	local := c.Snapshot()

	fs.down.Store(false)
	if err := c.Refresh(ctx); err != nil {
		t.Fatalf("Refresh after recovery: %v", err)
	}
	if c.Stats().Degraded {
		t.Error("still degraded after recovery")
	}
	stored, err := fs.Load(ctx, scope)
	if err != nil || stored.Active != cache.Green || stored.Generation <= local.Generation-1 {
		t.Fatalf("stored record = %s, %v; want green at a generation ≥ %d", stored, err, local.Generation)
	}
	if pin, err := fs.Lookup(ctx, scope, "q1"); err != nil || pin.Strategy != cache.Blue {
		t.Errorf("pin taken during the outage: %+v, %v; want blue", pin, err)
	}
	if c.Stats().StoreErrors == 0 {
		t.Error("StoreErrors = 0")
	}
}

// §8: a store that restarts empty gets the record back, at a generation
// above any seen, and a newer record from elsewhere is adopted, not
// overwritten.
func TestStoreRestartedEmpty(t *testing.T) {
	e := newEnv(t, cache.Green)
	fs := newFlakyStore(t, e.clock.Now)
	c := e.coordOn(fs)
	resolve(t, c, cache.Green)
	gen := c.Snapshot().Generation
	ctx := context.Background()

	fs.wipe()
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	stored, err := fs.Load(ctx, scope)
	if err != nil || stored.Active != cache.Green || stored.Generation <= gen {
		t.Fatalf("after restart: stored %s, %v; want green above generation %d", stored, err, gen)
	}

	// Someone else wrote a newer record: adopt it.
	newer := stored
	newer.Generation += 5
	newer.Active = cache.Blue
	if _, err := fs.CompareAndSwap(ctx, scope, stored.Generation, newer); err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if st := c.Snapshot(); st.Generation != newer.Generation || st.Active != cache.Blue {
		t.Errorf("after a newer record: local %s, want %s", st, newer)
	}
}

// §8: Close releases the pins still held.
func TestCloseReleasesPins(t *testing.T) {
	e := newEnv(t, cache.Blue)
	c := e.coord()
	ctx := context.Background()
	if err := pinSynced(ctx, c, "q", cache.Blue); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.store.Count(ctx, scope); n.Blue != 1 {
		t.Fatalf("Count = %+v, want one blue", n)
	}
	c.Close()
	if n, _ := e.store.Count(ctx, scope); n.Total() != 0 {
		t.Errorf("Count after Close = %+v, want none", n)
	}
	if _, err := c.Resolve(ctx); err != coordinator.ErrClosed {
		t.Errorf("Resolve after Close = %v, want ErrClosed", err)
	}
}

// hangingStore makes its next pin write, once armed, hang until the
// write's context is done.
type hangingStore struct {
	cache.Store
	armed   atomic.Bool
	entered chan struct{}
}

func (h *hangingStore) WritePins(ctx context.Context, sc cache.Scope, ttl time.Duration, w cache.PinWrite) (cache.PinCounts, error) {
	if h.armed.CompareAndSwap(true, false) {
		close(h.entered)
		<-ctx.Done()
		return cache.PinCounts{}, ctx.Err()
	}
	return h.Store.WritePins(ctx, sc, ttl, w)
}

// §8: a release whose write is under way when Close comes is cut short by
// Close, and Close tells the store in its own call all the same.
func TestCloseReleasesWhatAWriteUnderWayHad(t *testing.T) {
	e := newEnv(t, cache.Blue)
	h := &hangingStore{Store: e.store, entered: make(chan struct{})}
	c := e.coordOn(h, func(cfg *coordinator.Config) {
		cfg.PinDelay = -1            // each batch at once
		cfg.StoreTimeout = time.Hour // only Close ends the hanging write
	})
	ctx := context.Background()
	if err := pinSynced(ctx, c, "q", cache.Blue); err != nil {
		t.Fatal(err)
	}
	h.armed.Store(true)
	c.Release("q")
	select {
	case <-h.entered:
	case <-time.After(waitTimeout):
		t.Fatal("the release was never written")
	}
	c.Close()
	if n, _ := e.store.Count(ctx, scope); n.Total() != 0 {
		t.Errorf("Count after Close = %+v, want none: the release cut short by Close was lost", n)
	}
}

// §3: pins are renewed while held, so a long query's pin outlives PinTTL.
func TestPinsRenewedWhileHeld(t *testing.T) {
	e := newEnv(t, cache.Blue)
	fs := newFlakyStore(t, e.clock.Now)
	const ttl = 30 * time.Millisecond // renewed every 10ms of real time
	c := e.coordOn(fs, func(cfg *coordinator.Config) { cfg.PinTTL = ttl })
	ctx := context.Background()
	if err := pinSynced(ctx, c, "q", cache.Blue); err != nil {
		t.Fatal(err)
	}
	first, err := fs.Lookup(ctx, scope, "q")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(20 * time.Millisecond)
	fs.waitRenew(t)
	e.clock.Advance(20 * time.Millisecond) // past the first lease
	pin, err := fs.Lookup(ctx, scope, "q")
	if err != nil || !pin.Expires.After(first.Expires) {
		t.Fatalf("pin after its first lease: %+v, %v; want renewed past %v", pin, err, first.Expires)
	}
	releaseSynced(t, ctx, c, "q")
	if _, err := fs.Lookup(ctx, scope, "q"); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Lookup after Release = %v, want ErrNotFound", err)
	}
}

// An invalid colour read from the store is ignored and counted, never sent:
// the fleet detects again and overwrites the record with a swap.
func TestInvalidStoredColourIgnored(t *testing.T) {
	e := newEnv(t, cache.Blue)
	fs := newFlakyStore(t, e.clock.Now)
	c := e.coordOn(fs)
	resolve(t, c, cache.Blue)
	ctx := context.Background()
	fs.corrupt.Store(true)
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.Strategy(); got != cache.Unknown {
		t.Fatalf("Strategy() after an invalid stored colour = %v, want unknown", got)
	}
	if got := c.Stats().InvalidStrategies; got != 1 {
		t.Errorf("InvalidStrategies = %d, want 1", got)
	}
	resolve(t, c, cache.Blue)
	stored, err := fs.Load(ctx, scope)
	if err != nil || stored.Active != cache.Blue || stored.Generation != c.Snapshot().Generation {
		t.Errorf("stored %s, %v; want blue at the local generation %d", stored, err, c.Snapshot().Generation)
	}
}

// splitByOutage returns a flaky store, the store behind it, and two
// coordinators on blue: a on the flaky store, b on the store behind, so
// that b reaches the store while a cannot.
func splitByOutage(t *testing.T, e *env) (fs *flakyStore, shared cache.Store, a, b *coordinator.Coordinator) {
	t.Helper()
	fs = newFlakyStore(t, e.clock.Now)
	a = e.coordOn(fs)
	resolve(t, a, cache.Blue)
	fs.mu.Lock()
	shared = fs.cur
	fs.mu.Unlock()
	b = e.coordOn(shared)
	resolve(t, b, cache.Blue)
	return fs, shared, a, b
}

// §8: a process that changed its record while the store was down does not
// overwrite what the fleet decided meanwhile, even at the same generation.
func TestRecoveryTakesFleetRecord(t *testing.T) {
	e := newEnv(t, cache.Blue)
	fs, shared, a, b := splitByOutage(t, e)

	fs.down.Store(true)
	a.Announce("green") // rejected by the engine; recorded locally only
	waitFor(t, a, "green pending on a", func(st cache.State) bool { return st.Pending == cache.Green })
	e.eng.set(cache.Green)
	b.Invalidate(cache.Blue)
	resolve(t, b, cache.Green)

	fs.down.Store(false)
	ctx := context.Background()
	if err := a.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if st := a.Snapshot(); st.Active != cache.Green {
		t.Errorf("a after recovery: %s, want the fleet's green", st)
	}
	stored, err := shared.Load(ctx, scope)
	if err != nil || stored.Active != cache.Green {
		t.Errorf("stored after recovery: %s, %v; want green", stored, err)
	}
}

// §8: the fleet's record does not win by its generation alone. A process
// that detected the colour while the store was down, later than the
// record the fleet stored meanwhile was confirmed, writes its newer
// evidence back, though it numbered its record as the stored one.
func TestRecoveryKeepsNewerLocalConfirmation(t *testing.T) {
	e := newEnv(t, cache.Blue)
	fs, shared, a, b := splitByOutage(t, e)
	gen := a.Snapshot().Generation

	fs.down.Store(true)
	e.eng.set(cache.Green)
	b.Invalidate(cache.Blue)
	resolve(t, b, cache.Green) // stored at gen+1, confirmed now
	e.clock.Advance(time.Second)
	e.eng.set(cache.Blue)
	a.Invalidate(cache.Blue)
	resolve(t, a, cache.Blue) // local at gen+1, confirmed a second later
	if st := a.Snapshot(); st.Generation != gen+1 {
		t.Fatalf("a's local record %s, want generation %d, as the stored one", st, gen+1)
	}

	fs.down.Store(false)
	ctx := context.Background()
	if err := a.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if st := a.Snapshot(); st.Active != cache.Blue || st.Generation <= gen+1 {
		t.Errorf("a after recovery: %s, want its newer blue above generation %d", st, gen+1)
	}
	stored, err := shared.Load(ctx, scope)
	if err != nil || stored.Active != cache.Blue || stored.Generation <= gen+1 {
		t.Errorf("stored after recovery: %s, %v; want blue above generation %d", stored, err, gen+1)
	}
}

// records counts the log records of each level.
type records struct {
	mu     sync.Mutex
	levels map[slog.Level]int
	last   map[slog.Level]string
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.levels == nil {
		r.levels, r.last = map[slog.Level]int{}, map[slog.Level]string{}
	}
	r.levels[rec.Level]++
	r.last[rec.Level] = rec.Message
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }
func (r *records) count(l slog.Level) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.levels[l]
}

// §8: a store that refuses the credentials is a configuration error, not an
// outage: queries go on, it is logged at Error once per minute however
// often it is tried, and Stats says the store was never reached.
func TestStoreDeniedIsItsOwnState(t *testing.T) {
	e := newEnv(t, cache.Blue)
	fs := newFlakyStore(t, e.clock.Now)
	fs.deny.Store(true)
	logs := &records{}
	c := e.coordOn(fs, func(cfg *coordinator.Config) { cfg.Logger = slog.New(logs) })
	resolve(t, c, cache.Blue) // the engine, not the store, decides
	ctx := context.Background()
	for i := range 5 {
		if err := pinSynced(ctx, c, fmt.Sprint("q", i), cache.Blue); err != nil {
			t.Fatalf("Pin: %v", err)
		}
		releaseSynced(t, ctx, c, fmt.Sprint("q", i))
		if err := c.Refresh(ctx); err == nil {
			t.Fatal("Refresh succeeded with access denied")
		}
	}
	st := c.Stats()
	if st.Store != coordinator.StoreDenied || st.StoreReached || !st.Degraded {
		t.Errorf("Stats: Store %v, StoreReached %v, Degraded %v; want denied, never reached, degraded",
			st.Store, st.StoreReached, st.Degraded)
	}
	if n := logs.count(slog.LevelError); n != 1 {
		t.Errorf("Error records = %d, want 1 (rate-limited)", n)
	}
	if n := logs.count(slog.LevelWarn); n != 0 {
		t.Errorf("Warn records = %d, want 0: access denied is not an outage", n)
	}
	e.clock.Advance(2 * time.Minute)
	if err := c.Refresh(ctx); err == nil {
		t.Fatal("Refresh succeeded with access denied")
	}
	if n := logs.count(slog.LevelError); n != 2 {
		t.Errorf("Error records a minute later = %d, want 2", n)
	}

	fs.deny.Store(false) // the operator fixed the password
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Store != coordinator.StoreUp || !st.StoreReached || st.Degraded {
		t.Errorf("after the fix: Store %v, StoreReached %v, Degraded %v; want up, reached, not degraded",
			st.Store, st.StoreReached, st.Degraded)
	}
}

// refusingWatcher is a memory store whose change subscription is refused,
// as by an ACL without the channel, while its commands work.
type refusingWatcher struct {
	*memory.Store
	tried chan struct{}
}

func (r *refusingWatcher) Watch(context.Context, cache.Scope) (<-chan cache.State, error) {
	select {
	case r.tried <- struct{}{}:
	default:
	}
	return nil, fmt.Errorf("NOPERM no permissions to access the channel: %w", cache.ErrAccessDenied)
}

// §8: a refused subscription does not flip the coordinator in and out of
// degraded mode: commands work, so it polls the record instead.
func TestWatchRefusedDoesNotDegrade(t *testing.T) {
	e := newEnv(t, cache.Blue)
	rw := &refusingWatcher{Store: e.store.(*memory.Store), tried: make(chan struct{})}
	c := e.coordOn(rw)
	resolve(t, c, cache.Blue)
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for i := range 3 {
		select {
		case <-rw.tried:
		case <-timer.C:
			t.Fatalf("%d subscription attempts, want 3", i)
		}
		if st := c.Stats(); st.Degraded || st.Store != coordinator.StoreUp {
			t.Fatalf("after a refused subscription: Degraded %v, Store %v; want up, not degraded", st.Degraded, st.Store)
		}
	}
	if st := c.Stats(); !st.WatchDenied {
		t.Error("WatchDenied = false after refused subscriptions")
	}
	if err := c.Refresh(context.Background()); err != nil {
		t.Errorf("Refresh with the subscription refused: %v", err)
	}
}

// §8: the pins released while the store was down are released in one call
// on recovery, without those old enough to have expired in the store; and
// Close releases every held pin in one call.
func TestReleaseWorkBounded(t *testing.T) {
	const pinTTL = 30 * time.Second
	e := newEnv(t, cache.Blue)
	fs := newFlakyStore(t, e.clock.Now)
	c := e.coordOn(fs, func(cfg *coordinator.Config) { cfg.PinTTL = pinTTL })
	resolve(t, c, cache.Blue)
	ctx := context.Background()

	fs.down.Store(true)
	recent := map[string]bool{}
	start := e.clock.Now()
	for i := range 1000 { // 100 s of queries, 10 a second
		id := fmt.Sprint("q", i)
		if err := pinSynced(ctx, c, id, cache.Blue); err != nil {
			t.Fatal(err)
		}
		releaseSynced(t, ctx, c, id)
		if e.clock.Now().Sub(start) >= 100*time.Second-pinTTL {
			recent[id] = true
		}
		if i%10 == 9 {
			e.clock.Advance(time.Second)
		}
	}
	fs.down.Store(false)
	before := len(fs.releaseCalls())
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	calls := fs.releaseCalls()[before:]
	if len(calls) != 1 {
		t.Fatalf("Release calls on recovery = %d, want 1", len(calls))
	}
	for _, id := range calls[0] {
		if !recent[id] {
			t.Errorf("released %s on recovery, which expired in the store already", id)
		}
	}
	if len(calls[0]) < len(recent)-10 {
		t.Errorf("released %d on recovery, want about %d (those released within PinTTL)", len(calls[0]), len(recent))
	}

	for i := range 50 {
		if err := pinSynced(ctx, c, fmt.Sprint("held", i), cache.Blue); err != nil {
			t.Fatal(err)
		}
	}
	before = len(fs.releaseCalls())
	c.Close()
	calls = fs.releaseCalls()[before:]
	if len(calls) != 1 || len(calls[0]) != 50 {
		t.Errorf("Close made %d Release calls (%v ids first); want 1 with 50 ids", len(calls), len(calls))
	}
	if n, err := fs.Count(ctx, scope); err != nil || n.Total() != 0 {
		t.Errorf("pins left after Close: %+v, %v", n, err)
	}
}
