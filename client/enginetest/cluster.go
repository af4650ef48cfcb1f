package enginetest

import (
	"context"
	"time"

	"github.com/e6coord/e6coord/client/e6xpb"
)

// Cluster status words (PROTOCOL.md).
const (
	StatusActive    = "active"
	StatusSuspended = "suspended"
	StatusResuming  = "resuming"
	StatusFailed    = "failed"
)

// ResumeNever, as [Options.ResumeTakes], leaves a resumed cluster
// "resuming" until [Server.SetClusterStatus] or a suspend call changes it.
// Any negative duration does the same.
const ResumeNever time.Duration = -1

// SetClusterStatus sets the status ClusterService reports, abandoning a
// resume in progress. While it is not [StatusActive], engine calls fail
// with Unavailable (HTTP 503). Setting [StatusActive] starts the idle
// period of [Options.SuspendAfter] afresh; setting [StatusResuming] leaves
// the cluster resuming until it is set again or suspended.
func (s *Server) SetClusterStatus(status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setCluster(status, s.opts.Now())
}

// ClusterStatus returns the status ClusterService reports now.
func (s *Server) ClusterStatus() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clusterAt(s.opts.Now())
	return s.clusterStatus
}

// SetResumeFails sets whether the resumes that start from now on end in
// [StatusFailed] instead of [StatusActive] ([Options.ResumeFails]). A resume
// already in progress ends as it was going to.
func (s *Server) SetResumeFails(fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resumeFails = fail
}

// ResumeCalls returns the number of ClusterService resume calls received
// since the start or the last [Server.ResetLog], whatever their outcome
// (refused credentials included): the resume calls the log records, even
// those [Options.MaxLog] has dropped. It is [Counts].Resumes.
func (s *Server) ResumeCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts.Resumes
}

// setCluster makes status the cluster status at time at. s.mu must be
// held.
func (s *Server) setCluster(status string, at time.Time) {
	s.clusterStatus = status
	s.resumeAt = time.Time{}
	if status == StatusActive {
		s.idleSince = at
	}
}

// clusterAt applies the status changes due by now: a timed resume ends,
// then an active cluster idle for SuspendAfter (counted from the end of
// that resume, if it just ended) suspends. s.mu must be held.
func (s *Server) clusterAt(now time.Time) {
	if s.clusterStatus == StatusResuming && !s.resumeAt.IsZero() && !now.Before(s.resumeAt) {
		s.setCluster(s.resumeTo, s.resumeAt)
	}
	if s.clusterStatus == StatusActive && s.opts.SuspendAfter > 0 && !now.Before(s.idleSince.Add(s.opts.SuspendAfter)) {
		s.setCluster(StatusSuspended, now)
	}
}

// engineCall notes an engine call arriving at now, which restarts the idle
// period of an active cluster. s.mu must be held, and clusterAt(now)
// applied.
func (s *Server) engineCall(now time.Time) {
	if s.clusterStatus == StatusActive && now.After(s.idleSince) {
		s.idleSince = now
	}
}

// resume carries out a resume call arriving at now and returns the status
// it answers.
func (s *Server) resume(now time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clusterAt(now)
	if s.clusterStatus == StatusActive || s.clusterStatus == StatusResuming {
		return s.clusterStatus
	}
	to := StatusActive
	if s.resumeFails {
		to = StatusFailed
	}
	switch d := s.opts.ResumeTakes; {
	case d == 0:
		s.setCluster(to, now)
	default:
		s.setCluster(StatusResuming, now)
		s.resumeTo = to
		if d > 0 {
			s.resumeAt = now.Add(d)
		}
	}
	return s.clusterStatus
}

// suspend carries out a suspend call arriving at now.
func (s *Server) suspend(now time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setCluster(StatusSuspended, now)
	return s.clusterStatus
}

// status answers a status call arriving at now.
func (s *Server) status(now time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clusterAt(now)
	return s.clusterStatus
}

// cluster implements ClusterService. Every call checks the credentials
// ([Options.User]) and is served whatever the cluster status, whatever
// strategy header it carries and whether or not it carries one: a switch of
// colour happens only while the cluster is active, so a client may well
// know a colour that is stale by the time the cluster resumes. status
// reports the cluster status; resume starts a resume of a cluster that is
// neither active nor resuming (see [Options.ResumeTakes]) and answers the
// status it leaves; suspend suspends the cluster at once, abandoning a
// resume in progress. ClusterService calls do not restart the idle period
// of [Options.SuspendAfter].
type cluster struct {
	e6xpb.UnimplementedClusterServiceServer
	s *Server
}

// arrival returns the time the call in ctx arrived, as the log has it.
func (c *cluster) arrival(ctx context.Context) time.Time {
	if t := admissionFrom(ctx).call.Time; !t.IsZero() {
		return t
	}
	return c.s.opts.Now()
}

func (c *cluster) Status(ctx context.Context, req *e6xpb.ClusterStatusRequest) (*e6xpb.ClusterStatusResponse, error) {
	if err := c.s.credentials(req.GetUser(), req.GetPassword()); err != nil {
		return nil, err
	}
	return &e6xpb.ClusterStatusResponse{Status: c.s.status(c.arrival(ctx))}, nil
}

func (c *cluster) Resume(ctx context.Context, req *e6xpb.ResumeRequest) (*e6xpb.ResumeResponse, error) {
	if err := c.s.credentials(req.GetUser(), req.GetPassword()); err != nil {
		return nil, err
	}
	return &e6xpb.ResumeResponse{Status: c.s.resume(c.arrival(ctx))}, nil
}

func (c *cluster) Suspend(ctx context.Context, req *e6xpb.SuspendRequest) (*e6xpb.SuspendResponse, error) {
	if err := c.s.credentials(req.GetUser(), req.GetPassword()); err != nil {
		return nil, err
	}
	return &e6xpb.SuspendResponse{Status: c.s.suspend(c.arrival(ctx))}, nil
}
