package enginetest

import (
	"context"

	"github.com/e6coord/e6coord/client/e6xpb"
)

// Cluster status words (PROTOCOL.md).
const (
	StatusActive    = "active"
	StatusSuspended = "suspended"
	StatusResuming  = "resuming"
	StatusFailed    = "failed"
)

// SetClusterStatus sets the status ClusterService reports. While it is not
// [StatusActive], engine calls fail with Unavailable (HTTP 503).
func (s *Server) SetClusterStatus(status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clusterStatus = status
}

// ClusterStatus returns the status ClusterService reports.
func (s *Server) ClusterStatus() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clusterStatus
}

// cluster implements ClusterService: status reports the cluster status,
// resume makes it active and suspend suspends it.
type cluster struct {
	e6xpb.UnimplementedClusterServiceServer
	s *Server
}

func (c *cluster) set(user, password, to string) (string, error) {
	if err := c.s.credentials(user, password); err != nil {
		return "", err
	}
	if to != "" {
		c.s.SetClusterStatus(to)
	}
	return c.s.ClusterStatus(), nil
}

func (c *cluster) Status(_ context.Context, req *e6xpb.ClusterStatusRequest) (*e6xpb.ClusterStatusResponse, error) {
	st, err := c.set(req.GetUser(), req.GetPassword(), "")
	if err != nil {
		return nil, err
	}
	return &e6xpb.ClusterStatusResponse{Status: st}, nil
}

func (c *cluster) Resume(_ context.Context, req *e6xpb.ResumeRequest) (*e6xpb.ResumeResponse, error) {
	st, err := c.set(req.GetUser(), req.GetPassword(), StatusActive)
	if err != nil {
		return nil, err
	}
	return &e6xpb.ResumeResponse{Status: st}, nil
}

func (c *cluster) Suspend(_ context.Context, req *e6xpb.SuspendRequest) (*e6xpb.SuspendResponse, error) {
	st, err := c.set(req.GetUser(), req.GetPassword(), StatusSuspended)
	if err != nil {
		return nil, err
	}
	return &e6xpb.SuspendResponse{Status: st}, nil
}
