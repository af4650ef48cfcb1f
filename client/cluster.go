package client

import (
	"context"
	"fmt"
	"strings"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client/e6xpb"
)

// clusterControl is the coordinator's way to the engine's ClusterService
// (coordinator.ClusterControl). Its calls go through the strategy
// interceptor, so they carry the cluster-name header, and the strategy
// header of the colour the shared record names, if any: they do not wait
// for a detection, which is what asked for them. A rejection of that
// colour (456) is retried once with the other.
type clusterControl struct{ c *Conn }

func (cc clusterControl) Status(ctx context.Context) (cache.ClusterState, error) {
	var status string
	err := cc.call(ctx, func(ctx context.Context) error {
		resp, err := cc.c.cluster.Status(ctx, &e6xpb.ClusterStatusRequest{User: cc.c.cfg.User, Password: cc.c.cfg.Password})
		status = resp.GetStatus()
		return err
	})
	if err != nil {
		return cache.ClusterUnknown, fmt.Errorf("client: cluster status: %w", err)
	}
	return cache.ClusterState(strings.ToLower(status)), nil
}

func (cc clusterControl) Resume(ctx context.Context) error {
	err := cc.call(ctx, func(ctx context.Context) error {
		_, err := cc.c.cluster.Resume(ctx, &e6xpb.ResumeRequest{User: cc.c.cfg.User, Password: cc.c.cfg.Password})
		return err
	})
	if err != nil {
		return fmt.Errorf("client: resume cluster: %w", err)
	}
	return nil
}

// call makes a ClusterService call with the record's colour, and once more
// with the other colour if the engine rejects it.
func (cc clusterControl) call(ctx context.Context, call func(ctx context.Context) error) error {
	s := cc.c.coord.Snapshot().Active
	err := call(WithStrategy(ctx, s, ""))
	if s.Valid() && IsWrongStrategy(err) {
		cc.c.coord.Invalidate(s)
		err = call(WithStrategy(ctx, s.Other(), ""))
	}
	return err
}
