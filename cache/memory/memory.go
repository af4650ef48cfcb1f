// Package memory is an in-process [cache.Store]: the shared record, the pins
// and the probe lease of each scope live in maps behind one mutex, and
// changes of the record are pushed to [Store.Watch] subscribers.
//
// It shares state between the goroutines of one process only: it is what a
// coordinator uses when no shared store is configured.
package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/e6coord/e6coord/cache"
)

// Options configures a [Store]. The zero value is ready to use.
type Options struct {
	// Now is the clock of pin and probe leases. Default: time.Now.
	Now func() time.Time
}

// Store is an in-process [cache.Store] and [cache.Watcher]. Create it with
// [New]; it is safe for concurrent use. Close it to close every watch
// channel.
type Store struct {
	now func() time.Time

	// wg counts the context.AfterFunc callbacks of watches that may still
	// run; Close waits for them.
	wg sync.WaitGroup

	mu     sync.Mutex // guards closed and scopes, and everything they reach
	closed bool
	scopes map[cache.Scope]*scope
}

var (
	_ cache.Store   = (*Store)(nil)
	_ cache.Watcher = (*Store)(nil)
	_ cache.Clock   = (*Store)(nil)
)

// scope is the data of one cache.Scope. It is guarded by Store.mu.
type scope struct {
	record cache.State // Generation 0: no record

	pins   map[string]cache.Pin
	counts cache.PinCounts // of the pins in pins, purged or not
	// purgeAt is a time at or before which no pin in pins expires: while
	// now is before it, every pin in pins is live and counts is exact.
	purgeAt time.Time

	lease probeLease

	watchers map[*watcher]struct{}
}

type probeLease struct {
	holder  string
	expires time.Time // zero: no lease
}

// watcher is one subscriber of Watch. last and ch's sends are guarded by
// Store.mu.
type watcher struct {
	ch   chan cache.State
	last uint64 // the generation last put in ch
	stop func() bool
}

// New returns an empty store. It does no I/O and starts no goroutine.
func New(opts Options) *Store {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Store{now: now, scopes: make(map[cache.Scope]*scope)}
}

// Close closes every watch channel and releases the data. Every later call
// of a method, Close included, returns [cache.ErrClosed]. Close waits until
// no goroutine of the store is left.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return cache.ErrClosed
	}
	s.closed = true
	for _, sc := range s.scopes {
		for w := range sc.watchers {
			close(w.ch)
			if w.stop() {
				s.wg.Done() // the callback will never run
			}
		}
	}
	s.scopes = nil
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// lock takes s.mu unless the store is closed. On success the caller must
// unlock s.mu.
func (s *Store) lock() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return cache.ErrClosed
	}
	return nil
}

// scopeOf returns the data of key, creating it if create is set; otherwise
// it may return nil. s.mu must be held.
func (s *Store) scopeOf(key cache.Scope, create bool) *scope {
	sc := s.scopes[key]
	if sc == nil && create {
		sc = &scope{}
		s.scopes[key] = sc
	}
	return sc
}

// Load implements [cache.RecordStore].
func (s *Store) Load(ctx context.Context, key cache.Scope) (cache.State, error) {
	if err := ctx.Err(); err != nil {
		return cache.State{}, err
	}
	if err := s.lock(); err != nil {
		return cache.State{}, err
	}
	defer s.mu.Unlock()
	sc := s.scopeOf(key, false)
	if sc == nil || sc.record.Generation == 0 {
		return cache.State{}, fmt.Errorf("memory: load %s: %w", key, cache.ErrNotFound)
	}
	return sc.record, nil
}

// CompareAndSwap implements [cache.RecordStore]. A successful swap is put in
// the channel of every watcher of the scope before it returns.
func (s *Store) CompareAndSwap(ctx context.Context, key cache.Scope, old uint64, next cache.State) (cache.State, error) {
	if err := ctx.Err(); err != nil {
		return cache.State{}, err
	}
	if err := next.Validate(); err != nil {
		return cache.State{}, fmt.Errorf("memory: swap %s: %w", key, err)
	}
	if next.Generation <= old {
		return cache.State{}, fmt.Errorf("memory: swap %s: generation %d does not grow from %d: %w",
			key, next.Generation, old, cache.ErrInvalidRecord)
	}
	if err := s.lock(); err != nil {
		return cache.State{}, err
	}
	defer s.mu.Unlock()
	sc := s.scopeOf(key, true)
	if cur := sc.record; cur.Generation != old {
		return cur, fmt.Errorf("memory: swap %s: stored generation %d, expected %d: %w",
			key, cur.Generation, old, cache.ErrConflict)
	}
	sc.record = next
	for w := range sc.watchers {
		w.send(next)
	}
	return next, nil
}

// send puts st in w.ch, replacing a value the reader has not taken yet,
// unless w has had st's generation or a newer one. Store.mu must be held: it
// makes s the only sender, so the send after the drain never blocks.
func (w *watcher) send(st cache.State) {
	if st.Generation <= w.last {
		return
	}
	select {
	case <-w.ch:
	default:
	}
	w.ch <- st
	w.last = st.Generation
}

// Watch implements [cache.Watcher]. The channel receives every record
// stored by a later CompareAndSwap on scope, newest wins, and is closed when
// ctx is done or the store is closed.
func (s *Store) Watch(ctx context.Context, key cache.Scope) (<-chan cache.State, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	sc := s.scopeOf(key, true)
	if sc.watchers == nil {
		sc.watchers = make(map[*watcher]struct{})
	}
	w := &watcher{ch: make(chan cache.State, 1)}
	sc.watchers[w] = struct{}{}
	s.wg.Add(1)
	w.stop = context.AfterFunc(ctx, func() {
		defer s.wg.Done()
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			return // Close closed w.ch
		}
		if sc := s.scopes[key]; sc != nil {
			if _, ok := sc.watchers[w]; ok {
				delete(sc.watchers, w)
				close(w.ch)
			}
		}
	})
	return w.ch, nil
}

// WritePins implements [cache.PinStore]. A ttl of zero or less leaves no
// live pin.
func (s *Store) WritePins(ctx context.Context, key cache.Scope, ttl time.Duration, w cache.PinWrite) (cache.PinCounts, error) {
	if err := ctx.Err(); err != nil {
		return cache.PinCounts{}, err
	}
	if err := s.lock(); err != nil {
		return cache.PinCounts{}, err
	}
	defer s.mu.Unlock()
	now := s.now()
	sc := s.scopeOf(key, len(w.Blue)+len(w.Green) > 0)
	if sc == nil {
		return cache.PinCounts{}, nil
	}
	for _, p := range [...]struct {
		st  cache.Strategy
		ids []string
	}{{cache.Blue, w.Blue}, {cache.Green, w.Green}} {
		for _, id := range p.ids {
			sc.unpin(id)
			sc.pin(cache.Pin{QueryID: id, Strategy: p.st, Expires: now.Add(ttl)}, now)
		}
	}
	for _, id := range w.Release {
		sc.unpin(id)
	}
	return sc.count(now), nil
}

// Lookup implements [cache.PinStore].
func (s *Store) Lookup(ctx context.Context, key cache.Scope, queryID string) (cache.Pin, error) {
	if err := ctx.Err(); err != nil {
		return cache.Pin{}, err
	}
	if err := s.lock(); err != nil {
		return cache.Pin{}, err
	}
	defer s.mu.Unlock()
	now := s.now()
	if sc := s.scopeOf(key, false); sc != nil {
		if p, ok := sc.pins[queryID]; ok {
			if live(p.Expires, now) {
				return p, nil
			}
			sc.unpin(queryID)
		}
	}
	return cache.Pin{}, fmt.Errorf("memory: lookup %q in %s: %w", queryID, key, cache.ErrNotFound)
}

// Renew implements [cache.PinStore]. A ttl of zero or less ends the pins.
func (s *Store) Renew(ctx context.Context, key cache.Scope, ttl time.Duration, queryIDs ...string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	now := s.now()
	sc := s.scopeOf(key, false)
	var missing []string
	for _, id := range queryIDs {
		var p cache.Pin
		ok := false
		if sc != nil {
			p, ok = sc.pins[id]
			sc.unpin(id)
		}
		if !ok || !live(p.Expires, now) {
			missing = append(missing, id)
			continue
		}
		p.Expires = now.Add(ttl)
		sc.pin(p, now)
	}
	return missing, nil
}

// Count implements [cache.PinStore]. It purges expired pins.
func (s *Store) Count(ctx context.Context, key cache.Scope) (cache.PinCounts, error) {
	if err := ctx.Err(); err != nil {
		return cache.PinCounts{}, err
	}
	if err := s.lock(); err != nil {
		return cache.PinCounts{}, err
	}
	defer s.mu.Unlock()
	sc := s.scopeOf(key, false)
	if sc == nil {
		return cache.PinCounts{}, nil
	}
	return sc.count(s.now()), nil
}

// live reports whether a lease that ends at expires is live at now.
func live(expires, now time.Time) bool { return now.Before(expires) }

// pin adds p, which must not be in sc.pins, if it is live at now.
func (sc *scope) pin(p cache.Pin, now time.Time) {
	if !live(p.Expires, now) {
		return
	}
	if sc.pins == nil {
		sc.pins = make(map[string]cache.Pin)
	}
	sc.pins[p.QueryID] = p
	sc.add(p.Strategy, 1)
	if len(sc.pins) == 1 || p.Expires.Before(sc.purgeAt) {
		sc.purgeAt = p.Expires
	}
}

// unpin removes the pin of id, if any.
func (sc *scope) unpin(id string) {
	if p, ok := sc.pins[id]; ok {
		delete(sc.pins, id)
		sc.add(p.Strategy, -1)
	}
}

func (sc *scope) add(st cache.Strategy, n int) {
	switch st {
	case cache.Blue:
		sc.counts.Blue += n
	case cache.Green:
		sc.counts.Green += n
	}
}

// count purges the pins expired at now, if any may be, and returns the
// counts of the others. It walks the pins only when the earliest expiry
// has passed, so a steady flow of pins and releases costs O(1) each.
func (sc *scope) count(now time.Time) cache.PinCounts {
	if len(sc.pins) == 0 || now.Before(sc.purgeAt) {
		return sc.counts
	}
	var next time.Time
	for id, p := range sc.pins {
		if !live(p.Expires, now) {
			sc.unpin(id)
			continue
		}
		if next.IsZero() || p.Expires.Before(next) {
			next = p.Expires
		}
	}
	sc.purgeAt = next
	return sc.counts
}

// Time implements [cache.Clock]: it returns the store's clock, Options.Now.
func (s *Store) Time(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	if err := s.lock(); err != nil {
		return time.Time{}, err
	}
	defer s.mu.Unlock()
	return s.now(), nil
}

// AcquireProbeLease implements [cache.ProbeLeaser]. A lease is live while the
// store's clock is before its end; a ttl of zero or less leaves none.
func (s *Store) AcquireProbeLease(ctx context.Context, key cache.Scope, holder string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	now := s.now()
	sc := s.scopeOf(key, true)
	if l := sc.lease; l.holder != holder && live(l.expires, now) {
		return fmt.Errorf("memory: probe lease of %s held by %q for %v: %w",
			key, l.holder, l.expires.Sub(now), cache.ErrLeaseHeld)
	}
	sc.lease = probeLease{holder: holder, expires: now.Add(ttl)}
	return nil
}

// ReleaseProbeLease implements [cache.ProbeLeaser].
func (s *Store) ReleaseProbeLease(ctx context.Context, key cache.Scope, holder string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if sc := s.scopeOf(key, false); sc != nil && sc.lease.holder == holder {
		sc.lease = probeLease{}
	}
	return nil
}
