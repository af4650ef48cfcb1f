package bench

import (
	"fmt"
	"time"
)

// Bounds are what a run must meet; `e6coord bench` exits non-zero naming
// each bound its result misses. A zero MaxOverheadP99 or MinBareRatioLow
// checks nothing.
type Bounds struct {
	// MaxOverheadRatio bounds the overhead's p99 by this multiple of the
	// floor's p99: at 1, a switch reaches every process within twice the
	// bare hop.
	MaxOverheadRatio float64
	MaxOverheadP99   time.Duration // bounds the overhead's p99 outright
	MaxProbes        float64       // engine probes per switch
	MaxRejections    float64       // 456s per process per switch
	MaxMixed         int           // queries whose calls carried two colours
	MaxFailed        int64         // failed queries
	MaxRedisCmds     float64       // Redis commands per query
	MaxRedisConns    int           // Redis connections of any process
	MaxCallAllocs    int64         // allocations the interceptor adds to a call
	MinQPSRatioLow   float64       // the low end of qps_ratio's 95 % confidence interval
	MinBareRatioLow  float64       // the low end of bare_ratio's 95 % confidence interval
}

// DefaultBounds are the bounds README.md states.
var DefaultBounds = Bounds{
	MaxOverheadRatio: 1,
	MaxProbes:        1.1,
	MaxRejections:    1,
	MaxMixed:         0,
	MaxFailed:        0,
	MaxRedisCmds:     2,
	MaxRedisConns:    2,
	MaxCallAllocs:    5,
	MinQPSRatioLow:   0.97,
}

// Check returns a line for each bound r misses, naming its flag of
// `e6coord bench`, and one if r lacks switch samples (fewer than one per
// switch and process but its committer); none if all is well.
func (b Bounds) Check(r Result) []string {
	var failed []string
	fail := func(flag, format string, args ...any) {
		failed = append(failed, "--"+flag+": "+fmt.Sprintf(format, args...))
	}
	if want := (r.Processes - 1) * r.Switches; r.Samples < want {
		failed = append(failed, fmt.Sprintf("samples: %d switch samples of the %d the processes and switches make", r.Samples, want))
	}
	if r.OverheadP99Ms > b.MaxOverheadRatio*r.FloorP99Ms {
		fail("max-overhead-ratio", "overhead p99 %.3f ms > %g × floor p99 %.3f ms", r.OverheadP99Ms, b.MaxOverheadRatio, r.FloorP99Ms)
	}
	if b.MaxOverheadP99 > 0 && r.OverheadP99Ms > ms(b.MaxOverheadP99) {
		fail("max-overhead-p99", "overhead p99 %.3f ms > %v", r.OverheadP99Ms, b.MaxOverheadP99)
	}
	if r.ProbesPerSwitch > b.MaxProbes {
		fail("max-probes", "%.3f engine probes per switch > %g", r.ProbesPerSwitch, b.MaxProbes)
	}
	if r.RejectionsPerProcessSwitch > b.MaxRejections {
		fail("max-rejections", "%.3f 456s per process per switch > %g", r.RejectionsPerProcessSwitch, b.MaxRejections)
	}
	if r.Mixed > b.MaxMixed {
		fail("max-mixed", "%d queries carried two colours > %d", r.Mixed, b.MaxMixed)
	}
	if r.Failed > b.MaxFailed {
		fail("max-failed", "%d queries failed > %d", r.Failed, b.MaxFailed)
	}
	if int64(r.FailedReports) > b.MaxFailed && r.FailedReports > int(r.Failed) {
		fail("max-failed", "%d failed reports from the workers (failed queries and other faults, such as a generation that went down) > %d",
			r.FailedReports, b.MaxFailed)
	}
	if r.RedisCmdsPerQuery > b.MaxRedisCmds {
		fail("max-redis-cmds", "%.3f Redis commands per query > %g", r.RedisCmdsPerQuery, b.MaxRedisCmds)
	}
	if r.RedisConnsMax > b.MaxRedisConns {
		fail("max-redis-conns", "a process had %d Redis connections > %d", r.RedisConnsMax, b.MaxRedisConns)
	}
	if r.CallOverheadAllocs > b.MaxCallAllocs {
		fail("max-call-allocs", "the interceptor adds %d allocations to a call > %d", r.CallOverheadAllocs, b.MaxCallAllocs)
	}
	switch {
	case r.EmptyWindows > 0:
		fail("min-qps-ratio", "in %d cycles a mode finished no query in its window", r.EmptyWindows)
	case r.Windows < 2:
		fail("min-qps-ratio", "%d cycles of windows: an interval needs two at least", r.Windows)
	case !(r.QPSRatioCI95[0] >= b.MinQPSRatioLow): // NaN fails too
		fail("min-qps-ratio", "qps_ratio %.4f, its 95%% confidence interval %.4f to %.4f reaches below %g",
			r.QPSRatio, r.QPSRatioCI95[0], r.QPSRatioCI95[1], b.MinQPSRatioLow)
	}
	if b.MinBareRatioLow > 0 && !(r.BareRatioCI[0] >= b.MinBareRatioLow) {
		fail("min-bare-ratio", "bare_ratio %.4f, its 95%% confidence interval %.4f to %.4f reaches below %g",
			r.BareRatio, r.BareRatioCI[0], r.BareRatioCI[1], b.MinBareRatioLow)
	}
	return failed
}
