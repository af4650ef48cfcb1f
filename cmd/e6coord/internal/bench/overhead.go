package bench

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/memory"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/coordinator"
)

// callOverhead measures what the strategy interceptor adds to a unary call,
// with testing.Benchmark: the same call to an invoker that does nothing,
// once bare and once through the interceptor with the colour known. It
// returns the difference in ns and allocations per call.
func callOverhead() (float64, int64, error) {
	store := memory.New(memory.Options{})
	defer store.Close()
	coord, err := coordinator.New(store, func(context.Context, cache.Strategy) error { return nil },
		coordinator.Config{Scope: cache.Scope{Engine: "bench"}, RefreshInterval: -1})
	if err != nil {
		return 0, 0, err
	}
	defer coord.Close()
	ctx := context.Background()
	if _, err := coord.Resolve(ctx); err != nil {
		return 0, 0, fmt.Errorf("bench: resolve the colour: %w", err)
	}
	method := e6xpb.QueryEngineService_GetSchemaNamesV2_FullMethodName
	req, reply := &e6xpb.GetSchemaNamesV2Request{SessionId: "s", Catalog: "c"}, &e6xpb.GetSchemaNamesResponse{}
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	ic := client.UnaryInterceptor(coord, client.InterceptorOptions{})

	var failed error
	bare := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := invoker(ctx, method, req, reply, nil); err != nil {
				failed = err
			}
		}
	})
	through := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := ic(ctx, method, req, reply, nil, invoker); err != nil {
				failed = err
			}
		}
	})
	if failed != nil {
		return 0, 0, fmt.Errorf("bench: a call through the interceptor: %w", failed)
	}
	ns := float64(through.NsPerOp()) - float64(bare.NsPerOp())
	if through.N > 0 && bare.N > 0 {
		ns = float64(through.T.Nanoseconds())/float64(through.N) - float64(bare.T.Nanoseconds())/float64(bare.N)
	}
	return ns, through.AllocsPerOp() - bare.AllocsPerOp(), nil
}
