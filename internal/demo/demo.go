// Package demo runs workers that query an engine through e6coord while the
// engine switches colour, and reports what happened: the main job of
// `e6coord demo`.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/coordinator"
)

// DefaultQuery is what the workers run against the embedded engine: 1,000
// rows over several batches.
const DefaultQuery = "SELECT * FROM demo.numbers"

// Options configures a demo run. Zero values mean the defaults of `e6coord
// demo`.
type Options struct {
	Duration  time.Duration // how long workers start queries; default 20s
	FlipEvery time.Duration // embedded engine: switch period; default 3s
	Workers   int           // concurrent workers; default 8

	Mode   enginetest.SwitchMode // embedded engine: how it switches
	Reject enginetest.Rejection  // embedded engine: how it rejects
	Policy coordinator.Policy    // when new queries move to a new colour

	// Engine, if set, is an external engine's host:port to use instead of
	// the embedded one, with these credentials and names.
	Engine                   string
	User, Password           string
	Catalog, Schema, Cluster string
	Query                    string // default DefaultQuery
	NoFetch                  bool   // run statements with Exec instead of reading rows

	Logger *slog.Logger // the library's records; nil discards
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
}

func (o Options) withDefaults() Options {
	if o.Duration <= 0 {
		o.Duration = 20 * time.Second
	}
	if o.FlipEvery <= 0 {
		o.FlipEvery = 3 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Query == "" {
		o.Query = DefaultQuery
	}
	return o
}

// Run runs the demo and writes a line per switch and per failed query to
// out. It returns the summary; the error is for a demo that could not run.
func Run(ctx context.Context, o Options, out io.Writer) (Summary, error) {
	o = o.withDefaults()
	var sum Summary
	addr := o.Engine
	var srv *enginetest.Server
	if addr == "" {
		var err error
		srv, err = enginetest.NewServer(enginetest.Options{
			Mode:      o.Mode,
			Rejection: o.Reject,
			FlipEvery: o.FlipEvery,
			User:      "demo",
			Password:  "demo",
			MaxLog:    1,
		})
		if err != nil {
			return sum, fmt.Errorf("demo: start the fake engine: %w", err)
		}
		defer srv.Close()
		addr = srv.Addr()
		o.User, o.Password, o.Catalog, o.Schema = "demo", "demo", enginetest.Catalog, enginetest.Schema
		fmt.Fprintf(out, "fake engine on %s: start blue, %s, rejects with %s, flips every %s\n",
			addr, o.Mode, o.Reject, o.FlipEvery)
	}

	start := time.Now()
	var opened atomic.Pointer[client.Conn] // for onChange, which may run before Open returns
	var outMu sync.Mutex
	printf := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(out, format, args...)
	}
	var switches atomic.Int64
	var ended atomic.Bool // the workers are done: report no more switches
	onChange := func(old, next cache.State) {
		c := opened.Load()
		if !old.Active.Valid() || old.Active == next.Active || c == nil || ended.Load() {
			return
		}
		switches.Add(1)
		printf("%7.3fs  switch %s -> %s  generation %d  pins in flight %d\n",
			time.Since(start).Seconds(), old.Active, next.Active, next.Generation, c.Coordinator().Pins().Of(old.Active))
	}
	conn, err := client.Open(client.Config{
		Addr: addr, User: o.User, Password: o.Password,
		Catalog: o.Catalog, Schema: o.Schema, Cluster: o.Cluster,
		Coordination: coordinator.Config{Policy: o.Policy, OnChange: onChange},
		Logger:       o.Logger,
	})
	if err != nil {
		return sum, err
	}
	defer conn.Close()
	opened.Store(conn)
	printf("%d workers for %s, policy %s: %s\n", o.Workers, o.Duration, o.Policy, o.Query)

	// Workers start queries until the duration ends; a query under way
	// then finishes with the parent ctx.
	stop := make(chan struct{})
	time.AfterFunc(o.Duration, func() { close(stop) })
	var queries, failed, rows atomic.Int64
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				n, err := runOne(ctx, conn, o)
				if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
					return
				}
				queries.Add(1)
				rows.Add(n)
				if err != nil {
					if failed.Add(1) <= 10 {
						printf("%7.3fs  query failed: %v\n", time.Since(start).Seconds(), err)
					}
				}
			}
		})
	}
	wg.Wait()
	ended.Store(true)

	st := conn.Stats()
	sum = Summary{
		Queries:       queries.Load(),
		Failed:        failed.Load(),
		Rows:          rows.Load(),
		Switches:      switches.Load(),
		Probes:        int64(st.Coordinator.Probes),
		Mixed:         -1,
		WrongStrategy: int64(st.Coordinator.WrongStrategy),
		Replays:       int64(st.Replays),
	}
	if srv != nil {
		sum.Mixed = int64(len(srv.MixedQueries()))
	}
	printf("queries %d, failed %d, rows %d, switches %d, probes %d, mixed %d, 456s %d, replays %d\n",
		sum.Queries, sum.Failed, sum.Rows, sum.Switches, sum.Probes, sum.Mixed, sum.WrongStrategy, sum.Replays)
	return sum, ctx.Err()
}

// runOne runs the query once, reading every row unless NoFetch, and returns
// the rows read.
func runOne(ctx context.Context, conn *client.Conn, o Options) (int64, error) {
	if o.NoFetch {
		return 0, conn.Exec(ctx, o.Query)
	}
	r, err := conn.Query(ctx, o.Query)
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
