package proxy

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
)

const sqlRows = "SELECT * FROM demo.numbers LIMIT 300" // two batches of the fake engine

// runSwitches runs queries of n through the proxy while the engine
// switches colour 20 times: each switch begins after a query's prepare
// and finishes at one of its stages (after prepare, execute, metadata or
// its first batch, in turn; the result fits in the proxy's read-ahead);
// in Overlap mode by FinishSwitch, in SwitchOnClear mode by the clear of
// another query of n's. It fails t if a query fails or returns the wrong
// rows.
func runSwitches(t *testing.T, eng *enginetest.Server, n *naive) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	const switches = 20
	stages := []string{"prepared", "executed", "metadata", "fetched"}
	for k := 0; k < switches; k++ {
		finishAt := stages[k%len(stages)]
		began := false
		n.onStage = func(stage string) {
			if stage == "prepared" && !began {
				began = true
				if err := eng.BeginSwitch(eng.State().Active.Other()); err != nil {
					t.Errorf("BeginSwitch: %v", err)
				}
			}
			if stage != finishAt || !began {
				return
			}
			if eng.State().Pending == enginetest.NoColour {
				return // finished already
			}
			n.onStage = nil
			if st := eng.State(); st.SwitchAtClear {
				// Another query's clear switches the engine.
				if rows, err := n.query(ctx, "SELECT 1"); err != nil || rows != 1 {
					t.Errorf("switch %d: inner query: %d rows, %v", k, rows, err)
				}
			} else {
				eng.FinishSwitch()
			}
		}
		rows, err := n.query(ctx, sqlRows)
		n.onStage = nil
		if err != nil || rows != 300 {
			t.Errorf("switch %d (finished after %s): %d rows, %v", k, finishAt, rows, err)
		}
		if got := eng.State().Switches; got != k+1 {
			t.Fatalf("after switch %d the engine counts %d switches", k, got)
		}
		// One more query on the new colour.
		if rows, err := n.query(ctx, sqlRows); err != nil || rows != 300 {
			t.Errorf("after switch %d: %d rows, %v", k, rows, err)
		}
	}
}

// checkEngineLog fails t if a call reached the engine with anything but
// exactly one strategy header (blue or green), the configured cluster
// name once, a prepare without the client's trace header or with the client's
// plannerip on a prepare; or if a query's calls carried two colours.
func checkEngineLog(t *testing.T, eng *enginetest.Server) {
	t.Helper()
	for _, c := range eng.Log() {
		if c.Method == e6xpb.ClusterService_Status_FullMethodName || c.Method == e6xpb.ClusterService_Resume_FullMethodName {
			continue
		}
		if s := c.Metadata.Get("strategy"); len(s) != 1 || (s[0] != "blue" && s[0] != "green") {
			t.Errorf("%s reached the engine with strategy %q", c.Method, s)
		}
		if cl := c.Metadata.Get("cluster-name"); len(cl) != 1 || cl[0] != "prod-eu" {
			t.Errorf("%s reached the engine with cluster-name %q", c.Method, cl)
		}
		if c.Method == e6xpb.QueryEngineService_PrepareStatementV2_FullMethodName && len(c.Metadata.Get("plannerip")) > 0 {
			t.Errorf("prepare reached the engine with plannerip %q", c.Metadata.Get("plannerip"))
		}
		if c.Method == e6xpb.QueryEngineService_PrepareStatementV2_FullMethodName {
			// Every prepare comes from a client: its own headers go on.
			if tr := c.Metadata.Get("x-e6-trace"); len(tr) != 1 || tr[0] != "t-1" {
				t.Errorf("prepare reached the engine with x-e6-trace %q", tr)
			}
		}
	}
	if m := eng.MixedQueries(); len(m) > 0 {
		t.Errorf("queries whose calls carried two colours: %v", m)
	}
}

// TestNaiveClientThroughSwitches: a client of the generated stubs with no
// interceptor, sending no strategy header, a wrong one or one that is no
// colour, runs queries through the proxy across 20 switches, in both
// switch modes and every rejection style, with an engine that rejects a
// call without a strategy header: no query fails, and the client never
// sees a new_strategy nor a rejection.
func TestNaiveClientThroughSwitches(t *testing.T) {
	for _, mode := range []enginetest.SwitchMode{enginetest.Overlap, enginetest.SwitchOnClear} {
		for _, rej := range []enginetest.Rejection{enginetest.RejectHTTP456, enginetest.RejectUnknown, enginetest.RejectInvalidArgument} {
			for _, header := range []string{"", "green", "purple"} {
				t.Run(fmt.Sprintf("%v/%v/header=%q", mode, rej, header), func(t *testing.T) {
					eng := newEngine(t, enginetest.Options{Mode: mode, Rejection: rej, RejectMissingStrategy: true, User: "alice", Password: "pw"})
					p, addr := startProxy(t, eng)
					n := &naive{stub: e6xpb.NewQueryEngineServiceClient(dial(t, addr)), user: "alice", password: "pw", header: header}
					runSwitches(t, eng, n)
					if n.failed > 0 || n.newStrategies > 0 || n.rejections > 0 {
						t.Errorf("%d of %d queries failed (last: %v); the client saw %d new_strategy and %d rejections",
							n.failed, n.queries, n.lastErr, n.newStrategies, n.rejections)
					}
					checkEngineLog(t, eng)
					if got := p.OpenQueries(); got != 0 {
						t.Errorf("%d queries still open in the proxy", got)
					}
					t.Logf("%d queries, %d replays, engine %+v", n.queries, p.Replays(), eng.Counts())
				})
			}
		}
	}
}

// TestReactiveClientStaysDormant: a client that reacts to new_strategy
// and 456 as the published client does never sees either through the
// proxy, so its own blue-green logic never runs, and no query fails.
func TestReactiveClientStaysDormant(t *testing.T) {
	for _, mode := range []enginetest.SwitchMode{enginetest.Overlap, enginetest.SwitchOnClear} {
		for _, rej := range []enginetest.Rejection{enginetest.RejectHTTP456, enginetest.RejectUnknown, enginetest.RejectInvalidArgument} {
			t.Run(fmt.Sprintf("%v/%v", mode, rej), func(t *testing.T) {
				eng := newEngine(t, enginetest.Options{Mode: mode, Rejection: rej})
				_, addr := startProxy(t, eng)
				n := &naive{stub: e6xpb.NewQueryEngineServiceClient(dial(t, addr)), user: "bob", password: "pw", header: "blue", reactive: true}
				runSwitches(t, eng, n)
				if n.failed > 0 || n.newStrategies > 0 || n.rejections > 0 || n.reauthentications > 0 {
					t.Errorf("%d of %d queries failed (last: %v); the client saw %d new_strategy, %d rejections, and authenticated again %d times",
						n.failed, n.queries, n.lastErr, n.newStrategies, n.rejections, n.reauthentications)
				}
				if n.header != "blue" {
					t.Errorf("the client's colour moved to %q", n.header)
				}
				checkEngineLog(t, eng)
			})
		}
	}
}

// TestConcurrentClientsThroughSwitches: four naive clients, each with its
// own session, run queries of four batches concurrently through one proxy,
// to an engine whose sessions are valid for one colour only, while the
// engine switches 20 times at whatever point of their queries
// the switches land (driven by the count of finished queries, not by a
// clock): no query fails, because every result fits in the proxy's
// read-ahead.
func TestConcurrentClientsThroughSwitches(t *testing.T) {
	for _, mode := range []enginetest.SwitchMode{enginetest.Overlap, enginetest.SwitchOnClear} {
		for _, rej := range []enginetest.Rejection{enginetest.RejectHTTP456, enginetest.RejectUnknown, enginetest.RejectInvalidArgument} {
			t.Run(fmt.Sprintf("%v/%v", mode, rej), func(t *testing.T) {
				eng := newEngine(t, enginetest.Options{Mode: mode, Rejection: rej, RejectMissingStrategy: true, BindSessions: true})
				p, addr := startProxy(t, eng)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				const clients, switches = 4, 20
				done := make(chan error, 64)
				stop := make(chan struct{})
				var wg sync.WaitGroup
				for i := range clients {
					n := &naive{stub: e6xpb.NewQueryEngineServiceClient(dial(t, addr)), user: fmt.Sprintf("user%d", i), password: "pw"}
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							select {
							case <-stop:
								return
							default:
							}
							rows, err := n.query(ctx, "SELECT * FROM demo.numbers")
							if err == nil && rows != 1000 {
								err = fmt.Errorf("%d rows, want 1000", rows)
							}
							if err == nil && (n.newStrategies > 0 || n.rejections > 0) {
								err = fmt.Errorf("the client saw %d new_strategy and %d rejections", n.newStrategies, n.rejections)
							}
							select {
							case done <- err:
							case <-stop:
								return
							}
						}
					}()
				}
				queries, failed := 0, 0
				next := func() {
					t.Helper()
					select {
					case err := <-done:
						queries++
						if err != nil {
							failed++
							t.Errorf("query %d: %v", queries, err)
						}
					case <-ctx.Done():
						t.Fatalf("no query finished (%d so far)", queries)
					}
				}
				for k := 0; k < switches; k++ {
					if err := eng.BeginSwitch(eng.State().Active.Other()); err != nil {
						t.Fatal(err)
					}
					for range 3 {
						next()
					}
					if mode == enginetest.Overlap {
						eng.FinishSwitch()
					}
					for eng.State().Switches < k+1 { // SwitchOnClear: a client's clear switches
						next()
					}
					for range 2 {
						next()
					}
				}
				close(stop)
				wg.Wait()
				if failed > 0 {
					t.Errorf("%d of %d queries failed", failed, queries)
				}
				if m := eng.MixedQueries(); len(m) > 0 {
					t.Errorf("queries whose calls carried two colours: %v", m)
				}
				t.Logf("%d queries, %d replays, %d switches", queries, p.Replays(), eng.State().Switches)
			})
		}
	}
}
