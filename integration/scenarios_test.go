package integration

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/coordinator"
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
	tl.states = []stamped{{at: time.Now(), st: enginetest.State{Active: colourOf(start)}}}
	return func(o *enginetest.Options) {
		o.Start = colourOf(start)
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
		if s.at.Before(to) && end.After(from) && s.st.Accepts(colourOf(c)) {
			return true
		}
	}
	return false
}

// flipBackSlack is how far apart a process's adoption of a colour and a
// change of the engine may be recorded and still count as simultaneous.
const flipBackSlack = 100 * time.Millisecond

// checkFleet asserts the invariants of a scenario's run, and returns the
// summed stats of the processes:
//
//	I1 no failed query (obs.check);
//	I2 no query whose calls carried two colours (the engine's log of
//	   every call's strategy header), and no engine call without a
//	   strategy header (newEngine's engines reject one as a wrong colour);
//	I3 no process's generations go backwards in its change or status
//	   reports, and none adopts a colour the engine did not serve then (a
//	   flip-back);
//	I4 every process's last report, degraded or not, names a colour the
//	   engine served then (a process that never reported a colour fails);
//	I5 with Eager coordinators on an Overlap engine, at most one call per
//	   process rejected for its colour per switch.
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
	if n := srv.Counts().Rejections.None; n > 0 {
		t.Errorf("%d engine calls carried no strategy header", n)
	}
	for _, p := range unconverged(obs, tl) {
		t.Error(p)
	}
	if info, _ := engines.Load(srv); info.(engineInfo).mode == enginetest.Overlap && obs.allPolicy(coordinator.Eager) {
		checkRejections(t, obs)
	}
	return sum
}

// convergeSlack is how long after an engine change a process may still
// report the colour the engine left, and count as converged.
const convergeSlack = time.Second

// unconverged says which processes break I4: a process whose last
// report, a change or a status (degraded or not), names a colour the
// engine did not serve then, give or take convergeSlack, or names none; a
// process that reported no change and no status after it was ready. Once
// processes have ended, only those that ended with a summary count: a
// killed process's last word is not a view it kept. The caller holds
// obs.mu.
func unconverged(obs *observer, tl *timeline) []string {
	var problems []string
	last := map[int]fleet.Report{}
	note := func(r fleet.Report) {
		if l, ok := last[r.PID]; !ok || r.SeenAtNs >= l.SeenAtNs {
			last[r.PID] = r
		}
	}
	for _, c := range obs.changes {
		note(c)
	}
	pids := map[int]bool{}
	for pid, sts := range obs.status {
		pids[pid] = true
		for _, r := range sts {
			note(r)
		}
	}
	for pid := range obs.ready {
		pids[pid] = true
	}
	for pid := range obs.summaries {
		pids[pid] = true
	}
	for _, pid := range slices.Sorted(maps.Keys(pids)) {
		if _, ended := obs.summaries[pid]; len(obs.summaries) > 0 && !ended {
			continue // killed
		}
		r, ok := last[pid]
		if !ok {
			problems = append(problems, fmt.Sprintf("pid %d not converged: it reported no change and no status", pid))
			continue
		}
		at := time.Unix(0, r.SeenAtNs)
		colour, err := cache.ParseStrategy(r.Active)
		if err != nil {
			problems = append(problems, fmt.Sprintf("pid %d not converged: its last report (%s at %s, degraded %v) names no colour (%q)",
				pid, r.Event, at.Format("15:04:05.000"), r.Degraded, r.Active))
			continue
		}
		if !tl.acceptedNear(colour, at, convergeSlack) {
			problems = append(problems, fmt.Sprintf("pid %d not converged: its last report (%s at %s, degraded %v) names %s, which the engine had left",
				pid, r.Event, at.Format("15:04:05.000"), r.Degraded, colour))
		}
	}
	return problems
}

// checkRejections fails the test for a process that had more than one
// call rejected for its colour per switch (I5), counting the rejections
// between one adoption of a new colour and the next, and after the last.
// It applies to Eager coordinators on an Overlap engine. The caller holds
// obs.mu.
func checkRejections(t *testing.T, obs *observer) {
	t.Helper()
	byPID := map[int][]fleet.Report{}
	for _, c := range obs.changes {
		byPID[c.PID] = append(byPID[c.PID], c)
	}
	for pid, cs := range byPID {
		slices.SortFunc(cs, func(a, b fleet.Report) int { return cmp.Compare(a.SeenAtNs, b.SeenAtNs) })
		var before uint64
		for _, c := range cs {
			if n := c.WrongStrategy - before; n > 1 {
				t.Errorf("pid %d: %d calls rejected for their colour before adopting generation %d, want at most 1 per switch",
					pid, n, c.Generation)
			}
			before = c.WrongStrategy
		}
		if sum, ok := obs.summaries[pid]; ok {
			if n := uint64(sum.WrongStrategy) - before; n > 1 {
				t.Errorf("pid %d: %d calls rejected for their colour after its last adoption, want at most 1", pid, n)
			}
		}
	}
}

// switchFleet switches the engine to colour to with an overlap, waits
// until every process in pids has adopted it, then finishes the switch
// once the queries on the old colour are done (finishDrained), so that
// the engine serves only to. It returns the highest generation the
// processes adopted it under.
func switchFleet(t *testing.T, obs *observer, srv *enginetest.Server, pids []int, to cache.Strategy) uint64 {
	t.Helper()
	began := time.Now()
	if err := srv.BeginSwitch(colourOf(to)); err != nil {
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
	if !finishDrained(t, srv, to.Other()) {
		t.Fatalf("no switch to %s to finish: %s", to, srv.State())
	}
	return gen
}

// finishDrained finishes the engine's switch away from colour from once no
// query prepared on from runs or is being prepared, as the engine's query
// clock sees them (clockOf): the overlap outlasts the queries under way on
// the old colour, as an engine's does (a query keeps its colour, and one
// still running when the old colour goes is rejected). It fails the test
// if they are not done within drainTimeout, and reports what FinishSwitch
// does.
func finishDrained(t *testing.T, srv *enginetest.Server, from cache.Strategy) bool {
	t.Helper()
	clock := clockOf(srv)
	if !waitDrained(from, clock.drained, nil) {
		_, running := clock.drained(from)
		t.Fatalf("the engine's queries on %s did not drain within %v: %s", from, drainTimeout, running)
	}
	return srv.FinishSwitch()
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

// TestUnconverged: I4 judges every process by its last report, degraded
// or not, and fails one that never reported a colour, or nothing at all.
func TestUnconverged(t *testing.T) {
	t0 := time.Now().Add(-time.Minute)
	tl := timeline{states: []stamped{
		{t0, enginetest.State{Active: enginetest.Blue}},
		{t0.Add(10 * time.Second), enginetest.State{Active: enginetest.Green}},
	}}
	at := func(d time.Duration) int64 { return t0.Add(d).UnixNano() }
	status := func(pid int, active string, degraded bool, d time.Duration) fleet.Report {
		return fleet.Report{Event: "status", PID: pid, Active: active, Degraded: degraded, SeenAtNs: at(d)}
	}
	obs := &observer{
		ready: map[int]fleet.Report{1: {}, 2: {}, 3: {}, 4: {}, 5: {}, 6: {}},
		status: map[int][]fleet.Report{
			1: {status(1, "blue", false, time.Second), status(1, "green", false, 20*time.Second)},   // converged
			2: {status(2, "green", false, 12*time.Second), status(2, "blue", true, 20*time.Second)}, // ends degraded on blue
			3: {status(3, "", true, time.Second), status(3, "", true, 20*time.Second)},              // never learns a colour
			5: {status(5, "green", true, 20*time.Second)},                                           // degraded, on green
			6: {status(6, "blue", false, 5*time.Second)},                                            // killed
		},
		summaries: map[int]fleet.Stats{1: {}, 2: {}, 3: {}, 4: {}, 5: {}},
	}
	got := unconverged(obs, &tl)
	for _, want := range []string{"pid 2 not converged", "pid 3 not converged", "pid 4 not converged"} {
		if !slices.ContainsFunc(got, func(p string) bool { return strings.HasPrefix(p, want) }) {
			t.Errorf("problems %q lack %q", got, want)
		}
	}
	if len(got) != 3 {
		t.Errorf("problems %q, want 3: pids 2, 3 and 4", got)
	}
}

// TestEngineRejectsMissingStrategy: the scenarios' engine rejects an
// engine call without a strategy header, and counts it where checkFleet
// looks for I2; a call with one passes.
func TestEngineRejectsMissingStrategy(t *testing.T) {
	srv := newEngine(t, enginetest.Overlap, 0)
	engine := e6xpb.NewQueryEngineServiceClient(srv.Conn())
	req := &e6xpb.AuthenticateRequest{User: user, Password: password}
	if _, err := engine.Authenticate(context.Background(), req); err == nil {
		t.Error("authenticate without a strategy header succeeded")
	}
	if n := srv.Counts().Rejections.None; n != 1 {
		t.Errorf("rejections without a strategy header: %d, want 1", n)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "strategy", "blue")
	if _, err := engine.Authenticate(ctx, req); err != nil {
		t.Errorf("authenticate on blue: %v", err)
	}
}

// TestTimelineAcceptedNear: the flip-back check tells a colour the engine
// had left from one it served, up to the slack.
func TestTimelineAcceptedNear(t *testing.T) {
	t0 := time.Now()
	tl := timeline{states: []stamped{
		{t0, enginetest.State{Active: enginetest.Blue}},
		{t0.Add(time.Second), enginetest.State{Active: enginetest.Blue, Pending: enginetest.Green, Overlapping: true}},
		{t0.Add(2 * time.Second), enginetest.State{Active: enginetest.Green}},
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

// colourOf returns the fake engine's colour of the client's colour s.
func colourOf(s cache.Strategy) enginetest.Colour {
	switch s {
	case cache.Blue:
		return enginetest.Blue
	case cache.Green:
		return enginetest.Green
	}
	return enginetest.NoColour
}

// strategy returns the client's colour of the fake engine's colour c.
func strategy(c enginetest.Colour) cache.Strategy {
	s, _ := cache.ParseStrategy(c.String())
	return s
}
