package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/e6coord/e6coord/coordinator"
	"github.com/e6coord/e6coord/internal/daemon"
)

const watchUsage = `usage: e6coord watch --engine host:port [flags]

Keeps the fleet's shared state of one engine fresh: confirms the active
colour every --interval (every second while a switch is pending), under the
fleet's probe lease, and serves /healthz, /readyz, /metrics and /v1/state on
--listen until SIGINT or SIGTERM.

The engine password comes from --password-file, else E6_PASSWORD, else
$CREDENTIALS_DIRECTORY/e6-password; the Redis URL from --redis, else
E6COORD_REDIS_URL, else the file named by E6COORD_REDIS_URL_FILE, else
$CREDENTIALS_DIRECTORY/redis-url (none: an in-process memory store). The
engine connection is plaintext unless --tls; --ca and --server-name, which
need --tls, say how the engine's certificate is verified. Every other flag
can also be set as E6COORD_<FLAG>, such as E6COORD_ENGINE; the command line
wins.

flags:
`

func runWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("e6coord watch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), watchUsage)
		fs.PrintDefaults()
	}
	var (
		cfg daemon.Config
		cf  connFlags
		lf  logFlags
	)
	lf.register(fs, "warn")
	cf.register(fs, &cfg.Client, "the engine's host:port (required)",
		"Redis URL shared with the fleet (prefer E6COORD_REDIS_URL: a flag shows in ps)", true)
	fs.StringVar(&cfg.Listen, "listen", daemon.DefaultListen, "HTTP address of /healthz, /readyz, /metrics and /v1/state")
	fs.DurationVar(&cfg.Interval, "interval", daemon.DefaultInterval, "how often the active colour is confirmed for the fleet")
	fs.DurationVar(&cfg.Client.Coordination.CacheTTL, "cache-ttl", coordinator.DefaultCacheTTL,
		"how long a confirmed colour is trusted; for tests, or for a fleet whose clients set another CacheTTL")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "e6coord watch: unexpected arguments %q\n", fs.Args())
		fs.Usage()
		return errFailed
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	if cfg.Client.Addr == "" {
		fmt.Fprintln(stderr, "e6coord watch: --engine is required")
		fs.Usage()
		return errFailed
	}
	var err error
	if cfg.Logger, err = lf.logger(stderr); err != nil {
		return err
	}
	if err := cf.finish(cfg.Logger); err != nil {
		return err
	}
	d, err := daemon.New(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "listening on %s\n", d.Addr())
	return d.Run(ctx)
}
