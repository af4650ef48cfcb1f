package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/e6coord/e6coord/internal/redistest"
)

// TestBenchJSON runs a small bench on a redis-server of its own: its last
// line is the JSON object of every field the issue names, with the fleet's
// figures within their bounds.
func TestBenchJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("a fleet of processes")
	}
	redistest.Require(t)
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"bench", "--processes", "2", "--workers", "4", "--switches", "3",
		"--windows", "1", "--window", "500ms", "--json"}, &out, &errOut)
	if err != nil {
		t.Fatalf("bench: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var res map[string]float64
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("last line %q is not JSON: %v", lines[len(lines)-1], err)
	}
	t.Logf("%s", out.String())
	for _, k := range []string{"processes", "switches", "converge_p50_ms", "converge_p99_ms", "floor_p99_ms",
		"probes_per_switch", "rejections_per_process_switch", "redis_cmds_per_query", "redis_conns_per_process",
		"call_overhead_ns", "call_overhead_allocs", "qps_ratio", "failed"} {
		if _, ok := res[k]; !ok {
			t.Errorf("the JSON lacks %q: %s", k, lines[len(lines)-1])
		}
	}
	if res["processes"] != 2 || res["switches"] != 3 || res["failed"] != 0 {
		t.Errorf("processes %v, switches %v, failed %v; want 2, 3, 0", res["processes"], res["switches"], res["failed"])
	}
	if res["redis_conns_per_process"] < 1 || res["redis_conns_per_process"] > 2 {
		t.Errorf("redis_conns_per_process %v, want 1 to 2", res["redis_conns_per_process"])
	}
	if res["redis_cmds_per_query"] <= 0 || res["redis_cmds_per_query"] > 2 {
		t.Errorf("redis_cmds_per_query %v, want above 0 and at most 2", res["redis_cmds_per_query"])
	}
	if res["call_overhead_allocs"] > 5 {
		t.Errorf("call_overhead_allocs %v, want at most 5", res["call_overhead_allocs"])
	}
	if res["qps_ratio"] <= 0 || res["probes_per_switch"] <= 0 {
		t.Errorf("qps_ratio %v, probes_per_switch %v: not measured", res["qps_ratio"], res["probes_per_switch"])
	}
}
