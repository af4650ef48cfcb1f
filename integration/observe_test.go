package integration

import (
	"sync"
	"testing"
	"time"

	"github.com/e6coord/e6coord/coordinator"
	"github.com/e6coord/e6coord/internal/fleet"
)

// observer keeps what the worker processes report.
type observer struct {
	mu        sync.Mutex
	changed   chan struct{}          // closed and replaced on every report
	ready     map[int]fleet.Report   // by pid
	status    map[int][]fleet.Report // by pid, in order
	changes   []fleet.Report
	failed    []fleet.Report
	summaries map[int]fleet.Stats
	closed    bool // every worker has exited
}

func observe(procs *fleet.Processes) *observer {
	o := &observer{
		changed:   make(chan struct{}),
		ready:     map[int]fleet.Report{},
		status:    map[int][]fleet.Report{},
		summaries: map[int]fleet.Stats{},
	}
	go func() {
		for r := range procs.Reports() {
			o.add(r)
		}
		o.mu.Lock()
		o.closed = true
		close(o.changed)
		o.changed = make(chan struct{})
		o.mu.Unlock()
	}()
	return o
}

func (o *observer) add(r fleet.Report) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch r.Event {
	case "ready":
		o.ready[r.PID] = r
	case "status":
		o.status[r.PID] = append(o.status[r.PID], r)
	case "change":
		o.changes = append(o.changes, r)
	case "failed":
		o.failed = append(o.failed, r)
	case "summary":
		if r.Stats != nil {
			o.summaries[r.PID] = *r.Stats
		}
	}
	close(o.changed)
	o.changed = make(chan struct{})
}

// waitUntil waits until cond, called under the lock, holds; or fails the
// test after timeout.
func (o *observer) waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		ok, ch, closed := cond(), o.changed, o.closed
		o.mu.Unlock()
		if ok {
			return
		}
		if closed {
			t.Fatalf("workers exited before: %s", what)
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for: %s", timeout, what)
		}
	}
}

// allStatus reports whether every pid has a status report after since that
// satisfies ok, and returns the latest time of the first such report per
// pid.
func (o *observer) allStatus(pids []int, since time.Time, ok func(fleet.Report) bool) (time.Time, bool) {
	var last time.Time
	for _, pid := range pids {
		found := false
		for _, r := range o.status[pid] {
			at := time.Unix(0, r.SeenAtNs)
			if at.After(since) && ok(r) {
				last = later(last, at)
				found = true
				break
			}
		}
		if !found {
			return last, false
		}
	}
	return last, true
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// allPolicy reports whether every process that is ready runs policy p.
// The caller holds o.mu.
func (o *observer) allPolicy(p coordinator.Policy) bool {
	for _, r := range o.ready {
		if r.Policy != p.String() {
			return false
		}
	}
	return len(o.ready) > 0
}

// switchesSince counts the distinct generations of active-colour changes
// reported since t.
func (o *observer) switchesSince(t time.Time) int {
	gens := map[uint64]bool{}
	for _, c := range o.changes {
		if c.Old != "" && time.Unix(0, c.SeenAtNs).After(t) {
			gens[c.Generation] = true
		}
	}
	return len(gens)
}

// check fails the test for any failed query or generation that went
// backwards, and returns the summed stats of the processes that reported.
func (o *observer) check(t *testing.T) fleet.Stats {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, f := range o.failed {
		if i < 10 {
			t.Errorf("pid %d: %s", f.PID, f.Error)
		}
	}
	var sum fleet.Stats
	for _, s := range o.summaries {
		sum.Add(s)
	}
	if sum.Failed > 0 || len(o.failed) > 0 {
		t.Errorf("%d failed queries, %d failure reports", sum.Failed, len(o.failed))
	}
	return sum
}
