package integration

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/fleet"
)

// This file holds what the fleet scenarios (silent cut, lost
// subscriptions, brownout, killed with pins, late starters) share: the
// engine's own switch schedule, a clock of the fleet's queries as the
// engine sees them, and waits on the fleet's agreement.

// schedule switches the engine k times on its own clock, independent of
// the fleet: one switch every period, each overlapping for overlap at
// least, and until the queries on the old colour are done if drained is
// not nil (drained(old) says so, or what still runs), as an engine that drains the old colour
// before it stops serving it; the first a period after the call. It
// returns a channel closed after the last switch finished, and the times
// each switch began, to read after that. The test's cleanup stops it,
// before the engine closes.
func schedule(t *testing.T, srv *enginetest.Server, k int, period, overlap time.Duration, drained func(cache.Strategy) (bool, string)) (<-chan struct{}, *[]time.Time) {
	t.Helper()
	done, stop := make(chan struct{}), make(chan struct{})
	begins := new([]time.Time) // written before done closes
	go func() {
		defer close(done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for range k {
			select {
			case <-tick.C:
			case <-stop:
				return
			}
			*begins = append(*begins, time.Now())
			from := strategy(srv.State().Active)
			if err := srv.BeginSwitch(colourOf(from.Other())); err != nil {
				t.Error(err)
				return
			}
			window := time.NewTimer(overlap) // the engine's overlap window
			select {
			case <-window.C:
			case <-stop:
				window.Stop()
				return
			}
			if drained != nil && !waitDrained(from, drained, stop) {
				_, running := drained(from)
				t.Errorf("the engine's queries on %s did not drain within %v: %s", from, drainTimeout, running)
			}
			srv.FinishSwitch()
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
	return done, begins
}

// drainTimeout bounds how long a scheduled switch waits for the old
// colour's queries.
const drainTimeout = 20 * time.Second

// waitDrained polls drained(from) until it holds, stop closes, or
// drainTimeout passes; it reports whether it held. The engine's state has
// no event to wait on.
func waitDrained(from cache.Strategy, drained func(cache.Strategy) (bool, string), stop <-chan struct{}) bool {
	deadline := time.NewTimer(drainTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if ok, _ := drained(from); ok {
			return true
		}
		select {
		case <-tick.C:
		case <-stop:
			return false
		case <-deadline.C:
			return false
		}
	}
}

// waitClosed waits, on the observer, until ch is closed.
func waitClosed(t *testing.T, obs *observer, what string, timeout time.Duration, ch <-chan struct{}) {
	t.Helper()
	obs.waitUntil(t, what, timeout, func() bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	})
}

// switchesBetween counts the switches the engine completed between from
// and to, by the timeline.
func (tl *timeline) switchesBetween(from, to time.Time) int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var first, last int // the switches of the states in effect at from and at to
	for _, s := range tl.states {
		if !s.at.After(from) {
			first = s.st.Switches
		}
		if !s.at.After(to) {
			last = s.st.Switches
		}
	}
	return last - first
}

// queryClock is a server interceptor of the fake engine that counts the
// prepares of each client connection (each worker process has one) while
// it is armed, and times every query from the arrival of its prepare to
// the arrival of its clear: the store round trip of its pin, if any, is in
// that time. It also times the client's gap between the answer to a
// prepare and the arrival of the query's execute, where the pin is made.
type queryClock struct {
	mu       sync.Mutex
	armed    bool
	perPeer  map[string]int       // prepares while armed, by client address
	started  map[string]time.Time // prepare arrival, by query id
	prepared map[string]time.Time // prepare answered, by query id
	took     []timed              // every query cleared, in order of its clear
	gaps     []timed              // every query executed, in order of its execute
	open     map[string]openQuery // the queries not cleared, by id
	// preparing counts the prepares under way (arrived, not answered) by
	// their strategy header: a query the engine has not yet named.
	preparing map[string]int
	peers     map[string]string // the client address of each query, by id
}

// openQuery is a query the engine prepared and has not cleared.
type openQuery struct {
	colour string    // the strategy header of its prepare
	peer   string    // the client's address
	last   time.Time // its last call
}

// idleQuery is how long a query that is not cleared may go without a call
// and still count as running: one whose call was rejected (456) is not
// cleared, and is replayed as a new query; the rejection, at the engine's
// HTTP gateway, passes no interceptor. It is long, because a live query
// on a loaded machine can go more than a second between its calls, and
// a switch that ended under it would reject it.
const idleQuery = 5 * time.Second

// drained reports whether no query prepared on colour c still runs and
// none is being prepared on it, or says which do.
func (q *queryClock) drained(c cache.Strategy) (bool, string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	running := map[string][]string{} // query ids by client
	if n := q.preparing[c.String()]; n > 0 {
		running["(prepares under way)"] = []string{fmt.Sprint(n)}
	}
	for id, o := range q.open {
		if now.Sub(o.last) > idleQuery {
			delete(q.open, id)
			continue
		}
		if o.colour == c.String() {
			running[o.peer] = append(running[o.peer], id)
		}
	}
	return len(running) == 0, fmt.Sprintf("queries on %s by client: %v", c, running)
}

type timed struct {
	at   time.Time // the clear's arrival
	took time.Duration
	peer string // the client's address
}

// option installs the clock on the engine's options; newEngine installs
// one on every engine (clockOf).
func (q *queryClock) option(o *enginetest.Options) {
	q.perPeer = map[string]int{}
	q.started = map[string]time.Time{}
	q.prepared = map[string]time.Time{}
	q.open = map[string]openQuery{}
	q.preparing = map[string]int{}
	q.peers = map[string]string{}
	o.ServerOptions = append(o.ServerOptions, grpc.ChainUnaryInterceptor(q.intercept))
}

func (q *queryClock) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	arrived := time.Now()
	from := ""
	if p, ok := peer.FromContext(ctx); ok {
		from = p.Addr.String()
	}
	colour := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("strategy"); len(v) > 0 {
			colour = v[0]
		}
	}
	switch req.(type) {
	case *e6xpb.PrepareStatementV2Request, *e6xpb.PrepareStatementRequest:
		q.mu.Lock()
		q.preparing[colour]++
		q.mu.Unlock()
		defer func() {
			q.mu.Lock()
			q.preparing[colour]--
			q.mu.Unlock()
		}()
	}
	if id := queryID(req); id != "" {
		q.mu.Lock()
		if o, ok := q.open[id]; ok {
			o.last = arrived
			q.open[id] = o
		}
		q.mu.Unlock()
	}
	switch m := req.(type) {
	case *e6xpb.ClearOrCancelQueryRequest:
		q.mu.Lock()
		delete(q.open, m.GetQueryId())
		if at, ok := q.started[m.GetQueryId()]; ok {
			delete(q.started, m.GetQueryId())
			q.took = append(q.took, timed{arrived, arrived.Sub(at), q.peers[m.GetQueryId()]})
			delete(q.peers, m.GetQueryId())
		}
		q.mu.Unlock()
	case *e6xpb.ExecuteStatementV2Request:
		q.mu.Lock()
		if at, ok := q.prepared[m.GetQueryId()]; ok {
			delete(q.prepared, m.GetQueryId())
			q.gaps = append(q.gaps, timed{arrived, arrived.Sub(at), from})
		}
		q.mu.Unlock()
	}
	resp, err := handler(ctx, req)
	if prep, ok := resp.(*e6xpb.PrepareStatementResponse); ok && err == nil {
		q.mu.Lock()
		q.started[prep.GetQueryId()] = arrived
		q.peers[prep.GetQueryId()] = from
		q.prepared[prep.GetQueryId()] = time.Now()
		q.open[prep.GetQueryId()] = openQuery{colour, from, time.Now()}
		if q.armed {
			q.perPeer[from]++
		}
		q.mu.Unlock()
	}
	return resp, err
}

// queryID returns the query id of an engine request, "" if it has none.
func queryID(req any) string {
	if r, ok := req.(interface{ GetQueryId() string }); ok {
		return r.GetQueryId()
	}
	return ""
}

// arm starts counting prepares by client, from zero.
func (q *queryClock) arm() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.armed = true
	clear(q.perPeer)
}

// disarm stops counting prepares, and returns the counts by client.
func (q *queryClock) disarm() map[string]int {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.armed = false
	return maps.Clone(q.perPeer)
}

// window returns the times of the queries cleared in [from, to), sorted.
func (q *queryClock) window(from, to time.Time) []time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	return within(q.took, from, to)
}

// ranWithin counts, by client address, the queries that were prepared at
// or after from and cleared before to: they ran from start to end within
// [from, to).
func (q *queryClock) ranWithin(from, to time.Time) map[string]int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := map[string]int{}
	for _, x := range q.took {
		if !x.at.Add(-x.took).Before(from) && x.at.Before(to) {
			n[x.peer]++
		}
	}
	return n
}

// gapWindow returns the gaps between prepare and execute of the queries
// executed in [from, to), sorted.
func (q *queryClock) gapWindow(from, to time.Time) []time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	return within(q.gaps, from, to)
}

func within(ts []timed, from, to time.Time) []time.Duration {
	var d []time.Duration
	for _, x := range ts {
		if !x.at.Before(from) && x.at.Before(to) {
			d = append(d, x.took)
		}
	}
	slices.Sort(d)
	return d
}

// quantile returns the q-quantile of sorted, or 0 if it is empty.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// agreedOn waits until the latest status of every process in pids,
// reported after since, is on the store (not degraded), names colour c,
// and names one generation for all: the fleet agrees on the store's
// record. It returns when it first did (the latest of those reports) and
// the generation.
func agreedOn(t *testing.T, obs *observer, pids []int, since time.Time, c cache.Strategy, timeout time.Duration) (time.Time, uint64) {
	t.Helper()
	var at time.Time
	var gen uint64
	obs.waitUntil(t, "every process on the store, on "+c.String()+", at one generation", timeout, func() bool {
		at, gen = time.Time{}, 0
		for i, pid := range pids {
			sts := obs.status[pid]
			if len(sts) == 0 {
				return false
			}
			r := sts[len(sts)-1]
			seen := time.Unix(0, r.SeenAtNs)
			if !seen.After(since) || r.Degraded || r.Active != c.String() || (i > 0 && r.Generation != gen) {
				return false
			}
			gen, at = r.Generation, later(at, seen)
		}
		return true
	})
	return at, gen
}

// lastChangeBefore returns the last change pid reported before t, and
// whether there was one.
func lastChangeBefore(obs *observer, pid int, t time.Time) (fleet.Report, bool) {
	var last fleet.Report
	found := false
	for _, c := range obs.changes {
		if c.PID == pid && time.Unix(0, c.SeenAtNs).Before(t) {
			last, found = c, true
		}
	}
	return last, found
}

// relapses counts, per process, the times its status went from on the
// store back to degraded after since. The caller holds obs.mu.
func relapses(obs *observer, pids []int, since time.Time) map[int]int {
	n := map[int]int{}
	for _, pid := range pids {
		up := false
		for _, r := range obs.status[pid] {
			if !time.Unix(0, r.SeenAtNs).After(since) {
				continue
			}
			if up && r.Degraded {
				n[pid]++
			}
			up = !r.Degraded
		}
	}
	return n
}
