package daemon_test

import (
	"context"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/coordinator/coordinatortest"
	"github.com/e6coord/e6coord/internal/daemon"
	"github.com/e6coord/e6coord/internal/redistest"
)

// scrape GETs /metrics over HTTP, in the text format, and parses it with
// Prometheus' own parser.
func (w *watcher) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, w.base+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// documentedSeries returns the names of the metrics package's doc table.
func documentedSeries(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile("../../metrics/doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^//\s+\| (e6coord_[a-z_]+) \|`).FindAllSubmatch(doc, -1) {
		names = append(names, string(m[1]))
	}
	if len(names) < 20 {
		t.Fatalf("found %d series in metrics/doc.go's table: %q", len(names), names)
	}
	return names
}

// value returns the value of the series of fam whose labels include
// labels (name, value pairs); ok is false when there is none.
func value(fam *dto.MetricFamily, labels ...string) (v float64, ok bool) {
	for _, m := range fam.GetMetric() {
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if !slices.ContainsFunc(m.GetLabel(), func(lp *dto.LabelPair) bool {
				return lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
			}) {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// /metrics parses with Prometheus' text parser and carries every series
// of the metrics package's doc, with the Go runtime's and the process's:
// the colour, the fleet's pins counted in Redis, the store's calls timed,
// and the heartbeat heard back through the subscription.
func TestMetrics(t *testing.T) {
	redistest.Require(t)
	r := redistest.Start(t)
	srv := newEngine(t)
	w := startDaemon(t, srv.Addr(), r.URL(), func(cfg *daemon.Config) { cfg.Version = "v0.0.0-test" })
	w.waitCode(t, "/readyz", http.StatusOK, 10*time.Second)

	// A worker of the fleet holds a query open.
	conn, err := client.Open(client.Config{
		Addr: srv.Addr(), User: user, Password: password,
		Catalog: enginetest.Catalog, Schema: enginetest.Schema, RedisURL: r.URL(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.Query(context.Background(), "SELECT * FROM demo.numbers")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	// In steady state the worker writes its pin with the renewal; the
	// scrape below reads the store's count, so write it now.
	if err := coordinatortest.Sync(context.Background(), conn.Coordinator()); err != nil {
		t.Fatal(err)
	}
	// Two confirmations by the daemon since the query began, and a record
	// heard on the subscription since then. The wait allows a hundred
	// intervals, which only catches a heartbeat that stops.
	since := time.Now()
	waitUntil(t, "two confirmations, and one heard", 100*interval, func() bool {
		return w.Coordinator().Snapshot().ConfirmedAt.After(since.Add(interval)) &&
			!w.Coordinator().Stats().LastMessage.Before(since)
	})

	fams := w.scrape(t)
	for _, name := range documentedSeries(t) {
		if _, ok := fams[name]; !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total",
		"process_resident_memory_bytes", "process_start_time_seconds"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	for _, tt := range []struct {
		name   string
		labels []string
		ok     func(float64) bool
		want   string
	}{
		{"e6coord_build_info", []string{"version", "v0.0.0-test"}, eq(1), "1"},
		{"e6coord_active_colour", []string{"colour", "blue"}, eq(1), "1"},
		{"e6coord_active_colour", []string{"colour", "green"}, eq(0), "0"},
		{"e6coord_colour_trusted", nil, eq(1), "1"},
		{"e6coord_store_up", nil, eq(1), "1"},
		{"e6coord_store_state", []string{"state", "up"}, eq(1), "1"},
		{"e6coord_pins_in_flight", []string{"colour", "blue"}, eq(1), "1, the worker's query"},
		{"e6coord_refreshes_total", nil, atLeast(1), "at least 1"},
		{"e6coord_probes_total", nil, atLeast(2), "at least 2"},
		{"e6coord_store_command_duration_seconds", []string{"op", "swap"}, atLeast(2), "at least 2 observations"},
		{"e6coord_last_message_timestamp_seconds", nil, func(v float64) bool {
			// The collector's own conversion, which keeps the order of times.
			return v >= float64(since.UnixNano())/1e9 && v <= float64(time.Now().UnixNano())/1e9
		}, "a time since the query began: the heartbeat"},
	} {
		fam, ok := fams[tt.name]
		if !ok {
			continue // reported above
		}
		if v, ok := value(fam, tt.labels...); !ok || !tt.ok(v) {
			t.Errorf("%s%q = %v (found %v), want %s", tt.name, tt.labels, v, ok, tt.want)
		}
	}
}

func eq(want float64) func(float64) bool      { return func(v float64) bool { return v == want } }
func atLeast(want float64) func(float64) bool { return func(v float64) bool { return v >= want } }
