package enginetest

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/e6coord/e6coord/client/e6xpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// session is an authenticated session.
type session struct {
	user    string
	colour  Colour    // the colour it was created under
	expires time.Time // zero: never
}

// query is a prepared query.
type query struct {
	sql      string
	result   *encodedResult
	executed bool
	next     int // index of the next batch
}

// ExpireSessions ends every session: later calls with their ids fail with
// "Access denied", as after an engine restart.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.sessions)
}

// newID returns a new id with the given prefix. s.mu must be held.
func (s *Server) newID(prefix string) string {
	s.nextID++
	return fmt.Sprintf("%s-%s-%d", prefix, s.tag, s.nextID)
}

// credentials checks a user and password against the options.
func (s *Server) credentials(user, password string) error {
	if s.opts.User != "" && (user != s.opts.User || password != s.opts.Password) {
		return status.Error(codes.Unauthenticated, "invalid credentials")
	}
	return nil
}

// checkSession returns the "Access denied" error unless id names a live
// session valid for the call in ctx. s.mu must be held.
func (s *Server) checkSession(ctx context.Context, id string) error {
	sess, ok := s.sessions[id]
	switch {
	case !ok:
		return status.Error(s.opts.SessionErrorCode, "Access denied: unknown session")
	case !sess.expires.IsZero() && !s.opts.Now().Before(sess.expires):
		delete(s.sessions, id)
		return status.Error(s.opts.SessionErrorCode, "Access denied: session expired")
	case s.opts.BindSessions && sess.colour != admissionFrom(ctx).colour:
		return status.Errorf(s.opts.SessionErrorCode, "Access denied: session of the %s cluster", sess.colour)
	}
	return nil
}

// query returns the query of a call after checking its session. s.mu must
// be held.
func (s *Server) query(ctx context.Context, sessionID, queryID string) (*query, error) {
	if err := s.checkSession(ctx, sessionID); err != nil {
		return nil, err
	}
	q, ok := s.queries[queryID]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "query not found: %q", queryID)
	}
	return q, nil
}

func (s *Server) executedQuery(ctx context.Context, sessionID, queryID string) (*query, error) {
	q, err := s.query(ctx, sessionID, queryID)
	if err == nil && !q.executed {
		err = status.Errorf(codes.FailedPrecondition, "query %q is not executed", queryID)
	}
	return q, err
}

// engine implements QueryEngineService.
type engine struct {
	e6xpb.UnimplementedQueryEngineServiceServer
	s *Server
}

func (e *engine) Authenticate(ctx context.Context, req *e6xpb.AuthenticateRequest) (*e6xpb.AuthenticateResponse, error) {
	s := e.s
	if err := s.credentials(req.GetUser(), req.GetPassword()); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := &session{user: req.GetUser(), colour: admissionFrom(ctx).colour}
	if s.opts.SessionTTL > 0 {
		sess.expires = s.opts.Now().Add(s.opts.SessionTTL)
	}
	id := s.newID("session")
	s.sessions[id] = sess
	return &e6xpb.AuthenticateResponse{SessionId: id, EngineIP: proto.String(s.opts.EngineIP)}, nil
}

// result checks the session and finds the result of sql, or its error.
// s.mu must be held.
func (s *Server) result(ctx context.Context, sessionID, sql string) (*encodedResult, error) {
	if err := s.checkSession(ctx, sessionID); err != nil {
		return nil, err
	}
	r, err := s.lookup(sql)
	if err != nil {
		lit, ok, litErr := literalResult(sql) // literal.go
		if !ok {
			return nil, err
		}
		r, err = lit, litErr
	}
	if err != nil {
		return nil, err
	}
	if r.err != nil {
		return nil, r.err
	}
	return r, nil
}

func (e *engine) prepare(ctx context.Context, sessionID, sql string) (*e6xpb.PrepareStatementResponse, error) {
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.result(ctx, sessionID, sql)
	if err != nil {
		return nil, err
	}
	id := s.newID("query")
	s.queries[id] = &query{sql: sql, result: r}
	s.counts.Prepared++
	return &e6xpb.PrepareStatementResponse{EngineIP: s.opts.EngineIP, QueryId: id, SessionId: sessionID}, nil
}

func (e *engine) PrepareStatement(ctx context.Context, req *e6xpb.PrepareStatementRequest) (*e6xpb.PrepareStatementResponse, error) {
	return e.prepare(ctx, req.GetSessionId(), req.GetQueryString())
}

func (e *engine) PrepareStatementV2(ctx context.Context, req *e6xpb.PrepareStatementV2Request) (*e6xpb.PrepareStatementResponse, error) {
	return e.prepare(ctx, req.GetSessionId(), req.GetQueryString())
}

func (e *engine) execute(ctx context.Context, sessionID, queryID string) (*e6xpb.ExecuteStatementResponse, error) {
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.query(ctx, sessionID, queryID)
	if err != nil {
		return nil, err
	}
	q.executed = true
	return &e6xpb.ExecuteStatementResponse{SessionId: sessionID}, nil
}

func (e *engine) ExecuteStatement(ctx context.Context, req *e6xpb.ExecuteStatementRequest) (*e6xpb.ExecuteStatementResponse, error) {
	return e.execute(ctx, req.GetSessionId(), req.GetQueryId())
}

func (e *engine) ExecuteStatementV2(ctx context.Context, req *e6xpb.ExecuteStatementV2Request) (*e6xpb.ExecuteStatementResponse, error) {
	return e.execute(ctx, req.GetSessionId(), req.GetQueryId())
}

func (e *engine) GetResultMetadata(ctx context.Context, req *e6xpb.GetResultMetadataRequest) (*e6xpb.GetResultMetadataResponse, error) {
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.executedQuery(ctx, req.GetSessionId(), req.GetQueryId())
	if err != nil {
		return nil, err
	}
	return &e6xpb.GetResultMetadataResponse{ResultMetaData: q.result.meta, SessionId: req.GetSessionId()}, nil
}

func (e *engine) GetNextResultBatch(ctx context.Context, req *e6xpb.GetNextResultBatchRequest) (*e6xpb.GetNextResultBatchResponse, error) {
	s := e.s
	s.mu.Lock()
	q, err := s.executedQuery(ctx, req.GetSessionId(), req.GetQueryId())
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	r, i := q.result, q.next
	if i < r.count() {
		q.next++
	}
	s.mu.Unlock()
	// A generated batch is encoded outside the lock.
	batch, err := r.batch(i)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "enginetest: %v", err)
	}
	return &e6xpb.GetNextResultBatchResponse{ResultBatch: batch, SessionId: req.GetSessionId()}, nil
}

func (e *engine) Status(ctx context.Context, req *e6xpb.StatusRequest) (*e6xpb.StatusResponse, error) {
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.query(ctx, req.GetSessionId(), req.GetQueryId())
	if err != nil {
		return nil, err
	}
	resp := &e6xpb.StatusResponse{Status: q.executed, SessionId: req.GetSessionId()}
	if q.executed {
		resp.RowCount = q.result.rows
	}
	return resp, nil
}

// remove forgets a query; with switchOnClear, a SwitchOnClear switch
// waiting for a clear happens if the query existed.
func (e *engine) remove(ctx context.Context, sessionID, queryID string, switchOnClear bool) error {
	s := e.s
	s.mu.Lock()
	if err := s.checkSession(ctx, sessionID); err != nil {
		s.mu.Unlock()
		return err
	}
	_, existed := s.queries[queryID]
	delete(s.queries, queryID)
	s.mu.Unlock()
	if existed && switchOnClear {
		s.clearSwitch()
	}
	return nil
}

func (e *engine) Clear(ctx context.Context, req *e6xpb.ClearRequest) (*e6xpb.ClearResponse, error) {
	if err := e.remove(ctx, req.GetSessionId(), req.GetQueryId(), true); err != nil {
		return nil, err
	}
	return &e6xpb.ClearResponse{SessionId: req.GetSessionId()}, nil
}

func (e *engine) CancelQuery(ctx context.Context, req *e6xpb.CancelQueryRequest) (*e6xpb.CancelQueryResponse, error) {
	if err := e.remove(ctx, req.GetSessionId(), req.GetQueryId(), false); err != nil {
		return nil, err
	}
	return &e6xpb.CancelQueryResponse{SessionId: req.GetSessionId()}, nil
}

func (e *engine) ClearOrCancelQuery(ctx context.Context, req *e6xpb.ClearOrCancelQueryRequest) (*e6xpb.ClearOrCancelQueryResponse, error) {
	if err := e.remove(ctx, req.GetSessionId(), req.GetQueryId(), true); err != nil {
		return nil, err
	}
	return &e6xpb.ClearOrCancelQueryResponse{SessionId: req.GetSessionId()}, nil
}

func (e *engine) Explain(ctx context.Context, req *e6xpb.ExplainRequest) (*e6xpb.ExplainResponse, error) {
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.query(ctx, req.GetSessionId(), req.GetQueryId())
	if err != nil {
		return nil, err
	}
	return &e6xpb.ExplainResponse{Explain: fmt.Sprintf("Scan [%s] rows=%d", q.sql, q.result.rows), SessionId: req.GetSessionId()}, nil
}

func (e *engine) ExplainAnalyze(ctx context.Context, req *e6xpb.ExplainAnalyzeRequest) (*e6xpb.ExplainAnalyzeResponse, error) {
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.executedQuery(ctx, req.GetSessionId(), req.GetQueryId())
	if err != nil {
		return nil, err
	}
	return &e6xpb.ExplainAnalyzeResponse{
		ExplainAnalyze: fmt.Sprintf(`{"plan":{"type":"Scan","query":%q,"rows":%d}}`, q.sql, q.result.rows),
		ParsingTime:    1,
		QueueingTime:   0,
		SessionId:      req.GetSessionId(),
	}, nil
}

func (e *engine) schemas(ctx context.Context, sessionID, catalog string) (*e6xpb.GetSchemaNamesResponse, error) {
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkSession(ctx, sessionID); err != nil {
		return nil, err
	}
	resp := &e6xpb.GetSchemaNamesResponse{SessionId: sessionID}
	if catalog == "" || catalog == Catalog {
		resp.Schemas = []string{Schema}
	}
	return resp, nil
}

func (e *engine) GetSchemaNames(ctx context.Context, req *e6xpb.GetSchemaNamesRequest) (*e6xpb.GetSchemaNamesResponse, error) {
	return e.schemas(ctx, req.GetSessionId(), "")
}

func (e *engine) GetSchemaNamesV2(ctx context.Context, req *e6xpb.GetSchemaNamesV2Request) (*e6xpb.GetSchemaNamesResponse, error) {
	return e.schemas(ctx, req.GetSessionId(), req.GetCatalog())
}

func inCatalog(catalog, schema string) bool {
	return (catalog == "" || catalog == Catalog) && schema == Schema
}

func (e *engine) tables(ctx context.Context, sessionID, catalog, schema string) (*e6xpb.GetTablesResponse, error) {
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkSession(ctx, sessionID); err != nil {
		return nil, err
	}
	resp := &e6xpb.GetTablesResponse{SessionId: sessionID}
	if inCatalog(catalog, schema) {
		for name := range tables {
			resp.Tables = append(resp.Tables, name)
		}
		slices.Sort(resp.Tables)
	}
	return resp, nil
}

func (e *engine) GetTables(ctx context.Context, req *e6xpb.GetTablesRequest) (*e6xpb.GetTablesResponse, error) {
	return e.tables(ctx, req.GetSessionId(), "", req.GetSchema())
}

func (e *engine) GetTablesV2(ctx context.Context, req *e6xpb.GetTablesV2Request) (*e6xpb.GetTablesResponse, error) {
	return e.tables(ctx, req.GetSessionId(), req.GetCatalog(), req.GetSchema())
}

func (e *engine) columns(ctx context.Context, sessionID, catalog, schema, table string) (*e6xpb.GetColumnsResponse, error) {
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkSession(ctx, sessionID); err != nil {
		return nil, err
	}
	resp := &e6xpb.GetColumnsResponse{SessionId: sessionID}
	if inCatalog(catalog, schema) {
		for _, c := range tables[table] {
			resp.FieldInfo = append(resp.FieldInfo, &e6xpb.GFieldInfo{FieldName: c.Name, FieldType: c.Type})
		}
	}
	return resp, nil
}

func (e *engine) GetColumns(ctx context.Context, req *e6xpb.GetColumnsRequest) (*e6xpb.GetColumnsResponse, error) {
	return e.columns(ctx, req.GetSessionId(), "", req.GetSchema(), req.GetTable())
}

func (e *engine) GetColumnsV2(ctx context.Context, req *e6xpb.GetColumnsV2Request) (*e6xpb.GetColumnsResponse, error) {
	return e.columns(ctx, req.GetSessionId(), req.GetCatalog(), req.GetSchema(), req.GetTable())
}

func (e *engine) dryRun(ctx context.Context, sessionID, sql string) (*e6xpb.DryRunResponse, error) {
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.result(ctx, sessionID, sql); err != nil {
		return nil, err
	}
	return &e6xpb.DryRunResponse{DryrunValue: `{"valid":true}`}, nil
}

func (e *engine) DryRun(ctx context.Context, req *e6xpb.DryRunRequest) (*e6xpb.DryRunResponse, error) {
	return e.dryRun(ctx, req.GetSessionId(), req.GetQueryString())
}

func (e *engine) DryRunV2(ctx context.Context, req *e6xpb.DryRunRequestV2) (*e6xpb.DryRunResponse, error) {
	return e.dryRun(ctx, req.GetSessionId(), req.GetQueryString())
}

func (e *engine) HealthCheck(ctx context.Context, req *e6xpb.HealthCheckRequest) (*e6xpb.HealthCheckResponse, error) {
	if e.s.opts.NoHealthCheck {
		return e.UnimplementedQueryEngineServiceServer.HealthCheck(ctx, req)
	}
	return &e6xpb.HealthCheckResponse{}, nil
}
