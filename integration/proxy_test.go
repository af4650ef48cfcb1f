package integration

import (
	"context"
	"fmt"
	"net"
	"sync"
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

// TestFourProxiesThroughSwitches: four proxies of one engine, each with a
// naive client of its own running queries of four batches, share the
// state through one real redis-server while the engine switches 10 times,
// wherever the count of finished queries puts the switches, in both
// switch modes: no query fails, and every proxy ends on the engine's
// colour.
func TestFourProxiesThroughSwitches(t *testing.T) {
	for _, mode := range []enginetest.SwitchMode{enginetest.Overlap, enginetest.SwitchOnClear} {
		t.Run(mode.String(), func(t *testing.T) {
			r := redistest.Start(t)
			srv, err := enginetest.NewServer(enginetest.Options{Mode: mode, Rejection: enginetest.RejectHTTP456, RejectMissingStrategy: true})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			const proxies, switches = 4, 10
			done := make(chan error, 16)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			ps := make([]*proxy.Proxy, proxies)
			for i := range proxies {
				p, stub := startEngineProxy(t, srv, r.URL())
				ps[i] = p
				auth, err := stub.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: fmt.Sprintf("user%d", i), Password: "pw"})
				if err != nil {
					t.Fatal(err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						n, err := naiveQuery(ctx, stub, auth.GetSessionId(), "SELECT * FROM demo.numbers")
						if err == nil && n != 1000 {
							err = fmt.Errorf("%d rows, want 1000", n)
						}
						select {
						case done <- err:
						case <-stop:
							return
						}
					}
				}()
			}
			queries, failed := 0, 0
			next := func() {
				t.Helper()
				select {
				case err := <-done:
					queries++
					if err != nil {
						failed++
						t.Errorf("query %d: %v", queries, err)
					}
				case <-ctx.Done():
					t.Fatalf("no query finished (%d so far)", queries)
				}
			}
			for k := 0; k < switches; k++ {
				if err := srv.BeginSwitch(srv.State().Active.Other()); err != nil {
					t.Fatal(err)
				}
				for range 4 {
					next()
				}
				if mode == enginetest.Overlap {
					srv.FinishSwitch()
				}
				for srv.State().Switches < k+1 {
					next()
				}
				for range 4 {
					next()
				}
			}
			close(stop)
			wg.Wait()
			if failed > 0 {
				t.Errorf("%d of %d queries failed", failed, queries)
			}
			if m := srv.MixedQueries(); len(m) > 0 {
				t.Errorf("queries whose calls carried two colours: %v", m)
			}
			want, _ := cache.ParseStrategy(srv.State().Active.String())
			for i, p := range ps {
				wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
				_, err := coordinatortest.WaitFor(wctx, p.Conn().Coordinator(), func(st cache.State) bool { return st.Active == want })
				wcancel()
				if err != nil {
					t.Errorf("proxy %d never adopted %s: %v (record %s)", i, want, err, p.Conn().Coordinator().Snapshot())
				}
			}
			var replays uint64
			for _, p := range ps {
				replays += p.Replays()
			}
			t.Logf("%d queries, %d replays, %d switches, engine %+v", queries, replays, srv.State().Switches, srv.Counts())
		})
	}
}
