package proxy

import (
	"context"
	"encoding/binary"
	"strings"

	"google.golang.org/grpc/metadata"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/e6xpb"
)

// engine implements QueryEngineService for the proxy's clients.
type engine struct {
	e6xpb.UnimplementedQueryEngineServiceServer
	p *Proxy
}

// outgoing returns ctx with the client's request headers as the outgoing
// headers of the proxy's calls to the engine, but for those the proxy sets
// itself (strategy, plannerip, and cluster-name when it has a cluster),
// the transport's own, :authority and user-agent.
func (p *Proxy) outgoing(ctx context.Context) context.Context {
	in, ok := metadata.FromIncomingContext(ctx)
	if !ok || len(in) == 0 {
		return ctx
	}
	var out metadata.MD
	for k, vs := range in {
		switch {
		case k == "strategy", k == "plannerip", k == ":authority", k == "user-agent",
			k == "content-type", k == "te", strings.HasPrefix(k, "grpc-"),
			k == "cluster-name" && p.opts.Client.Cluster != "":
			continue
		}
		if out == nil {
			out = make(metadata.MD, len(in))
		}
		out[k] = vs
	}
	if out == nil {
		return ctx
	}
	return metadata.NewOutgoingContext(ctx, out)
}

func (e *engine) Authenticate(ctx context.Context, req *e6xpb.AuthenticateRequest) (*e6xpb.AuthenticateResponse, error) {
	p := e.p
	ps, err := p.authenticate(p.outgoing(ctx), req)
	if err != nil {
		return nil, err
	}
	resp := &e6xpb.AuthenticateResponse{SessionId: ps.id}
	if ip := ps.cred.engineIP.Load(); ip != nil {
		resp.EngineIP = ip
	}
	return resp, nil
}

func (e *engine) PrepareStatement(ctx context.Context, req *e6xpb.PrepareStatementRequest) (*e6xpb.PrepareStatementResponse, error) {
	r := &e6xpb.PrepareStatementRequest{Schema: req.GetSchema(), QueryString: req.GetQueryString(), Quoting: req.GetQuoting(), ExistingQuery: req.GetExistingQuery()}
	return e.p.prepareQuery(e.p.outgoing(ctx), req.GetSessionId(), func(ctx context.Context, sid string) (*e6xpb.PrepareStatementResponse, error) {
		r.SessionId = sid
		return e.p.Conn().Engine().PrepareStatement(ctx, r)
	})
}

func (e *engine) PrepareStatementV2(ctx context.Context, req *e6xpb.PrepareStatementV2Request) (*e6xpb.PrepareStatementResponse, error) {
	r := &e6xpb.PrepareStatementV2Request{Schema: req.GetSchema(), Catalog: req.GetCatalog(), QueryString: req.GetQueryString(), Quoting: req.GetQuoting(), ExistingQuery: req.GetExistingQuery()}
	return e.p.prepareQuery(e.p.outgoing(ctx), req.GetSessionId(), func(ctx context.Context, sid string) (*e6xpb.PrepareStatementResponse, error) {
		r.SessionId = sid
		return e.p.Conn().Engine().PrepareStatementV2(ctx, r)
	})
}

// execute runs exec, the execute call of a query, and keeps it to run
// again when the query is replayed.
func (e *engine) execute(ctx context.Context, sid, qid string, exec func(ctx context.Context, conn *client.Conn, e side) error, passOn func(ctx context.Context, conn *client.Conn, esid string) error) (*e6xpb.ExecuteStatementResponse, error) {
	p := e.p
	ctx = p.outgoing(ctx)
	_, found, err := queryCall(p, ctx, sid, qid, func(ctx context.Context, conn *client.Conn, q *pquery, s side) (struct{}, error) {
		if err := exec(ctx, conn, s); err != nil {
			return struct{}{}, err
		}
		q.mu.Lock()
		q.execute = func(ctx context.Context, s side) error {
			return exec(client.WithStrategy(ctx, s.s, s.ip), conn, s)
		}
		q.mu.Unlock()
		return struct{}{}, nil
	})
	if !found {
		err = p.sessionCall(ctx, sid, passOn)
	}
	if err != nil {
		return nil, err
	}
	return &e6xpb.ExecuteStatementResponse{SessionId: sid}, nil
}

func (e *engine) ExecuteStatement(ctx context.Context, req *e6xpb.ExecuteStatementRequest) (*e6xpb.ExecuteStatementResponse, error) {
	return e.execute(ctx, req.GetSessionId(), req.GetQueryId(), func(ctx context.Context, conn *client.Conn, s side) error {
		_, err := conn.Engine().ExecuteStatement(ctx, &e6xpb.ExecuteStatementRequest{EngineIP: s.ip, SessionId: s.sid, QueryId: s.qid, ShouldNotCache: req.GetShouldNotCache()})
		return err
	}, func(ctx context.Context, conn *client.Conn, esid string) error {
		_, err := conn.Engine().ExecuteStatement(ctx, &e6xpb.ExecuteStatementRequest{EngineIP: req.GetEngineIP(), SessionId: esid, QueryId: req.GetQueryId(), ShouldNotCache: req.GetShouldNotCache()})
		return err
	})
}

func (e *engine) ExecuteStatementV2(ctx context.Context, req *e6xpb.ExecuteStatementV2Request) (*e6xpb.ExecuteStatementResponse, error) {
	return e.execute(ctx, req.GetSessionId(), req.GetQueryId(), func(ctx context.Context, conn *client.Conn, s side) error {
		_, err := conn.Engine().ExecuteStatementV2(ctx, &e6xpb.ExecuteStatementV2Request{EngineIP: s.ip, SessionId: s.sid, QueryId: s.qid, ShouldNotCache: req.GetShouldNotCache(), Params: req.GetParams()})
		return err
	}, func(ctx context.Context, conn *client.Conn, esid string) error {
		_, err := conn.Engine().ExecuteStatementV2(ctx, &e6xpb.ExecuteStatementV2Request{EngineIP: req.GetEngineIP(), SessionId: esid, QueryId: req.GetQueryId(), ShouldNotCache: req.GetShouldNotCache(), Params: req.GetParams()})
		return err
	})
}

// queryRequest is a request of a call of a query.
type queryRequest interface {
	GetEngineIP() string
	GetSessionId() string
	GetQueryId() string
}

// ids are the engineIP, session and query ids of a call to the engine.
type ids struct{ engineIP, sessionID, queryID string }

// callQuery runs a call of a query through [queryCall]; for a query id the
// client's session does not hold it passes the call on as a call not tied
// to a query, with the ids the client gave (the engine answers as it does
// for an unknown query). after, if set, sees every response of the query.
func callQuery[R any](p *Proxy, ctx context.Context, req queryRequest, call func(ctx context.Context, conn *client.Conn, id ids) (R, error), after func(q *pquery, r R)) (R, error) {
	ctx = p.outgoing(ctx)
	sid := req.GetSessionId()
	resp, found, err := queryCall(p, ctx, sid, req.GetQueryId(), func(ctx context.Context, conn *client.Conn, q *pquery, s side) (R, error) {
		r, err := call(ctx, conn, ids{s.ip, s.sid, s.qid})
		if err == nil && after != nil {
			after(q, r)
		}
		return r, err
	})
	if found {
		return resp, err
	}
	err = p.sessionCall(ctx, sid, func(ctx context.Context, conn *client.Conn, esid string) error {
		var err error
		resp, err = call(ctx, conn, ids{req.GetEngineIP(), esid, req.GetQueryId()})
		return err
	})
	return resp, err
}

func (e *engine) GetResultMetadata(ctx context.Context, req *e6xpb.GetResultMetadataRequest) (*e6xpb.GetResultMetadataResponse, error) {
	resp, err := callQuery(e.p, ctx, req, func(ctx context.Context, conn *client.Conn, id ids) (*e6xpb.GetResultMetadataResponse, error) {
		return conn.Engine().GetResultMetadata(ctx, &e6xpb.GetResultMetadataRequest{EngineIP: id.engineIP, SessionId: id.sessionID, QueryId: id.queryID})
	}, func(q *pquery, _ *e6xpb.GetResultMetadataResponse) {
		q.mu.Lock()
		q.metadata = true
		q.mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	resp.SessionId, resp.NewStrategy = req.GetSessionId(), nil
	return resp, nil
}

// GetNextResultBatch serves a query's batches. Its first call reads the
// result ahead, up to PrefetchBytes and the end of the result, before the
// first batch reaches the client: a rejection until then replays the
// query, so a result that fits never fails because of a switch. Later
// calls serve what was read ahead, then read on from the engine, where a
// rejection reaches the client.
func (e *engine) GetNextResultBatch(ctx context.Context, req *e6xpb.GetNextResultBatchRequest) (*e6xpb.GetNextResultBatchResponse, error) {
	p := e.p
	ps, err := p.session(ctx, req.GetSessionId())
	if err != nil {
		return nil, err
	}
	defer p.done(ps)
	q := p.queries.get(req.GetQueryId(), ps)
	if q == nil {
		return fetch(p, ctx, req, nil) // the engine answers for a query it does not know
	}
	q.fetchMu.Lock()
	defer q.fetchMu.Unlock()
	var resp *e6xpb.GetNextResultBatchResponse
	switch {
	case len(q.ahead) > 0:
		resp, q.ahead = q.ahead[0], q.ahead[1:]
	case !q.readAhead && p.opts.PrefetchBytes > 0:
		batches, _, err := queryCall(p, p.outgoing(ctx), req.GetSessionId(), req.GetQueryId(), func(ctx context.Context, conn *client.Conn, _ *pquery, s side) ([]*e6xpb.GetNextResultBatchResponse, error) {
			var batches []*e6xpb.GetNextResultBatchResponse
			size := 0
			for size < p.opts.PrefetchBytes {
				b, err := conn.Engine().GetNextResultBatch(ctx, &e6xpb.GetNextResultBatchRequest{EngineIP: s.ip, SessionId: s.sid, QueryId: s.qid})
				if err != nil {
					return nil, err
				}
				batches = append(batches, b)
				if lastBatch(b.GetResultBatch()) {
					break
				}
				size += len(b.GetResultBatch())
			}
			return batches, nil
		})
		if err != nil {
			return nil, err
		}
		q.readAhead = true
		resp, q.ahead = batches[0], batches[1:]
	default:
		return fetch(p, ctx, req, q)
	}
	q.mu.Lock()
	q.delivered = true
	q.mu.Unlock()
	resp.SessionId, resp.NewStrategy = req.GetSessionId(), nil
	return resp, nil
}

// fetch makes one getNextResultBatch call through [callQuery]; q, if
// known, is marked delivered by a batch that is not empty.
func fetch(p *Proxy, ctx context.Context, req *e6xpb.GetNextResultBatchRequest, q *pquery) (*e6xpb.GetNextResultBatchResponse, error) {
	resp, err := callQuery(p, ctx, req, func(ctx context.Context, conn *client.Conn, id ids) (*e6xpb.GetNextResultBatchResponse, error) {
		return conn.Engine().GetNextResultBatch(ctx, &e6xpb.GetNextResultBatchRequest{EngineIP: id.engineIP, SessionId: id.sessionID, QueryId: id.queryID})
	}, func(q *pquery, r *e6xpb.GetNextResultBatchResponse) {
		if len(r.GetResultBatch()) > 0 {
			q.mu.Lock()
			q.delivered = true
			q.mu.Unlock()
		}
	})
	if err != nil {
		return nil, err
	}
	resp.SessionId, resp.NewStrategy = req.GetSessionId(), nil
	return resp, nil
}

// lastBatch reports whether b, a result batch, ends the result (PROTOCOL.md):
// it is empty, or its Thrift Chunk starts with a size (field 1, i32) that
// is not positive.
func lastBatch(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	const tI32 = 8
	if len(b) >= 7 && b[0] == tI32 && b[1] == 0 && b[2] == 1 {
		return int32(binary.BigEndian.Uint32(b[3:7])) <= 0
	}
	return false
}

func (e *engine) Status(ctx context.Context, req *e6xpb.StatusRequest) (*e6xpb.StatusResponse, error) {
	resp, err := callQuery(e.p, ctx, req, func(ctx context.Context, conn *client.Conn, id ids) (*e6xpb.StatusResponse, error) {
		return conn.Engine().Status(ctx, &e6xpb.StatusRequest{EngineIP: id.engineIP, SessionId: id.sessionID, QueryId: id.queryID})
	}, nil)
	if err != nil {
		return nil, err
	}
	resp.SessionId, resp.NewStrategy = req.GetSessionId(), nil
	return resp, nil
}

func (e *engine) Explain(ctx context.Context, req *e6xpb.ExplainRequest) (*e6xpb.ExplainResponse, error) {
	resp, err := callQuery(e.p, ctx, req, func(ctx context.Context, conn *client.Conn, id ids) (*e6xpb.ExplainResponse, error) {
		return conn.Engine().Explain(ctx, &e6xpb.ExplainRequest{EngineIP: id.engineIP, SessionId: id.sessionID, QueryId: id.queryID})
	}, nil)
	if err != nil {
		return nil, err
	}
	resp.SessionId, resp.NewStrategy = req.GetSessionId(), nil
	return resp, nil
}

func (e *engine) ExplainAnalyze(ctx context.Context, req *e6xpb.ExplainAnalyzeRequest) (*e6xpb.ExplainAnalyzeResponse, error) {
	resp, err := callQuery(e.p, ctx, req, func(ctx context.Context, conn *client.Conn, id ids) (*e6xpb.ExplainAnalyzeResponse, error) {
		return conn.Engine().ExplainAnalyze(ctx, &e6xpb.ExplainAnalyzeRequest{EngineIP: id.engineIP, SessionId: id.sessionID, QueryId: id.queryID})
	}, nil)
	if err != nil {
		return nil, err
	}
	resp.SessionId, resp.NewStrategy = req.GetSessionId(), nil
	return resp, nil
}

// end makes call, the clear or cancel of a query, and then forgets the
// query. The engine's rejection of the query's colour is no error: the
// query is gone with it.
func end[R any](p *Proxy, ctx context.Context, req queryRequest, call func(ctx context.Context, conn *client.Conn, id ids) (R, error), empty func() R) (R, error) {
	ctx = p.outgoing(ctx)
	sid := req.GetSessionId()
	ps, err := p.session(ctx, sid)
	if err != nil {
		return empty(), err
	}
	defer p.done(ps)
	q := p.queries.get(req.GetQueryId(), ps)
	if q == nil {
		var resp R
		err := p.sessionCall(ctx, sid, func(ctx context.Context, conn *client.Conn, esid string) error {
			var err error
			resp, err = call(ctx, conn, ids{req.GetEngineIP(), esid, req.GetQueryId()})
			return err
		})
		return resp, err
	}
	conn, err := p.engineConn()
	if err != nil {
		return empty(), err
	}
	s := q.side()
	resp, err := call(client.WithStrategy(ctx, s.s, s.ip), conn, ids{s.ip, s.sid, s.qid})
	switch {
	case err == nil:
	case client.IsWrongStrategy(err):
		conn.Coordinator().Invalidate(s.s)
		resp, err = empty(), nil
	case client.IsSessionLost(err):
		dropEngineSession(q.sess.cred, s.s, s.sid)
		resp, err = empty(), nil // the engine holds nothing of the session any more
	default:
		return resp, engineError(err)
	}
	p.forget(q)
	return resp, nil
}

func (e *engine) Clear(ctx context.Context, req *e6xpb.ClearRequest) (*e6xpb.ClearResponse, error) {
	resp, err := end(e.p, ctx, req, func(ctx context.Context, conn *client.Conn, id ids) (*e6xpb.ClearResponse, error) {
		return conn.Engine().Clear(ctx, &e6xpb.ClearRequest{EngineIP: id.engineIP, SessionId: id.sessionID, QueryId: id.queryID})
	}, func() *e6xpb.ClearResponse { return &e6xpb.ClearResponse{} })
	if err != nil {
		return nil, err
	}
	resp.SessionId, resp.NewStrategy = req.GetSessionId(), nil
	return resp, nil
}

func (e *engine) CancelQuery(ctx context.Context, req *e6xpb.CancelQueryRequest) (*e6xpb.CancelQueryResponse, error) {
	resp, err := end(e.p, ctx, req, func(ctx context.Context, conn *client.Conn, id ids) (*e6xpb.CancelQueryResponse, error) {
		return conn.Engine().CancelQuery(ctx, &e6xpb.CancelQueryRequest{EngineIP: id.engineIP, SessionId: id.sessionID, QueryId: id.queryID})
	}, func() *e6xpb.CancelQueryResponse { return &e6xpb.CancelQueryResponse{} })
	if err != nil {
		return nil, err
	}
	resp.SessionId, resp.NewStrategy = req.GetSessionId(), nil
	return resp, nil
}

func (e *engine) ClearOrCancelQuery(ctx context.Context, req *e6xpb.ClearOrCancelQueryRequest) (*e6xpb.ClearOrCancelQueryResponse, error) {
	resp, err := end(e.p, ctx, req, func(ctx context.Context, conn *client.Conn, id ids) (*e6xpb.ClearOrCancelQueryResponse, error) {
		return conn.Engine().ClearOrCancelQuery(ctx, &e6xpb.ClearOrCancelQueryRequest{EngineIP: id.engineIP, SessionId: id.sessionID, QueryId: id.queryID, IsDone: req.IsDone})
	}, func() *e6xpb.ClearOrCancelQueryResponse { return &e6xpb.ClearOrCancelQueryResponse{} })
	if err != nil {
		return nil, err
	}
	resp.SessionId, resp.NewStrategy = req.GetSessionId(), nil
	return resp, nil
}

// catalog makes call, a call not tied to a query, through [Proxy.sessionCall].
func catalog[R any](p *Proxy, ctx context.Context, sid string, call func(ctx context.Context, conn *client.Conn, esid string) (R, error)) (R, error) {
	var resp R
	err := p.sessionCall(p.outgoing(ctx), sid, func(ctx context.Context, conn *client.Conn, esid string) error {
		var err error
		resp, err = call(ctx, conn, esid)
		return err
	})
	return resp, err
}

func (e *engine) GetSchemaNames(ctx context.Context, req *e6xpb.GetSchemaNamesRequest) (*e6xpb.GetSchemaNamesResponse, error) {
	resp, err := catalog(e.p, ctx, req.GetSessionId(), func(ctx context.Context, conn *client.Conn, esid string) (*e6xpb.GetSchemaNamesResponse, error) {
		return conn.Engine().GetSchemaNames(ctx, &e6xpb.GetSchemaNamesRequest{SessionId: esid})
	})
	if err != nil {
		return nil, err
	}
	resp.SessionId, resp.NewStrategy = req.GetSessionId(), nil
	return resp, nil
}

func (e *engine) GetSchemaNamesV2(ctx context.Context, req *e6xpb.GetSchemaNamesV2Request) (*e6xpb.GetSchemaNamesResponse, error) {
	resp, err := catalog(e.p, ctx, req.GetSessionId(), func(ctx context.Context, conn *client.Conn, esid string) (*e6xpb.GetSchemaNamesResponse, error) {
		return conn.Engine().GetSchemaNamesV2(ctx, &e6xpb.GetSchemaNamesV2Request{SessionId: esid, Catalog: req.GetCatalog()})
	})
	if err != nil {
		return nil, err
	}
	resp.SessionId, resp.NewStrategy = req.GetSessionId(), nil
	return resp, nil
}

func (e *engine) GetTables(ctx context.Context, req *e6xpb.GetTablesRequest) (*e6xpb.GetTablesResponse, error) {
	resp, err := catalog(e.p, ctx, req.GetSessionId(), func(ctx context.Context, conn *client.Conn, esid string) (*e6xpb.GetTablesResponse, error) {
		return conn.Engine().GetTables(ctx, &e6xpb.GetTablesRequest{SessionId: esid, Schema: req.GetSchema()})
	})
	if err != nil {
		return nil, err
	}
	resp.SessionId, resp.NewStrategy = req.GetSessionId(), nil
	return resp, nil
}

func (e *engine) GetTablesV2(ctx context.Context, req *e6xpb.GetTablesV2Request) (*e6xpb.GetTablesResponse, error) {
	resp, err := catalog(e.p, ctx, req.GetSessionId(), func(ctx context.Context, conn *client.Conn, esid string) (*e6xpb.GetTablesResponse, error) {
		return conn.Engine().GetTablesV2(ctx, &e6xpb.GetTablesV2Request{SessionId: esid, Schema: req.GetSchema(), Catalog: req.GetCatalog()})
	})
	if err != nil {
		return nil, err
	}
	resp.SessionId, resp.NewStrategy = req.GetSessionId(), nil
	return resp, nil
}

func (e *engine) GetColumns(ctx context.Context, req *e6xpb.GetColumnsRequest) (*e6xpb.GetColumnsResponse, error) {
	resp, err := catalog(e.p, ctx, req.GetSessionId(), func(ctx context.Context, conn *client.Conn, esid string) (*e6xpb.GetColumnsResponse, error) {
		return conn.Engine().GetColumns(ctx, &e6xpb.GetColumnsRequest{SessionId: esid, Schema: req.GetSchema(), Table: req.GetTable()})
	})
	if err != nil {
		return nil, err
	}
	resp.SessionId, resp.NewStrategy = req.GetSessionId(), nil
	return resp, nil
}

func (e *engine) GetColumnsV2(ctx context.Context, req *e6xpb.GetColumnsV2Request) (*e6xpb.GetColumnsResponse, error) {
	resp, err := catalog(e.p, ctx, req.GetSessionId(), func(ctx context.Context, conn *client.Conn, esid string) (*e6xpb.GetColumnsResponse, error) {
		return conn.Engine().GetColumnsV2(ctx, &e6xpb.GetColumnsV2Request{SessionId: esid, Schema: req.GetSchema(), Table: req.GetTable(), Catalog: req.GetCatalog()})
	})
	if err != nil {
		return nil, err
	}
	resp.SessionId, resp.NewStrategy = req.GetSessionId(), nil
	return resp, nil
}

func (e *engine) DryRun(ctx context.Context, req *e6xpb.DryRunRequest) (*e6xpb.DryRunResponse, error) {
	return catalog(e.p, ctx, req.GetSessionId(), func(ctx context.Context, conn *client.Conn, esid string) (*e6xpb.DryRunResponse, error) {
		return conn.Engine().DryRun(ctx, &e6xpb.DryRunRequest{EngineIP: req.GetEngineIP(), SessionId: esid, Schema: req.GetSchema(), QueryString: req.GetQueryString()})
	})
}

func (e *engine) DryRunV2(ctx context.Context, req *e6xpb.DryRunRequestV2) (*e6xpb.DryRunResponse, error) {
	return catalog(e.p, ctx, req.GetSessionId(), func(ctx context.Context, conn *client.Conn, esid string) (*e6xpb.DryRunResponse, error) {
		return conn.Engine().DryRunV2(ctx, &e6xpb.DryRunRequestV2{EngineIP: req.GetEngineIP(), SessionId: esid, Schema: req.GetSchema(), QueryString: req.GetQueryString(), Catalog: req.GetCatalog()})
	})
}

// HealthCheck is passed on, with the live colour, once the proxy has an
// engine connection.
func (e *engine) HealthCheck(ctx context.Context, req *e6xpb.HealthCheckRequest) (*e6xpb.HealthCheckResponse, error) {
	conn, err := e.p.engineConn()
	if err != nil {
		return nil, err
	}
	resp, err := conn.Engine().HealthCheck(e.p.outgoing(ctx), req)
	if err != nil {
		return nil, engineError(err)
	}
	return resp, nil
}

// cluster implements ClusterService: its calls are passed on with the
// credentials they carry, once the proxy has an engine connection.
type cluster struct {
	e6xpb.UnimplementedClusterServiceServer
	p *Proxy
}

func (c *cluster) conn() (*client.Conn, error) {
	conn, err := c.p.engineConn()
	return conn, err
}

func (c *cluster) Status(ctx context.Context, req *e6xpb.ClusterStatusRequest) (*e6xpb.ClusterStatusResponse, error) {
	conn, err := c.conn()
	if err != nil {
		return nil, err
	}
	resp, err := conn.Cluster().Status(c.p.outgoing(ctx), req)
	return resp, engineError(err)
}

func (c *cluster) Resume(ctx context.Context, req *e6xpb.ResumeRequest) (*e6xpb.ResumeResponse, error) {
	conn, err := c.conn()
	if err != nil {
		return nil, err
	}
	resp, err := conn.Cluster().Resume(c.p.outgoing(ctx), req)
	return resp, engineError(err)
}

func (c *cluster) Suspend(ctx context.Context, req *e6xpb.SuspendRequest) (*e6xpb.SuspendResponse, error) {
	conn, err := c.conn()
	if err != nil {
		return nil, err
	}
	resp, err := conn.Cluster().Suspend(c.p.outgoing(ctx), req)
	return resp, engineError(err)
}
