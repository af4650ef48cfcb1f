package proxy

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
)

// BenchmarkProxyCall measures a getSchemaNamesV2 call of a client of the
// generated stubs on loopback, straight to the fake engine (direct),
// through a bare relay (relay: a gRPC server on grpc-go's transport that
// passes the call on with a fixed strategy header and nothing else, the
// floor of one more hop) and through the proxy (proxy), in the same run. The engine answers on
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
	b.Run("relay", func(b *testing.B) {
		run(b, e6xpb.NewQueryEngineServiceClient(dial(b, startRelay(b, direct))), ctx, directSID)
	})
	b.Run("proxy", func(b *testing.B) {
		run(b, proxied, ctx, proxySID)
	})
}

// relay passes getSchemaNamesV2 on to the engine with strategy blue.
type relay struct {
	e6xpb.UnimplementedQueryEngineServiceServer
	engine e6xpb.QueryEngineServiceClient
}

func (r *relay) GetSchemaNamesV2(ctx context.Context, req *e6xpb.GetSchemaNamesV2Request) (*e6xpb.GetSchemaNamesResponse, error) {
	return r.engine.GetSchemaNamesV2(metadata.AppendToOutgoingContext(ctx, "strategy", "blue"), req)
}

// startRelay serves a relay to engine on a loopback port and returns its
// address.
func startRelay(b *testing.B, engine e6xpb.QueryEngineServiceClient) string {
	b.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer()
	e6xpb.RegisterQueryEngineServiceServer(srv, &relay{engine: engine})
	go srv.Serve(lis)
	b.Cleanup(srv.Stop)
	return lis.Addr().String()
}
