package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
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

// sideReport is a line a worker writes to its spec's SideFile about the
// faults it injected into itself.
type sideReport struct {
	Event     string `json:"event"` // "deaf" (the watch went deaf) or "end"
	PID       int    `json:"pid"`
	AtNs      int64  `json:"at_ns"`
	Swallowed int64  `json:"swallowed,omitempty"` // end: records the deaf watch swallowed
}

// injectFaults sets cfg up for the faults of sp, and returns what to run
// once the workers are done. It also names the process in its log
// records, if it logs.
func (sp spec) injectFaults(cfg *fleet.Config) (func(), error) {
	if cfg.Logger != nil {
		cfg.Logger = cfg.Logger.With("pid", os.Getpid())
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
