package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/e6coord/e6coord/cmd/e6coord/internal/bench"
)

// runBench runs `e6coord bench`: a fleet of worker processes of this
// executable through switches of the embedded fake engine, on Redis. It
// fails, naming each, when the result misses a bound.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("e6coord bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o      bench.Options
		b      = bench.DefaultBounds
		asJSON = fs.Bool("json", false, "end with the results as one JSON line")
		lf     logFlags
	)
	lf.register(fs, "warn")
	fs.IntVar(&o.Processes, "processes", 32, "worker processes")
	fs.IntVar(&o.Workers, "workers", 8, "workers per process")
	fs.IntVar(&o.Switches, "switches", 20, "switches of the engine to drive")
	fs.DurationVar(&o.Overlap, "overlap", 0, "how long the engine accepts both colours in a switch at least, and until the old colour's queries are done (default 300ms)")
	fs.DurationVar(&o.Window, "window", 0, "each throughput window (default 300ms)")
	fs.IntVar(&o.Cycles, "windows", 0, "throughput windows of each mode: Redis, in-memory, bare (default 160)")
	fs.StringVar(&o.Query, "query", bench.DefaultQuery, "the SQL each worker runs")
	fs.StringVar(&o.RedisURL, "redis", "", "Redis URL (default: a redis-server from PATH, started for the run)")
	fs.Float64Var(&b.MaxOverheadRatio, "max-overhead-ratio", b.MaxOverheadRatio, "bound: overhead p99 at most this many times the floor p99")
	fs.DurationVar(&b.MaxOverheadP99, "max-overhead-p99", 0, "bound: overhead p99 at most this (0: none)")
	fs.Float64Var(&b.MaxProbes, "max-probes", b.MaxProbes, "bound: engine probes per switch")
	fs.Float64Var(&b.MaxRejections, "max-rejections", b.MaxRejections, "bound: 456s per process per switch")
	fs.IntVar(&b.MaxMixed, "max-mixed", b.MaxMixed, "bound: queries whose calls carried two colours")
	fs.Int64Var(&b.MaxFailed, "max-failed", b.MaxFailed, "bound: failed queries")
	fs.Float64Var(&b.MaxRedisCmds, "max-redis-cmds", b.MaxRedisCmds, "bound: Redis commands per query")
	fs.IntVar(&b.MaxRedisConns, "max-redis-conns", b.MaxRedisConns, "bound: Redis connections of a process")
	fs.Int64Var(&b.MaxCallAllocs, "max-call-allocs", b.MaxCallAllocs, "bound: allocations the interceptor adds to a call")
	fs.Float64Var(&b.MinQPSRatioLow, "min-qps-ratio", b.MinQPSRatioLow, "bound: the low end of qps_ratio's 95% confidence interval")
	fs.Float64Var(&b.MinBareRatioLow, "min-bare-ratio", 0, "bound: the low end of bare_ratio's 95% confidence interval (0: none)")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	var err error
	log, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	if o.RedisURL, err = redisURL(o.RedisURL, log); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	workerStderr := &lockedWriter{w: stderr}
	o.WorkerCommand = func(args []string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, exe, append([]string{"demo-worker", "--log-level", lf.level, "--log-format", lf.format}, args...)...)
		cmd.Stderr = workerStderr
		return cmd
	}
	o.Out = stdout
	res, err := bench.Run(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "floor p50 %.3f / p99 %.3f ms; overhead p50 %.3f / p99 %.3f ms (%d samples, %d negative); "+
		"%.3f probes per switch; %.3f 456s per process per switch; %.3f Redis commands per query; %.2f Redis connections per process (max %d); "+
		"interceptor %.1f ns, %d allocs; qps_ratio %.4f [%.4f, %.4f]; bare_ratio %.4f [%.4f, %.4f] (%d windows each); mixed %d; failed %d\n",
		res.FloorP50Ms, res.FloorP99Ms, res.OverheadP50Ms, res.OverheadP99Ms, res.Samples, res.NegativeSamples,
		res.ProbesPerSwitch, res.RejectionsPerProcessSwitch, res.RedisCmdsPerQuery, res.RedisConnsPerProcess, res.RedisConnsMax,
		res.CallOverheadNs, res.CallOverheadAllocs, res.QPSRatio, res.QPSRatioCI95[0], res.QPSRatioCI95[1],
		res.BareRatio, res.BareRatioCI[0], res.BareRatioCI[1], res.Windows, res.Mixed, res.Failed)
	failed := b.Check(res)
	for _, f := range failed {
		fmt.Fprintf(stderr, "bench: bound missed: %s\n", f)
	}
	if *asJSON {
		j, err := json.Marshal(res)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(j))
	}
	if len(failed) > 0 {
		return errFailed
	}
	return nil
}
