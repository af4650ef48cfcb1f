package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/e6coord/e6coord/internal/bench"
)

// runBench runs `e6coord bench`: a fleet of worker processes of this
// executable through switches of the embedded fake engine, on Redis.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("e6coord bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o      bench.Options
		asJSON = fs.Bool("json", false, "end with the results as one JSON line")
		lf     logFlags
	)
	lf.register(fs, "warn")
	fs.IntVar(&o.Processes, "processes", 32, "worker processes")
	fs.IntVar(&o.Workers, "workers", 8, "workers per process")
	fs.IntVar(&o.Switches, "switches", 20, "switches of the engine to drive")
	fs.DurationVar(&o.Overlap, "overlap", 0, "how long the engine accepts both colours in a switch at least, and until the old colour's queries are done (default 300ms)")
	fs.DurationVar(&o.Window, "window", 0, "each throughput window (default 3s)")
	fs.IntVar(&o.Windows, "windows", 0, "throughput windows with Redis and without, alternated (default 4 each)")
	fs.StringVar(&o.Query, "query", bench.DefaultQuery, "the SQL each worker runs")
	fs.StringVar(&o.RedisURL, "redis", "", "Redis URL (default: a redis-server from PATH, started for the run)")
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
	fmt.Fprintf(stdout, "converge p99 %.2f ms against a floor of %.2f ms; %.3f probes and %.3f 456s per process per switch; "+
		"%.3f Redis commands per query; %.2f Redis connections per process; interceptor %.1f ns, %d allocs; qps ratio %.3f; failed %d\n",
		res.ConvergeP99Ms, res.FloorP99Ms, res.ProbesPerSwitch, res.RejectionsPerProcessSwitch,
		res.RedisCmdsPerQuery, res.RedisConnsPerProcess, res.CallOverheadNs, res.CallOverheadAllocs, res.QPSRatio, res.Failed)
	if *asJSON {
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(b))
	}
	if res.Failed > 0 {
		return errFailed
	}
	return nil
}
