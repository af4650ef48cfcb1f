package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/e6coord/e6coord/internal/redistest"
)

// benchResult is the JSON line of `e6coord bench --json`.
type benchResult struct {
	Processes, Switches, Samples, Windows int
	Changes                               int
	Workers                               int
	FloorP50Ms                            float64   `json:"floor_p50_ms"`
	FloorP99Ms                            float64   `json:"floor_p99_ms"`
	FloorMaxMs                            float64   `json:"floor_max_ms"`
	OverheadP50Ms                         float64   `json:"overhead_p50_ms"`
	OverheadP99Ms                         float64   `json:"overhead_p99_ms"`
	OverheadMaxMs                         float64   `json:"overhead_max_ms"`
	NegativeSamples                       *int      `json:"negative_samples"`
	NegativeFloor                         int       `json:"negative_floor"`
	NegativeOverhead                      int       `json:"negative_overhead"`
	ProbesPerSwitch                       float64   `json:"probes_per_switch"`
	Rejections                            float64   `json:"rejections_per_process_switch"`
	RedisCmdsPerQuery                     float64   `json:"redis_cmds_per_query"`
	RedisConnsMax                         int       `json:"redis_conns_max"`
	CallOverheadAllocs                    int       `json:"call_overhead_allocs"`
	QPS                                   float64   `json:"qps"`
	QPSMemory                             float64   `json:"qps_memory"`
	QPSBare                               float64   `json:"qps_bare"`
	QPSRatio                              *float64  `json:"qps_ratio"`
	QPSRatioCI95                          []float64 `json:"qps_ratio_ci95"`
	BareRatio                             *float64  `json:"bare_ratio"`
	BareRatioCI95                         []float64 `json:"bare_ratio_ci95"`
	Mixed                                 *int      `json:"mixed"`
	Failed                                *int      `json:"failed"`
}

// runSmallBench runs a bench of 2 processes through 3 switches and 2
// windows of each throughput mode, with extra flags, and returns its
// result, its output and its error.
func runSmallBench(t *testing.T, extra ...string) (res benchResult, stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	args := append([]string{"bench", "--processes", "2", "--workers", "4", "--switches", "3",
		"--windows", "2", "--window", "300ms", "--json"}, extra...)
	err = run(context.Background(), args, &out, &errOut)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &res); jerr != nil {
		t.Fatalf("bench: %v; last line %q is not JSON: %v\n%s", err, lines[len(lines)-1], jerr, errOut.String())
	}
	t.Logf("%s%s", out.String(), errOut.String())
	return res, out.String(), errOut.String(), err
}

// TestBenchJSON runs a small bench on a redis-server of its own: its last
// line holds the figures the issue names, in the relations they must
// hold. The bounds on speed are loosened, since a busy CI machine decides
// those; the rest are the defaults.
func TestBenchJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("a fleet of processes")
	}
	redistest.Require(t)
	res, out, errOut, err := runSmallBench(t, "--max-overhead-ratio", "1e9", "--min-qps-ratio", "-1e9")
	if err != nil {
		t.Fatalf("bench: %v\n%s\n%s", err, out, errOut)
	}
	if res.Processes != 2 || res.Switches != 3 || res.Windows != 2 {
		t.Errorf("processes %d, switches %d, windows %d; want 2, 3, 2", res.Processes, res.Switches, res.Windows)
	}
	if res.Mixed == nil || *res.Mixed != 0 || res.Failed == nil || *res.Failed != 0 {
		t.Errorf("mixed %v, failed %v; want both present and 0", res.Mixed, res.Failed)
	}
	// One sample per change of the colour (at least one per switch) and
	// per process but the change's committer.
	if want := (res.Processes - 1) * res.Changes; res.Samples != want || res.Changes < res.Switches {
		t.Errorf("samples %d, changes %d, switches %d; want (processes-1)×changes = %d samples, changes ≥ switches",
			res.Samples, res.Changes, res.Switches, want)
	}
	if res.NegativeSamples == nil || *res.NegativeSamples != res.NegativeFloor+res.NegativeOverhead ||
		res.NegativeFloor > res.Samples || res.NegativeOverhead > res.Samples {
		t.Errorf("negative samples %v (floor %d, overhead %d) of %d samples: want floor + overhead, each at most the samples",
			res.NegativeSamples, res.NegativeFloor, res.NegativeOverhead, res.Samples)
	}
	if !(res.FloorP50Ms <= res.FloorP99Ms && res.FloorP99Ms <= res.FloorMaxMs) ||
		!(res.OverheadP50Ms <= res.OverheadP99Ms && res.OverheadP99Ms <= res.OverheadMaxMs) {
		t.Errorf("floor p50 %v, p99 %v, max %v; overhead p50 %v, p99 %v, max %v: want each in order",
			res.FloorP50Ms, res.FloorP99Ms, res.FloorMaxMs, res.OverheadP50Ms, res.OverheadP99Ms, res.OverheadMaxMs)
	}
	if res.NegativeFloor == 0 && res.FloorP50Ms <= 0 {
		t.Errorf("floor p50 %v with no negative floor sample: not measured", res.FloorP50Ms)
	}
	for name, r := range map[string]struct {
		ratio *float64
		ci    []float64
	}{"qps_ratio": {res.QPSRatio, res.QPSRatioCI95}, "bare_ratio": {res.BareRatio, res.BareRatioCI95}} {
		if r.ratio == nil {
			t.Errorf("the JSON lacks %s", name)
		} else if len(r.ci) != 2 || !(r.ci[0] <= *r.ratio && *r.ratio <= r.ci[1]) || *r.ratio <= 0 {
			t.Errorf("%s %v, ci95 %v: want a positive ratio within two bounds", name, *r.ratio, r.ci)
		}
	}
	if res.QPS <= 0 || res.QPSMemory <= 0 || res.QPSBare <= 0 {
		t.Errorf("qps %v, in-memory %v, bare %v: a mode ran no query", res.QPS, res.QPSMemory, res.QPSBare)
	}
	// The default bounds held, or the run would have failed.
	if res.ProbesPerSwitch < 1 || res.ProbesPerSwitch > 1.1 || res.Rejections > 1 ||
		res.RedisCmdsPerQuery <= 0 || res.RedisCmdsPerQuery > 2 || res.RedisConnsMax < 1 || res.RedisConnsMax > 2 || res.CallOverheadAllocs > 5 {
		t.Errorf("probes per switch %v, 456s per process per switch %v, redis commands per query %v, connections %d, allocs %d: outside the default bounds",
			res.ProbesPerSwitch, res.Rejections, res.RedisCmdsPerQuery, res.RedisConnsMax, res.CallOverheadAllocs)
	}
}

// A bound out of reach fails the run, and the failure names it; the
// bounds met are not named.
func TestBenchBoundMissed(t *testing.T) {
	if testing.Short() {
		t.Skip("a fleet of processes")
	}
	redistest.Require(t)
	res, out, errOut, err := runSmallBench(t, "--max-redis-conns", "0", "--min-qps-ratio", "1000",
		"--max-overhead-ratio", "1e9", "--max-overhead-p99", "1h")
	if !errors.Is(err, errFailed) {
		t.Fatalf("bench = %v, want errFailed\n%s\n%s", err, out, errOut)
	}
	for _, want := range []string{"bench: bound missed: --max-redis-conns: ", "bench: bound missed: --min-qps-ratio: "} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if n := strings.Count(errOut, "bound missed"); n != 2 || res.RedisConnsMax < 1 {
		t.Errorf("%d bounds named, connections %d; want the 2 out of reach and at least 1 connection:\n%s", n, res.RedisConnsMax, errOut)
	}
}
