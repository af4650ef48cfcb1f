package metrics_test

import (
	"context"
	"errors"
	"math"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/metrics"
)

// ops are the values of the op label, as doc.go lists them.
var ops = []string{"load", "swap", "write_pins", "lookup", "renew", "count",
	"acquire_lease", "release_lease", "watch", "time"}

// wantShape returns the families, types and label sets every scrape has,
// with store errors by op or as op="all".
func wantShape(byOp bool) map[string][]string {
	colours := []string{`colour="blue"`, `colour="green"`}
	var opSets []string
	for _, op := range ops {
		opSets = append(opSets, `op="`+op+`"`)
	}
	sorted := func(s []string) []string {
		out := slices.Clone(s)
		slices.Sort(out)
		return out
	}
	errOps := []string{`op="all"`}
	if byOp {
		errOps = sorted(opSets)
	}
	single := []string{""}
	g, c, h := "GAUGE", "COUNTER", "HISTOGRAM"
	with := func(typ string, sets []string) []string { return append([]string{typ}, sets...) }
	return map[string][]string{
		"e6coord_build_info":                     with(g, []string{`goversion="` + runtime.Version() + `",version="v1.2.3"`}),
		"e6coord_active_colour":                  with(g, colours),
		"e6coord_pending_colour":                 with(g, colours),
		"e6coord_colour_trusted":                 with(g, single),
		"e6coord_generation":                     with(g, single),
		"e6coord_switches_total":                 with(c, []string{`from="blue",to="green"`, `from="green",to="blue"`}),
		"e6coord_announcements_total":            with(c, single),
		"e6coord_rejections_total":               with(c, colours),
		"e6coord_probes_total":                   with(c, single),
		"e6coord_replays_total":                  with(c, single),
		"e6coord_invalid_colours_total":          with(c, single),
		"e6coord_detections_total":               with(c, single),
		"e6coord_refreshes_total":                with(c, single),
		"e6coord_withdrawals_total":              with(c, single),
		"e6coord_store_errors_total":             with(c, errOps),
		"e6coord_store_up":                       with(g, single),
		"e6coord_store_state":                    with(g, []string{`state="denied"`, `state="unknown"`, `state="unreachable"`, `state="up"`}),
		"e6coord_degraded":                       with(g, single),
		"e6coord_subscription_denied":            with(g, single),
		"e6coord_subscription_reconnects_total":  with(c, single),
		"e6coord_last_message_timestamp_seconds": with(g, single),
		"e6coord_pins_in_flight":                 with(g, colours),
		"e6coord_adoption_lag_seconds":           with(h, single),
		"e6coord_store_command_duration_seconds": with(h, sorted(opSets)),
	}
}

// TestEverySeriesFromTheStart scrapes a coordinator that has made no call:
// every series is there, at zero but for build_info and the unknown store
// state.
func TestEverySeriesFromTheStart(t *testing.T) {
	for _, tc := range []struct {
		name         string
		instrumented bool
	}{
		{"store=plain", false},
		{"store=instrumented", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, cache.Blue)
			var st cache.Store = e.store
			opts := metrics.Options{Version: "v1.2.3"}
			if tc.instrumented {
				st, opts.Store = e.instrumented()
			}
			// A store that cannot watch: the coordinator makes no store
			// call of its own before this scrape.
			c := e.coordOn(noWatch{st})
			s := scrapeOf(t, register(t, metrics.NewCollector(c, opts)))

			if diff := cmp.Diff(wantShape(tc.instrumented), s.shape()); diff != "" {
				t.Errorf("families and series (-want +got):\n%s", diff)
			}
			nonZero := map[string]bool{"e6coord_build_info": true, `e6coord_store_state{state="unknown"}`: true}
			for name, fam := range s {
				for _, m := range fam.GetMetric() {
					var pairs []string
					for _, lp := range m.GetLabel() {
						pairs = append(pairs, lp.GetName(), lp.GetValue())
					}
					id := name
					if ls := labelString(pairs...); ls != "" && name != "e6coord_build_info" {
						id += "{" + ls + "}"
					}
					var got float64
					switch {
					case m.Histogram != nil:
						h := m.GetHistogram()
						got = float64(h.GetSampleCount()) + h.GetSampleSum()
						for _, b := range h.GetBucket() {
							got += float64(b.GetCumulativeCount())
						}
						if len(h.GetBucket()) == 0 {
							t.Errorf("%s has no buckets", id)
						}
					case m.Counter != nil:
						got = m.GetCounter().GetValue()
					default:
						got = m.GetGauge().GetValue()
					}
					want := 0.0
					if nonZero[id] {
						want = 1
					}
					if got != want {
						t.Errorf("%s = %v on a fresh coordinator, want %v", id, got, want)
					}
				}
			}
		})
	}
}

// TestValues follows one coordinator through a detection, a switch, a
// rejection, pins and an announcement still pending, and a second one
// adopting the first one's records.
func TestValues(t *testing.T) {
	e := newEnv(t, cache.Blue)
	st, sm := e.instrumented()
	a := e.coordOn(st)
	var replays atomic.Uint64
	colA := metrics.NewCollector(a, metrics.Options{
		Store:   sm,
		Replays: replays.Load,
		Pins: func(ctx context.Context) (cache.PinCounts, error) {
			return st.Count(ctx, a.Config().Scope)
		},
	})
	regA := register(t, colA)
	ctx := ctxT(t)

	// Detection.
	resolve(t, a, cache.Blue)
	s := scrapeOf(t, regA)
	s.want(t, 1, "e6coord_active_colour", "colour", "blue")
	s.want(t, 0, "e6coord_active_colour", "colour", "green")
	s.want(t, 1, "e6coord_colour_trusted")
	s.want(t, float64(a.Snapshot().Generation), "e6coord_generation")
	if g := s.value(t, "e6coord_generation"); g < 1 {
		t.Errorf("e6coord_generation = %v after a detection, want at least 1", g)
	}
	s.want(t, float64(e.eng.total()), "e6coord_probes_total")
	s.want(t, 2, "e6coord_probes_total") // blue and green, at once
	s.want(t, 1, "e6coord_detections_total")
	s.want(t, 1, "e6coord_store_up")
	s.want(t, 1, "e6coord_store_state", "state", "up")
	s.want(t, 0, "e6coord_store_state", "state", "unknown")
	s.want(t, 0, "e6coord_degraded")
	for _, op := range []string{"load", "swap", "acquire_lease", "release_lease"} {
		if n := s.histogram(t, "e6coord_store_command_duration_seconds", "op", op).GetSampleCount(); n == 0 {
			t.Errorf("no %s timed after a detection", op)
		}
		s.want(t, 0, "e6coord_store_errors_total", "op", op)
	}
	s.want(t, 0, "e6coord_switches_total", "from", "blue", "to", "green")

	// A switch: the engine announces green and accepts it (Eager).
	e.eng.set(cache.Blue, cache.Green)
	a.Announce("green")
	waitFor(t, a, "green active", func(st cache.State) bool { return st.Active == cache.Green })
	s = scrapeOf(t, regA)
	s.want(t, 1, "e6coord_switches_total", "from", "blue", "to", "green")
	s.want(t, 0, "e6coord_switches_total", "from", "green", "to", "blue")
	s.want(t, 1, "e6coord_announcements_total")
	s.want(t, 0, "e6coord_active_colour", "colour", "blue")
	s.want(t, 1, "e6coord_active_colour", "colour", "green")
	s.want(t, 0, "e6coord_pending_colour", "colour", "blue")
	s.want(t, 0, "e6coord_pending_colour", "colour", "green")

	// A second process adopts a's record 30ms after a committed it.
	e.clock.Advance(30 * time.Millisecond)
	b := e.coordOn(noWatch{e.store})
	regB := register(t, metrics.NewCollector(b, metrics.Options{}))
	resolve(t, b, cache.Green)
	sb := scrapeOf(t, regB)
	lag := sb.histogram(t, "e6coord_adoption_lag_seconds")
	if lag.GetSampleCount() != 1 || math.Abs(lag.GetSampleSum()-0.03) > 1e-9 {
		t.Errorf("adoption lag count, sum = %d, %v; want 1, 0.03", lag.GetSampleCount(), lag.GetSampleSum())
	}
	if lo, hi := bucket(t, lag, 0.025), bucket(t, lag, 0.05); lo != 0 || hi != 1 {
		t.Errorf("adoption lag buckets le=0.025: %d, le=0.05: %d; want 0, 1", lo, hi)
	}
	sb.want(t, 0, "e6coord_switches_total", "from", "blue", "to", "green") // b never saw blue
	sb.want(t, 1, "e6coord_active_colour", "colour", "green")
	if n := scrapeOf(t, regA).histogram(t, "e6coord_adoption_lag_seconds").GetSampleCount(); n != 0 {
		t.Errorf("a's adoption lag count = %d, want 0: it made every record itself", n)
	}

	// A rejection of green.
	a.Invalidate(cache.Green)
	s = scrapeOf(t, regA)
	s.want(t, 1, "e6coord_rejections_total", "colour", "green")
	s.want(t, 0, "e6coord_rejections_total", "colour", "blue")
	s.want(t, 0, "e6coord_colour_trusted")
	resolve(t, a, cache.Green)

	// Pins, counted in the store: b's count with a's.
	for id, c := range map[string]cache.Strategy{"q1": cache.Green, "q2": cache.Green, "q3": cache.Blue} {
		if err := a.Pin(ctx, id, c); err != nil {
			t.Fatal(err)
		}
		if err := a.Sync(ctx); err != nil { // one store call per pin
			t.Fatal(err)
		}
	}
	if err := b.Pin(ctx, "q4", cache.Green); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	s = scrapeOf(t, regA)
	s.want(t, 1, "e6coord_pins_in_flight", "colour", "blue")
	s.want(t, 3, "e6coord_pins_in_flight", "colour", "green")
	if n := s.histogram(t, "e6coord_store_command_duration_seconds", "op", "write_pins").GetSampleCount(); n != 3 {
		t.Errorf("pin writes timed = %d, want 3 (b's store is not instrumented)", n)
	}
	sb = scrapeOf(t, regB) // b's own pins: no Options.Pins
	sb.want(t, 0, "e6coord_pins_in_flight", "colour", "blue")
	sb.want(t, 1, "e6coord_pins_in_flight", "colour", "green")
	a.Release(ctx, "q1")
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	scrapeOf(t, regA).want(t, 2, "e6coord_pins_in_flight", "colour", "green")

	// A colour announced that the engine does not accept stays pending.
	e.eng.set(cache.Green)
	a.Announce("blue")
	waitFor(t, a, "blue probed and pending", func(st cache.State) bool {
		return st.Pending == cache.Blue && !st.ProbedAt.IsZero()
	})
	s = scrapeOf(t, regA)
	s.want(t, 1, "e6coord_pending_colour", "colour", "blue")
	s.want(t, 0, "e6coord_pending_colour", "colour", "green")
	s.want(t, 1, "e6coord_active_colour", "colour", "green")
	s.want(t, 2, "e6coord_announcements_total")

	// b adopts the newest record 10s after a committed it: above every
	// bucket.
	e.clock.Advance(10 * time.Second)
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	lag = scrapeOf(t, regB).histogram(t, "e6coord_adoption_lag_seconds")
	if lag.GetSampleCount() != 2 || math.Abs(lag.GetSampleSum()-10.03) > 1e-9 {
		t.Errorf("adoption lag count, sum = %d, %v; want 2, 10.03", lag.GetSampleCount(), lag.GetSampleSum())
	}
	if n := bucket(t, lag, 5); n != 1 {
		t.Errorf("adoption lag bucket le=5: %d, want 1", n)
	}

	// Invalid colours and replays.
	a.Announce("purple")
	a.Announce("")
	replays.Store(7)
	s = scrapeOf(t, regA)
	s.want(t, 2, "e6coord_invalid_colours_total")
	s.want(t, 7, "e6coord_replays_total")
	s.want(t, float64(a.Stats().Probes), "e6coord_probes_total")
	s.want(t, float64(a.Snapshot().Generation), "e6coord_generation")
}

// TestStoreTrouble scrapes a coordinator whose store fails, then refuses
// access.
func TestStoreTrouble(t *testing.T) {
	for _, tc := range []struct {
		name  string
		state string
		set   func(*failingStore)
	}{
		{"unreachable", "unreachable", func(f *failingStore) { f.fail(errDown) }},
		{"denied", "denied", func(f *failingStore) { f.fail(errDenied) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, cache.Blue)
			f := &failingStore{Store: e.store}
			tc.set(f)
			st, sm := metrics.InstrumentStore(f)
			c := e.coordOn(st)
			reg := register(t, metrics.NewCollector(c, metrics.Options{Store: sm}))
			resolve(t, c, cache.Blue) // from the engine, alone
			s := scrapeOf(t, reg)
			s.want(t, 0, "e6coord_store_up")
			s.want(t, 1, "e6coord_store_state", "state", tc.state)
			s.want(t, 0, "e6coord_store_state", "state", "up")
			s.want(t, 1, "e6coord_degraded")
			if n := s.value(t, "e6coord_store_errors_total", "op", "load"); n < 1 {
				t.Errorf(`store_errors_total{op="load"} = %v, want at least 1`, n)
			}
			var failed float64
			for _, op := range ops {
				failed += s.value(t, "e6coord_store_errors_total", "op", op)
			}
			if timed := s.histogram(t, "e6coord_store_command_duration_seconds", "op", "load").GetSampleCount(); failed == 0 || timed == 0 {
				t.Errorf("store errors %v, loads timed %d; want both above 0", failed, timed)
			}
			s.want(t, 1, "e6coord_active_colour", "colour", "blue")

			// The plain collector counts the coordinator's failures as
			// op="all": Stats().StoreErrors at the scrape, which the
			// coordinator's retries may raise meanwhile.
			before := float64(c.Stats().StoreErrors)
			plain := scrapeOf(t, register(t, metrics.NewCollector(c, metrics.Options{})))
			after := float64(c.Stats().StoreErrors)
			if got := plain.value(t, "e6coord_store_errors_total", "op", "all"); got < before || got > after || got == 0 {
				t.Errorf(`store_errors_total{op="all"} = %v, want Stats().StoreErrors at the scrape (%v before, %v after), above 0`, got, before, after)
			}
		})
	}
}

// TestSubscription follows the change subscription: the time of its last
// message and its reconnections.
func TestSubscription(t *testing.T) {
	e := newEnv(t, cache.Blue)
	a := e.coordOn(noWatch{e.store})
	cut := newCuttable(e.store)
	st, sm := metrics.InstrumentStore(cut)
	b := e.coordOn(st)
	reg := register(t, metrics.NewCollector(b, metrics.Options{Store: sm}))
	subscriptions := func() uint64 {
		return scrapeOf(t, reg).histogram(t, "e6coord_store_command_duration_seconds", "op", "watch").GetSampleCount()
	}
	eventually(t, "b's subscription", func() bool { return subscriptions() == 1 })
	s := scrapeOf(t, reg)
	s.want(t, 0, "e6coord_last_message_timestamp_seconds")
	s.want(t, 0, "e6coord_subscription_reconnects_total")

	e.clock.Advance(1500 * time.Millisecond)
	at := e.clock.Now()
	resolve(t, a, cache.Blue) // pushed to b
	eventually(t, "b's first message", func() bool {
		return scrapeOf(t, reg).value(t, "e6coord_last_message_timestamp_seconds") != 0
	})
	s = scrapeOf(t, reg)
	if got, want := s.value(t, "e6coord_last_message_timestamp_seconds"), float64(at.UnixNano())/1e9; got != want {
		t.Errorf("last message at %v, want %v", got, want)
	}
	s.want(t, 1, "e6coord_active_colour", "colour", "blue")

	cut.cut()
	eventually(t, "b's resubscription", func() bool { return subscriptions() == 2 })
	eventually(t, "the reconnection counted", func() bool {
		return scrapeOf(t, reg).value(t, "e6coord_subscription_reconnects_total") == 1
	})
	scrapeOf(t, reg).want(t, 0, "e6coord_store_errors_total", "op", "watch")
}

// TestPinsTimeout checks that a scrape bounds the call of Options.Pins and
// reports the last good counts when it fails.
func TestPinsTimeout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		want    time.Duration
	}{
		{"default", 0, metrics.DefaultPinsTimeout},
		{"set", 20 * time.Millisecond, 20 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, cache.Blue)
			c := e.coordOn(e.store)
			var calls atomic.Int32
			var bound atomic.Int64 // the deadline of the last call, from its start
			reg := register(t, metrics.NewCollector(c, metrics.Options{
				PinsTimeout: tc.timeout,
				Pins: func(ctx context.Context) (cache.PinCounts, error) {
					dl, ok := ctx.Deadline()
					if !ok {
						bound.Store(math.MaxInt64)
					} else {
						bound.Store(int64(time.Until(dl)))
					}
					if calls.Add(1) == 1 {
						return cache.PinCounts{Blue: 2, Green: 1}, nil
					}
					<-ctx.Done() // a store that hangs
					return cache.PinCounts{Blue: 9, Green: 9}, ctx.Err()
				},
			}))
			for i := range 2 {
				s := scrapeOf(t, reg)
				s.want(t, 2, "e6coord_pins_in_flight", "colour", "blue")
				s.want(t, 1, "e6coord_pins_in_flight", "colour", "green")
				// At most the timeout left when Pins began (none at all, on a
				// busy machine, is fine): the deadline is the scrape's.
				if b := time.Duration(bound.Load()); b > tc.want {
					t.Errorf("scrape %d: Pins called with %v left before its deadline, want at most %v", i, b, tc.want)
				}
			}
			if n := calls.Load(); n != 2 {
				t.Errorf("Pins called %d times, want once per scrape", n)
			}
		})
	}
}

// TestPinsBeforeAnySuccess reports zeros while Options.Pins has never
// answered.
func TestPinsBeforeAnySuccess(t *testing.T) {
	e := newEnv(t, cache.Blue)
	c := e.coordOn(e.store)
	if err := c.Pin(ctxT(t), "q", cache.Blue); err != nil {
		t.Fatal(err)
	}
	reg := register(t, metrics.NewCollector(c, metrics.Options{
		Pins: func(context.Context) (cache.PinCounts, error) { return cache.PinCounts{Blue: 5}, errDown },
	}))
	s := scrapeOf(t, reg)
	s.want(t, 0, "e6coord_pins_in_flight", "colour", "blue")
	s.want(t, 0, "e6coord_pins_in_flight", "colour", "green")
}

// TestLint checks the descriptors and the series with Prometheus' own
// checks: registration, the pedantic registry's consistency checks, and
// promlint.
func TestLint(t *testing.T) {
	e := newEnv(t, cache.Blue)
	st, sm := e.instrumented()
	c := e.coordOn(st)
	resolve(t, c, cache.Blue)
	for _, opts := range []metrics.Options{{}, {Store: sm}} {
		col := metrics.NewCollector(c, opts)
		reg := prometheus.NewPedanticRegistry()
		if err := reg.Register(col); err != nil {
			t.Fatalf("Register: %v", err)
		}
		if _, err := reg.Gather(); err != nil {
			t.Errorf("Gather: %v", err)
		}
		problems, err := testutil.CollectAndLint(col)
		if err != nil {
			t.Fatalf("CollectAndLint: %v", err)
		}
		for _, p := range problems {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
		// The same series again on the same registry are refused.
		err = reg.Register(metrics.NewCollector(c, opts))
		if are := (prometheus.AlreadyRegisteredError{}); !errors.As(err, &are) {
			t.Errorf("second Register error = %v, want AlreadyRegisteredError", err)
		}
		// Next to the Go and process collectors, and wrapped with a label
		// per engine, two coordinators' collectors fit on one registry.
		reg = prometheus.NewPedanticRegistry()
		reg.MustRegister(goAndProcess()...)
		for _, engine := range []string{"a", "b"} {
			if err := prometheus.WrapRegistererWith(prometheus.Labels{"engine": engine}, reg).Register(metrics.NewCollector(c, opts)); err != nil {
				t.Errorf("Register for engine %s: %v", engine, err)
			}
		}
		if _, err := reg.Gather(); err != nil {
			t.Errorf("Gather: %v", err)
		}
	}
}

// TestDefaultVersion checks that build_info names a version without
// Options.Version.
func TestDefaultVersion(t *testing.T) {
	e := newEnv(t, cache.Blue)
	c := e.coordOn(e.store)
	s := scrapeOf(t, register(t, metrics.NewCollector(c, metrics.Options{})))
	fam := s["e6coord_build_info"]
	if fam == nil || len(fam.GetMetric()) != 1 {
		t.Fatalf("build_info = %v, want one series", fam)
	}
	labels := map[string]string{}
	for _, lp := range fam.GetMetric()[0].GetLabel() {
		labels[lp.GetName()] = lp.GetValue()
	}
	if labels["version"] == "" || labels["goversion"] != runtime.Version() {
		t.Errorf("build_info labels = %v, want a version and goversion %s", labels, runtime.Version())
	}
}

// compile-time: a Collector is a prometheus.Collector.
var _ prometheus.Collector = (*metrics.Collector)(nil)
