package metrics_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/e6coord/e6coord/internal/redistest"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/cachetest"
	"github.com/e6coord/e6coord/cache/memory"
	"github.com/e6coord/e6coord/coordinator"
	"github.com/e6coord/e6coord/coordinator/coordinatortest"
	"github.com/e6coord/e6coord/metrics"
)

// TestMain checks that no goroutine outlives the tests, but go-redis's
// tryDial, which a pool starts after failed dials and which sleeps up to a
// second before it sees the pool closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, redistest.IgnoreDial)
}

var (
	scope = cache.Scope{Cluster: "c1", Engine: "127.0.0.1:50052"}
	t0    = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
)

// waitTimeout bounds every wait on a condition in these tests.
const waitTimeout = 10 * time.Second

// engine is a scripted engine behind a probe function: it accepts the
// colours it is told to.
type engine struct {
	mu     sync.Mutex
	accept map[cache.Strategy]bool // guarded by mu
	calls  int                     // guarded by mu
}

func newEngine(accept ...cache.Strategy) *engine {
	e := &engine{}
	e.set(accept...)
	return e
}

// set makes the engine accept exactly the given colours.
func (e *engine) set(accept ...cache.Strategy) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.accept = map[cache.Strategy]bool{}
	for _, s := range accept {
		e.accept[s] = true
	}
}

func (e *engine) probe(_ context.Context, s cache.Strategy) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls++
	if !e.accept[s] {
		return fmt.Errorf("status 456 for %s: %w", s, coordinator.ErrWrongStrategy)
	}
	return nil
}

func (e *engine) total() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls
}

// env is a memory store, a fake clock and a scripted engine shared by the
// coordinators of one test.
type env struct {
	t     *testing.T
	clock *cachetest.Clock
	store *memory.Store
	eng   *engine
}

func newEnv(t *testing.T, accept ...cache.Strategy) *env {
	t.Helper()
	clk := cachetest.NewClock(t0)
	st := memory.New(memory.Options{Now: clk.Now})
	t.Cleanup(func() { st.Close() })
	return &env{t: t, clock: clk, store: st, eng: newEngine(accept...)}
}

// coordOn returns a coordinator on st with the env's engine and clock, and
// the timed background work off.
func (e *env) coordOn(st cache.Store) *coordinator.Coordinator {
	e.t.Helper()
	c, err := coordinator.New(st, e.eng.probe, coordinator.Config{
		Scope:           scope,
		Now:             e.clock.Now,
		RefreshInterval: -1,
		PinTTL:          30 * time.Second,
	})
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// resolve calls Resolve and fails the test unless it returns want.
func resolve(t *testing.T, c *coordinator.Coordinator, want cache.Strategy) {
	t.Helper()
	got, err := c.Resolve(ctxT(t))
	if err != nil || got != want {
		t.Fatalf("Resolve() = %v, %v; want %v, nil", got, err, want)
	}
}

// waitFor waits until cond holds for c's record, or fails the test.
func waitFor(t *testing.T, c *coordinator.Coordinator, what string, cond func(cache.State) bool) {
	t.Helper()
	if st, err := coordinatortest.WaitFor(ctxT(t), c, cond); err != nil {
		t.Fatalf("waiting for %s: %v (record %s)", what, err, st)
	}
}

// eventually waits until cond holds, checking every millisecond, or fails
// the test; for conditions that no channel announces.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("waiting for %s: timed out", what)
		case <-tick.C:
		}
	}
}

// register returns a pedantic registry (it checks every collected series
// against the descriptors) with col registered on it.
func register(t *testing.T, col prometheus.Collector) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(col); err != nil {
		t.Fatalf("Register: %v", err)
	}
	return reg
}

// scrape is the parse of one scrape, by metric family name.
type scrape map[string]*dto.MetricFamily

// scrapeOf scrapes reg through promhttp in the text format and parses the
// answer with Prometheus' text parser.
func scrapeOf(t *testing.T, reg prometheus.Gatherer) scrape {
	t.Helper()
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: status %d: %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse the scrape: %v", err)
	}
	return fams
}

// series returns the series of family name whose labels are exactly
// labels (name, value pairs), or fails the test.
func (s scrape) series(t *testing.T, name string, labels ...string) *dto.Metric {
	t.Helper()
	fam, ok := s[name]
	if !ok {
		t.Fatalf("no metric family %s", name)
	}
	want := labelString(labels...)
	var have []string
	for _, m := range fam.GetMetric() {
		var got []string
		for _, lp := range m.GetLabel() {
			got = append(got, lp.GetName(), lp.GetValue())
		}
		if ls := labelString(got...); ls == want {
			return m
		} else {
			have = append(have, ls)
		}
	}
	t.Fatalf("no series %s{%s}; have %v", name, want, have)
	return nil
}

// value returns the value of a counter or gauge series, or fails the test.
func (s scrape) value(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	m := s.series(t, name, labels...)
	switch s[name].GetType() {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	}
	t.Fatalf("%s is a %v, not a counter or gauge", name, s[name].GetType())
	return 0
}

// want fails the test unless series name{labels} has value v.
func (s scrape) want(t *testing.T, v float64, name string, labels ...string) {
	t.Helper()
	if got := s.value(t, name, labels...); got != v {
		t.Errorf("%s{%s} = %v, want %v", name, labelString(labels...), got, v)
	}
}

// histogram returns a histogram series, or fails the test.
func (s scrape) histogram(t *testing.T, name string, labels ...string) *dto.Histogram {
	t.Helper()
	m := s.series(t, name, labels...)
	if typ := s[name].GetType(); typ != dto.MetricType_HISTOGRAM {
		t.Fatalf("%s is a %v, not a histogram", name, typ)
	}
	return m.GetHistogram()
}

// bucket returns the cumulative count of h's bucket with upper bound le.
func bucket(t *testing.T, h *dto.Histogram, le float64) uint64 {
	t.Helper()
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() == le {
			return b.GetCumulativeCount()
		}
	}
	t.Fatalf("no bucket le=%v", le)
	return 0
}

// labelString formats name, value pairs sorted by name: a="x",b="y".
func labelString(pairs ...string) string {
	var out []string
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, fmt.Sprintf("%s=%q", pairs[i], pairs[i+1]))
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// shape returns, per family, its type and the label sets of its series.
func (s scrape) shape() map[string][]string {
	out := map[string][]string{}
	for name, fam := range s {
		var sets []string
		for _, m := range fam.GetMetric() {
			var pairs []string
			for _, lp := range m.GetLabel() {
				pairs = append(pairs, lp.GetName(), lp.GetValue())
			}
			sets = append(sets, labelString(pairs...))
		}
		slices.Sort(sets)
		out[name] = append([]string{fam.GetType().String()}, sets...)
	}
	return out
}

// instrumented returns the env's memory store wrapped by InstrumentStore.
func (e *env) instrumented() (cache.Store, *metrics.StoreMetrics) {
	return metrics.InstrumentStore(e.store)
}

// goAndProcess returns the Go and process collectors a program registers.
func goAndProcess() []prometheus.Collector {
	return []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
}
