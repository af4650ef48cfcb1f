package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout bounds every wait on a condition in these tests: it only
// catches a hang.
const waitTimeout = 20 * time.Second

// newEngine starts a fake engine.
func newEngine(t testing.TB, o enginetest.Options) *enginetest.Server {
	t.Helper()
	srv, err := enginetest.NewServer(o)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// startProxy starts a proxy of eng on a loopback port and returns it and
// its address.
func startProxy(t testing.TB, eng *enginetest.Server, adjust ...func(*Options)) (*Proxy, string) {
	t.Helper()
	o := Options{Client: client.Config{Addr: eng.Addr(), Cluster: "Prod-EU"}}
	for _, f := range adjust {
		f(&o)
	}
	p, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Serve(lis) }()
	t.Cleanup(func() {
		p.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("Serve did not return after Close")
		}
	})
	return p, lis.Addr().String()
}

// dial returns a bare connection to addr: the generated stubs, no
// interceptor.
func dial(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// naive is an engine client made of the generated stubs alone. It sends
// the strategy header header on every call ("" for none), and a plannerip
// once a query is prepared, as the published client does; the proxy must
// ignore both. If reactive, it behaves as the published client does on
// what the engine tells it (PROTOCOL.md): it records a new_strategy as its
// colour, and recovers from a 456 on execute by authenticating again and
// running the query again (at most 5 attempts).
type naive struct {
	stub              e6xpb.QueryEngineServiceClient
	user, password    string
	header            string
	reactive          bool
	sid               string
	newStrategies     int // new_strategy values the client saw
	rejections        int // 456s the client saw
	reauthentications int
	queries, failed   int
	lastErr           error
	onStage           func(stage string) // called after each step of a query, if set
	onBatch           func(b []byte)     // called with each result batch, if set
	currentPlanner    string
}

func (n *naive) ctx(ctx context.Context) context.Context {
	kv := []string{"x-e6-trace", "t-1"}
	if n.currentPlanner != "" {
		kv = append(kv, "plannerip", n.currentPlanner)
	}
	if n.header != "" {
		kv = append(kv, "strategy", n.header)
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// saw counts a new_strategy in a response; a reactive client adopts it.
func (n *naive) saw(v string) {
	if v == "" {
		return
	}
	n.newStrategies++
	if n.reactive {
		n.header = v
	}
}

// isRejection is the published client's test of a 456: "status: 456" in
// the error's details.
func isRejection(err error) bool {
	return strings.Contains(strings.ToLower(status.Convert(err).Message()), "status: 456")
}

func (n *naive) authenticate(ctx context.Context) error {
	resp, err := n.stub.Authenticate(n.ctx(ctx), &e6xpb.AuthenticateRequest{User: n.user, Password: n.password})
	if err != nil {
		return err
	}
	n.saw(resp.GetNewStrategy())
	n.sid = resp.GetSessionId()
	return nil
}

func (n *naive) stage(s string) {
	if n.onStage != nil {
		n.onStage(s)
	}
}

// query runs sql and returns its row count: authenticate if needed,
// prepare, execute, metadata, every batch, clear.
func (n *naive) query(ctx context.Context, sql string) (rows int, err error) {
	n.queries++
	defer func() {
		if err != nil {
			n.failed++
			n.lastErr = err
		}
	}()
	for attempt := 1; ; attempt++ {
		rows, err = n.attempt(ctx, sql)
		if err == nil || !n.reactive || !isRejection(err) || attempt == 5 || !errors.Is(err, errOnExecute) {
			return rows, err
		}
		n.reauthentications++
		if err := n.authenticate(ctx); err != nil {
			return 0, err
		}
	}
}

var errOnExecute = errors.New("on execute")

func (n *naive) attempt(ctx context.Context, sql string) (int, error) {
	if n.sid == "" {
		if err := n.authenticate(ctx); err != nil {
			return 0, fmt.Errorf("authenticate: %w", err)
		}
	}
	n.currentPlanner = ""
	prep, err := n.stub.PrepareStatementV2(n.ctx(ctx), &e6xpb.PrepareStatementV2Request{
		SessionId: n.sid, Schema: enginetest.Schema, Catalog: enginetest.Catalog, QueryString: sql,
	})
	if err != nil {
		n.note(err)
		return 0, fmt.Errorf("prepare: %w", err)
	}
	n.saw(prep.GetNewStrategy())
	qid, ip := prep.GetQueryId(), prep.GetEngineIP()
	n.currentPlanner = ip
	n.stage("prepared")
	ex, err := n.stub.ExecuteStatementV2(n.ctx(ctx), &e6xpb.ExecuteStatementV2Request{EngineIP: ip, SessionId: n.sid, QueryId: qid})
	if err != nil {
		n.note(err)
		return 0, fmt.Errorf("execute: %w: %w", errOnExecute, err)
	}
	n.saw(ex.GetNewStrategy())
	n.stage("executed")
	md, err := n.stub.GetResultMetadata(n.ctx(ctx), &e6xpb.GetResultMetadataRequest{EngineIP: ip, SessionId: n.sid, QueryId: qid})
	if err != nil {
		n.note(err)
		return 0, fmt.Errorf("metadata: %w", err)
	}
	n.saw(md.GetNewStrategy())
	raw, err := client.NewRawResult(md.GetResultMetaData())
	if err != nil {
		return 0, err
	}
	n.stage("metadata")
	rows := 0
	for {
		b, err := n.stub.GetNextResultBatch(n.ctx(ctx), &e6xpb.GetNextResultBatchRequest{EngineIP: ip, SessionId: n.sid, QueryId: qid})
		if err != nil {
			n.note(err)
			return rows, fmt.Errorf("fetch: %w", err)
		}
		n.saw(b.GetNewStrategy())
		if n.onBatch != nil {
			n.onBatch(b.GetResultBatch())
		}
		k, err := raw.Batch(b.GetResultBatch())
		if err != nil {
			return rows, err
		}
		if k == 0 {
			break
		}
		rows += k
		if rows == k {
			n.stage("fetched")
		}
	}
	cl, err := n.stub.ClearOrCancelQuery(n.ctx(ctx), &e6xpb.ClearOrCancelQueryRequest{EngineIP: ip, SessionId: n.sid, QueryId: qid})
	if err != nil {
		n.note(err)
		return rows, fmt.Errorf("clear: %w", err)
	}
	n.saw(cl.GetNewStrategy())
	return rows, nil
}

func (n *naive) note(err error) {
	if isRejection(err) {
		n.rejections++
	}
}

// wantCode fails t unless err has code c and its message contains msg.
func wantCode(t testing.TB, what string, err error, c codes.Code, msg string) {
	t.Helper()
	st := status.Convert(err)
	if err == nil || st.Code() != c || !strings.Contains(st.Message(), msg) {
		t.Errorf("%s: got %v, want code %v with %q", what, err, c, msg)
	}
}
