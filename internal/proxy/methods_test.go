package proxy

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
)

// TestEveryMethod: every method of both services answers through the
// proxy as the engine answers a direct call, but for the session id (the
// proxy's), the query id (the proxy's) and new_strategy (removed), while
// the engine announces a switch.
func TestEveryMethod(t *testing.T) {
	eng := newEngine(t, enginetest.Options{User: "alice", Password: "pw", Rejection: enginetest.RejectUnknown})
	_, addr := startProxy(t, eng)
	cc := dial(t, addr)
	viaProxy := e6xpb.NewQueryEngineServiceClient(cc)
	clusterViaProxy := e6xpb.NewClusterServiceClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	dctx := metadata.AppendToOutgoingContext(ctx, "strategy", "blue")
	direct := eng.Engine()

	pa, err := viaProxy.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	da, err := direct.Authenticate(dctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Announce(enginetest.Green); err != nil { // every direct answer carries new_strategy
		t.Fatal(err)
	}
	psid, dsid := pa.GetSessionId(), da.GetSessionId()

	// same compares a proxied answer with a direct one, the session id and
	// new_strategy aside.
	announced := 0
	same := func(what string, p, d proto.Message, perr, derr error) {
		t.Helper()
		if perr != nil || derr != nil {
			t.Errorf("%s: through the proxy %v, direct %v", what, perr, derr)
			return
		}
		var ignore []protoreflect.Name
		for _, f := range []protoreflect.Name{"sessionId", "new_strategy"} {
			if d.ProtoReflect().Descriptor().Fields().ByName(f) != nil {
				ignore = append(ignore, f)
			}
		}
		opts := []cmp.Option{protocmp.Transform()}
		if len(ignore) > 0 {
			opts = append(opts, protocmp.IgnoreFields(d, ignore...))
		}
		if diff := cmp.Diff(d, p, opts...); diff != "" {
			t.Errorf("%s: through the proxy (+) and direct (-) differ:\n%s", what, diff)
		}
		if r, ok := d.(interface{ GetNewStrategy() string }); ok && r.GetNewStrategy() != "" {
			announced++
		}
		if r, ok := p.(interface{ GetNewStrategy() string }); ok && r.GetNewStrategy() != "" {
			t.Errorf("%s: new_strategy %q reached the client", what, r.GetNewStrategy())
		}
		if r, ok := p.(interface{ GetSessionId() string }); ok && r.GetSessionId() != psid {
			t.Errorf("%s: session %q, want the proxy's %q", what, r.GetSessionId(), psid)
		}
	}
	{
		p, perr := viaProxy.GetSchemaNames(ctx, &e6xpb.GetSchemaNamesRequest{SessionId: psid})
		d, derr := direct.GetSchemaNames(dctx, &e6xpb.GetSchemaNamesRequest{SessionId: dsid})
		same("getSchemaNames", p, d, perr, derr)
	}
	{
		p, perr := viaProxy.GetSchemaNamesV2(ctx, &e6xpb.GetSchemaNamesV2Request{SessionId: psid, Catalog: enginetest.Catalog})
		d, derr := direct.GetSchemaNamesV2(dctx, &e6xpb.GetSchemaNamesV2Request{SessionId: dsid, Catalog: enginetest.Catalog})
		same("getSchemaNamesV2", p, d, perr, derr)
	}
	{
		p, perr := viaProxy.GetTables(ctx, &e6xpb.GetTablesRequest{SessionId: psid, Schema: enginetest.Schema})
		d, derr := direct.GetTables(dctx, &e6xpb.GetTablesRequest{SessionId: dsid, Schema: enginetest.Schema})
		same("getTables", p, d, perr, derr)
	}
	{
		p, perr := viaProxy.GetTablesV2(ctx, &e6xpb.GetTablesV2Request{SessionId: psid, Schema: enginetest.Schema, Catalog: enginetest.Catalog})
		d, derr := direct.GetTablesV2(dctx, &e6xpb.GetTablesV2Request{SessionId: dsid, Schema: enginetest.Schema, Catalog: enginetest.Catalog})
		same("getTablesV2", p, d, perr, derr)
	}
	{
		p, perr := viaProxy.GetColumns(ctx, &e6xpb.GetColumnsRequest{SessionId: psid, Schema: enginetest.Schema, Table: "numbers"})
		d, derr := direct.GetColumns(dctx, &e6xpb.GetColumnsRequest{SessionId: dsid, Schema: enginetest.Schema, Table: "numbers"})
		same("getColumns", p, d, perr, derr)
	}
	{
		p, perr := viaProxy.GetColumnsV2(ctx, &e6xpb.GetColumnsV2Request{SessionId: psid, Schema: enginetest.Schema, Table: "numbers", Catalog: enginetest.Catalog})
		d, derr := direct.GetColumnsV2(dctx, &e6xpb.GetColumnsV2Request{SessionId: dsid, Schema: enginetest.Schema, Table: "numbers", Catalog: enginetest.Catalog})
		same("getColumnsV2", p, d, perr, derr)
	}
	{
		p, perr := viaProxy.DryRun(ctx, &e6xpb.DryRunRequest{SessionId: psid, Schema: enginetest.Schema, QueryString: "SELECT 1"})
		d, derr := direct.DryRun(dctx, &e6xpb.DryRunRequest{SessionId: dsid, Schema: enginetest.Schema, QueryString: "SELECT 1"})
		same("dryRun", p, d, perr, derr)
	}
	{
		p, perr := viaProxy.DryRunV2(ctx, &e6xpb.DryRunRequestV2{SessionId: psid, Schema: enginetest.Schema, QueryString: "SELECT 1", Catalog: enginetest.Catalog})
		d, derr := direct.DryRunV2(dctx, &e6xpb.DryRunRequestV2{SessionId: dsid, Schema: enginetest.Schema, QueryString: "SELECT 1", Catalog: enginetest.Catalog})
		same("dryRunV2", p, d, perr, derr)
	}
	{
		p, perr := viaProxy.HealthCheck(ctx, &e6xpb.HealthCheckRequest{})
		d, derr := direct.HealthCheck(dctx, &e6xpb.HealthCheckRequest{})
		same("healthCheck", p, d, perr, derr)
	}
	{
		p, perr := clusterViaProxy.Status(ctx, &e6xpb.ClusterStatusRequest{User: "alice", Password: "pw"})
		d, derr := eng.Cluster().Status(ctx, &e6xpb.ClusterStatusRequest{User: "alice", Password: "pw"})
		same("cluster status", p, d, perr, derr)
	}

	// A query, with the V1 calls, through the proxy and direct.
	pp, perr := viaProxy.PrepareStatement(ctx, &e6xpb.PrepareStatementRequest{SessionId: psid, Schema: enginetest.Schema, QueryString: sqlRows})
	dp, derr := direct.PrepareStatement(dctx, &e6xpb.PrepareStatementRequest{SessionId: dsid, Schema: enginetest.Schema, QueryString: sqlRows})
	if perr != nil || derr != nil {
		t.Fatalf("prepare: %v, %v", perr, derr)
	}
	if pp.GetQueryId() == dp.GetQueryId() || pp.GetEngineIP() != dp.GetEngineIP() {
		t.Errorf("prepare: the proxy's query %q engine %q, the engine's %q %q", pp.GetQueryId(), pp.GetEngineIP(), dp.GetQueryId(), dp.GetEngineIP())
	}
	pq := func() (string, string, string) { return pp.GetEngineIP(), psid, pp.GetQueryId() }
	dq := func() (string, string, string) { return dp.GetEngineIP(), dsid, dp.GetQueryId() }
	{
		p, perr := viaProxy.Explain(ctx, &e6xpb.ExplainRequest{EngineIP: pp.GetEngineIP(), SessionId: psid, QueryId: pp.GetQueryId()})
		d, derr := direct.Explain(dctx, &e6xpb.ExplainRequest{EngineIP: dp.GetEngineIP(), SessionId: dsid, QueryId: dp.GetQueryId()})
		same("explain", p, d, perr, derr)
	}
	{
		ip, s, q := pq()
		p, perr := viaProxy.ExecuteStatement(ctx, &e6xpb.ExecuteStatementRequest{EngineIP: ip, SessionId: s, QueryId: q})
		ip, s, q = dq()
		d, derr := direct.ExecuteStatement(dctx, &e6xpb.ExecuteStatementRequest{EngineIP: ip, SessionId: s, QueryId: q})
		same("executeStatement", p, d, perr, derr)
	}
	{
		ip, s, q := pq()
		p, perr := viaProxy.Status(ctx, &e6xpb.StatusRequest{EngineIP: ip, SessionId: s, QueryId: q})
		ip, s, q = dq()
		d, derr := direct.Status(dctx, &e6xpb.StatusRequest{EngineIP: ip, SessionId: s, QueryId: q})
		same("status", p, d, perr, derr)
	}
	{
		ip, s, q := pq()
		p, perr := viaProxy.ExplainAnalyze(ctx, &e6xpb.ExplainAnalyzeRequest{EngineIP: ip, SessionId: s, QueryId: q})
		ip, s, q = dq()
		d, derr := direct.ExplainAnalyze(dctx, &e6xpb.ExplainAnalyzeRequest{EngineIP: ip, SessionId: s, QueryId: q})
		same("explainAnalyze", p, d, perr, derr)
	}
	{
		ip, s, q := pq()
		p, perr := viaProxy.GetResultMetadata(ctx, &e6xpb.GetResultMetadataRequest{EngineIP: ip, SessionId: s, QueryId: q})
		ip, s, q = dq()
		d, derr := direct.GetResultMetadata(dctx, &e6xpb.GetResultMetadataRequest{EngineIP: ip, SessionId: s, QueryId: q})
		same("getResultMetadata", p, d, perr, derr)
	}
	for i := 0; ; i++ {
		ip, s, q := pq()
		p, perr := viaProxy.GetNextResultBatch(ctx, &e6xpb.GetNextResultBatchRequest{EngineIP: ip, SessionId: s, QueryId: q})
		ip, s, q = dq()
		d, derr := direct.GetNextResultBatch(dctx, &e6xpb.GetNextResultBatchRequest{EngineIP: ip, SessionId: s, QueryId: q})
		same("getNextResultBatch", p, d, perr, derr)
		if perr != nil || len(d.GetResultBatch()) == 0 || i > 10 {
			break
		}
	}
	{
		ip, s, q := pq()
		p, perr := viaProxy.CancelQuery(ctx, &e6xpb.CancelQueryRequest{EngineIP: ip, SessionId: s, QueryId: q})
		ip, s, q = dq()
		d, derr := direct.CancelQuery(dctx, &e6xpb.CancelQueryRequest{EngineIP: ip, SessionId: s, QueryId: q})
		same("cancelQuery", p, d, perr, derr)
	}
	{
		ip, s, q := pq()
		p, perr := viaProxy.Clear(ctx, &e6xpb.ClearRequest{EngineIP: ip, SessionId: s, QueryId: q})
		ip, s, q = dq()
		d, derr := direct.Clear(dctx, &e6xpb.ClearRequest{EngineIP: ip, SessionId: s, QueryId: q})
		same("clear", p, d, perr, derr)
	}
	if announced == 0 {
		t.Errorf("no direct answer announced a colour: the test proves nothing of new_strategy")
	}
}

// TestLargeBatch: a result batch larger than grpc-go's default 4 MiB
// limit reaches the client through the proxy.
func TestLargeBatch(t *testing.T) {
	eng := newEngine(t, enginetest.Options{BigBatchSize: 100000})
	_, addr := startProxy(t, eng)
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(DefaultMaxRecvMsgSize)))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	n := &naive{stub: e6xpb.NewQueryEngineServiceClient(cc), user: "alice", password: "a"}
	largest := 0
	n.onBatch = func(b []byte) { largest = max(largest, len(b)) }
	rows, err := n.query(ctx, "SELECT * FROM demo.big LIMIT 100000")
	if err != nil || rows != 100000 {
		t.Fatalf("%d rows, %v", rows, err)
	}
	if largest <= 4<<20 {
		t.Errorf("the largest batch has %d bytes: no larger than 4 MiB, the test proves nothing", largest)
	}
	t.Logf("largest batch: %d bytes", largest)
}
