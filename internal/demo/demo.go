// Package demo runs workers that query an engine through e6coord while the
// engine switches colour, in this process or in several worker processes
// that share the state through Redis, and reports what happened: the main
// job of `e6coord demo`.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os/exec"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/coordinator"
	"github.com/e6coord/e6coord/internal/fleet"
)

// DefaultQuery is what the workers run against the embedded engine: 1,000
// rows over several batches.
const DefaultQuery = "SELECT * FROM demo.numbers"

// Options configures a demo run. Zero values mean the defaults of `e6coord
// demo`.
type Options struct {
	Duration  time.Duration // how long workers start queries; default 20s
	FlipEvery time.Duration // embedded engine: switch period; default 3s, negative: never
	Workers   int           // concurrent workers per process; default 8

	Mode   enginetest.SwitchMode // embedded engine: how it switches
	Reject enginetest.Rejection  // embedded engine: how it rejects
	Policy coordinator.Policy    // when new queries move to a new colour

	// Client is the workers' connection. Its Addr, if set, is an external
	// engine's host:port to use instead of the embedded one, with its
	// credentials and names (User, Password, Catalog, Schema, Cluster);
	// its RedisURL, if set, shares the state (see Processes); its Logger
	// receives the library's records (nil discards). Policy replaces its
	// Coordination.Policy.
	Client  client.Config
	Query   string // default DefaultQuery
	NoFetch bool   // run statements with Exec instead of reading rows

	// Processes is the number of worker processes; with more than one, they
	// share the state through Client.RedisURL, or through an embedded
	// in-memory Redis when it is empty. WorkerCommand makes the command of
	// a worker process from the arguments of [WorkerFlags]; the worker
	// runs [fleet.Serve]. The password and the Redis URL reach it in
	// E6COORD_PASSWORD and E6COORD_REDIS_URL. Of Client, a worker process
	// gets only those and the fields WorkerFlags passes (Addr, User,
	// Catalog, Schema, Cluster, the policy): with more than one process,
	// Run refuses a Client that sets any other (TLS, a Store, ...), which
	// the workers would not have.
	Processes     int
	WorkerCommand func(args []string) *exec.Cmd

	// Naive makes the workers naive clients (package naive: the engine's
	// published client as it behaves on the wire, no coordinator) instead
	// of package client's; with Proxy, each process runs them through a
	// proxy (package proxy) it embeds on a loopback port, whose coordinator
	// shares the state as the library's would (see Processes). Naive
	// workers straight to the engine share nothing: no in-memory Redis is
	// started for them.
	Naive, Proxy bool
}

// Summary is the outcome of a run; its JSON form is the last line of
// `e6coord demo --json`.
type Summary struct {
	Queries       int64 `json:"queries"`
	Failed        int64 `json:"failed"`
	Rows          int64 `json:"rows"`
	Switches      int64 `json:"switches"`
	Probes        int64 `json:"probes"`
	Mixed         int64 `json:"mixed"` // queries whose calls carried two colours; -1 with an external engine
	WrongStrategy int64 `json:"wrong_strategy"`
	Replays       int64 `json:"replays"`
	Processes     int64 `json:"processes"`
	// StoreUnreached is the number of processes whose store never
	// answered, and StoreDenied of those whose store refused access (a
	// wrong password or ACL): they ran uncoordinated.
	StoreUnreached int64 `json:"store_unreached"`
	StoreDenied    int64 `json:"store_denied"`
	// MaxConvergeMs is the longest time from a switch being committed to
	// the last process adopting it, in milliseconds, rounded up.
	MaxConvergeMs int64 `json:"max_converge_ms"`
	// ConvergeP50Us and ConvergeP99Us are percentiles of the time from a
	// switch being committed to each process adopting it, in microseconds.
	ConvergeP50Us int64 `json:"converge_p50_us"`
	ConvergeP99Us int64 `json:"converge_p99_us"`
}

func (o Options) withDefaults() Options {
	if o.Duration <= 0 {
		o.Duration = 20 * time.Second
	}
	if o.FlipEvery == 0 {
		o.FlipEvery = 3 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Query == "" {
		o.Query = DefaultQuery
	}
	o.Processes = max(o.Processes, 1)
	return o
}

// Run runs the demo and writes a line per switch and per failed query to
// out. It returns the summary; the error is for a demo that could not run.
func Run(ctx context.Context, o Options, out io.Writer) (Summary, error) {
	o = o.withDefaults()
	sum := Summary{Mixed: -1, Processes: int64(o.Processes)}
	if o.Proxy && !o.Naive {
		return sum, errors.New("demo: a proxy is for naive workers")
	}
	if o.Naive && o.NoFetch {
		return sum, errors.New("demo: naive workers read every row")
	}
	cc := o.Client
	var srv *enginetest.Server
	if cc.Addr == "" {
		var err error
		srv, err = enginetest.NewServer(enginetest.Options{
			Mode:      o.Mode,
			Rejection: o.Reject,
			FlipEvery: max(o.FlipEvery, 0), // 0: never
			User:      "demo",
			Password:  "demo",
			MaxLog:    1,
		})
		if err != nil {
			return sum, fmt.Errorf("demo: start the fake engine: %w", err)
		}
		defer srv.Close()
		cc.Addr = srv.Addr()
		cc.User, cc.Password, cc.Catalog, cc.Schema = "demo", "demo", enginetest.Catalog, enginetest.Schema
		flips := "flips every " + o.FlipEvery.String()
		if o.FlipEvery < 0 {
			flips = "never flips"
		}
		fmt.Fprintf(out, "fake engine on %s: start blue, %s, rejects with %s, %s\n",
			cc.Addr, o.Mode, o.Reject, flips)
	}
	cc.Coordination.Policy = o.Policy
	cfg := fleet.Config{Client: cc, Query: o.Query, NoFetch: o.NoFetch, Workers: o.Workers, Naive: o.Naive, Proxy: o.Proxy}
	t := newTracker(out)
	var st fleet.Stats
	var err error
	if o.Processes == 1 {
		t.printf("%d %s for %s, policy %s: %s\n", o.Workers, workersName(o), o.Duration, o.Policy, o.Query)
		// At the end of the duration, the queries under way finish; a
		// process still connecting (waiting for the engine, or for its
		// cluster to resume) stops waiting and says so.
		stop := make(chan struct{})
		timer := time.AfterFunc(o.Duration, func() { close(stop) })
		defer timer.Stop()
		st, err = fleet.Run(ctx, cfg, stop, t.report)
		if errors.Is(err, fleet.ErrStoppedConnecting) {
			err = fmt.Errorf("demo: the engine did not answer within the demo's %s: no query ran (see the log for what it waited for)", o.Duration)
		}
	} else {
		st, err = runProcesses(ctx, o, cfg, t)
	}
	t.end()
	if err != nil {
		return sum, err
	}
	sum.Queries, sum.Failed, sum.Rows = st.Queries, st.Failed, st.Rows
	sum.Probes, sum.WrongStrategy, sum.Replays = st.Probes, st.WrongStrategy, st.Replays
	sum.StoreUnreached, sum.StoreDenied = st.StoreUnreached, st.StoreDenied
	sum.Switches, sum.MaxConvergeMs = t.switches(), t.maxConvergeMs()
	sum.ConvergeP50Us, sum.ConvergeP99Us = t.lagPercentile(50), t.lagPercentile(99)
	if srv != nil {
		sum.Mixed = int64(len(srv.MixedQueries()))
		if o.Naive && !o.Proxy {
			// No coordinator saw the switches: the engine counts them.
			sum.Switches = int64(srv.State().Switches)
		}
	}
	t.printf("queries %d, failed %d, rows %d, switches %d, probes %d, mixed %d, 456s %d, replays %d\n",
		sum.Queries, sum.Failed, sum.Rows, sum.Switches, sum.Probes, sum.Mixed, sum.WrongStrategy, sum.Replays)
	if o.Naive && !o.Proxy {
		t.printf("processes %d; no coordinator: each naive client keeps its own colour\n", sum.Processes)
	} else {
		t.printf("processes %d; a switch reached each process after p50 %.2f ms, p99 %.2f ms; the last process after at most %d ms\n",
			sum.Processes, float64(sum.ConvergeP50Us)/1000, float64(sum.ConvergeP99Us)/1000, sum.MaxConvergeMs)
	}
	if line := storeLine(sum); line != "" {
		t.printf("%s\n", line)
	}
	return sum, ctx.Err()
}

// workersName names the workers of o in the demo's lines.
func workersName(o Options) string {
	switch {
	case o.Naive && o.Proxy:
		return "naive workers through an embedded proxy"
	case o.Naive:
		return "naive workers straight to the engine"
	}
	return "workers"
}

// storeLine returns the line of the summary that says which processes ran
// uncoordinated, because the store never answered them or refused them,
// or "" when none did.
func storeLine(sum Summary) string {
	const refused = "check the Redis password and ACL, and that the URL names the primary, not a read-only replica"
	switch {
	case sum.StoreUnreached > 0 && sum.StoreDenied > 0:
		return fmt.Sprintf("the store was never reached by %d of %d processes (it refused access: %s): they ran uncoordinated",
			sum.StoreUnreached, sum.Processes, refused)
	case sum.StoreUnreached > 0:
		return fmt.Sprintf("the store was never reached by %d of %d processes (it was unreachable): they ran uncoordinated",
			sum.StoreUnreached, sum.Processes)
	case sum.StoreDenied > 0:
		return fmt.Sprintf("the store refused access to %d of %d processes at the end (%s): they ran uncoordinated",
			sum.StoreDenied, sum.Processes, refused)
	}
	return ""
}

// runProcesses runs the workers in o.Processes processes sharing a Redis.
func runProcesses(ctx context.Context, o Options, cfg fleet.Config, t *tracker) (fleet.Stats, error) {
	var st fleet.Stats
	if o.WorkerCommand == nil {
		return st, fmt.Errorf("demo: no way to start worker processes")
	}
	url := cfg.Client.RedisURL
	if url == "" && (!o.Naive || o.Proxy) { // naive workers straight to the engine share nothing
		mr := miniredis.NewMiniRedis()
		if err := mr.Start(); err != nil {
			return st, fmt.Errorf("demo: start an in-memory redis: %w", err)
		}
		defer mr.Close()
		url = "redis://" + mr.Addr()
		t.printf("in-memory redis on %s\n", mr.Addr())
	}
	cfg.Client.RedisURL = url
	if err := workersCarry(cfg.Client); err != nil {
		return st, err
	}
	args := WorkerFlags(cfg)
	procs, err := fleet.Start(o.Processes, func(int) *exec.Cmd {
		cmd := o.WorkerCommand(args)
		// Secrets go in the environment, not on the command line.
		cmd.Env = append(cmd.Environ(), "E6COORD_PASSWORD="+cfg.Client.Password, "E6COORD_REDIS_URL="+cfg.Client.RedisURL)
		return cmd
	})
	if err != nil {
		return st, err
	}
	t.printf("%d processes × %d %s for %s, policy %s: %s\n", o.Processes, o.Workers, workersName(o), o.Duration, o.Policy, o.Query)
	timer := time.AfterFunc(o.Duration, procs.Stop)
	defer timer.Stop()
	stopOnCancel := context.AfterFunc(ctx, procs.Stop)
	defer stopOnCancel()
	summaries := 0
	for r := range procs.Reports() {
		t.report(r)
		if r.Event == "summary" && r.Stats != nil {
			st.Add(*r.Stats)
			summaries++
		}
	}
	if err := procs.Wait(); err != nil {
		return st, err
	}
	if summaries != o.Processes {
		return st, fmt.Errorf("demo: %d of %d worker processes reported", summaries, o.Processes)
	}
	return st, nil
}

// workersCarry returns an error naming the fields of c that a worker
// process would not get: those that neither WorkerFlags nor the
// environment carries.
func workersCarry(c client.Config) error {
	carried := client.Config{
		Addr: c.Addr, User: c.User, Password: c.Password,
		Catalog: c.Catalog, Schema: c.Schema, Cluster: c.Cluster,
		RedisURL: c.RedisURL, Logger: c.Logger,
		Coordination: coordinator.Config{Policy: c.Coordination.Policy},
	}
	var lost []string
	v, w := reflect.ValueOf(c), reflect.ValueOf(carried)
	for i := range v.NumField() {
		if !reflect.DeepEqual(v.Field(i).Interface(), w.Field(i).Interface()) {
			lost = append(lost, v.Type().Field(i).Name)
		}
	}
	if len(lost) > 0 {
		return fmt.Errorf("demo: worker processes get only the engine's address, credentials and names, the Redis URL and the policy; %s would be lost: run one process", strings.Join(lost, ", "))
	}
	return nil
}

// WorkerFlags returns the flags of `e6coord demo-worker` for cfg, the
// password and the Redis URL excepted: they go in the environment
// (E6COORD_PASSWORD, E6COORD_REDIS_URL), out of sight of ps.
func WorkerFlags(cfg fleet.Config) []string {
	return []string{
		"--engine", cfg.Client.Addr, "--user", cfg.Client.User,
		"--catalog", cfg.Client.Catalog, "--schema", cfg.Client.Schema, "--cluster", cfg.Client.Cluster,
		"--query", cfg.Query, "--fetch=" + strconv.FormatBool(!cfg.NoFetch),
		"--workers", strconv.Itoa(cfg.Workers),
		"--policy", cfg.Client.Coordination.Policy.String(),
		"--naive=" + strconv.FormatBool(cfg.Naive), "--proxy=" + strconv.FormatBool(cfg.Proxy),
	}
}

// tracker prints and tallies the reports of the workers.
type tracker struct {
	start time.Time
	mu    sync.Mutex // guards out and the fields below
	out   io.Writer
	ended bool
	gens  map[uint64]*switchSeen // switches by generation
	lags  []time.Duration        // from each switch's commit to each process adopting it
	fails int
}

type switchSeen struct {
	changedAtMs, lastSeenNs int64
}

func newTracker(out io.Writer) *tracker {
	return &tracker{start: time.Now(), out: out, gens: map[uint64]*switchSeen{}}
}

func (t *tracker) printf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.out, format, args...)
}

// report takes a worker's report.
func (t *tracker) report(r fleet.Report) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return
	}
	elapsed := time.Since(t.start).Seconds()
	switch r.Event {
	case "change":
		if r.Old == "" {
			return // the first colour a process learnt, not a switch
		}
		s, ok := t.gens[r.Generation]
		if !ok {
			s = &switchSeen{changedAtMs: r.ChangedAtMs}
			t.gens[r.Generation] = s
			fmt.Fprintf(t.out, "%7.3fs  switch %s -> %s  generation %d  pins in flight %d\n",
				elapsed, r.Old, r.Active, r.Generation, r.Pins)
		}
		s.lastSeenNs = max(s.lastSeenNs, r.SeenAtNs)
		t.lags = append(t.lags, time.Duration(r.SeenAtNs-r.ChangedAtMs*int64(time.Millisecond)))
	case "failed":
		if t.fails++; t.fails <= 10 {
			fmt.Fprintf(t.out, "%7.3fs  query failed: %s\n", elapsed, r.Error)
		}
	}
}

// end stops taking reports.
func (t *tracker) end() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ended = true
}

func (t *tracker) switches() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return int64(len(t.gens))
}

// maxConvergeMs is the longest time from a switch's commit to the last
// process adopting it.
func (t *tracker) maxConvergeMs() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var worst int64
	for _, s := range t.gens {
		d := s.lastSeenNs - s.changedAtMs*int64(time.Millisecond)
		worst = max(worst, int64(math.Ceil(float64(d)/float64(time.Millisecond))))
	}
	return worst
}

// lagPercentile returns the p-th percentile of the adoption lags, in
// microseconds. The commit time is kept to the millisecond, so a lag is
// overstated by up to a millisecond.
func (t *tracker) lagPercentile(p int) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lags) == 0 {
		return 0
	}
	lags := slices.Clone(t.lags)
	slices.Sort(lags)
	i := min(len(lags)-1, (len(lags)*p+99)/100-1)
	return lags[max(i, 0)].Microseconds()
}
