package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

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

// callInfo is a colour, and the planner of a query, fixed for calls. It is
// made once per query; the headers it stands for are built on first use.
type callInfo struct {
	strategy  cache.Strategy
	plannerIP string
	md        atomic.Pointer[metadata.MD] // the headers, with the cluster of the interceptor that built them

	// A query's calls watch the rejections of its colour: once the
	// coordinator has counted one after rejectionsAt (read before its
	// prepare), the engine no longer serves the query, and its calls end
	// with a [colourGoneError] without reaching it.
	watch        bool
	rejectionsAt uint64
}

func newCallInfo(s cache.Strategy, plannerIP string) *callInfo {
	return &callInfo{strategy: s, plannerIP: plannerIP}
}

// WithStrategy returns a context whose calls, through [UnaryInterceptor],
// carry colour s as they are, with no retry: the caller owns recovery. Use
// it for the calls of a query, which must all carry the colour the query
// was prepared with, and for probes. plannerIP, if not empty, is sent as
// the plannerip header.
func WithStrategy(ctx context.Context, s cache.Strategy, plannerIP string) context.Context {
	return context.WithValue(ctx, callKey{}, newCallInfo(s, plannerIP))
}

// InterceptorOptions configures [UnaryInterceptor].
type InterceptorOptions struct {
	// Cluster is the cluster name, sent lower-cased in the cluster-name
	// header of every call when not empty.
	Cluster string

	// RenewSession, if set, lets a call whose request carries a session (a
	// sessionId that is not empty) be retried after the engine rejects its
	// colour: before each retry it is called with the colour of the retry,
	// and returns the id of a session of that colour, opened for instance
	// by authenticating with [WithStrategy](ctx, s, ""). The retry sends a
	// copy of the request with that session id; the caller's request is
	// not changed, so RenewSession is also where the caller keeps the new
	// id for its next calls. An error from it ends the call, unless it is
	// a rejection, which is retried like the call's own (within
	// MaxAttempts in all). It may be called from several goroutines at
	// once. Default nil: a call that carries a session is made once, and a
	// rejection reaches the caller as a [*StrategyError]; the colour is
	// invalidated, so that the caller's next call (its authenticate)
	// detects the colour again.
	RenewSession func(ctx context.Context, s cache.Strategy) (sessionID string, err error)
}

// UnaryInterceptor returns an interceptor that makes every unary call to the
// engine carry the colour that coord says, and keeps coord informed:
//
//   - It stamps the strategy header (omitted while no colour is known),
//     cluster-name and, for query calls, plannerip.
//   - It reports every new_strategy the engine sends in a response to
//     [coordinator.Coordinator.Announce].
//   - It turns the engine's rejection of a colour (456, in any of the
//     wordings [IsWrongStrategy] recognises) into a [*StrategyError].
//   - For a call whose context has no fixed colour ([WithStrategy]) it
//     resolves the colour and recovers from rejections as
//     [coordinator.Coordinator.Do] describes, if the request carries no
//     session (authenticate). A request that carries one (a sessionId that
//     is not empty) holds a session of the colour it was opened with, which
//     a retry on another colour must not send: such a call is retried only
//     with [InterceptorOptions.RenewSession], which gives each retry a
//     session of the new colour; without it, it is made once.
//   - A call with a fixed colour is made once.
//
// It can be used alone on any grpc.ClientConn whose stubs speak the
// engine's protocol. It does not pin queries: a caller that runs a query
// through it must make every call after prepare with [WithStrategy] and the
// colour and planner of the prepare, and pin the query with the
// coordinator if switches should wait for it. It does not know which colour
// a caller's session was opened with: a first attempt carries the live
// colour whatever session its request holds.
func UnaryInterceptor(coord *coordinator.Coordinator, opts InterceptorOptions) grpc.UnaryClientInterceptor {
	ic := &interceptor{coord: coord, cluster: strings.ToLower(opts.Cluster), renew: opts.RenewSession}
	for _, s := range []cache.Strategy{cache.Unknown, cache.Blue, cache.Green} {
		ic.mds[s] = ic.headers(s, "")
	}
	return ic.intercept
}

type interceptor struct {
	coord   *coordinator.Coordinator
	cluster string         // lower-cased
	mds     [3]metadata.MD // the headers of a call not tied to a query, per colour; read-only
	renew   func(ctx context.Context, s cache.Strategy) (string, error)
}

func (ic *interceptor) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if info, ok := ctx.Value(callKey{}).(*callInfo); ok {
		md := info.md.Load()
		if md == nil {
			m := ic.headers(info.strategy, info.plannerIP)
			md = &m
			info.md.Store(md)
		}
		if info.watch && ic.coord.Rejections(info.strategy) != info.rejectionsAt {
			return colourGoneError{info.strategy}
		}
		return ic.invoke(ctx, info.strategy, *md, method, req, reply, cc, invoker, opts)
	}
	if !carriesSession(req) {
		return ic.coord.Do(ctx, func(ctx context.Context, s cache.Strategy) error {
			return ic.invoke(ctx, s, ic.mds[s], method, req, reply, cc, invoker, opts)
		})
	}
	if ic.renew == nil {
		return ic.once(ctx, method, req, reply, cc, invoker, opts)
	}
	attempts := 0
	return ic.coord.Do(ctx, func(ctx context.Context, s cache.Strategy) error {
		attempts++
		r := req
		if attempts > 1 {
			id, err := ic.renew(ctx, s)
			if err != nil {
				return fmt.Errorf("client: renew the session for %s: %w", s, err)
			}
			if r, err = withSession(req, id); err != nil {
				return err
			}
		}
		return ic.invoke(ctx, s, ic.mds[s], method, r, reply, cc, invoker, opts)
	})
}

// once makes a call with the live colour, once. A rejection invalidates the
// colour, so that the next call resolves it again, and is returned.
func (ic *interceptor) once(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts []grpc.CallOption) error {
	s, err := ic.coord.Resolve(ctx)
	if err != nil {
		return err
	}
	err = ic.invoke(ctx, s, ic.mds[s], method, req, reply, cc, invoker, opts)
	if errors.Is(err, ErrWrongStrategy) {
		ic.coord.Invalidate(s)
	}
	return err
}

// sessionRequest is every request that carries a session.
type sessionRequest interface{ GetSessionId() string }

// carriesSession reports whether req holds a session id.
func carriesSession(req any) bool {
	r, ok := req.(sessionRequest)
	return ok && r.GetSessionId() != ""
}

// withSession returns a copy of req, a request that carries a session,
// with session id instead.
func withSession(req any, id string) (any, error) {
	if m, ok := req.(proto.Message); ok {
		m = proto.Clone(m)
		r := m.ProtoReflect()
		if fd := r.Descriptor().Fields().ByName("sessionId"); fd != nil && fd.Kind() == protoreflect.StringKind && !fd.IsList() {
			r.Set(fd, protoreflect.ValueOfString(id))
			return m, nil
		}
	}
	return nil, fmt.Errorf("client: cannot set the session of a %T", req)
}

// newStrategyReply is every response that has the new_strategy field.
type newStrategyReply interface{ GetNewStrategy() string }

func (ic *interceptor) invoke(ctx context.Context, s cache.Strategy, md metadata.MD, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts []grpc.CallOption) error {
	ctx = withHeaders(ctx, md)
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err != nil {
		if IsWrongStrategy(err) {
			return &StrategyError{Sent: s, Err: err}
		}
		if IsSuspended(err) {
			return fmt.Errorf("%w: %w", coordinator.ErrSuspended, err)
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

// headers returns the request headers of a call with colour s (none while
// unknown), the interceptor's cluster, and plannerIP if not empty.
func (ic *interceptor) headers(s cache.Strategy, plannerIP string) metadata.MD {
	md := metadata.MD{}
	if s.Valid() {
		md.Set(headerStrategy, s.String())
	}
	if ic.cluster != "" {
		md.Set(headerCluster, ic.cluster)
	}
	if plannerIP != "" {
		md.Set(headerPlannerIP, plannerIP)
	}
	return md
}

// withHeaders adds md, which it does not copy and nobody changes, to the
// outgoing headers of ctx: as the whole outgoing metadata when ctx has
// none, which costs no copy, else appended to what the caller set.
func withHeaders(ctx context.Context, md metadata.MD) context.Context {
	if len(md) == 0 {
		return ctx
	}
	if _, ok := metadata.FromOutgoingContext(ctx); !ok {
		return metadata.NewOutgoingContext(ctx, md)
	}
	kv := make([]string, 0, 2*len(md))
	for k, vs := range md {
		for _, v := range vs {
			kv = append(kv, k, v)
		}
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}
