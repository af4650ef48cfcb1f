// Package fleet runs workers that loop queries through e6coord, in this
// process or in worker processes that report to a parent as JSON lines and
// take its commands: the machinery of `e6coord demo --processes`, of
// `e6coord bench` and of the integration tests.
package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/e6coord/e6coord/cache"
	redisstore "github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/coordinator"
)

// ErrStoppedConnecting is Run's error when it was stopped while the engine
// had not yet answered (a cluster that does not finish resuming, say), so
// that no query ran.
var ErrStoppedConnecting = errors.New("fleet: stopped before the engine answered: no query ran")

// Config configures the workers of one process.
type Config struct {
	// Client is the connection every worker shares: the engine and its
	// credentials, and the store (Store, else RedisURL, else the
	// process's memory).
	Client      client.Config
	Query       string        // the SQL each worker runs
	NoFetch     bool          // Exec instead of reading every row
	Workers     int           // concurrent workers; 0 only connects (learns the colour, authenticates), then waits
	StatusEvery time.Duration // how often to report status; 0: never
	// FloorURL, if set while the state is shared through Client.RedisURL,
	// is the Redis URL of a bare go-redis client with which this process
	// also subscribes to the channel on which the store's compare-and-swap
	// publishes the scope's record (the message the coordinator's watch
	// receives), reporting each arrival as a "floor" event: the floor of
	// the hop a switch makes, which `e6coord bench` sets beside the
	// coordinator's adoption.
	FloorURL string
	// Commands, if set, are the parent's commands, one a line (see
	// [Commands]); the process then also opens a connection on an
	// in-memory store of its own and the bare generated stubs, and runs
	// its workers in the mode the commands say.
	Commands <-chan string
	// Naive makes the workers naive clients (package naive, the published
	// client's behaviour on the generated stubs), each with a gRPC
	// connection of its own, instead of package client's Conn. With Proxy,
	// they connect to a proxy (package proxy) that this process embeds on a
	// loopback port and that goes to the engine through Client (its store
	// included); without it, straight to Client.Addr. Commands, FloorURL and
	// StatusEvery are not used then. Stats.WrongStrategy counts the 456s the
	// naive clients saw, or with Proxy those the proxy's connection saw (the
	// clients see none); Switches, Probes and the store's figures are the
	// proxy's, and zero without one.
	Naive, Proxy bool
}

// Report is one line a worker process writes: that it is ready, a change
// of the active colour it saw, its status, a record its bare subscriber
// received, an answer to a command of its parent, a failed query, or its
// summary at the end.
type Report struct {
	Event string `json:"event"` // "ready", "change", "status", "floor", "count", "mode", "failed" or "summary"
	PID   int    `json:"pid"`

	// ready: the coordinator's policy
	Policy string `json:"policy,omitempty"`

	// status: the process's view, every StatusEvery
	Degraded bool   `json:"degraded,omitempty"`
	Probes   uint64 `json:"probes,omitempty"`
	Queries  int64  `json:"queries,omitempty"` // queries finished so far

	// change and status: the calls rejected for their colour so far
	WrongStrategy uint64 `json:"wrong_strategy,omitempty"`

	// status: the Redis commands sent so far
	RedisCommands int64 `json:"redis_commands,omitempty"`

	// floor: the generation of the record that arrived (Generation), and
	// when it arrived (SeenAtNs)

	// count and mode: the parent's sequence number of the command
	Seq uint64 `json:"seq,omitempty"`
	// count: the queries finished so far in each mode (coordinated,
	// memory, bare)
	Counts []int64 `json:"counts,omitempty"`
	// mode: the mode every worker of the process now runs in
	Mode string `json:"mode,omitempty"`

	// change
	Generation  uint64 `json:"gen,omitempty"`
	Old         string `json:"old,omitempty"`
	Active      string `json:"active,omitempty"`
	ChangedAtMs int64  `json:"changed_at_ms,omitempty"` // when the record changed (the store's clock, as the committer reads it)
	SeenAtNs    int64  `json:"seen_at_ns,omitempty"`    // when this process adopted it
	Pins        int    `json:"pins,omitempty"`          // this process's pins on the old colour then
	Committed   bool   `json:"committed,omitempty"`     // this process made the record
	CommitNs    int64  `json:"commit_ns,omitempty"`     // the committer: when its compare-and-swap was sent, unix ns (0 if unknown)

	// failed: what failed; summary: the error that ended the worker
	Error string `json:"error,omitempty"`

	// summary
	Stats *Stats `json:"stats,omitempty"`
}

// Stats counts what the workers of one process did.
type Stats struct {
	Queries       int64 `json:"queries"`
	Failed        int64 `json:"failed"`
	Rows          int64 `json:"rows"`
	Probes        int64 `json:"probes"`
	WrongStrategy int64 `json:"wrong_strategy"`
	Replays       int64 `json:"replays"`
	Switches      int64 `json:"switches"`
	StoreErrors   int64 `json:"store_errors"`
	// StoreUnreached counts the processes whose store never answered, and
	// StoreDenied those whose store refused access at the end (a wrong
	// password or ACL): they ran uncoordinated.
	StoreUnreached int64 `json:"store_unreached"`
	StoreDenied    int64 `json:"store_denied"`
	// MaxQueryNs is the longest query, from its start to its rows closed,
	// in nanoseconds.
	MaxQueryNs int64 `json:"max_query_ns"`
	// RedisCommands counts the commands the process sent to Redis, a
	// script counting as one, when it opened the store from RedisURL.
	RedisCommands int64 `json:"redis_commands"`
}

// Add adds o to s; MaxQueryNs is the larger of the two.
func (s *Stats) Add(o Stats) {
	s.Queries += o.Queries
	s.Failed += o.Failed
	s.Rows += o.Rows
	s.Probes += o.Probes
	s.WrongStrategy += o.WrongStrategy
	s.Replays += o.Replays
	s.Switches += o.Switches
	s.StoreErrors += o.StoreErrors
	s.StoreUnreached += o.StoreUnreached
	s.StoreDenied += o.StoreDenied
	s.MaxQueryNs = max(s.MaxQueryNs, o.MaxQueryNs)
	s.RedisCommands += o.RedisCommands
}

// Run opens a connection, connects it ([client.Conn.Connect]: the colour
// and a session, with only the calls a query makes), and runs cfg.Workers
// workers that loop the query until stop is closed or ctx is done; a query
// under way when stop closes finishes. With cfg.Commands, the workers run
// in the mode the commands say. report is called for every report of
// [Report], from any goroutine. It returns the workers' stats; their
// Queries count the queries of every mode. With cfg.Naive, the workers are
// naive clients instead (see Config.Naive).
func Run(ctx context.Context, cfg Config, stop <-chan struct{}, report func(Report)) (Stats, error) {
	if cfg.Naive || cfg.Proxy {
		return runNaive(ctx, cfg, stop, report)
	}
	var opened atomic.Pointer[client.Conn]
	var switches atomic.Int64
	var redisCommands *commandCounter
	pid := os.Getpid()
	ccfg := cfg.Client
	userChange := ccfg.Coordination.OnChange
	ccfg.Coordination.OnChange = func(old, next cache.State) {
		if userChange != nil {
			userChange(old, next)
		}
		if next.Generation <= old.Generation {
			report(Report{Event: "failed", PID: pid, Error: fmt.Sprintf("generation went from %d to %d", old.Generation, next.Generation)})
		}
		if old.Active == next.Active || !next.Active.Valid() {
			return
		}
		r := Report{Event: "change", PID: pid, Generation: next.Generation, Old: old.Active.String(),
			Active: next.Active.String(), ChangedAtMs: next.ChangedAt.UnixMilli(), SeenAtNs: time.Now().UnixNano()}
		if c := opened.Load(); c != nil && next.ChangedBy == c.Coordinator().Config().ID {
			r.Committed = true
			r.CommitNs = redisCommands.sentAt(next.Generation)
		}
		if c := opened.Load(); c != nil {
			r.Pins = c.Coordinator().Pins().Of(old.Active)
			r.WrongStrategy = c.Coordinator().Stats().WrongStrategy
		}
		if old.Active.Valid() {
			switches.Add(1)
		}
		report(r)
	}
	var redisStore *redisstore.Store
	if ccfg.Store == nil && ccfg.RedisURL != "" {
		store, counter, err := openCounted(ccfg.RedisURL)
		if err != nil {
			return Stats{}, fmt.Errorf("fleet: %w", err)
		}
		defer store.Close()
		ccfg.Store, redisCommands, redisStore = store, counter, store
	}
	conn, err := client.Open(ccfg)
	if err != nil {
		return Stats{}, err
	}
	defer conn.Close()
	opened.Store(conn)
	if redisStore != nil {
		channel := redisStore.Channel(conn.Coordinator().Config().Scope)
		redisCommands.channel.Store(&channel)
		if cfg.FloorURL != "" {
			stopFloor, err := subscribeFloor(ctx, cfg.FloorURL, channel, func(gen uint64, at int64) {
				report(Report{Event: "floor", PID: pid, Generation: gen, SeenAtNs: at})
			})
			if err != nil {
				return Stats{}, err
			}
			defer stopFloor()
		}
	}
	// A stop while the engine has not answered yet (a cluster that does
	// not finish resuming, say) ends the wait: the process ends when
	// asked, having run no query.
	connectCtx, cancelConnect := context.WithCancel(ctx)
	go func() {
		select {
		case <-stop:
			cancelConnect()
		case <-connectCtx.Done():
		}
	}()
	err = conn.Connect(connectCtx)
	cancelConnect()
	if err != nil {
		select {
		case <-stop:
			if ctx.Err() == nil {
				return Stats{}, ErrStoppedConnecting
			}
		default:
		}
		return Stats{}, fmt.Errorf("fleet: connect: %w", err)
	}

	// The other modes, for the parent's commands.
	var memConn *client.Conn
	var bare *bareEngine
	if cfg.Commands != nil {
		mcfg := cfg.Client
		mcfg.Store, mcfg.RedisURL = nil, "" // a memory store of its own
		mcfg.Coordination.OnChange = nil
		if memConn, err = client.Open(mcfg); err != nil {
			return Stats{}, err
		}
		defer memConn.Close()
		if err := memConn.Connect(ctx); err != nil {
			return Stats{}, fmt.Errorf("fleet: connect on a memory store: %w", err)
		}
		if bare, err = openBare(cfg); err != nil {
			return Stats{}, err
		}
		defer bare.Close()
		if err := bare.use(ctx, conn.Coordinator().Snapshot().Active.String()); err != nil {
			return Stats{}, err
		}
	}
	report(Report{Event: "ready", PID: pid, Generation: conn.Coordinator().Snapshot().Generation,
		Active: conn.Coordinator().Snapshot().Active.String(), Policy: conn.Coordinator().Config().Policy.String()})

	var queries [modeIdle]atomic.Int64
	var failed, rows, longest atomic.Int64
	counts := func() []int64 {
		n := make([]int64, len(queries))
		for i := range queries {
			n[i] = queries[i].Load()
		}
		return n
	}
	ctl := newControl(cfg.Workers, func(seq uint64, mode int) {
		report(Report{Event: "mode", PID: pid, Seq: seq, Mode: modeNames[mode]})
	})
	var wg sync.WaitGroup
	done := make(chan struct{})
	defer func() {
		close(done)
		wg.Wait()
	}()
	wg.Go(func() {
		select {
		case <-stop:
		case <-ctx.Done():
		case <-done:
		}
		ctl.stop()
	})
	if cfg.Commands != nil {
		wg.Go(func() {
			for {
				var line string
				select {
				case <-done:
					return
				case l, ok := <-cfg.Commands:
					if !ok {
						return
					}
					line = l
				}
				if err := obey(ctx, line, ctl, bare, func(seq uint64) {
					report(Report{Event: "count", PID: pid, Seq: seq, Counts: counts(), SeenAtNs: time.Now().UnixNano()})
				}); err != nil {
					report(Report{Event: "failed", PID: pid, Error: err.Error()})
				}
			}
		})
	}
	if cfg.StatusEvery > 0 {
		wg.Go(func() {
			t := time.NewTicker(cfg.StatusEvery)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
				}
				c := conn.Coordinator()
				snap, st := c.Snapshot(), c.Stats()
				report(Report{Event: "status", PID: pid, Generation: snap.Generation, Active: snap.Active.String(),
					Degraded: st.Degraded, Probes: st.Probes, Queries: queries[modeCoordinated].Load(), WrongStrategy: st.WrongStrategy,
					RedisCommands: redisCommands.count(), SeenAtNs: time.Now().UnixNano()})
			}
		})
	}
	var workers sync.WaitGroup
	if cfg.Workers == 0 {
		select {
		case <-stop:
		case <-ctx.Done():
		}
	}
	for w := range cfg.Workers {
		workers.Go(func() {
			for {
				mode, ok := ctl.next(w)
				if !ok || ctx.Err() != nil {
					return
				}
				start := time.Now()
				var n int64
				var err error
				switch mode {
				case modeMemory:
					n, err = runOne(ctx, memConn, cfg)
				case modeBare:
					n, err = bare.query(ctx)
				default:
					n, err = runOne(ctx, conn, cfg)
				}
				if ctx.Err() != nil && err != nil {
					return // cut off by the caller, not failed
				}
				storeMax(&longest, int64(time.Since(start)))
				queries[mode].Add(1)
				rows.Add(n)
				if err != nil {
					failed.Add(1)
					report(Report{Event: "failed", PID: pid, Error: err.Error()})
				}
			}
		})
	}
	workers.Wait()
	st := conn.Stats()
	var total int64
	for _, n := range counts() {
		total += n
	}
	return Stats{
		Queries:        total,
		Failed:         failed.Load(),
		Rows:           rows.Load(),
		Probes:         int64(st.Coordinator.Probes),
		WrongStrategy:  int64(st.Coordinator.WrongStrategy),
		Replays:        int64(st.Replays),
		Switches:       switches.Load(),
		StoreErrors:    int64(st.Coordinator.StoreErrors),
		StoreUnreached: boolCount(!st.Coordinator.StoreReached),
		StoreDenied:    boolCount(st.Coordinator.Store == coordinator.StoreDenied),
		MaxQueryNs:     longest.Load(),
		RedisCommands:  redisCommands.count(),
	}, ctx.Err()
}

// storeMax raises a to v if v is larger.
func storeMax(a *atomic.Int64, v int64) {
	for was := a.Load(); v > was && !a.CompareAndSwap(was, v); was = a.Load() {
	}
}

func boolCount(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// runOne runs the query once, reading every row unless NoFetch, and returns
// the rows read.
func runOne(ctx context.Context, conn *client.Conn, cfg Config) (int64, error) {
	if cfg.NoFetch {
		return 0, conn.Exec(ctx, cfg.Query)
	}
	r, err := conn.Query(ctx, cfg.Query)
	if err != nil {
		return 0, err
	}
	var n int64
	for r.Next(ctx) {
		if _, err := r.Values(); err != nil {
			r.Close()
			return n, err
		}
		n++
	}
	if err := r.Err(); err != nil {
		r.Close()
		return n, err
	}
	return n, r.Close()
}

// Serve is the body of a worker process: it runs the workers until stop
// closes (or ctx is done), writing every report and then its summary to out
// as JSON lines. It writes a "ready" report once its connection is open.
// The summary carries the error Serve returns, if any.
func Serve(ctx context.Context, cfg Config, stop <-chan struct{}, out io.Writer) error {
	var mu sync.Mutex
	enc := json.NewEncoder(out)
	write := func(r Report) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(r)
	}
	st, err := Run(ctx, cfg, stop, write)
	if err != nil && !errors.Is(err, context.Canceled) {
		write(Report{Event: "failed", PID: os.Getpid(), Error: err.Error()})
	}
	sum := Report{Event: "summary", PID: os.Getpid(), Stats: &st}
	if err != nil {
		sum.Error = err.Error() // what the parent reports for a worker that fails
	}
	write(sum)
	return err
}
