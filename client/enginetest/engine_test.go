package enginetest

import (
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/internal/resultenc"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fetch runs sql (prepared with V1 or V2) and returns the decoded columns
// and rows, checking the protocol along the way.
func fetch(t *testing.T, s *Server, v1 bool, sql string) ([]resultenc.Column, [][]any) {
	t.Helper()
	e := s.Engine()
	ctx := as(testCtx(t), "blue")
	sess := auth(t, s, "blue")
	var queryID, engineIP string
	if v1 {
		p, err := e.PrepareStatement(ctx, &e6xpb.PrepareStatementRequest{SessionId: sess, Schema: Schema, QueryString: sql})
		if err != nil {
			t.Fatalf("prepareStatement: %v", err)
		}
		queryID, engineIP = p.GetQueryId(), p.GetEngineIP()
		if _, err := e.ExecuteStatement(ctx, &e6xpb.ExecuteStatementRequest{EngineIP: engineIP, SessionId: sess, QueryId: queryID}); err != nil {
			t.Fatalf("executeStatement: %v", err)
		}
	} else {
		queryID = prepare(t, s, "blue", sess, sql)
		engineIP = "127.0.0.1"
	}
	st, err := e.Status(ctx, &e6xpb.StatusRequest{EngineIP: engineIP, SessionId: sess, QueryId: queryID})
	if err != nil || !st.GetStatus() {
		t.Fatalf("status = %v, %v", st, err)
	}
	md, err := e.GetResultMetadata(ctx, &e6xpb.GetResultMetadataRequest{EngineIP: engineIP, SessionId: sess, QueryId: queryID})
	if err != nil {
		t.Fatalf("getResultMetadata: %v", err)
	}
	rowCount, cols, err := resultenc.DecodeMetadata(md.GetResultMetaData())
	if err != nil {
		t.Fatal(err)
	}
	if rowCount != st.GetRowCount() {
		t.Errorf("metadata row count %d, status row count %d", rowCount, st.GetRowCount())
	}
	var rows [][]any
	for batches := 0; ; batches++ {
		b, err := e.GetNextResultBatch(ctx, &e6xpb.GetNextResultBatchRequest{EngineIP: engineIP, SessionId: sess, QueryId: queryID})
		if err != nil {
			t.Fatalf("getNextResultBatch: %v", err)
		}
		if len(b.GetResultBatch()) == 0 {
			break
		}
		if batches > 1000 {
			t.Fatal("more than 1000 batches")
		}
		c, err := resultenc.DecodeChunk(b.GetResultBatch())
		if err != nil {
			t.Fatal(err)
		}
		types := make([]resultenc.VectorType, len(cols))
		for i, col := range cols {
			types[i], _ = resultenc.ParseVectorType(col.Type)
		}
		if err := resultenc.CheckChunk(&c, types); err != nil {
			t.Fatalf("batch %d: %v", batches, err)
		}
		if c.Size > s.opts.BatchSize {
			t.Errorf("batch of %d rows, more than the batch size %d", c.Size, s.opts.BatchSize)
		}
		for i := range c.Size {
			row := make([]any, len(cols))
			for j := range c.Vectors {
				if row[j], err = c.Vectors[j].Value(i); err != nil {
					t.Fatal(err)
				}
				if u, ok := row[j].(*big.Int); ok {
					// A decimal's unscaled value and its vector's scale,
					// in the type TypesRow uses.
					row[j] = Decimal{Unscaled: u.String(), Scale: c.Vectors[j].Data.Scale}
				}
			}
			rows = append(rows, row)
		}
	}
	if int64(len(rows)) != rowCount {
		t.Errorf("got %d rows, metadata says %d", len(rows), rowCount)
	}
	if _, err := e.ClearOrCancelQuery(ctx, &e6xpb.ClearOrCancelQueryRequest{EngineIP: engineIP, SessionId: sess, QueryId: queryID}); err != nil {
		t.Fatalf("clearOrCancelQuery: %v", err)
	}
	_, err = e.GetNextResultBatch(ctx, &e6xpb.GetNextResultBatchRequest{SessionId: sess, QueryId: queryID})
	wantCode(t, err, codes.NotFound)
	return cols, rows
}

func numbers(n int) [][]any {
	var rows [][]any
	for i := range n {
		id, name, ratio, even := NumbersRow(i)
		rows = append(rows, []any{id, name, ratio, even})
	}
	return rows
}

func bigRows(n int) [][]any {
	var rows [][]any
	for i := range n {
		rows = append(rows, BigRow(int64(i)))
	}
	return rows
}

func TestBuiltinQueries(t *testing.T) {
	types := make([][]any, TypesRows)
	for i := range types {
		types[i] = TypesRow(i)
	}
	tests := []struct {
		name     string
		sql      string
		v1       bool
		batch    int
		wantCols []resultenc.Column
		wantRows [][]any
	}{
		{"select 1", "SELECT 1", false, 0, []resultenc.Column{{Name: "1", Type: "LONG"}}, [][]any{{int64(1)}}},
		{"select 1 v1", "  select   1 ; ", true, 0, []resultenc.Column{{Name: "1", Type: "LONG"}}, [][]any{{int64(1)}}},
		{"numbers", "SELECT * FROM demo.numbers", false, 0, numbersColumns, numbers(NumbersRows)},
		{"numbers v1 small batches", "select * from default.demo.numbers", true, 7, numbersColumns, numbers(NumbersRows)},
		{"numbers limit", "SELECT * FROM numbers LIMIT 300", false, 0, numbersColumns, numbers(300)},
		{"numbers limit 0", "SELECT * FROM demo.numbers LIMIT 0", false, 0, numbersColumns, nil},
		{"one", "SELECT * FROM demo.one", false, 0, []resultenc.Column{{Name: "one", Type: "LONG"}}, [][]any{{int64(1)}}},
		{"types", "SELECT * FROM demo.types", false, 4, typesColumns, types},
		{"big", "select * from demo.big limit 5000", false, 4096, bigColumns, bigRows(5000)},
		{"big limit 0", "select * from demo.big limit 0", false, 4096, bigColumns, nil},
	}
	cmpTime := cmp.Comparer(func(a, b time.Time) bool {
		na, oa := a.Zone()
		nb, ob := b.Zone()
		return a.Equal(b) && na == nb && oa == ob
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, Options{BatchSize: tt.batch})
			cols, rows := fetch(t, s, tt.v1, tt.sql)
			if diff := cmp.Diff(tt.wantCols, cols); diff != "" {
				t.Errorf("columns (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRows, rows, cmpTime); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNumbersBatches(t *testing.T) {
	s := newServer(t, Options{})
	sess := auth(t, s, "")
	q := prepare(t, s, "", sess, "SELECT * FROM demo.numbers")
	var sizes []int
	for {
		b, err := s.Engine().GetNextResultBatch(testCtx(t), &e6xpb.GetNextResultBatchRequest{SessionId: sess, QueryId: q})
		if err != nil {
			t.Fatal(err)
		}
		if len(b.GetResultBatch()) == 0 {
			break
		}
		c, err := resultenc.DecodeChunk(b.GetResultBatch())
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, c.Size)
	}
	if diff := cmp.Diff([]int{256, 256, 256, 232}, sizes); diff != "" {
		t.Errorf("batch sizes (-want +got):\n%s", diff)
	}
}

func TestQueryErrors(t *testing.T) {
	s := newServer(t, Options{})
	e := s.Engine()
	ctx := testCtx(t)
	sess := auth(t, s, "blue")

	_, err := e.PrepareStatementV2(ctx, &e6xpb.PrepareStatementV2Request{SessionId: sess, QueryString: "SELECT nonsense"})
	wantCode(t, err, codes.InvalidArgument)
	_, err = e.DryRunV2(ctx, &e6xpb.DryRunRequestV2{SessionId: sess, QueryString: "DROP TABLE x"})
	wantCode(t, err, codes.InvalidArgument)
	_, err = e.PrepareStatementV2(ctx, &e6xpb.PrepareStatementV2Request{SessionId: sess, QueryString: "SELECT * FROM demo.big LIMIT 99999999999999999999"})
	wantCode(t, err, codes.InvalidArgument)

	p, err := e.PrepareStatementV2(ctx, &e6xpb.PrepareStatementV2Request{SessionId: sess, QueryString: "SELECT 1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.GetNextResultBatch(ctx, &e6xpb.GetNextResultBatchRequest{SessionId: sess, QueryId: p.GetQueryId()})
	wantCode(t, err, codes.FailedPrecondition)
	_, err = e.ExecuteStatementV2(ctx, &e6xpb.ExecuteStatementV2Request{SessionId: sess, QueryId: "nope"})
	wantCode(t, err, codes.NotFound)

	if err := s.SetResult("select 2", Result{Err: status.Error(codes.PermissionDenied, "no")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.PrepareStatementV2(ctx, &e6xpb.PrepareStatementV2Request{SessionId: sess, QueryString: "SELECT 2"})
	wantCode(t, err, codes.PermissionDenied)
}

func TestSetResult(t *testing.T) {
	s := newServer(t, Options{})
	cols := []resultenc.Column{{Name: "s", Type: "STRING"}}
	err := s.SetResult("SELECT 1", Result{Columns: cols, Chunks: []resultenc.Chunk{
		{Size: 2, Vectors: []resultenc.Vector{resultenc.Strings([]string{"a", ""}, []bool{false, true})}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	gotCols, rows := fetch(t, s, false, "select 1")
	if diff := cmp.Diff(cols, gotCols); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]any{{"a"}, {nil}}, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func TestCredentials(t *testing.T) {
	s := newServer(t, Options{User: "alice", Password: "secret"})
	ctx := testCtx(t)
	for _, req := range []*e6xpb.AuthenticateRequest{{User: "alice", Password: "wrong"}, {User: "bob", Password: "secret"}, {}} {
		_, err := s.Engine().Authenticate(ctx, req)
		wantCode(t, err, codes.Unauthenticated)
	}
	resp, err := s.Engine().Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "secret"})
	if err != nil || resp.GetSessionId() == "" || resp.GetEngineIP() != "127.0.0.1" {
		t.Fatalf("authenticate = %v, %v", resp, err)
	}
	_, err = s.Cluster().Status(ctx, &e6xpb.ClusterStatusRequest{User: "alice", Password: "nope"})
	wantCode(t, err, codes.Unauthenticated)
	if c := s.Counts(); c.Failed != 4 || c.Authenticates.None != 4 {
		t.Errorf("counts = %+v", c)
	}
}

func TestSessions(t *testing.T) {
	t.Run("unknown and expired", func(t *testing.T) {
		now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		var clock atomic.Pointer[time.Time]
		clock.Store(&now)
		s := newServer(t, Options{SessionTTL: time.Minute, Now: func() time.Time { return *clock.Load() }})
		ctx := testCtx(t)
		_, err := s.Engine().GetSchemaNamesV2(ctx, &e6xpb.GetSchemaNamesV2Request{SessionId: "nope"})
		wantCode(t, err, codes.Internal)
		if msg := status.Convert(err).Message(); msg != "Access denied: unknown session" {
			t.Errorf("message = %q", msg)
		}
		sess := auth(t, s, "")
		if _, err := s.Engine().GetSchemaNames(ctx, &e6xpb.GetSchemaNamesRequest{SessionId: sess}); err != nil {
			t.Fatal(err)
		}
		later := now.Add(time.Minute)
		clock.Store(&later)
		_, err = s.Engine().GetSchemaNames(ctx, &e6xpb.GetSchemaNamesRequest{SessionId: sess})
		wantCode(t, err, codes.Internal)

		sess = auth(t, s, "")
		s.ExpireSessions()
		_, err = s.Engine().GetTables(ctx, &e6xpb.GetTablesRequest{SessionId: sess, Schema: Schema})
		wantCode(t, err, codes.Internal)
	})
	t.Run("bound to colour", func(t *testing.T) {
		s := newServer(t, Options{BindSessions: true, SessionErrorCode: codes.Unauthenticated})
		sess := auth(t, s, "blue")
		if err := s.BeginSwitch(Green); err != nil {
			t.Fatal(err)
		}
		ctx := testCtx(t)
		if _, err := s.Engine().GetSchemaNames(as(ctx, "blue"), &e6xpb.GetSchemaNamesRequest{SessionId: sess}); err != nil {
			t.Errorf("blue session as blue: %v", err)
		}
		_, err := s.Engine().GetSchemaNames(as(ctx, "green"), &e6xpb.GetSchemaNamesRequest{SessionId: sess})
		wantCode(t, err, codes.Unauthenticated)
		green := auth(t, s, "green")
		if _, err := s.Engine().GetSchemaNames(as(ctx, "green"), &e6xpb.GetSchemaNamesRequest{SessionId: green}); err != nil {
			t.Errorf("green session as green: %v", err)
		}
	})
}

func TestCatalog(t *testing.T) {
	s := newServer(t, Options{})
	e := s.Engine()
	ctx := testCtx(t)
	sess := auth(t, s, "")

	sch, err := e.GetSchemaNamesV2(ctx, &e6xpb.GetSchemaNamesV2Request{SessionId: sess, Catalog: Catalog})
	if err != nil || !cmp.Equal(sch.GetSchemas(), []string{"demo"}) {
		t.Errorf("getSchemaNamesV2 = %v, %v", sch, err)
	}
	sch, err = e.GetSchemaNamesV2(ctx, &e6xpb.GetSchemaNamesV2Request{SessionId: sess, Catalog: "other"})
	if err != nil || len(sch.GetSchemas()) != 0 {
		t.Errorf("getSchemaNamesV2(other) = %v, %v", sch, err)
	}
	tabs, err := e.GetTablesV2(ctx, &e6xpb.GetTablesV2Request{SessionId: sess, Catalog: Catalog, Schema: Schema})
	if err != nil || !cmp.Equal(tabs.GetTables(), []string{"big", "numbers", "one", "types"}) {
		t.Errorf("getTablesV2 = %v, %v", tabs, err)
	}
	tabs, err = e.GetTables(ctx, &e6xpb.GetTablesRequest{SessionId: sess, Schema: "nope"})
	if err != nil || len(tabs.GetTables()) != 0 {
		t.Errorf("getTables(nope) = %v, %v", tabs, err)
	}
	cols, err := e.GetColumnsV2(ctx, &e6xpb.GetColumnsV2Request{SessionId: sess, Catalog: Catalog, Schema: Schema, Table: "numbers"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range cols.GetFieldInfo() {
		got = append(got, f.GetFieldName()+" "+f.GetFieldType())
	}
	if diff := cmp.Diff([]string{"id LONG", "name STRING", "ratio DOUBLE", "even BOOLEAN"}, got); diff != "" {
		t.Errorf("getColumnsV2 (-want +got):\n%s", diff)
	}
	if cols, err := e.GetColumns(ctx, &e6xpb.GetColumnsRequest{SessionId: sess, Schema: Schema, Table: "one"}); err != nil || len(cols.GetFieldInfo()) != 1 {
		t.Errorf("getColumns(one) = %v, %v", cols, err)
	}
	if dr, err := e.DryRun(ctx, &e6xpb.DryRunRequest{SessionId: sess, QueryString: "select 1"}); err != nil || dr.GetDryrunValue() == "" {
		t.Errorf("dryRun = %v, %v", dr, err)
	}
	if _, err := e.HealthCheck(ctx, &e6xpb.HealthCheckRequest{}); err != nil {
		t.Errorf("healthCheck: %v", err)
	}
	q := prepare(t, s, "", sess, "SELECT 1")
	if ex, err := e.Explain(ctx, &e6xpb.ExplainRequest{SessionId: sess, QueryId: q}); err != nil || ex.GetExplain() == "" {
		t.Errorf("explain = %v, %v", ex, err)
	}
	if ex, err := e.ExplainAnalyze(ctx, &e6xpb.ExplainAnalyzeRequest{SessionId: sess, QueryId: q}); err != nil || ex.GetExplainAnalyze() == "" {
		t.Errorf("explainAnalyze = %v, %v", ex, err)
	}
}

func TestEveryResponseAnnounces(t *testing.T) {
	s := newServer(t, Options{})
	e := s.Engine()
	sess := auth(t, s, "blue")
	q := prepare(t, s, "blue", sess, "SELECT 1")
	if err := s.BeginSwitch(Green); err != nil {
		t.Fatal(err)
	}
	ctx := as(testCtx(t), "blue")
	type announcer interface{ GetNewStrategy() string }
	calls := map[string]func() (announcer, error){
		"authenticate": func() (announcer, error) { return e.Authenticate(ctx, &e6xpb.AuthenticateRequest{}) },
		"prepareStatement": func() (announcer, error) {
			return e.PrepareStatement(ctx, &e6xpb.PrepareStatementRequest{SessionId: sess, QueryString: "select 1"})
		},
		"executeStatement": func() (announcer, error) {
			return e.ExecuteStatement(ctx, &e6xpb.ExecuteStatementRequest{SessionId: sess, QueryId: q})
		},
		"getResultMetadata": func() (announcer, error) {
			return e.GetResultMetadata(ctx, &e6xpb.GetResultMetadataRequest{SessionId: sess, QueryId: q})
		},
		"getNextResultBatch": func() (announcer, error) {
			return e.GetNextResultBatch(ctx, &e6xpb.GetNextResultBatchRequest{SessionId: sess, QueryId: q})
		},
		"status":  func() (announcer, error) { return e.Status(ctx, &e6xpb.StatusRequest{SessionId: sess, QueryId: q}) },
		"explain": func() (announcer, error) { return e.Explain(ctx, &e6xpb.ExplainRequest{SessionId: sess, QueryId: q}) },
		"explainAnalyze": func() (announcer, error) {
			return e.ExplainAnalyze(ctx, &e6xpb.ExplainAnalyzeRequest{SessionId: sess, QueryId: q})
		},
		"getSchemaNamesV2": func() (announcer, error) {
			return e.GetSchemaNamesV2(ctx, &e6xpb.GetSchemaNamesV2Request{SessionId: sess})
		},
		"getTablesV2": func() (announcer, error) {
			return e.GetTablesV2(ctx, &e6xpb.GetTablesV2Request{SessionId: sess, Schema: Schema})
		},
		"getColumnsV2": func() (announcer, error) {
			return e.GetColumnsV2(ctx, &e6xpb.GetColumnsV2Request{SessionId: sess, Schema: Schema, Table: "one"})
		},
		"cancelQuery": func() (announcer, error) {
			return e.CancelQuery(ctx, &e6xpb.CancelQueryRequest{SessionId: sess, QueryId: "x"})
		},
		"clear": func() (announcer, error) { return e.Clear(ctx, &e6xpb.ClearRequest{SessionId: sess, QueryId: "x"}) },
		"clearOrCancelQuery": func() (announcer, error) {
			return e.ClearOrCancelQuery(ctx, &e6xpb.ClearOrCancelQueryRequest{SessionId: sess, QueryId: "x"})
		},
	}
	for name, call := range calls {
		resp, err := call()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := resp.GetNewStrategy(); got != "green" {
			t.Errorf("%s: new_strategy = %q, want green", name, got)
		}
	}
	for _, c := range s.Log()[3:] {
		if c.Announced != "green" {
			t.Errorf("%s logged with Announced %q", c.Method, c.Announced)
		}
	}
}

func TestClusterService(t *testing.T) {
	for _, r := range styles {
		t.Run(r.String(), func(t *testing.T) {
			s := newServer(t, Options{Rejection: r})
			ctx := testCtx(t)
			c := s.Cluster()
			if st, err := c.Suspend(ctx, &e6xpb.SuspendRequest{}); err != nil || st.GetStatus() != StatusSuspended {
				t.Fatalf("suspend = %v, %v", st, err)
			}
			_, err := s.Engine().Authenticate(as(ctx, "blue"), &e6xpb.AuthenticateRequest{})
			wantCode(t, err, codes.Unavailable)
			if msg := status.Convert(err).Message(); !word503.MatchString(msg) {
				t.Errorf("message %q does not mention 503", msg)
			}
			if st, err := c.Status(ctx, &e6xpb.ClusterStatusRequest{}); err != nil || st.GetStatus() != StatusSuspended {
				t.Errorf("status = %v, %v", st, err)
			}
			if st, err := c.Resume(ctx, &e6xpb.ResumeRequest{}); err != nil || st.GetStatus() != StatusActive {
				t.Fatalf("resume = %v, %v", st, err)
			}
			auth(t, s, "blue")
			if got := s.Counts().Unavailable; got != 1 {
				t.Errorf("Unavailable = %d, want 1", got)
			}
		})
	}
}

// With NoHealthCheck, healthCheck fails with Unimplemented, as the widely
// used mock's does, and is recorded; the calls of a query still work.
func TestNoHealthCheck(t *testing.T) {
	s := newServer(t, Options{NoHealthCheck: true})
	ctx := as(testCtx(t), "blue")
	_, err := s.Engine().HealthCheck(ctx, &e6xpb.HealthCheckRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("healthCheck error = %v, want Unimplemented", err)
	}
	if _, rows := fetch(t, s, false, "SELECT 1"); len(rows) != 1 {
		t.Errorf("SELECT 1 returned %d rows, want 1", len(rows))
	}
	log := s.Log()
	if len(log) == 0 {
		t.Fatal("no call logged")
	}
	if c := log[0]; c.Method != e6xpb.QueryEngineService_HealthCheck_FullMethodName || !c.Accepted || c.Code != codes.Unimplemented {
		t.Errorf("first logged call = %+v, want an accepted healthCheck that failed with Unimplemented", c)
	}
}
