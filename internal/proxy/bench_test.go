package proxy

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
)

// BenchmarkProxyCall measures a getSchemaNamesV2 call of a client of the
// generated stubs on loopback, straight to the fake engine (direct) and
// through the proxy (proxy), in the same run. The engine answers on
// grpc-go's own transport (RejectUnknown), as the proxy does. Besides
// ns/op and allocs/op (the client's and, in the same process, the
// proxy's and the engine's), it reports the p50 and p99 of the calls in
// microseconds.
func BenchmarkProxyCall(b *testing.B) {
	eng := newEngine(b, enginetest.Options{Rejection: enginetest.RejectUnknown})
	_, addr := startProxy(b, eng)
	ctx := context.Background()

	direct := eng.Engine()
	auth, err := direct.Authenticate(metadata.AppendToOutgoingContext(ctx, "strategy", "blue"), &e6xpb.AuthenticateRequest{User: "alice", Password: "a"})
	if err != nil {
		b.Fatal(err)
	}
	directSID := auth.GetSessionId()

	proxied := e6xpb.NewQueryEngineServiceClient(dial(b, addr))
	pauth, err := proxied.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "a"})
	if err != nil {
		b.Fatal(err)
	}
	proxySID := pauth.GetSessionId()

	run := func(b *testing.B, stub e6xpb.QueryEngineServiceClient, ctx context.Context, sid string) {
		req := &e6xpb.GetSchemaNamesV2Request{SessionId: sid, Catalog: enginetest.Catalog}
		lat := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			start := time.Now()
			if _, err := stub.GetSchemaNamesV2(ctx, req); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		b.StopTimer()
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
	}
	b.Run("direct", func(b *testing.B) {
		run(b, direct, metadata.AppendToOutgoingContext(ctx, "strategy", "blue"), directSID)
	})
	b.Run("proxy", func(b *testing.B) {
		run(b, proxied, ctx, proxySID)
	})
}
