package client_test

import (
	"context"
	"fmt"
	"log"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/memory"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/coordinator"
)

// A Conn runs queries; every call carries the engine's live colour.
func ExampleConn_Query() {
	engine, err := enginetest.NewServer(enginetest.Options{Start: enginetest.Green})
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close()

	conn, err := client.Open(client.Config{
		Addr:    engine.Addr(), // the engine's host:port
		User:    "alice",
		Catalog: "default",
		Schema:  "demo",
		// Store: a Redis-backed store shares the state with the fleet;
		// none means this process only.
	})
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	ctx := context.Background()
	rows, err := conn.Query(ctx, "SELECT * FROM demo.numbers LIMIT 3")
	if err != nil {
		log.Fatal(err)
	}
	defer rows.Close()
	for rows.Next(ctx) {
		vals, err := rows.Values()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(vals...)
	}
	if err := rows.Err(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("colour:", rows.Strategy())
	// Output:
	// 0 n0000 0 true
	// 1 n0001 0.25 false
	// 2 n0002 0.5 true
	// colour: green
}

// The interceptor alone, on a connection with the user's own stubs: calls
// carry the colour, announcements are recorded, and 456s are retried; a
// call that carries a session is retried with a session of the new colour
// from RenewSession.
func ExampleUnaryInterceptor() {
	// Each colour's sessions are valid for that colour only.
	engine, err := enginetest.NewServer(enginetest.Options{Start: enginetest.Green, BindSessions: true})
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close()

	// The coordinator needs a probe: "does the engine accept this colour?"
	// Authenticating with the colour fixed answers it.
	var stub e6xpb.QueryEngineServiceClient
	authenticate := func(ctx context.Context, s cache.Strategy) (string, error) {
		resp, err := stub.Authenticate(client.WithStrategy(ctx, s, ""), &e6xpb.AuthenticateRequest{User: "alice"})
		return resp.GetSessionId(), err
	}
	probe := func(ctx context.Context, s cache.Strategy) error {
		_, err := authenticate(ctx, s)
		return err
	}
	store := memory.New(memory.Options{})
	defer store.Close()
	coord, err := coordinator.New(store, probe, coordinator.Config{
		Scope: cache.Scope{Engine: engine.Addr()},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer coord.Close()

	// The session of the caller's next calls; RenewSession replaces it
	// when a switch makes it the old colour's.
	var session atomic.Value // string
	renew := func(ctx context.Context, s cache.Strategy) (string, error) {
		id, err := authenticate(ctx, s)
		if err == nil {
			session.Store(id)
		}
		return id, err
	}
	cc, err := grpc.NewClient(engine.Addr(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(client.UnaryInterceptor(coord, client.InterceptorOptions{
			Cluster:      "prod",
			RenewSession: renew,
		})),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	stub = e6xpb.NewQueryEngineServiceClient(cc)

	ctx := context.Background()
	auth, err := stub.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice"})
	if err != nil {
		log.Fatal(err)
	}
	session.Store(auth.GetSessionId())

	engine.SetActive(enginetest.Blue) // a switch between two calls
	schemas, err := stub.GetSchemaNamesV2(ctx, &e6xpb.GetSchemaNamesV2Request{
		SessionId: session.Load().(string), Catalog: "default",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(schemas.GetSchemas(), coord.Strategy())
	// Output: [demo] blue
}
