package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/coordinator"
	"github.com/e6coord/e6coord/internal/demo"
	"github.com/e6coord/e6coord/internal/fleet"
)

// errFailed ends a command that ran and reported its failure already.
var errFailed = errors.New("failed")

const usage = `usage: e6coord <command> [flags]

commands:
  demo          workers query a fake (or given) engine that switches colour
  fake-engine   serve a fake engine until interrupted
  status        print a scope's shared state, read from Redis (exit 3 if degraded)
  events        print every change of a scope's shared state until interrupted
  watch         keep the fleet's colour confirmed; serve health, metrics and state over HTTP
  proxy         serve the engine's protocol locally, with the fleet's coordination, for any client
  bench         measure a fleet of worker processes through switches on a real Redis
`

// run runs the command named by args[0].
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errFailed
	}
	switch args[0] {
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "fake-engine":
		return runFakeEngine(ctx, args[1:], stdout, stderr)
	case "status":
		return runStatus(ctx, args[1:], stdout, stderr)
	case "events":
		return runEvents(ctx, args[1:], stdout, stderr)
	case "watch":
		return runWatch(ctx, args[1:], stdout, stderr)
	case "proxy":
		return runProxy(ctx, args[1:], stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "demo-worker": // a worker process of `demo --processes` and `bench`
		return runDemoWorker(ctx, args[1:], os.Stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "e6coord: unknown command %q\n%s", args[0], usage)
	return errFailed
}

// engineFlags are the flags that shape a fake engine.
type engineFlags struct {
	mode, reject string
	flipEvery    time.Duration
}

func (f *engineFlags) register(fs *flag.FlagSet, flipDefault time.Duration) {
	fs.StringVar(&f.mode, "mode", "overlap", "fake engine's switch mode: overlap or switch-on-clear")
	fs.StringVar(&f.reject, "reject", "http456", "fake engine's rejection of a wrong colour: http456, unknown or invalid-argument")
	fs.DurationVar(&f.flipEvery, "flip-every", flipDefault, "fake engine: start a switch this often (0: never)")
}

func (f *engineFlags) parse() (enginetest.SwitchMode, enginetest.Rejection, error) {
	mode, err := enginetest.ParseSwitchMode(f.mode)
	if err != nil {
		return 0, 0, err
	}
	reject, err := enginetest.ParseRejection(f.reject)
	return mode, reject, err
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("e6coord demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		ef     engineFlags
		o      demo.Options
		policy = fs.String("policy", coordinator.Eager.String(), "when new queries move to a new colour: eager or drain")
		fetch  = fs.Bool("fetch", true, "read every row (false: run statements with Exec)")
		asJSON = fs.Bool("json", false, "end with the summary as one JSON line")
		cf     connFlags
		lf     logFlags
	)
	lf.register(fs, "warn")
	ef.register(fs, 3*time.Second)
	cf.register(fs, &o.Client, "an external engine's host:port instead of the embedded fake (--user, --password-file, --catalog and --schema are for it)",
		"Redis URL to share the state (default with --processes > 1: an embedded in-memory Redis)", false)
	fs.DurationVar(&o.Duration, "duration", 20*time.Second, "how long workers start queries")
	fs.IntVar(&o.Workers, "workers", 8, "concurrent workers")
	fs.StringVar(&o.Query, "query", demo.DefaultQuery, "the SQL each worker runs")
	fs.IntVar(&o.Processes, "processes", 1, "worker processes sharing the state through Redis")
	clientKind := fs.String("client", "library", "the workers: library (package client) or naive (the published client's behaviour on the generated stubs, no coordinator)")
	fs.BoolVar(&o.Proxy, "proxy", false, "with --client naive: the workers go through a proxy embedded on a loopback port (one per worker process)")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	switch *clientKind {
	case "library":
	case "naive":
		o.Naive = true
	default:
		return fmt.Errorf("--client %q: want library or naive", *clientKind)
	}
	if o.Proxy && !o.Naive {
		return errors.New("--proxy is for --client naive: the library's workers coordinate themselves")
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	var err error
	if o.Client.Logger, err = lf.logger(stderr); err != nil {
		return err
	}
	if err := cf.finish(o.Client.Logger); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	workerStderr := &lockedWriter{w: stderr} // the workers write to it at once
	o.WorkerCommand = func(args []string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, exe, append([]string{"demo-worker", "--log-level", lf.level, "--log-format", lf.format}, args...)...)
		cmd.Stderr = workerStderr
		return cmd
	}
	if o.Mode, o.Reject, err = ef.parse(); err != nil {
		return err
	}
	if o.Policy, err = coordinator.ParsePolicy(*policy); err != nil {
		return err
	}
	o.FlipEvery, o.NoFetch = ef.flipEvery, !*fetch
	if o.FlipEvery <= 0 {
		o.FlipEvery = -1 // never, as the flag's help says: demo.Options's 0 is the default
	}
	sum, err := demo.Run(ctx, o, stdout)
	if err != nil {
		return err
	}
	if *asJSON {
		b, err := json.Marshal(sum)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(b))
	}
	if sum.Failed > 0 {
		return errFailed
	}
	return nil
}

func runFakeEngine(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("e6coord fake-engine", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		ef       engineFlags
		listen   = fs.String("listen", "127.0.0.1:50052", "address to listen on")
		start    = fs.String("start", "blue", "colour served at start")
		user     = fs.String("user", "", "accepted user (empty: any credentials)")
		pwFile   = fs.String("password-file", "", "a file holding the accepted password (else E6_PASSWORD)")
		noHealth = fs.Bool("no-health-check", false, "leave healthCheck unimplemented, as the widely used mock does")
	)
	var (
		suspended    = fs.Bool("start-suspended", false, "start with the cluster suspended: engine calls get HTTP 503 until a ClusterService resume")
		suspendAfter = fs.Duration("suspend-after", 0, "suspend the cluster after this long without an engine call (0: never)")
		resumeTakes  = fs.Duration("resume-takes", 0, "how long a resume stays \"resuming\" before the cluster is active (0: at once; negative: forever)")
		resumeFails  = fs.Bool("resume-fails", false, "resumes end in \"failed\" instead of \"active\"")
	)
	ef.register(fs, 0)
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	password, err := enginePassword(*pwFile)
	if err != nil {
		return err
	}
	mode, reject, err := ef.parse()
	if err != nil {
		return err
	}
	colour, err := cache.ParseStrategy(*start)
	if err != nil {
		return err
	}
	startColour := enginetest.Blue
	if colour == cache.Green {
		startColour = enginetest.Green
	}
	clusterStatus := enginetest.StatusActive
	if *suspended {
		clusterStatus = enginetest.StatusSuspended
	}
	srv, err := enginetest.NewServer(enginetest.Options{
		Addr: *listen, Start: startColour, Mode: mode, Rejection: reject,
		FlipEvery: ef.flipEvery, User: *user, Password: password, NoHealthCheck: *noHealth,
		ClusterStatus: clusterStatus, SuspendAfter: *suspendAfter,
		ResumeTakes: *resumeTakes, ResumeFails: *resumeFails,
		MaxLog: 10000,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(stdout, "listening on %s\n", srv.Addr())
	<-ctx.Done()
	return nil
}

// runDemoWorker is one worker process of `demo --processes`: it runs the
// workers until its standard input closes, and reports on stdout.
func runDemoWorker(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("e6coord demo-worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg    fleet.Config
		policy = fs.String("policy", coordinator.Eager.String(), "eager or drain")
		fetch  = fs.Bool("fetch", true, "read every row")
		lf     logFlags
	)
	lf.register(fs, "warn")
	fs.StringVar(&cfg.Client.Addr, "engine", "", "engine host:port")
	fs.StringVar(&cfg.Client.User, "user", "", "user (the password comes in E6COORD_PASSWORD, the Redis URL in E6COORD_REDIS_URL)")
	fs.StringVar(&cfg.Client.Catalog, "catalog", "", "catalog")
	fs.StringVar(&cfg.Client.Schema, "schema", "", "schema")
	fs.StringVar(&cfg.Client.Cluster, "cluster", "", "cluster name")
	fs.StringVar(&cfg.Query, "query", demo.DefaultQuery, "the SQL each worker runs")
	fs.IntVar(&cfg.Workers, "workers", 8, "concurrent workers")
	fs.DurationVar(&cfg.StatusEvery, "status-every", 0, "report the process's status this often (0: never)")
	floor := fs.Bool("floor", false, "also subscribe to the scope's Redis channel with a bare client (its Redis URL in E6COORD_FLOOR_URL), as `bench` does")
	fs.BoolVar(&cfg.Naive, "naive", false, "the workers are naive clients (the published client's behaviour, no coordinator)")
	fs.BoolVar(&cfg.Proxy, "proxy", false, "with --naive: through a proxy embedded on a loopback port")
	commands := fs.Bool("commands", false, "take commands on standard input (`bench`'s throughput modes), until it closes")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	var err error
	if cfg.Client.Coordination.Policy, err = coordinator.ParsePolicy(*policy); err != nil {
		return err
	}
	if cfg.Client.Logger, err = lf.logger(stderr); err != nil {
		return err
	}
	cfg.NoFetch = !*fetch
	cfg.Client.Password = os.Getenv("E6COORD_PASSWORD")
	cfg.Client.RedisURL = os.Getenv("E6COORD_REDIS_URL")
	if *floor {
		cfg.FloorURL = os.Getenv("E6COORD_FLOOR_URL")
	}
	if *commands {
		stop, cmds := fleet.Commands(stdin)
		cfg.Commands = cmds
		return fleet.Serve(ctx, cfg, stop, stdout)
	}
	stop := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		close(stop)
	}()
	return fleet.Serve(ctx, cfg, stop, stdout)
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex // guards w
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// flagError maps -h to success; the flag package printed the rest.
func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return errFailed
}
