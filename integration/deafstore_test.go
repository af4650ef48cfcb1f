package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/e6coord/e6coord/cache"
	redisstore "github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/internal/fleet"
)

// The faults a worker process injects into itself, as its spec says.

// deafStore is a Redis store whose watches go deaf on demand: the
// subscription stays up, answers its heartbeats and is never closed, but
// the records it delivers are swallowed, as when messages are lost
// between Redis and a subscriber that looks alive.
type deafStore struct {
	*redisstore.Store
	deaf      atomic.Bool
	swallowed atomic.Int64
}

// Watch implements cache.Watcher over the Redis store's watch.
func (d *deafStore) Watch(ctx context.Context, scope cache.Scope) (<-chan cache.State, error) {
	in, err := d.Store.Watch(ctx, scope)
	if err != nil {
		return nil, err
	}
	out := make(chan cache.State, 1)
	go func() {
		defer close(out) // when the real subscription ends
		for st := range in {
			if d.deaf.Load() {
				d.swallowed.Add(1)
				continue
			}
			select {
			case <-out: // the newest wins, as the store's own channel
			default:
			}
			out <- st
		}
	}()
	return out, nil
}

// hangStore is a Redis store whose every call hangs on demand: while it is
// hung, a call blocks, whatever its context's deadline, until the hang
// ends, and only then goes to Redis. A query that completes while the
// store is hung made no store call on its path.
type hangStore struct {
	*redisstore.Store
	mu     sync.Mutex
	hung   chan struct{} // while hung: closed when the hang ends
	begun  atomic.Int64  // calls begun while hung
	onPath atomic.Int64  // of them, those whose context is a query's (queryPath)
}

// queryPath marks the context the worker's queries run under.
type queryPath struct{}

// wait blocks while the store is hung.
func (h *hangStore) wait(ctx context.Context) {
	h.mu.Lock()
	ch := h.hung
	h.mu.Unlock()
	if ch == nil {
		return
	}
	h.begun.Add(1)
	if ctx.Value(queryPath{}) != nil {
		h.onPath.Add(1)
	}
	<-ch
}

// hang makes every call hang until unhang, and zeroes the counts.
func (h *hangStore) hang() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.begun.Store(0)
	h.onPath.Store(0)
	h.hung = make(chan struct{})
}

// unhang lets the hung calls go on, and returns the calls begun while
// hung and how many of them were on a query's path; ok reports whether
// the store was hung.
func (h *hangStore) unhang() (begun, onPath int64, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hung == nil {
		return 0, 0, false
	}
	close(h.hung)
	h.hung = nil
	return h.begun.Load(), h.onPath.Load(), true
}

func (h *hangStore) Load(ctx context.Context, scope cache.Scope) (cache.State, error) {
	h.wait(ctx)
	return h.Store.Load(ctx, scope)
}

func (h *hangStore) CompareAndSwap(ctx context.Context, scope cache.Scope, old uint64, next cache.State) (cache.State, error) {
	h.wait(ctx)
	return h.Store.CompareAndSwap(ctx, scope, old, next)
}

func (h *hangStore) WritePins(ctx context.Context, scope cache.Scope, ttl time.Duration, w cache.PinWrite) (cache.PinCounts, error) {
	h.wait(ctx)
	return h.Store.WritePins(ctx, scope, ttl, w)
}

func (h *hangStore) Lookup(ctx context.Context, scope cache.Scope, queryID string) (cache.Pin, error) {
	h.wait(ctx)
	return h.Store.Lookup(ctx, scope, queryID)
}

func (h *hangStore) Renew(ctx context.Context, scope cache.Scope, ttl time.Duration, queryIDs ...string) ([]string, error) {
	h.wait(ctx)
	return h.Store.Renew(ctx, scope, ttl, queryIDs...)
}

func (h *hangStore) Count(ctx context.Context, scope cache.Scope) (cache.PinCounts, error) {
	h.wait(ctx)
	return h.Store.Count(ctx, scope)
}

func (h *hangStore) AcquireProbeLease(ctx context.Context, scope cache.Scope, holder string, ttl time.Duration) error {
	h.wait(ctx)
	return h.Store.AcquireProbeLease(ctx, scope, holder, ttl)
}

func (h *hangStore) ReleaseProbeLease(ctx context.Context, scope cache.Scope, holder string) error {
	h.wait(ctx)
	return h.Store.ReleaseProbeLease(ctx, scope, holder)
}

func (h *hangStore) Time(ctx context.Context) (time.Time, error) {
	h.wait(ctx)
	return h.Store.Time(ctx)
}

func (h *hangStore) Watch(ctx context.Context, scope cache.Scope) (<-chan cache.State, error) {
	h.wait(ctx)
	return h.Store.Watch(ctx, scope)
}

// sideReport is a line a worker writes to its spec's SideFile about the
// faults it injected into itself.
type sideReport struct {
	Event     string `json:"event"` // "deaf" (the watch went deaf), "hung", "unhung" or "end"
	PID       int    `json:"pid"`
	AtNs      int64  `json:"at_ns"`
	Swallowed int64  `json:"swallowed,omitempty"` // end: records the deaf watch swallowed
	Begun     int64  `json:"begun,omitempty"`     // unhung: store calls begun while hung
	OnPath    int64  `json:"on_path,omitempty"`   // unhung: of them, calls on a query's path
}

// injectFaults sets cfg up for the faults of sp, and returns what to run
// once the workers are done. It also names the process in its log
// records, if it logs.
func (sp spec) injectFaults(cfg *fleet.Config) (func(), error) {
	if cfg.Logger != nil {
		cfg.Logger = cfg.Logger.With("pid", os.Getpid())
	}
	if sp.HangOnSignal {
		return sp.injectHang(cfg)
	}
	if !sp.DeafOnSignal {
		return func() {}, nil
	}
	rs, err := redisstore.Open(sp.RedisURL, redisstore.Options{})
	if err != nil {
		return nil, err
	}
	side, err := os.OpenFile(sp.SideFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		rs.Close()
		return nil, err
	}
	enc := json.NewEncoder(side)
	d := &deafStore{Store: rs}
	cfg.Store, cfg.RedisURL = d, ""
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, ok := <-sig; !ok {
			return
		}
		d.deaf.Store(true)
		if err := enc.Encode(sideReport{Event: "deaf", PID: os.Getpid(), AtNs: time.Now().UnixNano()}); err != nil {
			fmt.Fprintln(os.Stderr, "worker: side report:", err)
		}
	}()
	return func() {
		signal.Stop(sig)
		close(sig)
		<-done
		if err := enc.Encode(sideReport{Event: "end", PID: os.Getpid(), AtNs: time.Now().UnixNano(), Swallowed: d.swallowed.Load()}); err != nil {
			fmt.Fprintln(os.Stderr, "worker: side report:", err)
		}
		side.Close()
		rs.Close()
	}, nil
}

// injectHang sets cfg up with a hangStore that SIGUSR1 hangs and the next
// SIGUSR1 lets go, and so on; the worker writes "hung" and "unhung" to
// the side file.
func (sp spec) injectHang(cfg *fleet.Config) (func(), error) {
	rs, err := redisstore.Open(sp.RedisURL, redisstore.Options{})
	if err != nil {
		return nil, err
	}
	side, err := os.OpenFile(sp.SideFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		rs.Close()
		return nil, err
	}
	enc := json.NewEncoder(side)
	h := &hangStore{Store: rs}
	cfg.Store, cfg.RedisURL = h, ""
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range sig {
			r := sideReport{Event: "hung", PID: os.Getpid()}
			if begun, onPath, ok := h.unhang(); ok {
				r.Event, r.Begun, r.OnPath = "unhung", begun, onPath
			} else {
				h.hang()
			}
			r.AtNs = time.Now().UnixNano()
			if err := enc.Encode(r); err != nil {
				fmt.Fprintln(os.Stderr, "worker: side report:", err)
			}
		}
	}()
	return func() {
		signal.Stop(sig)
		close(sig)
		<-done
		h.unhang()
		side.Close()
		rs.Close()
	}, nil
}
