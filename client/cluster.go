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
// header of the colour the coordinator gives them (none while it knows
// none); the coordinator retries a rejected colour with the other.
type clusterControl struct{ c *Conn }

func (cc clusterControl) Status(ctx context.Context, s cache.Strategy) (cache.ClusterState, error) {
	resp, err := cc.c.cluster.Status(WithStrategy(ctx, s, ""), &e6xpb.ClusterStatusRequest{User: cc.c.cfg.User, Password: cc.c.cfg.Password})
	if err != nil {
		return cache.ClusterUnknown, fmt.Errorf("client: cluster status: %w", err)
	}
	return cache.ClusterState(strings.ToLower(resp.GetStatus())), nil
}

func (cc clusterControl) Resume(ctx context.Context, s cache.Strategy) error {
	_, err := cc.c.cluster.Resume(WithStrategy(ctx, s, ""), &e6xpb.ResumeRequest{User: cc.c.cfg.User, Password: cc.c.cfg.Password})
	if err != nil {
		return fmt.Errorf("client: resume cluster: %w", err)
	}
	return nil
}

// Cluster returns the generated ClusterService stub on the Conn's
// connection, whose calls go through the strategy interceptor as
// [Conn.Engine]'s do: they carry the cluster-name header, and the colour
// fixed by [WithStrategy] or else the live colour.
func (c *Conn) Cluster() e6xpb.ClusterServiceClient { return c.cluster }
