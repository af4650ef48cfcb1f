package bench

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/e6coord/e6coord/internal/fleet"
)

// lags pairs, per switch and per process but the committer, the commit,
// the bare arrival and the adoption; a negative sample stays negative.
func TestLags(t *testing.T) {
	f := &benchFleet{reports: []fleet.Report{
		{Event: "floor", PID: 1, Generation: 7, SeenAtNs: 1_200},
		{Event: "floor", PID: 2, Generation: 7, SeenAtNs: 1_500},
		{Event: "floor", PID: 3, Generation: 7, SeenAtNs: 1_100},
		{Event: "change", PID: 1, Generation: 7, Old: "blue", Active: "green", Committed: true, CommitNs: 1_000, SeenAtNs: 1_900},
		{Event: "change", PID: 2, Generation: 7, Old: "blue", Active: "green", SeenAtNs: 1_400}, // adopted before its bare arrival
		{Event: "change", PID: 3, Generation: 7, Old: "blue", Active: "green", SeenAtNs: 1_130},
		{Event: "floor", PID: 3, Generation: 7, SeenAtNs: 9_999}, // a second delivery does not count
		// A generation nobody in the fleet committed gives no sample.
		{Event: "floor", PID: 2, Generation: 8, SeenAtNs: 5_000},
		{Event: "change", PID: 2, Generation: 8, Old: "green", Active: "blue", SeenAtNs: 5_100},
	}}
	floor, overhead, changes := f.lags()
	if changes != 1 {
		t.Errorf("lags() counted %d changes, want 1", changes)
	}
	type pair struct{ floor, overhead time.Duration }
	var got []pair
	for i := range floor {
		got = append(got, pair{floor[i], overhead[i]})
	}
	slices.SortFunc(got, func(a, b pair) int { return int(a.floor - b.floor) })
	want := []pair{{100, 30}, {500, -100}}
	if !slices.Equal(got, want) {
		t.Errorf("lags() = %v, want %v", got, want)
	}
}

func TestMeanCI95(t *testing.T) {
	mean, ci := meanCI95([]float64{1, 2, 3, 4, 5})
	// sd 1.5811, se 0.7071, t(4) 2.776: half 1.9629.
	if mean != 3 || math.Abs(ci[0]-1.0371) > 1e-3 || math.Abs(ci[1]-4.9629) > 1e-3 {
		t.Errorf("meanCI95 = %v, %v; want 3, [1.0371 4.9629]", mean, ci)
	}
	if mean, ci := meanCI95([]float64{0.5}); mean != 0.5 || ci != [2]float64{0.5, 0.5} {
		t.Errorf("meanCI95 of one = %v, %v", mean, ci)
	}
	if t975(1) != 12.706 || t975(30) != 2.042 || t975(35) != 2.042 || t975(1000) != 1.980 {
		t.Errorf("t975: %v %v %v %v", t975(1), t975(30), t975(35), t975(1000))
	}
}

// Check names each bound missed by its flag, and no other.
func TestBoundsCheck(t *testing.T) {
	good := Result{Processes: 3, Switches: 2, Samples: 4, FloorP99Ms: 2, OverheadP99Ms: 1.5,
		ProbesPerSwitch: 1, RedisCmdsPerQuery: 0.5, RedisConnsMax: 2, CallOverheadAllocs: 2,
		QPSRatio: 1, QPSRatioCI95: [2]float64{0.98, 1.02}, BareRatio: 0.9, BareRatioCI: [2]float64{0.8, 1}, Windows: 24}
	if got := DefaultBounds.Check(good); len(got) != 0 {
		t.Errorf("Check(good) = %q, want nothing", got)
	}
	bad := good
	bad.OverheadP99Ms, bad.Mixed, bad.Failed, bad.QPSRatioCI95[0], bad.Samples = 2.5, 1, 3, 0.96, 3
	got := strings.Join(DefaultBounds.Check(bad), "\n")
	for _, want := range []string{"--max-overhead-ratio: ", "--max-mixed: ", "--max-failed: ", "--min-qps-ratio: ", "samples: 3 switch samples of the 4"} {
		if !strings.Contains(got, want) {
			t.Errorf("Check(bad) = %q, lacks %q", got, want)
		}
	}
	if n := strings.Count(got, "\n") + 1; n != 5 {
		t.Errorf("Check(bad) = %q: %d lines, want 5", got, n)
	}
	// A worker's fault that is no failed query (a generation that went
	// down) fails the run too.
	faulty := good
	faulty.FailedReports = 1
	if got := DefaultBounds.Check(faulty); len(got) != 1 || !strings.HasPrefix(got[0], "--max-failed: 1 failed reports") {
		t.Errorf("Check with a failed report and no failed query = %q", got)
	}
	// The throughput bound fails on an interval it cannot judge: one that
	// is not a number, one of a single cycle, or one that left out cycles
	// whose windows finished no query.
	nan := good
	nan.QPSRatioCI95 = [2]float64{math.NaN(), math.NaN()}
	one := good
	one.Windows = 1
	empty := good
	empty.EmptyWindows = 1
	for name, r := range map[string]Result{"NaN": nan, "one cycle": one, "an empty window": empty} {
		if got := DefaultBounds.Check(r); len(got) != 1 || !strings.HasPrefix(got[0], "--min-qps-ratio: ") {
			t.Errorf("Check with %s = %q, want the throughput bound missed", name, got)
		}
	}
	b := DefaultBounds
	b.MaxOverheadP99 = time.Microsecond
	if got := b.Check(good); len(got) != 1 || !strings.HasPrefix(got[0], "--max-overhead-p99: ") {
		t.Errorf("Check with a 1µs overhead bound = %q", got)
	}
}

// The ratio of a run is the geometric mean of its cycles' ratios: a cycle
// at 2 and one at 1/2 make 1, not 1.25.
func TestRatioCI95(t *testing.T) {
	r, ci := ratioCI95([]float64{2, 0.5})
	if r != 1 || !(ci[0] < 1 && ci[1] > 1) {
		t.Errorf("ratioCI95(2, 0.5) = %v %v, want 1 inside its interval", r, ci)
	}
	if r, ci := ratioCI95([]float64{0.9}); r != 0.9 || ci != [2]float64{0.9, 0.9} {
		t.Errorf("ratioCI95(0.9) = %v %v", r, ci)
	}
}
