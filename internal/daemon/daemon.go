// Package daemon is `e6coord watch`: a process that keeps one engine
// scope's shared state fresh for the fleet and serves its health, its
// Prometheus metrics and the state over HTTP.
//
// A [Daemon] confirms the active colour every [Config.Interval] (every
// second while a switch is pending) with [coordinator.Coordinator.Confirm]:
// under the fleet's probe lease, so that any number of daemons on one scope
// make at most one probe per interval between them. Each confirmation
// writes the record's ConfirmedAt, which the store publishes to every
// subscriber: that is the daemon's heartbeat. It also keeps the colour
// confirmed long before the fleet's CacheTTL runs out, so that while a
// daemon runs no worker's call waits on a probe. It never resumes a
// suspended cluster (client.Config.NoResume): while the engine answers
// 503 its confirmations fail and /readyz says so.
//
// The HTTP endpoints, on a mux of the daemon's own:
//
//	/healthz   liveness: 200 while the confirmation loop makes progress
//	/readyz    readiness: 200 once the colour is known and the store answers
//	/metrics   Prometheus metrics, from a registry of the daemon's own
//	/v1/state  the scope's state as JSON (internal/view)
//
// The package does not log unless given a logger, and sets no global.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/memory"
	redisstore "github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/coordinator"
	"github.com/e6coord/e6coord/metrics"
)

// Defaults of Config.
const (
	DefaultListen   = "127.0.0.1:9464"
	DefaultInterval = 10 * time.Second
)

// pendingInterval replaces Config.Interval while a switch is pending, when
// it is shorter.
const pendingInterval = time.Second

// shutdownTimeout bounds the graceful end of the HTTP server's requests.
const shutdownTimeout = 5 * time.Second

// Config configures a Daemon. Zero values mean the documented defaults.
type Config struct {
	// Client is the connection to the engine, described as the fleet's
	// processes describe theirs: Addr (required), User and Password (never
	// logged, put in an error, or served), Catalog and Schema, Cluster
	// (with Addr it names the scope of the shared state), TLS (nil:
	// plaintext) and DialOptions. RedisURL is the Redis shared with the
	// fleet, in the forms of cache/redis's package doc; default "": an
	// in-process memory store, which shares nothing (for trying the daemon
	// out). A Store, if set, is used instead of RedisURL, and not closed.
	// Coordination configures the daemon's coordinator: set its CacheTTL,
	// how long a confirmed colour is trusted, as the fleet sets theirs
	// (default coordinator.DefaultCacheTTL, 5 minutes). NoResume is always
	// set: a watcher never wakes a suspended cluster. Logger defaults to
	// the daemon's Logger.
	Client client.Config

	// Listen is the HTTP server's address. Default "127.0.0.1:9464".
	Listen string
	// Interval is how often the active colour is confirmed for the fleet;
	// while a switch is pending, every second if that is shorter. It must
	// be at most a third of Client.Coordination.CacheTTL. Default: 10
	// seconds.
	Interval time.Duration

	// Version is the version reported by the metrics. Default: the
	// module's version from the binary's build information.
	Version string
	// Logger receives the daemon's and its coordinator's records.
	// Default nil: discard.
	Logger *slog.Logger
}

// Daemon watches one engine scope for the fleet. Make it with [New], run it
// with [Daemon.Run]; it is safe for concurrent use.
type Daemon struct {
	cfg          Config
	log          *slog.Logger
	store        cache.Store // the store the coordinator uses, instrumented
	storeMetrics *metrics.StoreMetrics
	address      string    // the Redis URL, redacted; "memory"; or a given store's type
	closer       io.Closer // the store under the instrumentation
	conn         *client.Conn
	coord        *coordinator.Coordinator
	ln           net.Listener
	srv          *http.Server

	// progress is when the loop last began an iteration, unix nanoseconds.
	progress atomic.Int64
	stopping atomic.Bool
	// lastFailure is why the last confirmation failed ("" when it did
	// not), for /readyz.
	lastFailure atomic.Pointer[string]

	pinsMu   sync.Mutex      // guards lastPins
	lastPins cache.PinCounts // the fleet's pins as last counted

	closeOnce sync.Once
	closeErr  error
}

// New returns a daemon for cfg, listening on cfg.Listen but not serving
// yet. It does no I/O but listening: a store or an engine that is down
// only makes the daemon not ready. It fails for an impossible
// configuration, a Redis URL that does not parse (the error shows it
// redacted), or an address it cannot listen on.
func New(cfg Config) (*Daemon, error) {
	if cfg.Client.Addr == "" {
		return nil, errors.New("daemon: no engine address")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Client.Coordination.CacheTTL == 0 {
		cfg.Client.Coordination.CacheTTL = coordinator.DefaultCacheTTL
	}
	if ttl := cfg.Client.Coordination.CacheTTL; cfg.Interval < 0 || cfg.Interval > ttl/3 {
		return nil, fmt.Errorf("daemon: interval %v must be positive and at most a third of the cache TTL %v", cfg.Interval, ttl)
	}
	d := &Daemon{cfg: cfg, log: cfg.Logger}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if err := d.openStore(); err != nil {
		return nil, err
	}
	ccfg := cfg.Client
	ccfg.Store, ccfg.RedisURL = d.store, ""
	ccfg.NoResume = true // a watcher never wakes a suspended cluster: the fleet's first query does
	if ccfg.Logger == nil {
		ccfg.Logger = cfg.Logger
	}
	conn, err := client.Open(ccfg)
	if err != nil {
		d.closeStores()
		return nil, fmt.Errorf("daemon: %w", err)
	}
	d.conn, d.coord = conn, conn.Coordinator()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		conn.Close()
		d.closeStores()
		return nil, fmt.Errorf("daemon: %w", err)
	}
	d.ln = ln
	d.srv = &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 5 * time.Second}
	d.progress.Store(time.Now().UnixNano())
	return d, nil
}

// openStore opens the store of cfg.Client (its Store, else the store of
// its RedisURL, else a memory store), and instruments it for the metrics.
func (d *Daemon) openStore() error {
	var store cache.Store
	switch u := d.cfg.Client.RedisURL; {
	case d.cfg.Client.Store != nil:
		store, d.closer, d.address = d.cfg.Client.Store, io.NopCloser(nil), fmt.Sprintf("%T", d.cfg.Client.Store)
	case u == "":
		ms := memory.New(memory.Options{})
		store, d.closer, d.address = ms, ms, "memory"
	default:
		rs, err := redisstore.Open(u, redisstore.Options{})
		if err != nil {
			return fmt.Errorf("daemon: %w", err)
		}
		store, d.closer, d.address = rs, rs, redisstore.Redact(u)
	}
	d.store, d.storeMetrics = metrics.InstrumentStore(store)
	return nil
}

func (d *Daemon) closeStores() error { return d.closer.Close() }

// Addr returns the address the HTTP server listens on.
func (d *Daemon) Addr() string { return d.ln.Addr().String() }

// Coordinator returns the daemon's coordinator, for its state and counters.
func (d *Daemon) Coordinator() *coordinator.Coordinator { return d.coord }

// Run serves HTTP and confirms the colour until ctx is done or the HTTP
// server fails. Then /readyz answers 503, the loop stops, the server shuts
// down (waiting up to 5 seconds for requests under way), and the
// coordinator (its probe lease and subscription) and the store are
// closed, as [Daemon.Close] does. It returns nil when ctx ended it.
func (d *Daemon) Run(ctx context.Context) error {
	d.log.Info("watching", "engine", d.cfg.Client.Addr, "cluster", d.cfg.Client.Cluster, "tls", d.cfg.Client.TLS != nil, "store", d.address,
		"interval", d.cfg.Interval, "listen", d.Addr())
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		d.loop(gctx)
		return nil
	})
	g.Go(func() error {
		if err := d.srv.Serve(d.ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("daemon: serve: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		d.stopping.Store(true)
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := d.srv.Shutdown(sctx); err != nil {
			d.srv.Close()
		}
		return nil
	})
	err := g.Wait()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	d.log.Info("stopped")
	return err
}

// Close stops serving at once and closes the connection, the coordinator
// and the store. Run calls it on its way out; call it for a daemon that
// New made and that never ran. Closing twice does nothing.
func (d *Daemon) Close() error {
	d.closeOnce.Do(func() {
		d.stopping.Store(true)
		_ = d.srv.Close() // and the listener; after Shutdown, nothing is left
		d.closeErr = errors.Join(d.conn.Close(), d.closeStores())
	})
	return d.closeErr
}

// scope is the scope the daemon watches.
func (d *Daemon) scope() cache.Scope { return d.coord.Config().Scope }

// countPins returns the fleet's pins, or the last counts when the store
// cannot tell.
func (d *Daemon) countPins(ctx context.Context) cache.PinCounts {
	ctx, cancel := context.WithTimeout(ctx, d.coord.Config().StoreTimeout)
	defer cancel()
	n, err := d.store.Count(ctx, d.scope())
	d.pinsMu.Lock()
	defer d.pinsMu.Unlock()
	if err == nil {
		d.lastPins = n
	}
	return d.lastPins
}
