package integration

import (
	"sync"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/fleet"
)

// timeline records the fake engine's colour states as they change, with
// the time each was recorded (just after the change).
type timeline struct {
	mu     sync.Mutex
	states []stamped
}

type stamped struct {
	at time.Time
	st enginetest.State
}

// track makes the engine record its changes on tl; pass it to newEngine.
func (tl *timeline) track(start cache.Strategy) func(*enginetest.Options) {
	tl.states = []stamped{{at: time.Now(), st: enginetest.State{Active: start}}}
	return func(o *enginetest.Options) {
		o.Start = start
		o.OnChange = func(st enginetest.State) {
			tl.mu.Lock()
			defer tl.mu.Unlock()
			tl.states = append(tl.states, stamped{time.Now(), st})
		}
	}
}

// acceptedNear reports whether the engine accepted colour c in a state in
// effect at some time within slack of at. The slack covers the gap between
// a change of the engine and its being recorded.
func (tl *timeline) acceptedNear(c cache.Strategy, at time.Time, slack time.Duration) bool {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	from, to := at.Add(-slack), at.Add(slack)
	for i, s := range tl.states {
		end := time.Now().Add(time.Hour)
		if i+1 < len(tl.states) {
			end = tl.states[i+1].at
		}
		if s.at.Before(to) && end.After(from) && s.st.Accepts(c) {
			return true
		}
	}
	return false
}

// flipBackSlack is how far apart a process's adoption of a colour and a
// change of the engine may be recorded and still count as simultaneous.
const flipBackSlack = 100 * time.Millisecond

// checkFleet fails the test for a process that adopted a colour the engine
// did not serve then (a flip-back), for a process whose generations went
// backwards in its change or status reports, and for queries that carried
// two colours; with obs.check, for failed queries. It returns the summed
// stats.
func checkFleet(t *testing.T, obs *observer, srv *enginetest.Server, tl *timeline) fleet.Stats {
	t.Helper()
	sum := obs.check(t)
	obs.mu.Lock()
	defer obs.mu.Unlock()
	lastChange := map[int]uint64{}
	flipBacks := 0
	for _, c := range obs.changes {
		if c.Generation <= lastChange[c.PID] {
			t.Errorf("pid %d: change to generation %d after %d", c.PID, c.Generation, lastChange[c.PID])
		}
		lastChange[c.PID] = c.Generation
		colour, err := cache.ParseStrategy(c.Active)
		if err != nil {
			t.Errorf("pid %d: change to %q: %v", c.PID, c.Active, err)
			continue
		}
		if at := time.Unix(0, c.SeenAtNs); !tl.acceptedNear(colour, at, flipBackSlack) {
			flipBacks++
			t.Errorf("flip-back: pid %d adopted %s at generation %d at %s, when the engine did not serve it",
				c.PID, c.Active, c.Generation, at.Format("15:04:05.000"))
		}
	}
	for pid, sts := range obs.status {
		var last uint64
		for _, s := range sts {
			if s.Generation < last {
				t.Errorf("pid %d: status generation %d after %d", pid, s.Generation, last)
			}
			last = max(last, s.Generation)
		}
	}
	if mixed := srv.MixedQueries(); len(mixed) > 0 {
		t.Errorf("%d queries carried two colours", len(mixed))
	}
	return sum
}

// switchFleet switches the engine to colour to with an overlap, waits
// until every process in pids has adopted it, then finishes the switch so
// that the engine serves only to. It returns the highest generation the
// processes adopted it under.
func switchFleet(t *testing.T, obs *observer, srv *enginetest.Server, pids []int, to cache.Strategy) uint64 {
	t.Helper()
	began := time.Now()
	if err := srv.BeginSwitch(to); err != nil {
		t.Fatal(err)
	}
	var gen uint64
	obs.waitUntil(t, "every process on "+to.String(), 20*time.Second, func() bool {
		gen = 0
		seen := map[int]bool{}
		for _, c := range obs.changes {
			if c.Active == to.String() && time.Unix(0, c.SeenAtNs).After(began) {
				seen[c.PID] = true
				gen = max(gen, c.Generation)
			}
		}
		for _, pid := range pids {
			if !seen[pid] {
				return false
			}
		}
		return true
	})
	if !srv.FinishSwitch() {
		t.Fatalf("no switch to %s to finish: %s", to, srv.State())
	}
	return gen
}

// convergedOn waits until every process has reported, after since, a
// status on the store (not degraded) naming colour c at a generation of
// at least gen, and ok holds; it returns when the last process first did.
func convergedOn(t *testing.T, obs *observer, pids []int, since time.Time, c cache.Strategy, gen uint64, timeout time.Duration) time.Time {
	t.Helper()
	var at time.Time
	obs.waitUntil(t, "every process on the store and "+c.String(), timeout, func() bool {
		var ok bool
		at, ok = obs.allStatus(pids, since, func(r fleet.Report) bool {
			return !r.Degraded && r.Active == c.String() && r.Generation >= gen
		})
		return ok
	})
	return at
}

// TestTimelineAcceptedNear: the flip-back check tells a colour the engine
// had left from one it served, up to the slack.
func TestTimelineAcceptedNear(t *testing.T) {
	t0 := time.Now()
	tl := timeline{states: []stamped{
		{t0, enginetest.State{Active: cache.Blue}},
		{t0.Add(time.Second), enginetest.State{Active: cache.Blue, Pending: cache.Green, Overlapping: true}},
		{t0.Add(2 * time.Second), enginetest.State{Active: cache.Green}},
	}}
	for _, c := range []struct {
		colour cache.Strategy
		at     time.Duration
		want   bool
	}{
		{cache.Blue, 500 * time.Millisecond, true},
		{cache.Green, 500 * time.Millisecond, false},
		{cache.Green, 950 * time.Millisecond, true}, // within the slack of the overlap
		{cache.Green, 1500 * time.Millisecond, true},
		{cache.Blue, 1500 * time.Millisecond, true},
		{cache.Blue, 2050 * time.Millisecond, true}, // within the slack of the end
		{cache.Blue, 3 * time.Second, false},        // a flip-back
		{cache.Green, 3 * time.Second, true},
	} {
		if got := tl.acceptedNear(c.colour, t0.Add(c.at), flipBackSlack); got != c.want {
			t.Errorf("%s at +%v: accepted %v, want %v", c.colour, c.at, got, c.want)
		}
	}
}
