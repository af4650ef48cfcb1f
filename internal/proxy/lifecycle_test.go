package proxy

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
)

// blockExecute returns a server option that holds the nth execute
// call the engine gets until release is closed, signalling entered.
func blockExecute(nth int32, entered chan<- struct{}, release <-chan struct{}) grpc.ServerOption {
	var executes atomic.Int32
	return grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if info.FullMethod == e6xpb.QueryEngineService_ExecuteStatementV2_FullMethodName && executes.Add(1) == nth {
			entered <- struct{}{}
			<-release
		}
		return h(ctx, req)
	})
}

// A session with a call under way is not idle, however long the call
// takes: its query stays open and the call ends well.
func TestSessionNotIdleDuringCall(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	entered, release := make(chan struct{}, 1), make(chan struct{})
	eng := newEngine(t, enginetest.Options{ServerOptions: []grpc.ServerOption{blockExecute(1, entered, release)}})
	p, addr := startProxy(t, eng, func(o *Options) {
		o.SessionIdle = time.Minute
		o.Now = func() time.Time { return time.Unix(0, now.Load()) }
	})
	stub := e6xpb.NewQueryEngineServiceClient(dial(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	a, err := stub.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "a"})
	if err != nil {
		t.Fatal(err)
	}
	sid := a.GetSessionId()
	pr, err := stub.PrepareStatementV2(ctx, &e6xpb.PrepareStatementV2Request{SessionId: sid, Schema: enginetest.Schema, Catalog: enginetest.Catalog, QueryString: "SELECT 1"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := stub.ExecuteStatementV2(ctx, &e6xpb.ExecuteStatementV2Request{SessionId: sid, QueryId: pr.GetQueryId(), EngineIP: pr.GetEngineIP()})
		done <- err
	}()
	<-entered
	now.Add(int64(2 * time.Minute))
	p.expireSessions()
	if n := p.OpenQueries(); n != 1 {
		t.Errorf("%d queries open after an expiry during an execute, want the one", n)
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("the long execute: %v", err)
	}
	if _, err := stub.GetResultMetadata(ctx, &e6xpb.GetResultMetadataRequest{SessionId: sid, QueryId: pr.GetQueryId(), EngineIP: pr.GetEngineIP()}); err != nil {
		t.Errorf("metadata after the long execute: %v", err)
	}
}

// A query the proxy ends (its session expires, its connection ends) while
// a call replays it on the new colour is cleared on that colour when the
// replay is done, and leaves no pin.
func TestFinishDuringReplay(t *testing.T) {
	entered, release := make(chan struct{}, 1), make(chan struct{})
	eng := newEngine(t, enginetest.Options{ServerOptions: []grpc.ServerOption{blockExecute(2, entered, release)}})
	p, addr := startProxy(t, eng)
	stub := e6xpb.NewQueryEngineServiceClient(dial(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	a, err := stub.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "a"})
	if err != nil {
		t.Fatal(err)
	}
	sid := a.GetSessionId()
	pr, err := stub.PrepareStatementV2(ctx, &e6xpb.PrepareStatementV2Request{SessionId: sid, Schema: enginetest.Schema, Catalog: enginetest.Catalog, QueryString: "SELECT 1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stub.ExecuteStatementV2(ctx, &e6xpb.ExecuteStatementV2Request{SessionId: sid, QueryId: pr.GetQueryId(), EngineIP: pr.GetEngineIP()}); err != nil {
		t.Fatal(err)
	}
	if err := eng.SetActive(eng.State().Active.Other()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := stub.GetResultMetadata(ctx, &e6xpb.GetResultMetadataRequest{SessionId: sid, QueryId: pr.GetQueryId(), EngineIP: pr.GetEngineIP()})
		done <- err
	}()
	<-entered // the replay's execute, on the new colour
	p.sessions.mu.Lock()
	s := p.sessions.sessions[sid]
	p.sessions.mu.Unlock()
	dropped := make(chan struct{})
	go func() {
		p.dropSession(s) // as an expiry does
		close(dropped)
	}()
	close(release)
	<-done
	<-dropped
	if n := p.OpenQueries(); n != 0 {
		t.Errorf("%d queries open, want none", n)
	}
	if pins := p.Conn().Coordinator().Pins(); pins.Total() != 0 {
		t.Errorf("pins held %+v after the query ended, want none", pins)
	}
}

// A call of a query that a proxy before a restart prepared gets Access
// denied, from which the published client recovers on execute by
// authenticating again, not the engine's "query not found".
func TestQueryOfTheProxyBeforeRestart(t *testing.T) {
	eng := newEngine(t, enginetest.Options{})
	key := newKey(t)
	before, addr := startProxy(t, eng, withKey(key))
	stub := e6xpb.NewQueryEngineServiceClient(dial(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	a, err := stub.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "a"})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := stub.PrepareStatementV2(ctx, &e6xpb.PrepareStatementV2Request{SessionId: a.GetSessionId(), Schema: enginetest.Schema, Catalog: enginetest.Catalog, QueryString: "SELECT 1"})
	if err != nil {
		t.Fatal(err)
	}
	before.Close()
	_, addr2 := startProxy(t, eng, withKey(key))
	stub2 := e6xpb.NewQueryEngineServiceClient(dial(t, addr2))
	_, err = stub2.ExecuteStatementV2(ctx, &e6xpb.ExecuteStatementV2Request{SessionId: a.GetSessionId(), QueryId: pr.GetQueryId(), EngineIP: pr.GetEngineIP()})
	if st, _ := status.FromError(err); st.Code() != codes.Internal || !strings.Contains(st.Message(), "Access denied") {
		t.Errorf("execute of a query prepared before the restart: %v, want Internal Access denied", err)
	}
	_, err = stub2.GetNextResultBatch(ctx, &e6xpb.GetNextResultBatchRequest{SessionId: a.GetSessionId(), QueryId: pr.GetQueryId(), EngineIP: pr.GetEngineIP()})
	if st, _ := status.FromError(err); st.Code() != codes.Internal || !strings.Contains(st.Message(), "Access denied") {
		t.Errorf("fetch of a query prepared before the restart: %v, want Internal Access denied", err)
	}
}
