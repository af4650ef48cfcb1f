package coordinator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/e6coord/e6coord/cache"
)

// ClusterControl is how a coordinator resumes the engine's cluster when it
// is suspended: the engine's ClusterService, as the client gives it. Its
// methods must be safe for concurrent use. Each call carries colour s: the
// colour the local record names, if any, since a cluster call does not
// wait for a detection (a detection is what asks for it); if the engine
// rejects that colour (an error wrapping [ErrWrongStrategy]), the
// coordinator invalidates it and makes the call once more with the other
// colour.
type ClusterControl interface {
	// Status returns the cluster's state: cache.ClusterActive,
	// ClusterSuspended, ClusterResuming, ClusterFailed, or another word of
	// the engine's.
	Status(ctx context.Context, s cache.Strategy) (cache.ClusterState, error)
	// Resume asks the cluster to resume.
	Resume(ctx context.Context, s cache.Strategy) error
}

// clusterStatus asks Config.Cluster for the cluster's state (see
// clusterCall).
func (c *Coordinator) clusterStatus(ctx context.Context) (cache.ClusterState, error) {
	var state cache.ClusterState
	err := c.clusterCall(ctx, func(ctx context.Context, s cache.Strategy) error {
		var err error
		state, err = c.cfg.Cluster.Status(ctx, s)
		return err
	})
	return state, err
}

// clusterResume asks Config.Cluster to resume the cluster (see
// clusterCall).
func (c *Coordinator) clusterResume(ctx context.Context) error {
	return c.clusterCall(ctx, c.cfg.Cluster.Resume)
}

// clusterCall makes a call of Config.Cluster in the retry loop, with the
// colour the local record names, and once more with the other colour if
// the engine rejects that one. Any other error is returned as it is.
func (c *Coordinator) clusterCall(ctx context.Context, call func(ctx context.Context, s cache.Strategy) error) error {
	first := cache.Unknown
	pick := func(_ context.Context, n int, prev cache.Strategy) (cache.Strategy, error) {
		if n == 1 {
			first = c.Snapshot().Active
			return first, nil
		}
		return prev.Other(), nil
	}
	_, err := c.attempt(ctx, 2, pick, func(ctx context.Context, s cache.Strategy) error {
		err := call(ctx, s)
		if err != nil && (!s.Valid() || s != first || !errors.Is(err, ErrWrongStrategy)) {
			return Stop(err) // only the record's colour is worth another attempt
		}
		return err
	})
	return err
}

// ResumeError is the failure of a resume of the engine's cluster: it
// failed, or was not active by Config.ResumeTimeout. Every caller that
// waited for the resume, in any process of the fleet, gets one. It unwraps
// to [ErrResumeFailed] and to the cause, if any.
type ResumeError struct {
	Cluster string             // the cluster's name, or the engine's address without one
	State   cache.ClusterState // the last state seen
	Timeout time.Duration      // set when the cluster was not active by then
	Err     error              // the last error of a cluster call, if any
}

func (e *ResumeError) Error() string {
	msg := fmt.Sprintf("coordinator: cluster %s did not resume: last state %s", e.Cluster, orUnknown(e.State))
	if e.Timeout > 0 {
		msg = fmt.Sprintf("coordinator: cluster %s not active after %v: last state %s", e.Cluster, e.Timeout, orUnknown(e.State))
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns ErrResumeFailed and the cause.
func (e *ResumeError) Unwrap() []error { return []error{ErrResumeFailed, e.Err} }

func orUnknown(s cache.ClusterState) string {
	if s == cache.ClusterUnknown {
		return "unknown"
	}
	return string(s)
}

// Resume polling: a [cache.Backoff] from resumeFirstPoll, doubling, to at most 5
// seconds (as the published client polls) and half the probe lease, which
// each poll renews.
const (
	resumeFirstPoll = 250 * time.Millisecond
	resumeMaxPoll   = 5 * time.Second
)

// resumeNoteEvery is how often a resume that goes on is logged, at Warn:
// "cluster resuming, 10 s of 300 s", so that a long wait says what it
// waits for.
const resumeNoteEvery = 5 * time.Second

// clusterName names the cluster in errors and logs.
func (c *Coordinator) clusterName() string {
	if c.cfg.Scope.Cluster != "" {
		return c.cfg.Scope.Cluster
	}
	return c.cfg.Scope.Engine
}

// resumeCluster resumes the engine's cluster for the fleet, after a probe
// found it suspended or starting (503), logging at Warn every
// resumeNoteEvery while it waits. The caller holds the probe lease,
// which it renews at every poll. It asks the cluster's status: active means
// the 503 was something else, and the error wraps ErrSuspended so that the
// call is retried; suspended, it resumes the cluster; resuming, it waits.
// It records the cluster's state in the shared record as it goes, so that
// the fleet waits for it rather than resume the cluster again, and returns
// nil once the cluster is active, or a [*ResumeError].
func (c *Coordinator) resumeCluster(ctx context.Context) error {
	began := c.now()
	if st := c.Snapshot(); st.Cluster == cache.ClusterResuming && began.Before(st.ClusterSince.Add(c.cfg.ResumeTimeout)) {
		began = st.ClusterSince // a resume under way: its deadline holds
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.ResumeTimeout-c.now().Sub(began))
	defer cancel()

	// The resume's deadline passing at any step is its one outcome: the
	// cluster was not active in time.
	late := func(state cache.ClusterState, err error) error {
		c.log.Warn("cluster not active by the deadline", "cluster", c.clusterName(), "state", string(state))
		return &ResumeError{Cluster: c.clusterName(), State: state, Timeout: c.cfg.ResumeTimeout, Err: err}
	}
	state, err := c.clusterStatus(rctx)
	switch {
	case err != nil && rctx.Err() != nil && ctx.Err() == nil:
		return late(c.Snapshot().Cluster, err)
	case err != nil:
		return fmt.Errorf("coordinator: cluster %s: status: %w", c.clusterName(), err)
	}
	switch state {
	case cache.ClusterActive:
		return fmt.Errorf("%w: the engine answered 503 while cluster %s is active", ErrSuspended, c.clusterName())
	case cache.ClusterFailed:
		c.recordCluster(ctx, state, c.now())
		return &ResumeError{Cluster: c.clusterName(), State: state}
	case cache.ClusterSuspended:
		c.log.Info("cluster suspended; resuming it for the fleet", "cluster", c.clusterName())
		c.stats.resumes.Add(1)
		if err := c.clusterResume(rctx); err != nil {
			if rctx.Err() != nil && ctx.Err() == nil {
				return late(state, err)
			}
			return fmt.Errorf("coordinator: cluster %s: resume: %w", c.clusterName(), err)
		}
		began = c.now()
		state = cache.ClusterResuming
	}
	c.recordCluster(ctx, cache.ClusterResuming, began)

	var last error
	polls := 0
	note := resumeNoteEvery
	for {
		if waited := c.now().Sub(began); waited >= note {
			c.log.Warn(fmt.Sprintf("cluster resuming, %d s of %d s; queries wait for it",
				int(waited.Seconds()), int(c.cfg.ResumeTimeout.Seconds())),
				"cluster", c.clusterName(), "state", orUnknown(state))
			note = (waited/resumeNoteEvery + 1) * resumeNoteEvery
		}
		poll := cache.Backoff(polls, resumeFirstPoll, min(resumeMaxPoll, c.cfg.ProbeLeaseTTL/2))
		polls++
		if err := sleep(rctx, min(poll, note-c.now().Sub(began))); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return late(state, last)
		}
		_, _ = c.renewLease(ctx)
		st, err := c.clusterStatus(rctx)
		if err != nil {
			last = err
			continue
		}
		state, last = st, nil
		switch state {
		case cache.ClusterActive:
			c.recordCluster(ctx, state, c.now())
			c.log.Info("cluster resumed", "cluster", c.clusterName(), "took", c.now().Sub(began).Round(time.Millisecond).String())
			return nil
		case cache.ClusterFailed:
			c.recordCluster(ctx, state, c.now())
			c.log.Warn("cluster failed to resume", "cluster", c.clusterName())
			return &ResumeError{Cluster: c.clusterName(), State: state}
		}
	}
}

// recordCluster records the cluster's state in the shared record, since
// when, unless the record says so already.
func (c *Coordinator) recordCluster(ctx context.Context, state cache.ClusterState, since time.Time) {
	c.update(ctx, func(cur cache.State) (cache.State, bool) {
		if cur.Cluster == state && (state != cache.ClusterResuming || cur.ClusterSince.Equal(since)) {
			return cur, false
		}
		next := cur
		next.Cluster, next.ClusterSince = state, since
		return next, true
	})
}

// resumeOutcome returns the error that a detection begun at waitedFrom
// must return, if the shared record shows that a resume of the cluster
// failed since then, or that one under way when it began is past its
// deadline: the detection waited for that resume. A detection begun after
// a resume ended is a new 503, and may resume the cluster again.
func (c *Coordinator) resumeOutcome(waitedFrom time.Time) error {
	if c.cfg.Cluster == nil {
		return nil
	}
	st := c.Snapshot()
	deadline := st.ClusterSince.Add(c.cfg.ResumeTimeout)
	switch {
	case st.Cluster == cache.ClusterFailed && !st.ClusterSince.Before(waitedFrom):
		return &ResumeError{Cluster: c.clusterName(), State: st.Cluster}
	case st.Cluster == cache.ClusterResuming && waitedFrom.Before(deadline) && !c.now().Before(deadline):
		return &ResumeError{Cluster: c.clusterName(), State: st.Cluster, Timeout: c.cfg.ResumeTimeout}
	}
	return nil
}

// isSuspended reports whether err says the cluster is suspended or starting,
// and no resume has failed.
func isSuspended(err error) bool {
	return errors.Is(err, ErrSuspended) && !errors.Is(err, ErrResumeFailed)
}
