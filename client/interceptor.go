package client

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/coordinator"
)

// Request header keys (PROTOCOL.md).
const (
	headerStrategy  = "strategy"
	headerCluster   = "cluster-name"
	headerPlannerIP = "plannerip"
)

// callKey is the context key of a call's fixed colour.
type callKey struct{}

// callInfo is a colour, and the planner of a query, fixed for a call.
type callInfo struct {
	strategy  cache.Strategy
	plannerIP string
}

// WithStrategy returns a context whose calls, through [UnaryInterceptor],
// carry colour s as they are, with no retry: the caller owns recovery. Use
// it for the calls of a query, which must all carry the colour the query
// was prepared with, and for probes. plannerIP, if not empty, is sent as
// the plannerip header.
func WithStrategy(ctx context.Context, s cache.Strategy, plannerIP string) context.Context {
	return context.WithValue(ctx, callKey{}, callInfo{strategy: s, plannerIP: plannerIP})
}

// InterceptorOptions configures [UnaryInterceptor].
type InterceptorOptions struct {
	// Cluster is the cluster name, sent lower-cased in the cluster-name
	// header of every call when not empty.
	Cluster string
}

// UnaryInterceptor returns an interceptor that makes every unary call to the
// engine carry the colour that coord says, and keeps coord informed:
//
//   - It stamps the strategy header (omitted while no colour is known),
//     cluster-name and, for query calls, plannerip.
//   - It reports every new_strategy the engine sends in a response to
//     [coordinator.Coordinator.Announce].
//   - It turns the engine's rejection of a colour (456, in any wording) into
//     a [*StrategyError].
//   - For a call whose context has no fixed colour ([WithStrategy]) it
//     resolves the colour and recovers from rejections as
//     [coordinator.Coordinator.Do] describes; a call with a fixed colour is
//     made once.
//
// It can be used alone on any grpc.ClientConn whose stubs speak the
// engine's protocol.
func UnaryInterceptor(coord *coordinator.Coordinator, opts InterceptorOptions) grpc.UnaryClientInterceptor {
	ic := &interceptor{coord: coord, cluster: strings.ToLower(opts.Cluster)}
	return ic.intercept
}

type interceptor struct {
	coord   *coordinator.Coordinator
	cluster string // lower-cased
}

func (ic *interceptor) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if info, ok := ctx.Value(callKey{}).(callInfo); ok {
		return ic.invoke(ctx, info.strategy, info.plannerIP, method, req, reply, cc, invoker, opts)
	}
	return ic.coord.Do(ctx, func(ctx context.Context, s cache.Strategy) error {
		return ic.invoke(ctx, s, "", method, req, reply, cc, invoker, opts)
	})
}

// newStrategyReply is every response that has the new_strategy field.
type newStrategyReply interface{ GetNewStrategy() string }

func (ic *interceptor) invoke(ctx context.Context, s cache.Strategy, plannerIP, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts []grpc.CallOption) error {
	ctx = ic.stamp(ctx, s, plannerIP)
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err != nil {
		if IsWrongStrategy(err) {
			return &StrategyError{Sent: s, Err: err}
		}
		return err
	}
	if r, ok := reply.(newStrategyReply); ok {
		if v := r.GetNewStrategy(); v != "" {
			ic.coord.Announce(v)
		}
	}
	return nil
}

// stamp adds the request headers in one metadata append.
func (ic *interceptor) stamp(ctx context.Context, s cache.Strategy, plannerIP string) context.Context {
	var kv [6]string
	n := 0
	if s.Valid() {
		kv[n], kv[n+1] = headerStrategy, s.String()
		n += 2
	}
	if ic.cluster != "" {
		kv[n], kv[n+1] = headerCluster, ic.cluster
		n += 2
	}
	if plannerIP != "" {
		kv[n], kv[n+1] = headerPlannerIP, plannerIP
		n += 2
	}
	if n == 0 {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, kv[:n]...)
}
