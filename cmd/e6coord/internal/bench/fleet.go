package bench

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
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
	reports   []fleet.Report // change and floor reports, in arrival order
	status    []fleet.Report // status reports, in arrival order
	seq       uint64         // of the last command sent
	answers   []fleet.Report // the answers to it
	summaries map[int]fleet.Stats
	failed    []string
	stopOnce  sync.Once
}

// startFleet starts o.Processes workers on srv, sharing the state through
// redisURL, each with a bare subscriber on the scope's channel and taking
// the bench's commands.
func startFleet(ctx context.Context, o Options, srv *enginetest.Server, redisURL string) (*benchFleet, error) {
	args := []string{
		"--engine", srv.Addr(), "--user", user,
		"--catalog", enginetest.Catalog, "--schema", enginetest.Schema,
		"--query", o.Query, "--workers", strconv.Itoa(o.Workers),
		"--policy", coordinator.Eager.String(),
		"--status-every", statusEvery.String(),
		"--floor", "--commands",
	}
	envs := make([][]string, o.Processes)
	for i := range o.Processes {
		named, err := withClientName(redisURL, workerName(i))
		if err != nil {
			return nil, err
		}
		floor, err := withClientName(redisURL, "e6bench-floor-"+strconv.Itoa(i))
		if err != nil {
			return nil, err
		}
		envs[i] = []string{"E6COORD_PASSWORD=" + password, "E6COORD_REDIS_URL=" + named, "E6COORD_FLOOR_URL=" + floor}
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
		case "change", "floor":
			f.reports = append(f.reports, r)
		case "status":
			f.status = append(f.status, r)
		case "count", "mode":
			if r.Seq == f.seq {
				f.answers = append(f.answers, r)
			}
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
	queries, probes, rejections, redisCommands int64
	at                                         time.Time // the last of the reports
}

// round waits for a status report from every process after after, and
// returns the sum of the first of each.
func (f *benchFleet) round(ctx context.Context, after time.Time) (tally, error) {
	var sum tally
	err := f.wait(ctx, "a status report from every process", 30*time.Second, func() bool {
		first := map[int]fleet.Report{}
		for _, r := range f.status {
			if _, done := first[r.PID]; !done && time.Unix(0, r.SeenAtNs).After(after) {
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
			sum.rejections += int64(r.WrongStrategy)
			sum.redisCommands += r.RedisCommands
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

// command sends a command with a new sequence number (the verb, the
// number, then args) to every process, and returns the answers of all and
// the instant it was sent, the middle of the writes.
func (f *benchFleet) command(ctx context.Context, verb string, args ...string) ([]fleet.Report, time.Time, error) {
	f.mu.Lock()
	f.seq++
	seq := f.seq
	f.answers = nil
	f.mu.Unlock()
	line := strings.Join(append([]string{verb, strconv.FormatUint(seq, 10)}, args...), " ")
	if verb == "mode" { // mode NAME SEQ [COLOUR]
		line = strings.Join(append([]string{verb, args[0], strconv.FormatUint(seq, 10)}, args[1:]...), " ")
	}
	before := time.Now()
	if err := f.procs.Send(line); err != nil {
		return nil, time.Time{}, fmt.Errorf("bench: %w", err)
	}
	at := before.Add(time.Since(before) / 2)
	var answers []fleet.Report
	err := f.wait(ctx, "every answer to "+line, 60*time.Second, func() bool {
		if len(f.answers) < f.n {
			return false
		}
		answers = slices.Clone(f.answers)
		return true
	})
	return answers, at, err
}

// mode runs every process's workers in mode, and returns once each has
// finished its queries of the mode before.
func (f *benchFleet) mode(ctx context.Context, mode string, args ...string) error {
	_, _, err := f.command(ctx, "mode", append([]string{mode}, args...)...)
	return err
}

// count asks every process at once for the queries it has finished so
// far in each mode, and returns each process's answer by PID: its counts
// and the instant, on its own clock, it read them.
func (f *benchFleet) count(ctx context.Context) (map[int]fleet.Report, error) {
	answers, _, err := f.command(ctx, "count")
	if err != nil {
		return nil, err
	}
	byPID := make(map[int]fleet.Report, len(answers))
	for _, r := range answers {
		byPID[r.PID] = r
	}
	return byPID, nil
}

// lags returns, per switch and per process other than its committer, the
// floor (from the committer sending its compare-and-swap to the message
// reaching the process's bare subscriber) and the overhead (from that
// arrival to the process's coordinator adopting the record, on the
// process's clock), and the changes of the active colour that a process
// of the fleet committed and whose sending it saw. Nothing is clamped: a
// sample is negative when the later event came first.
func (f *benchFleet) lags() (floor, overhead []time.Duration, changes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	type sw struct {
		commitNs  int64         // 0 until the committer's report
		committer int           // its pid
		adopted   map[int]int64 // pid: when it adopted the record
		arrived   map[int]int64 // pid: when its bare subscriber received the record
	}
	bygen := map[uint64]*sw{}
	get := func(gen uint64) *sw {
		s := bygen[gen]
		if s == nil {
			s = &sw{adopted: map[int]int64{}, arrived: map[int]int64{}}
			bygen[gen] = s
		}
		return s
	}
	for _, r := range f.reports {
		switch {
		case r.Event == "change" && r.Old != "":
			s := get(r.Generation)
			if r.Committed {
				s.commitNs, s.committer = r.CommitNs, r.PID
			} else {
				s.adopted[r.PID] = r.SeenAtNs
			}
		case r.Event == "floor":
			s := get(r.Generation)
			if _, dup := s.arrived[r.PID]; !dup {
				s.arrived[r.PID] = r.SeenAtNs
			}
		}
	}
	for _, s := range bygen {
		if s.commitNs == 0 {
			continue // not a switch committed in the fleet, or its send not seen
		}
		changes++
		for pid, adopted := range s.adopted {
			arrived, ok := s.arrived[pid]
			if pid == s.committer || !ok {
				continue
			}
			floor = append(floor, time.Duration(arrived-s.commitNs))
			overhead = append(overhead, time.Duration(adopted-arrived))
		}
	}
	return floor, overhead, changes
}

// failedReports returns the errors of the workers' "failed" reports, in
// arrival order.
func (f *benchFleet) failedReports() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.failed)
}
