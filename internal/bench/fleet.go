package bench

import (
	"context"

	"fmt"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/coordinator"
	"github.com/e6coord/e6coord/internal/fleet"
)

// statusEvery is how often the workers report their status.
const statusEvery = 100 * time.Millisecond

// benchFleet is a fleet of worker processes and what they reported.
type benchFleet struct {
	procs *fleet.Processes
	n     int

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every report
	closed    bool          // every worker has exited
	ready     map[int]bool
	reports   []fleet.Report // change, status and floor reports, in arrival order
	summaries map[int]fleet.Stats
	failed    []string
	stopOnce  sync.Once
}

// startFleet starts o.Processes workers on srv, sharing the state through
// redisURL ("" for in-memory stores), with a floor subscriber on
// floorChannel if it is set.
func startFleet(ctx context.Context, o Options, srv *enginetest.Server, redisURL, floorChannel string) (*benchFleet, error) {
	args := []string{
		"--engine", srv.Addr(), "--user", user,
		"--catalog", enginetest.Catalog, "--schema", enginetest.Schema,
		"--query", o.Query, "--workers", strconv.Itoa(o.Workers),
		"--policy", coordinator.Eager.String(),
		"--status-every", statusEvery.String(),
		"--floor-channel", floorChannel,
	}
	envs := make([][]string, o.Processes)
	for i := range o.Processes {
		env := []string{"E6COORD_PASSWORD=" + password, "E6COORD_REDIS_URL=", "E6COORD_FLOOR_URL="}
		if redisURL != "" {
			named, err := withClientName(redisURL, workerName(i))
			if err != nil {
				return nil, err
			}
			floor, err := withClientName(redisURL, "e6bench-floor-"+strconv.Itoa(i))
			if err != nil {
				return nil, err
			}
			env = []string{"E6COORD_PASSWORD=" + password, "E6COORD_REDIS_URL=" + named, "E6COORD_FLOOR_URL=" + floor}
		}
		envs[i] = env
	}
	procs, err := fleet.Start(o.Processes, func(i int) *exec.Cmd {
		cmd := o.WorkerCommand(args)
		cmd.Env = append(cmd.Environ(), envs[i]...)
		return cmd
	})
	if err != nil {
		return nil, err
	}
	f := &benchFleet{procs: procs, n: o.Processes, changed: make(chan struct{}),
		ready: map[int]bool{}, summaries: map[int]fleet.Stats{}}
	go f.read()
	return f, nil
}

func (f *benchFleet) read() {
	for r := range f.procs.Reports() {
		f.mu.Lock()
		switch r.Event {
		case "ready":
			f.ready[r.PID] = true
		case "change", "status", "floor":
			f.reports = append(f.reports, r)
		case "failed":
			f.failed = append(f.failed, r.Error)
		case "summary":
			if r.Stats != nil {
				f.summaries[r.PID] = *r.Stats
			}
		}
		close(f.changed)
		f.changed = make(chan struct{})
		f.mu.Unlock()
	}
	f.mu.Lock()
	f.closed = true
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

// wait waits until cond, called under the lock, holds.
func (f *benchFleet) wait(ctx context.Context, what string, timeout time.Duration, cond func() bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		ok, ch, closed := cond(), f.changed, f.closed
		f.mu.Unlock()
		if ok {
			return nil
		}
		if closed {
			return fmt.Errorf("bench: the workers exited before %s: %w", what, f.procs.Wait())
		}
		select {
		case <-ch:
		case <-deadline.C:
			return fmt.Errorf("bench: timed out after %v waiting for %s", timeout, what)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *benchFleet) waitReady(ctx context.Context, timeout time.Duration) error {
	return f.wait(ctx, "every worker process ready", timeout, func() bool { return len(f.ready) == f.n })
}

// waitAll waits until every process has sent a report that ok accepts.
func (f *benchFleet) waitAll(ctx context.Context, timeout time.Duration, ok func(fleet.Report) bool) error {
	return f.wait(ctx, "every process", timeout, func() bool {
		seen := map[int]bool{}
		for _, r := range f.reports {
			if ok(r) {
				seen[r.PID] = true
			}
		}
		return len(seen) == f.n
	})
}

// tally is the sum of one status report of every process.
type tally struct {
	queries, probes int64
	at              time.Time // the last of the reports
}

// round waits for a status report from every process after after, and
// returns the sum of the first of each.
func (f *benchFleet) round(ctx context.Context, after time.Time) (tally, error) {
	var sum tally
	err := f.wait(ctx, "a status report from every process", 30*time.Second, func() bool {
		first := map[int]fleet.Report{}
		for _, r := range f.reports {
			if _, done := first[r.PID]; !done && r.Event == "status" && time.Unix(0, r.SeenAtNs).After(after) {
				first[r.PID] = r
			}
		}
		if len(first) < f.n {
			return false
		}
		sum = tally{}
		for _, r := range first {
			sum.queries += r.Queries
			sum.probes += int64(r.Probes)
			if at := time.Unix(0, r.SeenAtNs); at.After(sum.at) {
				sum.at = at
			}
		}
		return true
	})
	return sum, err
}

// finish stops the workers, waits for their summaries, and returns their
// sum; failed queries are counted in it.
func (f *benchFleet) finish(ctx context.Context) (fleet.Stats, error) {
	f.procs.Stop()
	if err := f.wait(ctx, "every summary", 60*time.Second, func() bool { return len(f.summaries) == f.n }); err != nil {
		return fleet.Stats{}, err
	}
	f.stopOnce.Do(func() {})
	for range f.procs.Reports() {
	}
	if err := f.procs.Wait(); err != nil {
		return fleet.Stats{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var st fleet.Stats
	for _, s := range f.summaries {
		st.Add(s)
	}
	if st.StoreUnreached > 0 {
		return st, fmt.Errorf("bench: %d processes never reached the store", st.StoreUnreached)
	}
	return st, nil
}

// stop ends the workers if finish did not: for early returns.
func (f *benchFleet) stop() {
	f.stopOnce.Do(func() {
		f.procs.Stop()
		for range f.procs.Reports() {
		}
		_ = f.procs.Wait()
	})
}

// lags returns the convergence samples, from each switch's commit (its
// committer's adoption, just after its compare-and-swap returned) to each
// other process adopting it, and the floor samples, from each floor
// message's publication (by the committer, at the same moment) to its
// arrival.
func (f *benchFleet) lags() (converge, floor []time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	type sw struct {
		committedAt int64 // 0 until the committer's report
		others      []int64
	}
	bygen := map[uint64]*sw{}
	for _, r := range f.reports {
		switch {
		case r.Event == "change" && r.Old != "":
			s := bygen[r.Generation]
			if s == nil {
				s = &sw{}
				bygen[r.Generation] = s
			}
			if r.Committed {
				s.committedAt = r.SeenAtNs
			} else {
				s.others = append(s.others, r.SeenAtNs)
			}
		case r.Event == "floor":
			floor = append(floor, time.Duration(r.SeenAtNs-r.SentNs))
		}
	}
	for _, s := range bygen {
		if s.committedAt == 0 {
			continue // committed by a process outside the fleet
		}
		for _, at := range s.others {
			converge = append(converge, max(0, time.Duration(at-s.committedAt)))
		}
	}
	return converge, floor
}
