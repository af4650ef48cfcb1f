package client_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
)

// BenchmarkUnaryCall compares one unary call over loopback without e6coord
// ("bare") and through the strategy interceptor, with the colour resolved by
// the coordinator ("interceptor") or fixed for a query's call ("pinned").
// The difference is the per-call cost of e6coord.
func BenchmarkUnaryCall(b *testing.B) {
	srv := newEngine(b, enginetest.Options{Rejection: enginetest.RejectUnknown})
	conn := open(b, srv)
	ctx := context.Background()
	if err := conn.Connect(ctx); err != nil { // detect the colour
		b.Fatal(err)
	}
	auth, err := srv.Engine().Authenticate(ctx, &e6xpb.AuthenticateRequest{User: user, Password: password})
	if err != nil {
		b.Fatal(err)
	}
	req := &e6xpb.GetSchemaNamesV2Request{SessionId: auth.GetSessionId(), Catalog: enginetest.Catalog}

	bare, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer bare.Close()
	intercepted, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(client.UnaryInterceptor(conn.Coordinator(), client.InterceptorOptions{})))
	if err != nil {
		b.Fatal(err)
	}
	defer intercepted.Close()

	for _, bc := range []struct {
		name string
		cc   *grpc.ClientConn
		ctx  context.Context
	}{
		{"bare", bare, ctx},
		// The same headers, set by hand: what the headers themselves cost.
		{"bare+headers", bare, metadata.NewOutgoingContext(ctx, metadata.Pairs("strategy", "blue"))},
		{"interceptor", intercepted, ctx},
		{"pinned", intercepted, client.WithStrategy(ctx, cache.Blue, "127.0.0.1")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			stub := e6xpb.NewQueryEngineServiceClient(bc.cc)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := stub.GetSchemaNamesV2(bc.ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
