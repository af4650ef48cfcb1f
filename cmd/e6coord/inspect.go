package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/e6coord/e6coord/cache"
	redisstore "github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/cmd/e6coord/internal/inspect"
	"github.com/e6coord/e6coord/coordinator"
	"github.com/e6coord/e6coord/internal/view"
)

// Exit statuses of status and events, beside 0 (ok) and 1 (the store
// could not be read).
const (
	exitUsage    = 2 // bad flags, no --engine, no Redis URL or a malformed one
	exitDegraded = 3 // the state is degraded (stale) or no colour is known
	exitTimeout  = 4 // status --wait-for: the colour was not active in time
)

// scopeFlags are the flags of the commands that read a scope's state
// from Redis.
type scopeFlags struct {
	engine, cluster, redis, output string
	lf                             logFlags
}

// newFlagSet returns the flag set of command name, with the flags of
// f registered and a usage message of synopsis and about.
func (f *scopeFlags) newFlagSet(name, synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("e6coord "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: e6coord %s %s\n\n%s\n\n"+
			"Every flag may also be set as E6COORD_<FLAG> (E6COORD_ENGINE, E6COORD_O, ...); the Redis URL\n"+
			"comes from --redis, else E6COORD_REDIS_URL, else the file named by E6COORD_REDIS_URL_FILE,\n"+
			"else $CREDENTIALS_DIRECTORY/redis-url.\n\nflags:\n", name, synopsis, about)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.engine, "engine", "", "the engine's host:port, as the fleet's processes name it (required)")
	fs.StringVar(&f.cluster, "cluster", "", "the cluster name, as the fleet's processes name it (compared lower-cased)")
	fs.StringVar(&f.redis, "redis", "", "Redis URL, which may hold a password: prefer E6COORD_REDIS_URL or E6COORD_REDIS_URL_FILE")
	fs.StringVar(&f.output, "o", "text", "output: text or json")
	f.lf.register(fs, "warn")
	return fs
}

// parse parses args into fs, then the environment, and checks the flags
// of f.
func (f *scopeFlags) parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{code: exitUsage} // the flag package said why
	}
	if fs.NArg() > 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	if err := applyEnv(fs); err != nil {
		return usageError(fs, "%v", err)
	}
	if f.engine == "" {
		return usageError(fs, "no engine: give --engine host:port or E6COORD_ENGINE")
	}
	if f.output != "text" && f.output != "json" {
		return usageError(fs, "bad -o %q: want text or json", f.output)
	}
	return nil
}

// usageError returns an error of exit status 2 saying what is wrong with
// the command line of fs.
func usageError(fs *flag.FlagSet, format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf("%s: %s (see --help)", strings.TrimPrefix(fs.Name(), "e6coord "), fmt.Sprintf(format, args...))}
}

// reader opens the Redis store and returns a reader of the scope, and
// the function that closes the store. Logs, go-redis's included, go to
// stderr until that function is called, and are dropped from then on:
// go-redis may still be dialling in the background when the command
// returns.
func (f *scopeFlags) reader(fs *flag.FlagSet, cacheTTL time.Duration, stderr io.Writer) (*inspect.Reader, func(), error) {
	logOut := &gatedWriter{w: stderr}
	opened := false
	defer func() {
		if !opened {
			logOut.close()
		}
	}()
	log, err := f.lf.logger(logOut)
	if err != nil {
		return nil, nil, usageError(fs, "%v", err)
	}
	u, err := redisURL(f.redis, log)
	if err != nil {
		return nil, nil, usageError(fs, "redis url: %v", err)
	}
	if u == "" {
		return nil, nil, usageError(fs, "no Redis URL: give --redis, E6COORD_REDIS_URL, E6COORD_REDIS_URL_FILE or $CREDENTIALS_DIRECTORY/redis-url")
	}
	store, err := redisstore.Open(u, redisstore.Options{}) // its errors show the URL redacted
	if err != nil {
		return nil, nil, usageError(fs, "%v", err)
	}
	opened = true
	r := inspect.NewReader(store, inspect.Options{
		Scope:    cache.Scope{Cluster: strings.ToLower(f.cluster), Engine: f.engine}, // as client.Open names it
		Address:  redisstore.Redact(u),
		CacheTTL: cmp.Or(max(cacheTTL, 0), coordinator.DefaultCacheTTL), // 0 or less: the default, as the coordinator's
		Logger:   log,
	})
	return r, func() {
		store.Close()
		logOut.close()
	}, nil
}

// gatedWriter writes to w until closed, and drops every write after.
type gatedWriter struct {
	mu     sync.Mutex // guards closed and serialises the writes to w
	closed bool
	w      io.Writer
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return len(p), nil
	}
	return g.w.Write(p)
}

func (g *gatedWriter) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
}

// line returns v as one line of output o, "text" or "json".
func line(o string, v any, text string) ([]byte, error) {
	if o == "text" {
		return []byte(text + "\n"), nil
	}
	b, err := json.Marshal(v)
	return append(b, '\n'), err
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f scopeFlags
	fs := f.newFlagSet("status", "--engine host:port [--cluster NAME] [-o text|json] [--wait-for blue|green [--timeout 1m]]",
		"Prints the scope's shared state, read once from Redis (no coordinator, no engine call).\n"+
			"Exit status: 0 healthy; 1 Redis could not be read; 2 usage; 3 degraded (stale) or no colour known;\n"+
			"with --wait-for: 0 once the colour is active (the state is printed then), 4 if it is not within --timeout.",
		stderr)
	cacheTTL := fs.Duration("cache-ttl", coordinator.DefaultCacheTTL, "how long a confirmed colour is trusted: past it the state is stale (the fleet's CacheTTL)")
	waitFor := fs.String("wait-for", "", "wait until this colour, blue or green, is active")
	timeout := fs.Duration("timeout", time.Minute, "with --wait-for: how long to wait (0: until interrupted)")
	if err := f.parse(fs, args); err != nil {
		return flagHelp(err)
	}
	if *cacheTTL <= 0 {
		return usageError(fs, "bad --cache-ttl %v: want a positive duration", *cacheTTL)
	}
	var want cache.Strategy
	if *waitFor != "" {
		var err error
		if want, err = cache.ParseStrategy(*waitFor); err != nil {
			return usageError(fs, "bad --wait-for: %v", err)
		}
	}
	if *timeout < 0 {
		return usageError(fs, "bad --timeout %v: want 0 or more", *timeout)
	}
	r, closeStore, err := f.reader(fs, *cacheTTL, stderr)
	if err != nil {
		return err
	}
	defer closeStore()
	show := func(v view.State) error {
		b, err := line(f.output, v, v.Text(r.Now()))
		if err == nil {
			_, err = stdout.Write(b)
		}
		return err
	}

	if want != cache.Unknown {
		wctx, cancel := ctx, context.CancelFunc(func() {})
		if *timeout > 0 {
			wctx, cancel = context.WithTimeout(ctx, *timeout)
		}
		defer cancel()
		v, err := r.WaitFor(wctx, want)
		if err != nil {
			why := fmt.Sprintf("not active within --timeout %v", *timeout)
			if ctx.Err() != nil {
				why = "interrupted"
			}
			return &exitError{code: exitTimeout, err: fmt.Errorf("status: waiting for %s: %s; last seen: %s", want, why, v.Text(r.Now()))}
		}
		return show(v)
	}

	v, readErr := r.Read(ctx)
	if err := show(v); err != nil {
		return err
	}
	switch {
	case readErr != nil:
		return fmt.Errorf("status: %w", readErr)
	case v.Status == view.Unknown:
		return &exitError{code: exitDegraded, err: fmt.Errorf("status: no active colour known for %s", r.Scope())}
	case v.Status != view.Healthy:
		return &exitError{code: exitDegraded, err: fmt.Errorf("status: degraded: %s was last confirmed more than --cache-ttl %v ago", v.Active, *cacheTTL)}
	}
	return nil
}

func runEvents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f scopeFlags
	fs := f.newFlagSet("events", "--engine host:port [--cluster NAME] [-o text|json]",
		"Prints one line per change of the scope's shared state, as Redis pushes it, until interrupted:\n"+
			"first a snapshot, then a change per record (generations increasing), and a resync with the\n"+
			"state re-read whenever the subscription was lost and made again. While Redis is down it\n"+
			"tries again with backoff, logging at warn on stderr (a refusal: a wrong password or ACL, a\n"+
			"read-only replica, once at error). Exit status: 0 when interrupted; 1 if stdout fails; 2 usage.",
		stderr)
	cacheTTL := fs.Duration("cache-ttl", coordinator.DefaultCacheTTL, "how long a confirmed colour is trusted: past it the state shows stale (the fleet's CacheTTL)")
	if err := f.parse(fs, args); err != nil {
		return flagHelp(err)
	}
	if *cacheTTL <= 0 {
		return usageError(fs, "bad --cache-ttl %v: want a positive duration", *cacheTTL)
	}
	r, closeStore, err := f.reader(fs, *cacheTTL, stderr)
	if err != nil {
		return err
	}
	defer closeStore()
	err = r.Follow(ctx, func(e inspect.Event) error {
		b, err := line(f.output, e, e.Text())
		if err == nil {
			_, err = stdout.Write(b) // one Write per event: a pipe gets each line at once
		}
		return err
	})
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("events: %w", err)
}

// flagHelp maps -h to success, and returns other errors as they are.
func flagHelp(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}
