// Package bench measures a fleet of worker processes through blue-green
// switches against the fake engine and a real Redis, in one run: the body
// of `e6coord bench`.
//
// A run has two parts. The switch part starts Processes worker processes
// of Workers workers each, sharing the state through Redis, and drives
// Switches overlap switches of the engine; it measures how long each
// switch took to reach each process, beside the floor of a bare go-redis
// subscriber in the same processes, the engine probes and 456s per switch,
// the Redis commands per query and the Redis connections per process. The
// throughput part alternates windows of the same fleet size with the
// state shared through Redis and with each process on its own in-memory
// store, on the same engine without switches, and compares their queries
// per second. The interceptor's per-call cost is measured in this process
// with testing.Benchmark.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/e6coord/e6coord/cache"
	redisstore "github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/fleet"
)

// Options configures a run. Zero values mean the defaults of `e6coord
// bench`.
type Options struct {
	Processes int           // worker processes; default 32
	Workers   int           // workers per process; default 8
	Switches  int           // switches to drive; default 20
	Overlap   time.Duration // how long the engine accepts both colours in a switch at least; default 300ms
	Settle    time.Duration // pause between switches once the fleet converged; default 200ms
	Window    time.Duration // each throughput window; default 3s
	Windows   int           // throughput windows per configuration; default 4
	Query     string        // what the workers run; default DefaultQuery

	// RedisURL is the Redis the fleet shares. Empty: a redis-server
	// started from PATH for the run, on a free port, saving nothing.
	RedisURL string

	// WorkerCommand makes the command of a worker process from its flags;
	// the worker runs [fleet.Serve] with them (`e6coord demo-worker`). The
	// Redis URLs reach it in E6COORD_REDIS_URL and E6COORD_FLOOR_URL.
	WorkerCommand func(args []string) *exec.Cmd

	Out io.Writer // progress lines; nil discards
}

// DefaultQuery is what the bench's workers run: the demo's query, 1,000
// rows in a few batches.
const DefaultQuery = "SELECT * FROM demo.numbers"

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Processes, 32)
	def(&o.Workers, 8)
	def(&o.Switches, 20)
	def(&o.Windows, 4)
	defD(&o.Overlap, 300*time.Millisecond)
	defD(&o.Settle, 200*time.Millisecond)
	defD(&o.Window, 3*time.Second)
	if o.Query == "" {
		o.Query = DefaultQuery
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	return o
}

// Result is what a run measured; its JSON form is the last line of
// `e6coord bench --json`.
type Result struct {
	Processes int `json:"processes"`
	Workers   int `json:"workers"`
	Switches  int `json:"switches"`

	// Convergence: from a switch's commit (its committer's adoption, as
	// its compare-and-swap returns) to each other process adopting it.
	ConvergeP50Ms float64 `json:"converge_p50_ms"`
	ConvergeP99Ms float64 `json:"converge_p99_ms"`
	ConvergeMaxMs float64 `json:"converge_max_ms"`
	// The floor: from a PUBLISH the committer makes at the same moment to
	// a bare go-redis subscriber in each worker process receiving it.
	FloorP50Ms float64 `json:"floor_p50_ms"`
	FloorP99Ms float64 `json:"floor_p99_ms"`

	ProbesPerSwitch            float64 `json:"probes_per_switch"`
	RejectionsPerProcessSwitch float64 `json:"rejections_per_process_switch"`
	RedisCmdsPerQuery          float64 `json:"redis_cmds_per_query"`
	// RedisConnsPerProcess is the mean over the processes of the most
	// connections each had open to Redis at once (its floor subscriber's
	// excepted), sampled with CLIENT LIST; RedisConnsMax the most of any.
	RedisConnsPerProcess float64 `json:"redis_conns_per_process"`
	RedisConnsMax        int     `json:"redis_conns_max"`

	CallOverheadNs     float64 `json:"call_overhead_ns"`
	CallOverheadAllocs int64   `json:"call_overhead_allocs"`

	// QPS is the fleet's queries per second with the state shared through
	// Redis, QPSOff with each process on its own in-memory store (no
	// Redis, no fleet), over the same windows' total time.
	QPS      float64 `json:"qps"`
	QPSOff   float64 `json:"qps_off"`
	QPSRatio float64 `json:"qps_ratio"`

	Queries int64 `json:"queries"` // in the switch part
	Failed  int64 `json:"failed"`  // in both parts
	Mixed   int   `json:"mixed"`   // queries whose calls carried two colours
}

// Run runs the bench.
func Run(ctx context.Context, o Options) (Result, error) {
	o = o.withDefaults()
	res := Result{Processes: o.Processes, Workers: o.Workers}
	if o.WorkerCommand == nil {
		return res, errors.New("bench: no way to start worker processes")
	}
	redisURL := o.RedisURL
	if redisURL == "" {
		stop, url, err := startRedis(ctx, o.Processes)
		if err != nil {
			return res, err
		}
		defer stop()
		redisURL = url
		fmt.Fprintf(o.Out, "redis-server on %s\n", strings.TrimPrefix(url, "redis://"))
	}
	rdb, err := redisstore.OpenClient(redisURL)
	if err != nil {
		return res, err
	}
	defer rdb.Close()

	srv, err := enginetest.NewServer(enginetest.Options{User: user, Password: password, MaxLog: 1})
	if err != nil {
		return res, fmt.Errorf("bench: start the fake engine: %w", err)
	}
	defer srv.Close()
	fmt.Fprintf(o.Out, "fake engine on %s; %d processes × %d workers: %s\n", srv.Addr(), o.Processes, o.Workers, o.Query)

	if res.CallOverheadNs, res.CallOverheadAllocs, err = callOverhead(); err != nil {
		return res, err
	}
	fmt.Fprintf(o.Out, "interceptor: %.1f ns, %d allocs per call over a bare call\n", res.CallOverheadNs, res.CallOverheadAllocs)

	if err := switches(ctx, o, srv, rdb, redisURL, &res); err != nil {
		return res, err
	}
	if err := throughput(ctx, o, srv, redisURL, &res); err != nil {
		return res, err
	}
	res.Mixed = len(srv.MixedQueries())
	return res, nil
}

const user, password = "bench", "bench"

// scopeOf is the scope the workers' coordinators share for srv.
func scopeOf(srv *enginetest.Server) cache.Scope { return cache.Scope{Engine: srv.Addr()} }

// switches runs the switch part.
func switches(ctx context.Context, o Options, srv *enginetest.Server, rdb goredis.UniversalClient, redisURL string, res *Result) error {
	const floorChannel = "e6coord-bench-floor"
	f, err := startFleet(ctx, o, srv, redisURL, floorChannel)
	if err != nil {
		return err
	}
	defer f.stop()
	if err := f.waitReady(ctx, 60*time.Second); err != nil {
		return err
	}
	// The probes of the first detection are not a switch's.
	before, err := f.round(ctx, time.Now())
	if err != nil {
		return err
	}

	watcher := redisstore.New(rdb, redisstore.Options{Timeout: 5 * time.Second}) // the bench's own calls wait out a busy server

	// Connections, sampled while the fleet runs.
	conns := map[string]int{}
	samples := 0
	sample := func() {
		list, err := rdb.ClientList(ctx).Result()
		if err != nil {
			return
		}
		samples++
		for name, n := range connsByName(list) {
			conns[name] = max(conns[name], n)
		}
	}

	colour := srv.State().Active
	for i := range o.Switches {
		to := cache.Blue
		if colour == cache.Blue {
			to = cache.Green
		}
		began := time.Now()
		if err := srv.BeginSwitch(to); err != nil {
			return err
		}
		timer := time.NewTimer(o.Overlap)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
		sample()
		// The engine serves the old colour until its queries are done,
		// as a blue-green engine drains it: a query keeps its colour, and
		// one cut off would count a 456 that is the engine's, not the
		// fleet's. The fleet's pins say when (bounded by drainWait).
		if err := waitUnpinned(ctx, watcher, scopeOf(srv), colour); err != nil {
			return err
		}
		srv.FinishSwitch()
		colour = to
		if err := f.waitAll(ctx, 20*time.Second, func(r fleet.Report) bool {
			return r.Event == "change" && r.Active == to.String() && time.Unix(0, r.SeenAtNs).After(began)
		}); err != nil {
			return fmt.Errorf("bench: switch %d to %s: %w", i+1, to, err)
		}
		timer.Reset(o.Settle)
		select {
		case <-timer.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	sample()
	after, err := f.round(ctx, time.Now())
	if err != nil {
		return err
	}
	st, err := f.finish(ctx)
	if err != nil {
		return err
	}
	res.Switches = srv.State().Switches
	res.Queries, res.Failed = st.Queries, st.Failed
	if res.Switches > 0 {
		res.ProbesPerSwitch = float64(after.probes-before.probes) / float64(res.Switches)
		res.RejectionsPerProcessSwitch = float64(st.WrongStrategy) / float64(res.Switches*o.Processes)
	}
	if st.Queries > 0 {
		res.RedisCmdsPerQuery = float64(st.RedisCommands) / float64(st.Queries)
	}
	var sum float64
	for i := range o.Processes {
		n := conns[workerName(i)]
		sum += float64(n)
		res.RedisConnsMax = max(res.RedisConnsMax, n)
	}
	res.RedisConnsPerProcess = sum / float64(o.Processes)

	conv, floor := f.lags()
	res.ConvergeP50Ms, res.ConvergeP99Ms, res.ConvergeMaxMs = ms(percentile(conv, 50)), ms(percentile(conv, 99)), ms(percentile(conv, 100))
	res.FloorP50Ms, res.FloorP99Ms = ms(percentile(floor, 50)), ms(percentile(floor, 99))
	fmt.Fprintf(o.Out, "switches %d: converged p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d samples); floor p50 %.2f ms, p99 %.2f ms (%d samples)\n",
		res.Switches, res.ConvergeP50Ms, res.ConvergeP99Ms, res.ConvergeMaxMs, len(conv), res.FloorP50Ms, res.FloorP99Ms, len(floor))
	fmt.Fprintf(o.Out, "queries %d, failed %d, probes %d (%d during the switches), 456s %d, redis commands %d, connections per process %.2f (max %d, %d samples)\n",
		st.Queries, st.Failed, st.Probes, after.probes-before.probes, st.WrongStrategy, st.RedisCommands, res.RedisConnsPerProcess, res.RedisConnsMax, samples)
	return nil
}

// throughput runs the throughput part: windows of the fleet sharing Redis
// and of the fleet on in-memory stores, alternated, on an engine that does
// not switch. The ratio is of the totals: queries over time.
func throughput(ctx context.Context, o Options, srv *enginetest.Server, redisURL string, res *Result) error {
	var on, off fleetRate
	for w := range o.Windows {
		// Pairs alternate their order (Redis first, then in-memory first),
		// so that a drift of the machine's load over the run weighs on both.
		order := []bool{true, false}
		if w%2 == 1 {
			order = []bool{false, true}
		}
		for _, shared := range order {
			url := ""
			if shared {
				url = redisURL
			}
			r, err := window(ctx, o, srv, url)
			if err != nil {
				return err
			}
			if shared {
				on.add(r)
			} else {
				off.add(r)
			}
			fmt.Fprintf(o.Out, "window %d, %s: %.0f queries/s\n", w+1, map[bool]string{true: "redis", false: "in-memory"}[shared], r.rate())
			res.Failed += r.failed
		}
	}
	res.QPS, res.QPSOff = on.rate(), off.rate()
	if res.QPSOff > 0 {
		res.QPSRatio = res.QPS / res.QPSOff
	}
	return nil
}

// fleetRate is queries over time.
type fleetRate struct {
	queries int64
	took    time.Duration
	failed  int64
}

func (r *fleetRate) add(o fleetRate) { r.queries += o.queries; r.took += o.took; r.failed += o.failed }

func (r fleetRate) rate() float64 {
	if r.took <= 0 {
		return 0
	}
	return float64(r.queries) / r.took.Seconds()
}

// window starts a fleet on redisURL ("" for in-memory stores), and counts
// the queries it finishes within one window once every process is
// running.
func window(ctx context.Context, o Options, srv *enginetest.Server, redisURL string) (fleetRate, error) {
	f, err := startFleet(ctx, o, srv, redisURL, "")
	if err != nil {
		return fleetRate{}, err
	}
	defer f.stop()
	if err := f.waitReady(ctx, 60*time.Second); err != nil {
		return fleetRate{}, err
	}
	// Every process reports its query count every statusEvery; the window
	// runs from the first full round of reports after all are ready to
	// the first full round Window later.
	t0, err := f.round(ctx, time.Now())
	if err != nil {
		return fleetRate{}, err
	}
	timer := time.NewTimer(o.Window)
	select {
	case <-timer.C:
	case <-ctx.Done():
		timer.Stop()
		return fleetRate{}, ctx.Err()
	}
	t1, err := f.round(ctx, time.Now())
	if err != nil {
		return fleetRate{}, err
	}
	st, err := f.finish(ctx)
	if err != nil {
		return fleetRate{}, err
	}
	return fleetRate{queries: t1.queries - t0.queries, took: t1.at.Sub(t0.at), failed: st.Failed}, nil
}

// drainWait bounds how long a switch waits for the old colour's queries.
const drainWait = 10 * time.Second

// waitUnpinned polls the store until no query is pinned to colour c, for
// at most drainWait.
func waitUnpinned(ctx context.Context, store *redisstore.Store, scope cache.Scope, c cache.Strategy) error {
	deadline := time.Now().Add(drainWait)
	for {
		n, err := store.Count(ctx, scope)
		if err == nil && n.Of(c) == 0 || time.Now().After(deadline) {
			return nil
		}
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// startRedis starts a redis-server from PATH on a free port, saving
// nothing, and returns a function that stops it and its URL.
func startRedis(ctx context.Context, processes int) (stop func(), url string, err error) {
	exe, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, "", errors.New("bench: redis-server is not on PATH: install it (Debian: redis-server) or give --redis")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir, err := os.MkdirTemp("", "e6coord-bench-redis-")
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(exe, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--maxclients", strconv.Itoa(max(1000, 20*processes)))
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, "", fmt.Errorf("bench: start redis-server: %w", err)
	}
	stop = func() {
		cmd.Process.Kill()
		cmd.Wait()
		os.RemoveAll(dir)
	}
	url = "redis://127.0.0.1:" + strconv.Itoa(port) + "/0"
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port)})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := rdb.Ping(ctx).Err(); err == nil {
			return stop, url, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return nil, "", errors.New("bench: redis-server did not answer within 10s")
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
}

// connsByName counts the connections of CLIENT LIST per client name.
func connsByName(list string) map[string]int {
	n := map[string]int{}
	for line := range strings.SplitSeq(list, "\n") {
		for field := range strings.FieldsSeq(line) {
			if name, ok := strings.CutPrefix(field, "name="); ok && name != "" {
				n[name]++
			}
		}
	}
	return n
}

// workerName is the client name of worker process i's connections.
func workerName(i int) string { return "e6bench-" + strconv.Itoa(i) }

// withClientName returns rawURL with client_name set to name.
func withClientName(rawURL, name string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", errors.New("bench: the redis URL does not parse")
	}
	q := u.Query()
	q.Set("client_name", name)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Millisecond)*1000) / 1000 }

// percentile returns the p-th percentile of ds (p=100: the largest), or 0.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	i := min(len(ds)-1, (len(ds)*p+99)/100-1)
	return ds[max(i, 0)]
}
