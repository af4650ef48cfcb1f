package integration

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/coordinator/coordinatortest"
	"github.com/e6coord/e6coord/internal/proxy"
	"github.com/e6coord/e6coord/internal/redistest"
)

// startEngineProxy starts an e6coord proxy of srv in the test process that
// shares the fleet's state through redisURL, and returns it and a naive
// client's stub on it (the generated stubs, no interceptor).
func startEngineProxy(t *testing.T, srv *enginetest.Server, redisURL string) (*proxy.Proxy, e6xpb.QueryEngineServiceClient) {
	t.Helper()
	p, err := proxy.New(proxy.Options{Client: client.Config{Addr: srv.Addr(), RedisURL: redisURL}})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Serve(lis) }()
	t.Cleanup(func() {
		p.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return p, e6xpb.NewQueryEngineServiceClient(cc)
}

// naiveQuery runs sql through stub as a client of the generated stubs
// does, with no strategy header, and returns its row count.
func naiveQuery(ctx context.Context, stub e6xpb.QueryEngineServiceClient, sid, sql string) (int, error) {
	prep, err := stub.PrepareStatementV2(ctx, &e6xpb.PrepareStatementV2Request{SessionId: sid, Schema: enginetest.Schema, Catalog: enginetest.Catalog, QueryString: sql})
	if err != nil {
		return 0, err
	}
	ip, qid := prep.GetEngineIP(), prep.GetQueryId()
	if _, err := stub.ExecuteStatementV2(ctx, &e6xpb.ExecuteStatementV2Request{EngineIP: ip, SessionId: sid, QueryId: qid}); err != nil {
		return 0, err
	}
	md, err := stub.GetResultMetadata(ctx, &e6xpb.GetResultMetadataRequest{EngineIP: ip, SessionId: sid, QueryId: qid})
	if err != nil {
		return 0, err
	}
	raw, err := client.NewRawResult(md.GetResultMetaData())
	if err != nil {
		return 0, err
	}
	rows := 0
	for {
		b, err := stub.GetNextResultBatch(ctx, &e6xpb.GetNextResultBatchRequest{EngineIP: ip, SessionId: sid, QueryId: qid})
		if err != nil {
			return rows, err
		}
		n, err := raw.Batch(b.GetResultBatch())
		if err != nil {
			return rows, err
		}
		if n == 0 {
			break
		}
		rows += n
	}
	_, err = stub.ClearOrCancelQuery(ctx, &e6xpb.ClearOrCancelQueryRequest{EngineIP: ip, SessionId: sid, QueryId: qid})
	return rows, err
}

// TestProxiesShareRedis: two proxies of one engine share the state through
// one real redis-server. A switch one proxy learns of (from the engine's
// new_strategy and a rejection) reaches the other through Redis, without
// a call of its own; naive clients of both run their queries across the
// switches with none failing.
func TestProxiesShareRedis(t *testing.T) {
	r := redistest.Start(t)
	srv, err := enginetest.NewServer(enginetest.Options{Mode: enginetest.SwitchOnClear, Rejection: enginetest.RejectUnknown})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	pa, a := startEngineProxy(t, srv, r.URL())
	pb, b := startEngineProxy(t, srv, r.URL())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sids := make([]string, 2)
	for i, stub := range []e6xpb.QueryEngineServiceClient{a, b} {
		auth, err := stub.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "pw"})
		if err != nil {
			t.Fatal(err)
		}
		sids[i] = auth.GetSessionId()
	}
	const sql = "SELECT * FROM demo.numbers LIMIT 300"
	failed := 0
	for k := 0; k < 4; k++ {
		to := srv.State().Active.Other()
		if err := srv.BeginSwitch(to); err != nil {
			t.Fatal(err)
		}
		// Proxy a's query is the one whose clear switches the engine.
		if n, err := naiveQuery(ctx, a, sids[0], sql); err != nil || n != 300 {
			failed++
			t.Errorf("switch %d, proxy a: %d rows, %v", k, n, err)
		}
		if n, err := naiveQuery(ctx, a, sids[0], sql); err != nil || n != 300 {
			failed++
			t.Errorf("switch %d, proxy a after: %d rows, %v", k, n, err)
		}
		want, _ := cache.ParseStrategy(to.String())
		wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
		_, err := coordinatortest.WaitFor(wctx, pb.Conn().Coordinator(), func(st cache.State) bool { return st.Active == want })
		wcancel()
		if err != nil {
			t.Fatalf("switch %d: proxy b never learnt of %s through Redis: %v (record %s; a's %s)", k, to, err,
				pb.Conn().Coordinator().Snapshot(), pa.Conn().Coordinator().Snapshot())
		}
		if n, err := naiveQuery(ctx, b, sids[1], sql); err != nil || n != 300 {
			failed++
			t.Errorf("switch %d, proxy b: %d rows, %v", k, n, err)
		}
	}
	if got := srv.State().Switches; got != 4 {
		t.Errorf("the engine switched %d times, want 4", got)
	}
	if failed > 0 {
		t.Errorf("%d queries failed", failed)
	}
	if m := srv.MixedQueries(); len(m) > 0 {
		t.Errorf("queries whose calls carried two colours: %v", m)
	}
}
