// Package bench measures a fleet of worker processes through blue-green
// switches against the fake engine and a real Redis, in one run: the body
// of `e6coord bench`.
//
// A run starts Processes worker processes of Workers workers each, sharing
// the state through Redis, and has two parts. The switch part drives
// Switches overlap switches of the engine. For each switch and each
// process but its committer it measures the floor, from the committer
// sending its compare-and-swap (stamped by a go-redis hook on the store's
// client) to the message the swap publishes reaching a bare go-redis
// subscriber in the process, and the overhead, from that arrival to the
// process's coordinator adopting the same record, on the process's own
// clock. It also counts the engine probes and 456s per switch, the Redis
// commands per query and the Redis connections per process. The
// throughput part then runs the same processes, without switches, in
// three modes, in alternating windows: with the state shared through
// Redis, with each process on an in-memory store of its own, and with the
// bare generated stubs (a fixed colour, no coordinator); the counts of
// every process are asked for at once, on the parent's command.
// The interceptor's per-call cost is measured in this process with
// testing.Benchmark.
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
	Window    time.Duration // each throughput window; default 300ms
	Cycles    int           // throughput cycles, each a window of each mode; default 160
	Query     string        // what the workers run; default DefaultQuery

	// RedisURL is the Redis the fleet shares. Empty: a redis-server
	// started from PATH for the run, on a free port, saving nothing.
	RedisURL string

	// WorkerCommand makes the command of a worker process from its flags;
	// the worker runs [fleet.Serve] with them (`e6coord demo-worker`),
	// taking commands from its standard input ([fleet.Commands]). The
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
	def(&o.Cycles, 160)
	defD(&o.Overlap, 300*time.Millisecond)
	defD(&o.Settle, 200*time.Millisecond)
	defD(&o.Window, 300*time.Millisecond)
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

	// The floor: per switch and per process other than its committer,
	// from the committer sending its compare-and-swap to the message the
	// swap publishes reaching a bare go-redis subscriber in the process.
	FloorP50Ms float64 `json:"floor_p50_ms"`
	FloorP99Ms float64 `json:"floor_p99_ms"`
	FloorMaxMs float64 `json:"floor_max_ms"`
	// The overhead: per switch and per process other than its committer,
	// from that arrival to the process's coordinator adopting the record.
	OverheadP50Ms float64 `json:"overhead_p50_ms"`
	OverheadP99Ms float64 `json:"overhead_p99_ms"`
	OverheadMaxMs float64 `json:"overhead_max_ms"`
	// Changes counts the changes of the active colour committed in the
	// fleet (one per switch, unless a process changed it more than once);
	// Samples the (change, process) pairs measured, of the
	// (Processes-1)×Changes expected; NegativeSamples the floor and
	// overhead samples below zero (counted, kept, never clamped).
	Changes          int `json:"changes"`
	Samples          int `json:"samples"`
	NegativeSamples  int `json:"negative_samples"`
	NegativeFloor    int `json:"negative_floor"`    // of NegativeSamples, floor samples
	NegativeOverhead int `json:"negative_overhead"` // of NegativeSamples, overhead samples

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

	// Throughput: the fleet's queries per second with the state shared
	// through Redis (QPS), with each process on an in-memory store of its
	// own (QPSMemory), and through the bare generated stubs with a fixed
	// colour (QPSBare), each over all its windows. QPSRatio is the mean
	// over the cycles of Redis against in-memory in the cycle, BareRatio
	// of Redis against bare, each with its 95 % confidence interval (the
	// t distribution over the cycles).
	QPS          float64    `json:"qps"`
	QPSMemory    float64    `json:"qps_memory"`
	QPSBare      float64    `json:"qps_bare"`
	QPSRatio     float64    `json:"qps_ratio"`
	QPSRatioCI95 [2]float64 `json:"qps_ratio_ci95"`
	BareRatio    float64    `json:"bare_ratio"`
	BareRatioCI  [2]float64 `json:"bare_ratio_ci95"`
	Windows      int        `json:"windows"`       // cycles whose windows the ratios are over, one window of each mode
	EmptyWindows int        `json:"empty_windows"` // cycles left out because a mode finished no query in its window
	WindowMs     float64    `json:"window_ms"`

	Queries int64 `json:"queries"` // in the whole run, every mode
	Failed  int64 `json:"failed"`
	// FailedReports counts the workers' "failed" reports: one per failed
	// query, and one per other fault a worker saw (a generation that went
	// down, a command it could not carry out, a report it could not
	// write). The first few are printed.
	FailedReports int `json:"failed_reports"`
	Mixed         int `json:"mixed"` // queries whose calls carried two colours
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
	// The bench's own store, on the URL's key prefix as the fleet's: its
	// calls wait out a busy server.
	watcher, err := redisstore.Open(redisURL, redisstore.Options{Timeout: 5 * time.Second})
	if err != nil {
		return res, err
	}
	defer watcher.Close()

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

	f, err := startFleet(ctx, o, srv, redisURL)
	if err != nil {
		return res, err
	}
	defer f.stop()
	if err := f.waitReady(ctx, 120*time.Second); err != nil {
		return res, err
	}
	if err := switches(ctx, o, srv, f, watcher, &res); err != nil {
		return res, err
	}
	if err := throughput(ctx, o, srv, f, &res); err != nil {
		return res, err
	}
	st, err := f.finish(ctx)
	if err != nil {
		return res, err
	}
	res.Queries, res.Failed = st.Queries, st.Failed
	failed := f.failedReports()
	res.FailedReports = len(failed)
	for i, why := range failed[:min(len(failed), 5)] {
		fmt.Fprintf(o.Out, "failed report %d of %d: %s\n", i+1, len(failed), why)
	}
	res.Mixed = len(srv.MixedQueries())

	floor, overhead, changes := f.lags()
	res.Samples, res.Changes = len(floor), changes
	for i := range floor {
		if floor[i] < 0 {
			res.NegativeFloor++
		}
		if overhead[i] < 0 {
			res.NegativeOverhead++
		}
	}
	res.NegativeSamples = res.NegativeFloor + res.NegativeOverhead
	res.FloorP50Ms, res.FloorP99Ms, res.FloorMaxMs = ms(percentile(floor, 50)), ms(percentile(floor, 99)), ms(percentile(floor, 100))
	res.OverheadP50Ms, res.OverheadP99Ms, res.OverheadMaxMs = ms(percentile(overhead, 50)), ms(percentile(overhead, 99)), ms(percentile(overhead, 100))
	fmt.Fprintf(o.Out, "switches %d, changes %d: %d samples of %d expected, %d negative (%d floor, %d overhead); floor p50 %.3f ms, p99 %.3f ms, max %.3f ms; overhead p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
		res.Switches, res.Changes, res.Samples, (o.Processes-1)*res.Changes, res.NegativeSamples, res.NegativeFloor, res.NegativeOverhead,
		res.FloorP50Ms, res.FloorP99Ms, res.FloorMaxMs, res.OverheadP50Ms, res.OverheadP99Ms, res.OverheadMaxMs)
	fmt.Fprintf(o.Out, "queries %d, failed %d, mixed %d\n", res.Queries, res.Failed, res.Mixed)
	return res, nil
}

const user, password = "bench", "bench"

// scopeOf is the scope the workers' coordinators share for srv.
func scopeOf(srv *enginetest.Server) cache.Scope { return cache.Scope{Engine: srv.Addr()} }

// switches runs the switch part.
func switches(ctx context.Context, o Options, srv *enginetest.Server, f *benchFleet, watcher *redisstore.Store, res *Result) error {
	// The probes of the first detection are not a switch's.
	before, err := f.round(ctx, time.Now())
	if err != nil {
		return err
	}
	rdb := watcher.Client()

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
		to := colour.Other()
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
		if err := waitUnpinned(ctx, watcher, scopeOf(srv), colour.String()); err != nil {
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
	res.Switches = srv.State().Switches
	if res.Switches > 0 {
		res.ProbesPerSwitch = float64(after.probes-before.probes) / float64(res.Switches)
		res.RejectionsPerProcessSwitch = float64(after.rejections-before.rejections) / float64(res.Switches*o.Processes)
	}
	if q := after.queries - before.queries; q > 0 {
		res.RedisCmdsPerQuery = float64(after.redisCommands-before.redisCommands) / float64(q)
	}
	var sum float64
	for i := range o.Processes {
		n := conns[workerName(i)]
		sum += float64(n)
		res.RedisConnsMax = max(res.RedisConnsMax, n)
	}
	res.RedisConnsPerProcess = sum / float64(o.Processes)
	fmt.Fprintf(o.Out, "switches %d: queries %d, probes %d, 456s %d, redis commands %d, connections per process %.2f (max %d, %d samples)\n",
		res.Switches, after.queries-before.queries, after.probes-before.probes, after.rejections-before.rejections,
		after.redisCommands-before.redisCommands, res.RedisConnsPerProcess, res.RedisConnsMax, samples)
	return nil
}

// The modes of the throughput part, as the workers name them, and their
// index in a count.
const (
	modeRedis, modeMemory, modeBare = "coordinated", "memory", "bare"
	iRedis, iMemory, iBare          = 0, 1, 2
)

// throughput runs the throughput part: o.Cycles cycles of one window of
// each mode, on the engine, which no longer switches. The cycles
// alternate their order (in-memory, Redis, bare; then bare, Redis,
// in-memory), so that a drift of the machine's load weighs on both sides
// of each ratio, and the Redis window sits next to the other two.
func throughput(ctx context.Context, o Options, srv *enginetest.Server, f *benchFleet, res *Result) error {
	colour := srv.State().Active.String()
	// A cycle unmeasured, for each mode to take up the engine's colour.
	for _, m := range []string{modeMemory, modeBare, modeRedis} {
		if _, err := measure(ctx, o.Window/2, f, m, colour); err != nil {
			return err
		}
	}
	var qpsRatios, bareRatios []float64
	var total [3]rate
	for c := range o.Cycles {
		modes := []string{modeMemory, modeRedis, modeBare}
		if c%2 == 1 {
			slices.Reverse(modes)
		}
		var r [3]rate
		for _, m := range modes {
			got, err := measure(ctx, o.Window, f, m, colour)
			if err != nil {
				return err
			}
			i := map[string]int{modeRedis: iRedis, modeMemory: iMemory, modeBare: iBare}[m]
			r[i] = got
			total[i].queries += got.queries
			total[i].took += got.took
		}
		if r[iRedis].perSecond() > 0 && r[iMemory].perSecond() > 0 && r[iBare].perSecond() > 0 {
			qpsRatios = append(qpsRatios, r[iRedis].perSecond()/r[iMemory].perSecond())
			bareRatios = append(bareRatios, r[iRedis].perSecond()/r[iBare].perSecond())
		} else {
			res.EmptyWindows++ // no ratio to take: the bound fails on it
		}
		fmt.Fprintf(o.Out, "cycle %d: queries/s redis %.1f, in-memory %.1f, bare %.1f\n",
			c+1, r[iRedis].perSecond(), r[iMemory].perSecond(), r[iBare].perSecond())
	}
	if err := f.mode(ctx, "idle"); err != nil {
		return err
	}
	res.Windows, res.WindowMs = len(qpsRatios), ms(o.Window)
	res.QPS, res.QPSMemory, res.QPSBare = total[iRedis].perSecond(), total[iMemory].perSecond(), total[iBare].perSecond()
	res.QPSRatio, res.QPSRatioCI95 = ratioCI95(qpsRatios)
	res.BareRatio, res.BareRatioCI = ratioCI95(bareRatios)
	fmt.Fprintf(o.Out, "throughput: %d windows of %v per mode; queries/s redis %.1f, in-memory %.1f, bare %.1f; "+
		"qps_ratio %.4f (95%% CI %.4f to %.4f), bare_ratio %.4f (95%% CI %.4f to %.4f)\n",
		res.Windows, o.Window, res.QPS, res.QPSMemory, res.QPSBare,
		res.QPSRatio, res.QPSRatioCI95[0], res.QPSRatioCI95[1], res.BareRatio, res.BareRatioCI[0], res.BareRatioCI[1])
	return nil
}

// rate is queries over time.
type rate struct {
	queries int64
	took    time.Duration
}

func (r rate) perSecond() float64 {
	if r.took <= 0 {
		return 0
	}
	return float64(r.queries) / r.took.Seconds()
}

// measure runs the fleet in mode (the bare stubs with colour) and counts
// the queries of that mode the fleet finishes in one window, which begins
// once every worker has finished its queries of the mode before. The
// parent asks every process for its counts at once, at the window's start
// and end; each process answers with its counts and the instant it read
// them, on its own clock. The fleet's rate is the sum of the processes'
// rates, each over its own window: a process that reads the question late
// (on a busy machine, tens of milliseconds) counts over a window as late,
// not over the parent's.
func measure(ctx context.Context, window time.Duration, f *benchFleet, mode, colour string) (rate, error) {
	args := []string{}
	if mode == modeBare {
		args = append(args, colour)
	}
	if err := f.mode(ctx, mode, args...); err != nil {
		return rate{}, err
	}
	c0, err := f.count(ctx)
	if err != nil {
		return rate{}, err
	}
	timer := time.NewTimer(window)
	select {
	case <-timer.C:
	case <-ctx.Done():
		timer.Stop()
		return rate{}, ctx.Err()
	}
	c1, err := f.count(ctx)
	if err != nil {
		return rate{}, err
	}
	i := map[string]int{modeRedis: iRedis, modeMemory: iMemory, modeBare: iBare}[mode]
	var perSecond float64
	var took time.Duration
	for pid, end := range c1 {
		start, ok := c0[pid]
		if !ok || len(start.Counts) <= i || len(end.Counts) <= i {
			return rate{}, fmt.Errorf("bench: process %d's counts lack the %s mode", pid, mode)
		}
		d := time.Duration(end.SeenAtNs - start.SeenAtNs)
		if d <= 0 {
			return rate{}, fmt.Errorf("bench: process %d's window of the %s mode took %v", pid, mode, d)
		}
		perSecond += float64(end.Counts[i]-start.Counts[i]) / d.Seconds()
		took += d
	}
	if len(c1) == 0 {
		return rate{}, errors.New("bench: no process counted")
	}
	// The fleet's rate over the processes' mean window.
	took /= time.Duration(len(c1))
	return rate{queries: int64(math.Round(perSecond * took.Seconds())), took: took}, nil
}

// ratioCI95 returns the geometric mean of ratios and its 95 % confidence
// interval: [meanCI95] of their logarithms, taken back. Unlike the mean of
// the ratios, which leans above the ratio of the totals (a ratio of 1+d
// weighs more than one of 1-d), it treats a cycle's r and 1/r alike.
func ratioCI95(ratios []float64) (float64, [2]float64) {
	logs := make([]float64, len(ratios))
	for i, r := range ratios {
		logs[i] = math.Log(r)
	}
	m, ci := meanCI95Raw(logs)
	if len(ratios) == 0 {
		return 0, [2]float64{}
	}
	return round4(math.Exp(m)), [2]float64{round4(math.Exp(ci[0])), round4(math.Exp(ci[1]))}
}

// meanCI95 returns the mean of xs and its 95 % confidence interval, from
// the t distribution with len(xs)-1 degrees of freedom, rounded to four
// places; the interval is the mean itself for fewer than two values.
func meanCI95(xs []float64) (float64, [2]float64) {
	m, ci := meanCI95Raw(xs)
	return round4(m), [2]float64{round4(ci[0]), round4(ci[1])}
}

// meanCI95Raw is meanCI95 unrounded.
func meanCI95Raw(xs []float64) (float64, [2]float64) {
	n := len(xs)
	if n == 0 {
		return 0, [2]float64{}
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(n)
	if n < 2 {
		return mean, [2]float64{mean, mean}
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	half := t975(n-1) * math.Sqrt(ss/float64(n-1)/float64(n))
	return mean, [2]float64{mean - half, mean + half}
}

// t975 returns the 97.5th percentile of Student's t distribution with df
// degrees of freedom (df ≥ 1); beyond the table, that of the nearest df
// below it that it holds, which is larger: the interval errs wide.
func t975(df int) float64 {
	table := [...]float64{12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}
	switch {
	case df <= len(table):
		return table[df-1]
	case df < 40:
		return table[len(table)-1]
	case df < 60:
		return 2.021
	case df < 120:
		return 2.000
	}
	return 1.980
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// drainWait bounds how long a switch waits for the old colour's queries.
const drainWait = 10 * time.Second

// waitUnpinned polls the store until no query is pinned to colour (as the
// engine names it), for at most drainWait.
func waitUnpinned(ctx context.Context, store *redisstore.Store, scope cache.Scope, colour string) error {
	c, _ := cache.ParseStrategy(colour)
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
