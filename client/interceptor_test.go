package client_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/memory"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/coordinator"
)

// alone is the interceptor used alone, as a user with generated stubs of
// their own uses it: a coordinator whose probe authenticates through the
// stub, and the stub on a connection with the interceptor.
type alone struct {
	coord *coordinator.Coordinator
	stub  e6xpb.QueryEngineServiceClient
}

// newAlone connects to srv through the interceptor; withOpts may set
// options that use the stub, which is ready once newAlone returns.
func newAlone(t *testing.T, srv *enginetest.Server, withOpts func(a *alone, o *client.InterceptorOptions)) *alone {
	t.Helper()
	a := &alone{}
	probe := func(ctx context.Context, s cache.Strategy) error {
		_, err := a.stub.Authenticate(client.WithStrategy(ctx, s, ""), &e6xpb.AuthenticateRequest{User: user, Password: password})
		return err
	}
	store := memory.New(memory.Options{})
	t.Cleanup(func() { store.Close() })
	coord, err := coordinator.New(store, probe, coordinator.Config{Scope: cache.Scope{Engine: srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { coord.Close() })
	a.coord = coord
	var opts client.InterceptorOptions
	if withOpts != nil {
		withOpts(a, &opts)
	}
	cc, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(client.UnaryInterceptor(coord, opts)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	a.stub = e6xpb.NewQueryEngineServiceClient(cc)
	return a
}

// authenticate opens a session through the interceptor with the live colour.
func (a *alone) authenticate(t *testing.T, ctx context.Context) string {
	t.Helper()
	resp, err := a.stub.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: user, Password: password})
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	return resp.GetSessionId()
}

func (a *alone) schemas(ctx context.Context, sessionID string) ([]string, error) {
	resp, err := a.stub.GetSchemaNamesV2(ctx, &e6xpb.GetSchemaNamesV2Request{SessionId: sessionID, Catalog: enginetest.Catalog})
	return resp.GetSchemas(), err
}

// checkSessionColours fails t if the engine saw a session id with a colour
// other than the one the session was opened with.
func checkSessionColours(t *testing.T, srv *enginetest.Server) {
	t.Helper()
	log := srv.Log()
	opened := make(map[string]string) // session id → colour of its authenticate
	for _, c := range log {
		if c.Method == e6xpb.QueryEngineService_Authenticate_FullMethodName && c.Accepted && c.Code == codes.OK {
			opened[c.SessionID] = c.Strategy
		}
	}
	for _, c := range log {
		if c.Method == e6xpb.QueryEngineService_Authenticate_FullMethodName || c.SessionID == "" {
			continue
		}
		if want, ok := opened[c.SessionID]; !ok || c.Strategy != want {
			t.Errorf("engine saw %s with session %s (opened as %q) and strategy %q", c.Method, c.SessionID, want, c.Strategy)
		}
	}
}

// schemaCalls returns the getSchemaNamesV2 calls of log.
func schemaCalls(log []enginetest.Call) []enginetest.Call {
	return slices.DeleteFunc(log, func(c enginetest.Call) bool {
		return c.Method != e6xpb.QueryEngineService_GetSchemaNamesV2_FullMethodName
	})
}

// Used alone, the interceptor does not retry a call whose session belongs
// to the rejected colour: the caller gets the rejection, and its next
// authenticate, on the new colour, gives it a session that works.
func TestInterceptorAloneDoesNotRetryASession(t *testing.T) {
	srv := newEngine(t, enginetest.Options{BindSessions: true})
	a := newAlone(t, srv, nil)
	ctx := ctxT(t)
	blue := a.authenticate(t, ctx)
	if _, err := a.schemas(ctx, blue); err != nil {
		t.Fatalf("first call: %v", err)
	}
	if err := srv.SetActive(enginetest.Green); err != nil {
		t.Fatal(err)
	}
	before := len(srv.Log())

	_, err := a.schemas(ctx, blue)
	var se *client.StrategyError
	if !errors.As(err, &se) || !errors.Is(err, client.ErrWrongStrategy) {
		t.Fatalf("call after the switch: error %v, want a *StrategyError", err)
	}
	if se.Sent != cache.Blue || status.Code(err) != codes.Unknown {
		t.Errorf("StrategyError %+v (code %v), want sent blue and the engine's Unknown", se, status.Code(err))
	}
	if calls := schemaCalls(srv.Log()[before:]); len(calls) != 1 {
		t.Errorf("engine saw %d getSchemaNamesV2 calls after the switch, want 1 (no retry)", len(calls))
	}

	green := a.authenticate(t, ctx)
	if schemas, err := a.schemas(ctx, green); err != nil || len(schemas) != 1 {
		t.Fatalf("call with the new session = %v, %v", schemas, err)
	}
	if a.coord.Strategy() != cache.Green {
		t.Errorf("coordinator has %v, want green", a.coord.Strategy())
	}
	checkSessionColours(t, srv)
}

// A call without a session, such as authenticate, is retried on the new
// colour.
func TestInterceptorAloneRetriesAuthenticate(t *testing.T) {
	srv := newEngine(t, enginetest.Options{BindSessions: true})
	a := newAlone(t, srv, nil)
	ctx := ctxT(t)
	a.authenticate(t, ctx)
	if err := srv.SetActive(enginetest.Green); err != nil {
		t.Fatal(err)
	}
	before := len(srv.Log())
	green := a.authenticate(t, ctx)
	if _, err := a.schemas(ctx, green); err != nil {
		t.Fatalf("call with the session of the retried authenticate: %v", err)
	}
	var got []string
	for _, c := range srv.Log()[before:] {
		if c.Method == e6xpb.QueryEngineService_Authenticate_FullMethodName {
			got = append(got, c.Strategy+" "+map[bool]string{true: "accepted", false: "rejected"}[c.Accepted])
		}
	}
	// The call, rejected; the probes of the detection (blue rejected, green
	// accepted, in either order); the retry on green.
	if len(got) < 2 || got[0] != "blue rejected" || got[len(got)-1] != "green accepted" {
		t.Errorf("authenticate calls after the switch: %q; want blue rejected first, green accepted last", got)
	}
	checkSessionColours(t, srv)
}

// With RenewSession, a call whose session belongs to the rejected colour
// is retried with a session of the new colour, in a copy of the request.
func TestInterceptorAloneRenewsTheSession(t *testing.T) {
	srv := newEngine(t, enginetest.Options{BindSessions: true})
	var mu sync.Mutex
	var renewed []cache.Strategy
	var renewedID string
	a := newAlone(t, srv, func(a *alone, o *client.InterceptorOptions) {
		o.RenewSession = func(ctx context.Context, s cache.Strategy) (string, error) {
			resp, err := a.stub.Authenticate(client.WithStrategy(ctx, s, ""), &e6xpb.AuthenticateRequest{User: user, Password: password})
			mu.Lock()
			defer mu.Unlock()
			renewed = append(renewed, s)
			renewedID = resp.GetSessionId()
			return resp.GetSessionId(), err
		}
	})
	ctx := ctxT(t)
	blue := a.authenticate(t, ctx)
	if _, err := a.schemas(ctx, blue); err != nil {
		t.Fatalf("first call: %v", err)
	}
	if err := srv.SetActive(enginetest.Green); err != nil {
		t.Fatal(err)
	}
	before := len(srv.Log())

	req := &e6xpb.GetSchemaNamesV2Request{SessionId: blue, Catalog: enginetest.Catalog}
	resp, err := a.stub.GetSchemaNamesV2(ctx, req)
	if err != nil || len(resp.GetSchemas()) != 1 {
		t.Fatalf("call after the switch = %v, %v; want it retried and served", resp, err)
	}
	if req.GetSessionId() != blue {
		t.Errorf("the caller's request now has session %s, want it unchanged (%s)", req.GetSessionId(), blue)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(renewed, []cache.Strategy{cache.Green}) {
		t.Errorf("RenewSession called for %v, want once for green", renewed)
	}
	calls := schemaCalls(srv.Log()[before:])
	if len(calls) != 2 {
		t.Fatalf("engine saw %d getSchemaNamesV2 calls after the switch, want 2: %+v", len(calls), calls)
	}
	if c := calls[1]; !c.Accepted || c.Code != codes.OK || c.Strategy != "green" || c.SessionID != renewedID {
		t.Errorf("retry = %+v, want green with the renewed session %s, served", c, renewedID)
	}
	checkSessionColours(t, srv)
}
