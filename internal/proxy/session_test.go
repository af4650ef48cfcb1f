package proxy

import (
	"bytes"
	"context"
	"errors"
	"google.golang.org/grpc"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/secrettest"
)

// TestRefusedCredential: a credential the engine refuses gets the
// engine's error (code and message) and no session, whether the proxy has
// an engine connection yet or not; the right one then works.
func TestRefusedCredential(t *testing.T) {
	eng := newEngine(t, enginetest.Options{User: "alice", Password: "right"})
	p, addr := startProxy(t, eng)
	stub := e6xpb.NewQueryEngineServiceClient(dial(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	_, direct := eng.Engine().Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "wrong"})
	wantCode(t, "direct", direct, codes.Unauthenticated, "invalid credentials")

	check := func(when string) {
		t.Helper()
		resp, err := stub.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "wrong"})
		wantCode(t, when, err, codes.Unauthenticated, "invalid credentials")
		if resp.GetSessionId() != "" {
			t.Errorf("%s: a session %q for a refused credential", when, resp.GetSessionId())
		}
		p.sessions.mu.Lock()
		creds := len(p.sessions.creds)
		p.sessions.mu.Unlock()
		if creds > 1 {
			t.Errorf("%s: the proxy keeps %d credentials", when, creds)
		}
	}
	check("first credential")
	if p.Conn() != nil {
		t.Errorf("the proxy kept an engine connection made with a refused credential")
	}
	n := &naive{stub: stub, user: "alice", password: "right"}
	if rows, err := n.query(ctx, sqlRows); err != nil || rows != 300 {
		t.Fatalf("right credential: %d rows, %v", rows, err)
	}
	check("after a verified one")
	// The refused credential's empty session gets nothing.
	_, err := stub.GetSchemaNamesV2(ctx, &e6xpb.GetSchemaNamesV2Request{})
	wantCode(t, "empty session", err, codes.Internal, "Access denied")
}

// TestForeignSessionIDs: a made-up session id, an engine session id and
// another user's query id get nothing; the owner's session and query go
// on.
func TestForeignSessionIDs(t *testing.T) {
	eng := newEngine(t, enginetest.Options{}) // any credential is accepted
	_, addr := startProxy(t, eng)
	stub := e6xpb.NewQueryEngineServiceClient(dial(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	alice, err := stub.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(alice.GetSessionId()) < 32 {
		t.Errorf("session id %q is shorter than 128 bits of hex", alice.GetSessionId())
	}
	bob, err := stub.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "bob", Password: "b"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := stub.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if again.GetSessionId() == alice.GetSessionId() {
		t.Errorf("two authentications got the same session id")
	}
	engineSession, err := eng.Engine().Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "a"})
	if err != nil {
		t.Fatal(err)
	}
	for what, sid := range map[string]string{
		"made up":             "00112233445566778899aabbccddeeff",
		"engine's":            engineSession.GetSessionId(),
		"alice's with a typo": alice.GetSessionId() + "0",
	} {
		_, err := stub.GetSchemaNamesV2(ctx, &e6xpb.GetSchemaNamesV2Request{SessionId: sid, Catalog: enginetest.Catalog})
		wantCode(t, what+" session", err, codes.Internal, "Access denied")
		_, err = stub.PrepareStatementV2(ctx, &e6xpb.PrepareStatementV2Request{SessionId: sid, Schema: enginetest.Schema, Catalog: enginetest.Catalog, QueryString: "SELECT 1"})
		wantCode(t, what+" session, prepare", err, codes.Internal, "Access denied")
	}

	prep, err := stub.PrepareStatementV2(ctx, &e6xpb.PrepareStatementV2Request{SessionId: alice.GetSessionId(), Schema: enginetest.Schema, Catalog: enginetest.Catalog, QueryString: "SELECT 1"})
	if err != nil {
		t.Fatal(err)
	}
	// Bob's session cannot reach alice's query.
	_, err = stub.ExecuteStatementV2(ctx, &e6xpb.ExecuteStatementV2Request{EngineIP: prep.GetEngineIP(), SessionId: bob.GetSessionId(), QueryId: prep.GetQueryId()})
	wantCode(t, "bob executes alice's query", err, codes.NotFound, "query not found")
	_, err = stub.ClearOrCancelQuery(ctx, &e6xpb.ClearOrCancelQueryRequest{EngineIP: prep.GetEngineIP(), SessionId: bob.GetSessionId(), QueryId: prep.GetQueryId()})
	if err != nil {
		t.Errorf("bob clears alice's query id: %v (the engine forgets unknown queries without error)", err)
	}
	// Alice's query is intact.
	if _, err := stub.ExecuteStatementV2(ctx, &e6xpb.ExecuteStatementV2Request{EngineIP: prep.GetEngineIP(), SessionId: alice.GetSessionId(), QueryId: prep.GetQueryId()}); err != nil {
		t.Errorf("alice executes her query: %v", err)
	}
	if _, err := stub.ClearOrCancelQuery(ctx, &e6xpb.ClearOrCancelQueryRequest{EngineIP: prep.GetEngineIP(), SessionId: alice.GetSessionId(), QueryId: prep.GetQueryId()}); err != nil {
		t.Errorf("alice clears her query: %v", err)
	}
}

// TestSessionExpires: a session idle for longer than SessionIdle is gone,
// its queries cleared on the engine; a session in use stays.
func TestSessionExpires(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	eng := newEngine(t, enginetest.Options{})
	p, addr := startProxy(t, eng, func(o *Options) {
		o.SessionIdle = time.Minute
		o.Now = func() time.Time { return time.Unix(0, now.Load()) }
	})
	stub := e6xpb.NewQueryEngineServiceClient(dial(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	idle, err := stub.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "a"})
	if err != nil {
		t.Fatal(err)
	}
	busy, err := stub.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stub.PrepareStatementV2(ctx, &e6xpb.PrepareStatementV2Request{SessionId: idle.GetSessionId(), Schema: enginetest.Schema, Catalog: enginetest.Catalog, QueryString: "SELECT 1"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		now.Add(int64(40 * time.Second))
		if _, err := stub.GetSchemaNamesV2(ctx, &e6xpb.GetSchemaNamesV2Request{SessionId: busy.GetSessionId(), Catalog: enginetest.Catalog}); err != nil {
			t.Fatalf("a session in use: %v", err)
		}
	}
	p.expireSessions()
	if got := p.OpenQueries(); got != 0 {
		t.Errorf("%d queries open after their session expired", got)
	}
	cleared := 0
	for _, c := range eng.Log() {
		if c.Method == e6xpb.QueryEngineService_ClearOrCancelQuery_FullMethodName {
			cleared++
		}
	}
	if cleared != 1 {
		t.Errorf("the engine got %d clears, want 1 for the expired session's query", cleared)
	}
	_, err = stub.GetSchemaNamesV2(ctx, &e6xpb.GetSchemaNamesV2Request{SessionId: idle.GetSessionId(), Catalog: enginetest.Catalog})
	wantCode(t, "expired session", err, codes.Internal, "Access denied")
}

// TestRejectionAfterDelivery: once a batch has reached the client, and
// the batches read ahead are served, a rejection of the query's colour
// reaches it as code Unknown with "status: 456", which the published
// client and package client both recognise; the clear that follows
// succeeds and the next query runs on the new colour.
func TestRejectionAfterDelivery(t *testing.T) {
	for _, rej := range []enginetest.Rejection{enginetest.RejectHTTP456, enginetest.RejectUnknown, enginetest.RejectInvalidArgument} {
		t.Run(rej.String(), func(t *testing.T) {
			eng := newEngine(t, enginetest.Options{Rejection: rej})
			p, addr := startProxy(t, eng, func(o *Options) { o.PrefetchBytes = 1 }) // one batch ahead
			stub := e6xpb.NewQueryEngineServiceClient(dial(t, addr))
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			auth, err := stub.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "a"})
			if err != nil {
				t.Fatal(err)
			}
			sid := auth.GetSessionId()
			prep, err := stub.PrepareStatementV2(ctx, &e6xpb.PrepareStatementV2Request{SessionId: sid, Schema: enginetest.Schema, Catalog: enginetest.Catalog, QueryString: sqlRows})
			if err != nil {
				t.Fatal(err)
			}
			q := &e6xpb.GetNextResultBatchRequest{EngineIP: prep.GetEngineIP(), SessionId: sid, QueryId: prep.GetQueryId()}
			if _, err := stub.ExecuteStatementV2(ctx, &e6xpb.ExecuteStatementV2Request{EngineIP: q.EngineIP, SessionId: sid, QueryId: q.QueryId}); err != nil {
				t.Fatal(err)
			}
			if _, err := stub.GetResultMetadata(ctx, &e6xpb.GetResultMetadataRequest{EngineIP: q.EngineIP, SessionId: sid, QueryId: q.QueryId}); err != nil {
				t.Fatal(err)
			}
			if b, err := stub.GetNextResultBatch(ctx, q); err != nil || len(b.GetResultBatch()) == 0 {
				t.Fatalf("first batch: %v", err)
			}
			if err := eng.SetActive(eng.State().Active.Other()); err != nil {
				t.Fatal(err)
			}
			_, err = stub.GetNextResultBatch(ctx, q)
			wantCode(t, "fetch after the switch", err, codes.Unknown, rejectionMessage)
			if !isRejection(err) || !client.IsWrongStrategy(err) {
				t.Errorf("%v is not a rejection to the published client or package client", err)
			}
			if _, err := stub.ClearOrCancelQuery(ctx, &e6xpb.ClearOrCancelQueryRequest{EngineIP: q.EngineIP, SessionId: sid, QueryId: q.QueryId}); err != nil {
				t.Errorf("clear after the rejection: %v", err)
			}
			if got := p.OpenQueries(); got != 0 {
				t.Errorf("%d queries open", got)
			}
			n := &naive{stub: stub, sid: sid}
			if rows, err := n.query(ctx, sqlRows); err != nil || rows != 300 {
				t.Errorf("next query: %d rows, %v", rows, err)
			}
		})
	}
}

// TestDeadlineAndCancelPropagate: a client's deadline reaches the engine,
// and so does its cancellation.
func TestDeadlineAndCancelPropagate(t *testing.T) {
	type seen struct {
		deadline time.Time
		err      error
	}
	arrived := make(chan struct{}, 1)
	got := make(chan seen, 1)
	release := make(chan struct{})
	eng := newEngine(t, enginetest.Options{Inject: func(ctx context.Context, method string, _ proto.Message) error {
		if method != e6xpb.QueryEngineService_PrepareStatementV2_FullMethodName {
			return nil
		}
		arrived <- struct{}{}
		d, _ := ctx.Deadline()
		select {
		case <-ctx.Done():
		case <-release:
		}
		got <- seen{d, ctx.Err()}
		return ctx.Err()
	}})
	defer close(release)
	_, addr := startProxy(t, eng)
	stub := e6xpb.NewQueryEngineServiceClient(dial(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	auth, err := stub.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "a"})
	if err != nil {
		t.Fatal(err)
	}
	// A deadline of its own, far from ctx's: the engine must see it (give
	// or take the transit of grpc-timeout, which is relative).
	callCtx, callCancel := context.WithTimeout(context.Background(), time.Hour)
	deadline, _ := callCtx.Deadline()
	errc := make(chan error, 1)
	go func() {
		_, err := stub.PrepareStatementV2(callCtx, &e6xpb.PrepareStatementV2Request{SessionId: auth.GetSessionId(), Schema: enginetest.Schema, Catalog: enginetest.Catalog, QueryString: "SELECT 1"})
		errc <- err
	}()
	select {
	case <-arrived:
	case <-ctx.Done():
		t.Fatal("the prepare never reached the engine")
	}
	callCancel()
	select {
	case s := <-got:
		if s.deadline.IsZero() || s.deadline.After(deadline.Add(time.Minute)) || s.deadline.Before(deadline.Add(-time.Minute)) {
			t.Errorf("the engine saw deadline %v, want the client's %v", s.deadline, deadline)
		}
		if !errors.Is(s.err, context.Canceled) {
			t.Errorf("the engine's context ended with %v, want canceled", s.err)
		}
	case <-ctx.Done():
		t.Fatal("the client's cancellation never reached the engine")
	}
	wantCode(t, "cancelled prepare", <-errc, codes.Canceled, "")
}

// TestNoSecretInLogs: the passwords of a refused and of an accepted
// credential appear in none of the proxy's log records (at debug level)
// nor in the errors its clients get.
func TestNoSecretInLogs(t *testing.T) {
	secret := secrettest.New()
	right, wrong := secret.A+secret.B, secret.B+secret.A
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	eng := newEngine(t, enginetest.Options{User: "alice", Password: right, Rejection: enginetest.RejectUnknown})
	p, addr := startProxy(t, eng, func(o *Options) { o.Logger = log })
	stub := e6xpb.NewQueryEngineServiceClient(dial(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var errs []string
	for _, pw := range []string{wrong, right, wrong} {
		if _, err := stub.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: pw}); err != nil {
			errs = append(errs, err.Error())
		}
	}
	n := &naive{stub: stub, user: "alice", password: right}
	for range 3 {
		if _, err := n.query(ctx, sqlRows); err != nil {
			t.Fatal(err)
		}
		eng.SetActive(eng.State().Active.Other())
	}
	if _, err := n.query(ctx, sqlRows); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if len(errs) != 2 {
		t.Errorf("%d refusals, want 2", len(errs))
	}
	mu.Lock()
	logs := buf.String()
	mu.Unlock()
	if logs == "" {
		t.Errorf("no log record: the check would prove nothing")
	}
	secret.Check(t, "the proxy's logs", logs)
	for _, e := range errs {
		secret.Check(t, "an error", e)
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// TestFirstCredentialsConcurrently: while the proxy has no engine
// connection, right and wrong credentials authenticate at once: each
// right one gets a session and each wrong one the engine's refusal,
// whichever comes first (the probes of a refused credential judge no
// other).
func TestFirstCredentialsConcurrently(t *testing.T) {
	eng := newEngine(t, enginetest.Options{User: "alice", Password: "right"})
	for round := range 10 {
		_, addr := startProxy(t, eng)
		stub := e6xpb.NewQueryEngineServiceClient(dial(t, addr))
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		var wg sync.WaitGroup
		for i := range 8 {
			pw := "right"
			if i%2 == 0 {
				pw = "wrong"
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := stub.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: pw})
				if pw == "right" && err != nil {
					t.Errorf("round %d: the right credential: %v", round, err)
				}
				if pw == "wrong" && status.Code(err) != codes.Unauthenticated {
					t.Errorf("round %d: the wrong credential: %v", round, err)
				}
			}()
		}
		wg.Wait()
		cancel()
	}
}

// TestClientGoneClearsQueries: when the client connection a query was
// prepared over ends, the proxy clears the query on the engine; the
// client's session lives on, for a new connection.
func TestClientGoneClearsQueries(t *testing.T) {
	eng := newEngine(t, enginetest.Options{})
	p, addr := startProxy(t, eng)
	cleared := make(chan int, 1)
	f := func(n int) { cleared <- n }
	p.connEnded.Store(&f)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	cc := dial(t, addr)
	stub := e6xpb.NewQueryEngineServiceClient(cc)
	auth, err := stub.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "a"})
	if err != nil {
		t.Fatal(err)
	}
	sid := auth.GetSessionId()
	prep, err := stub.PrepareStatementV2(ctx, &e6xpb.PrepareStatementV2Request{SessionId: sid, Schema: enginetest.Schema, Catalog: enginetest.Catalog, QueryString: sqlRows})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stub.ExecuteStatementV2(ctx, &e6xpb.ExecuteStatementV2Request{EngineIP: prep.GetEngineIP(), SessionId: sid, QueryId: prep.GetQueryId()}); err != nil {
		t.Fatal(err)
	}
	eng.ResetLog()
	cc.Close()
	select {
	case n := <-cleared:
		if n != 1 {
			t.Errorf("%d queries cleared, want 1", n)
		}
	case <-ctx.Done():
		t.Fatal("the query of the closed connection was never cleared")
	}
	if got := p.OpenQueries(); got != 0 {
		t.Errorf("%d queries open", got)
	}
	clears := 0
	for _, c := range eng.Log() {
		if c.Method == e6xpb.QueryEngineService_ClearOrCancelQuery_FullMethodName && c.Code == codes.OK {
			clears++
		}
	}
	if clears != 1 {
		t.Errorf("the engine got %d clears, want 1", clears)
	}
	n := &naive{stub: e6xpb.NewQueryEngineServiceClient(dial(t, addr)), sid: sid}
	if rows, err := n.query(ctx, sqlRows); err != nil || rows != 300 {
		t.Errorf("the session on a new connection: %d rows, %v", rows, err)
	}
}

// A client connection that ends clears the queries prepared over it, and
// no other's: a query of another connection goes on to its last batch.
func TestClientGoneClearsOnlyItsQueries(t *testing.T) {
	eng := newEngine(t, enginetest.Options{})
	p, addr := startProxy(t, eng)
	cleared := make(chan int, 1)
	f := func(n int) { cleared <- n }
	p.connEnded.Store(&f)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	prepare := func(cc *grpc.ClientConn) (e6xpb.QueryEngineServiceClient, string, *e6xpb.PrepareStatementResponse) {
		t.Helper()
		stub := e6xpb.NewQueryEngineServiceClient(cc)
		auth, err := stub.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "a"})
		if err != nil {
			t.Fatal(err)
		}
		sid := auth.GetSessionId()
		prep, err := stub.PrepareStatementV2(ctx, &e6xpb.PrepareStatementV2Request{SessionId: sid, Schema: enginetest.Schema, Catalog: enginetest.Catalog, QueryString: sqlRows})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stub.ExecuteStatementV2(ctx, &e6xpb.ExecuteStatementV2Request{EngineIP: prep.GetEngineIP(), SessionId: sid, QueryId: prep.GetQueryId()}); err != nil {
			t.Fatal(err)
		}
		return stub, sid, prep
	}
	gone := dial(t, addr)
	prepare(gone)
	stub, sid, prep := prepare(dial(t, addr))
	gone.Close()
	select {
	case n := <-cleared:
		if n != 1 {
			t.Errorf("%d queries cleared when one connection ended, want its 1", n)
		}
	case <-ctx.Done():
		t.Fatal("the query of the closed connection was never cleared")
	}
	if got := p.OpenQueries(); got != 1 {
		t.Errorf("%d queries open, want the other connection's 1", got)
	}
	if _, err := stub.GetResultMetadata(ctx, &e6xpb.GetResultMetadataRequest{EngineIP: prep.GetEngineIP(), SessionId: sid, QueryId: prep.GetQueryId()}); err != nil {
		t.Errorf("the other connection's query: %v", err)
	}
}
