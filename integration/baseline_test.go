package integration

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/redistest"
)

// switchSchedule drives the engine's switches on its own, independent of the
// fleet: n switches, each begun a period after the previous one ended,
// the periods drawn from [lo, hi) with the seed the test logs. An
// Overlap switch accepts both colours for overlap at least, and until the
// engine's queries on the old colour are done (waitDrained), as an engine
// that drains the old colour before it stops serving it; a SwitchOnClear
// switch happens at the next clear.
type switchSchedule struct {
	done      chan struct{} // closed after the last switch, or on stop
	stop      chan struct{}
	lastBegin time.Time // written before done closes
	made      int       // switches made; written before done closes
}

func driveSwitches(t *testing.T, srv *enginetest.Server, mode enginetest.SwitchMode, n int, lo, hi, overlap time.Duration) *switchSchedule {
	t.Helper()
	seed := rand.Uint64()
	t.Logf("switch schedule seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	s := &switchSchedule{done: make(chan struct{}), stop: make(chan struct{})}
	wait := func(d time.Duration) bool {
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
			return true
		case <-s.stop:
			return false
		}
	}
	go func() {
		defer close(s.done)
		for range n {
			period := lo + time.Duration(rng.Int64N(int64(hi-lo)))
			if !wait(period) {
				return
			}
			to := srv.State().Active.Other()
			s.lastBegin = time.Now()
			if err := srv.BeginSwitch(to); err != nil {
				t.Error(err)
				return
			}
			switch mode {
			case enginetest.Overlap:
				if !wait(overlap) {
					return
				}
				from := strategy(to.Other())
				if !waitDrained(from, clockOf(srv).drained, s.stop) {
					_, running := clockOf(srv).drained(from)
					t.Errorf("the engine's queries on %s did not drain within %v: %s", from, drainTimeout, running)
					return
				}
				srv.FinishSwitch()
			case enginetest.SwitchOnClear:
				// The next clear switches; a fleet under load clears
				// many times a second. Poll the state until it has.
				for srv.State().Active != to {
					if !wait(10 * time.Millisecond) {
						return
					}
				}
			}
			s.made++
		}
	}()
	t.Cleanup(func() { // before the engine closes
		close(s.stop)
		<-s.done
	})
	return s
}

// finished reports whether the schedule is done; for observer conditions.
func (s *switchSchedule) finished() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// TestBaseline: 16 worker processes of 2 workers loop a short query
// through 30 switches of the engine, in each switch mode, sharing the
// state through one Redis:
// the invariants hold (checkFleet), every process adopts every switch, and
// the fleet converges after the last one (the time it takes is reported
// against a budget of 2 s).
func TestBaseline(t *testing.T) {
	if testing.Short() {
		t.Skip("fleets of processes")
	}
	redistest.Require(t)
	for _, mode := range []enginetest.SwitchMode{enginetest.Overlap, enginetest.SwitchOnClear} {
		t.Run("backend=redis/mode="+mode.String(), func(t *testing.T) {
			const (
				n        = 16
				switches = 30
				converge = 2 * time.Second
			)
			r := redistest.Start(t)
			var tl timeline
			srv := newEngine(t, mode, 0, tl.track(cache.Blue))
			procs := startWorkers(t, n, spec{
				Engine: srv.Addr(), RedisURL: r.URL(), Workers: 2, Policy: "eager",
				StatusEvery: 50 * time.Millisecond, Query: "SELECT * FROM demo.numbers LIMIT 10",
			})
			obs := observe(procs)
			pids := procs.PIDs()
			obs.waitUntil(t, "workers ready", 60*time.Second, func() bool { return len(obs.ready) == n })

			start := time.Now()
			// An in-flight query keeps its colour, so an overlap lasts
			// until the queries under way on the old colour are done, for
			// a switch to cost no rejection.
			sched := driveSwitches(t, srv, mode, switches, 300*time.Millisecond, 600*time.Millisecond, time.Second)
			obs.waitUntil(t, "the engine's last switch", 60*time.Second, sched.finished)
			if sched.made != switches {
				t.Fatalf("invalid scenario: the engine made %d of %d switches", sched.made, switches)
			}
			final := strategy(srv.State().Active)
			at := convergedOn(t, obs, pids, sched.lastBegin, final, 0, hangAfter(converge))
			t.Logf("every process on %s %v after the last switch began (budget %v)", final, at.Sub(sched.lastBegin), converge)

			procs.Stop()
			obs.waitUntil(t, "every summary", 30*time.Second, func() bool { return len(obs.summaries) == n })
			sum := checkFleet(t, obs, srv, &tl)
			obs.mu.Lock()
			seen := obs.switchesSince(start)
			perProcess := map[int]int{}
			for _, c := range obs.changes {
				if c.Old != "" {
					perProcess[c.PID]++
				}
			}
			obs.mu.Unlock()
			if sum.Queries < int64(n*switches) {
				t.Fatalf("invalid scenario: %d queries through %d switches, want at least one per process per switch",
					sum.Queries, switches)
			}
			for _, pid := range pids {
				if perProcess[pid] < switches {
					t.Errorf("pid %d adopted %d switches of %d", pid, perProcess[pid], switches)
				}
			}
			t.Logf("queries %d, engine switches %d, fleet generations %d, probes %d (%.2f per switch), replays %d, 456s %d (%.3f per process per switch), store errors %d",
				sum.Queries, srv.State().Switches, seen, sum.Probes, float64(sum.Probes)/switches, sum.Replays,
				sum.WrongStrategy, float64(sum.WrongStrategy)/float64(n*switches), sum.StoreErrors)
			logFigures(t, figures{"converge_ms": ms(at.Sub(sched.lastBegin)), "converge_budget_ms": ms(converge),
				"queries": sum.Queries, "probes_per_switch": float64(sum.Probes) / switches,
				"wrong_strategy_per_process_switch": float64(sum.WrongStrategy) / float64(n*switches)})
		})
	}
}
