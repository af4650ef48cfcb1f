package client_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/memory"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/coordinator"
	"github.com/e6coord/e6coord/coordinator/coordinatortest"
)

// fleet is workers on two Conns sharing one store, as two processes would,
// looping queries against one engine.
type fleet struct {
	t       *testing.T
	srv     *enginetest.Server
	conns   []*client.Conn
	stop    chan struct{}
	wg      sync.WaitGroup
	queries atomic.Int64
	failed  atomic.Int64
	done    []atomic.Int64 // queries ended, per worker
	errs    chan error
}

func newFleet(t *testing.T, srv *enginetest.Server, p coordinator.Policy, workers int) *fleet {
	store := memory.New(memory.Options{})
	t.Cleanup(func() { store.Close() })
	f := &fleet{t: t, srv: srv, stop: make(chan struct{}), errs: make(chan error, 10), done: make([]atomic.Int64, workers)}
	for range 2 {
		f.conns = append(f.conns, open(t, srv, policy(p), func(cfg *client.Config) { cfg.Store = store }))
	}
	for i := range workers {
		conn := f.conns[i%len(f.conns)]
		exec := i%4 == 3 // one worker in four runs statements without reading rows
		f.wg.Go(func() { f.work(conn, exec, &f.done[i]) })
	}
	return f
}

func (f *fleet) work(conn *client.Conn, exec bool, done *atomic.Int64) {
	ctx := context.Background()
	for {
		select {
		case <-f.stop:
			return
		default:
		}
		var err error
		if exec {
			err = conn.Exec(ctx, "SELECT * FROM demo.numbers")
		} else {
			var rows [][]any
			rows, _, err = readAll(ctx, conn, "SELECT * FROM demo.numbers")
			if err == nil && len(rows) != enginetest.NumbersRows {
				err = fmt.Errorf("read %d rows, want %d", len(rows), enginetest.NumbersRows)
			}
		}
		f.queries.Add(1)
		done.Add(1)
		if err != nil {
			f.failed.Add(1)
			select {
			case f.errs <- err:
			default:
			}
		}
	}
}

// finish stops the workers and checks the fleet's record: no failed query,
// no query whose calls carried two colours, no pin left.
func (f *fleet) finish() {
	t := f.t
	t.Helper()
	close(f.stop)
	f.wg.Wait()
	close(f.errs)
	for err := range f.errs {
		t.Errorf("query failed: %v", err)
	}
	if n := f.failed.Load(); n > 0 {
		t.Errorf("%d of %d queries failed", n, f.queries.Load())
	}
	if mixed := f.srv.MixedQueries(); len(mixed) > 0 {
		t.Errorf("%d queries carried two colours: %v", len(mixed), mixed)
	}
	for _, c := range f.conns {
		if p := c.Coordinator().Pins(); p.Total() != 0 {
			t.Errorf("pins left: %+v", p)
		}
	}
	var probes, replays uint64
	for _, c := range f.conns {
		st := c.Stats()
		probes += st.Coordinator.Probes
		replays += st.Replays
	}
	t.Logf("queries %d, engine switches %d, probes %d, replays %d, engine %+v",
		f.queries.Load(), f.srv.State().Switches, probes, replays, f.srv.Counts())
}

// waitRound waits until every worker has ended a query that started
// after the call: switches are minutes apart in life, and a query sees at
// most one or two of them.
func (f *fleet) waitRound() {
	f.t.Helper()
	want := make([]int64, len(f.done))
	for i := range f.done {
		want[i] = f.done[i].Load() + 2
	}
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for i := 0; i < len(want); {
		if f.done[i].Load() >= want[i] {
			i++
			continue
		}
		select {
		case <-deadline.C:
			f.t.Fatalf("worker %d ended %d queries, want %d", i, f.done[i].Load(), want[i])
		case <-tick.C:
		}
	}
}

// waitAll waits until every Conn has colour s active.
func (f *fleet) waitAll(s cache.Strategy) {
	f.t.Helper()
	for _, c := range f.conns {
		waitColour(f.t, c, s)
	}
}

// Workers loop queries across 20 switches, for every switch mode, rejection
// style and policy: no query fails, none carries two colours.
func TestFleetAcrossSwitches(t *testing.T) {
	const switches = 20
	for _, mode := range modes {
		for _, reject := range rejections {
			for _, p := range []coordinator.Policy{coordinator.Drain, coordinator.Eager} {
				t.Run(fmt.Sprintf("mode=%s/reject=%s/policy=%s", mode, reject, p), func(t *testing.T) {
					srv := newEngine(t, enginetest.Options{Mode: mode, Rejection: reject, MaxLog: 1})
					f := newFleet(t, srv, p, 6)
					f.waitAll(cache.Blue)
					for range switches {
						next := srv.State().Active.Other()
						to := strategy(next)
						if err := srv.BeginSwitch(next); err != nil {
							t.Fatal(err)
						}
						if mode == enginetest.Overlap {
							// Let the fleet hear of it, then end the overlap.
							for _, c := range f.conns {
								ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
								_, err := coordinatortest.WaitFor(ctx, c.Coordinator(), func(st cache.State) bool {
									return st.Pending == to || st.Active == to
								})
								cancel()
								if err != nil {
									t.Fatalf("announcement of %s not heard: %v", to, err)
								}
							}
							srv.FinishSwitch()
						}
						// Switch-on-clear: a worker's clear switches the engine.
						waitEngine(t, srv, "switch to "+to.String(), func(st enginetest.State) bool {
							return st.Active == next && !st.Pending.Valid()
						})
						f.waitAll(to)
						f.waitRound()
					}
					f.finish()
					if n := srv.State().Switches; n < switches {
						t.Errorf("engine switched %d times, want %d", n, switches)
					}
				})
			}
		}
	}
}

var (
	modes      = []enginetest.SwitchMode{enginetest.Overlap, enginetest.SwitchOnClear}
	rejections = []enginetest.Rejection{enginetest.RejectHTTP456, enginetest.RejectUnknown, enginetest.RejectInvalidArgument}
)

// A client that starts while a switch is announced but not accepted uses
// the old colour until the engine switches, then the new one.
func TestStartDuringAnnouncedSwitch(t *testing.T) {
	for _, mode := range modes {
		for _, reject := range rejections {
			t.Run(fmt.Sprintf("mode=%s/reject=%s", mode, reject), func(t *testing.T) {
				srv := newEngine(t, enginetest.Options{Mode: mode, Rejection: reject})
				// Announced, green still rejected: switch-on-clear's way; an
				// overlap engine that announces before it accepts.
				var err error
				if mode == enginetest.SwitchOnClear {
					err = srv.BeginSwitch(enginetest.Green)
				} else {
					err = srv.Announce(enginetest.Green)
				}
				if err != nil {
					t.Fatal(err)
				}
				conn := open(t, srv)
				ctx := ctxT(t)
				rows, err := conn.Query(ctx, "SELECT 1")
				if err != nil {
					t.Fatal(err)
				}
				if got := rows.Strategy(); got != cache.Blue {
					t.Errorf("first query pinned to %v, want blue (green is announced, not accepted)", got)
				}
				// The announcement is recorded in the background.
				st, err := coordinatortest.WaitFor(ctx, conn.Coordinator(), func(st cache.State) bool { return st.Pending == cache.Green })
				if err != nil || !st.AcceptedAt.IsZero() {
					t.Errorf("record %s (%v), want green pending, not accepted", st, err)
				}
				if err := rows.Close(); err != nil { // switch-on-clear: this clear switches the engine
					t.Fatal(err)
				}
				if mode == enginetest.Overlap {
					if err := srv.SetActive(enginetest.Green); err != nil { // the engine moves without overlap
						t.Fatal(err)
					}
				}
				for range 5 {
					if _, _, err := readAll(ctx, conn, "SELECT * FROM demo.numbers"); err != nil {
						t.Fatalf("query after the switch: %v", err)
					}
				}
				if got := conn.Coordinator().Strategy(); got != cache.Green {
					t.Errorf("colour after the switch = %v, want green", got)
				}
				if mixed := srv.MixedQueries(); len(mixed) > 0 {
					t.Errorf("queries with two colours: %v", mixed)
				}
				if n := conn.Stats().Coordinator.Probes; n > 4 {
					t.Errorf("probes = %d, want at most 4 (cold start and one switch)", n)
				}
			})
		}
	}
}

// A client that starts when the engine is already green uses green.
func TestStartWhenGreen(t *testing.T) {
	for _, mode := range modes {
		for _, reject := range rejections {
			t.Run(fmt.Sprintf("mode=%s/reject=%s", mode, reject), func(t *testing.T) {
				srv := newEngine(t, enginetest.Options{Start: enginetest.Green, Mode: mode, Rejection: reject})
				conn := open(t, srv)
				rows, _, err := readAll(ctxT(t), conn, "SELECT * FROM demo.numbers")
				if err != nil || len(rows) != enginetest.NumbersRows {
					t.Fatalf("query: %d rows, %v", len(rows), err)
				}
				for _, c := range srv.Log() {
					if c.Accepted && c.Strategy != "green" {
						t.Errorf("%s accepted with strategy %q", c.Method, c.Strategy)
					}
				}
				if c := srv.Counts(); c.Rejections.Blue > 1 {
					t.Errorf("blue rejected %d times, want at most the one probe", c.Rejections.Blue)
				}
			})
		}
	}
}
