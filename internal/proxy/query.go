package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/coordinator"
)

// side is where a query runs on the engine: its colour, the engine session
// it was prepared with, and the engine's query id and engineIP. It changes
// when the query is replayed (gen counts the replays).
type side struct {
	s   cache.Strategy
	sid string
	qid string
	ip  string
	gen int
}

// pquery is a query prepared through the proxy.
type pquery struct {
	id       string // the id the client sees
	engineIP string // the engineIP the client sees: its first prepare's
	sess     *psession
	conn     *connTag // the client connection it was prepared over
	prepare  func(ctx context.Context, sid string) (*e6xpb.PrepareStatementResponse, error)

	replayMu sync.Mutex // one replay at a time

	fetchMu   sync.Mutex // one getNextResultBatch at a time; guards ahead and readAhead
	ahead     []*e6xpb.GetNextResultBatchResponse
	readAhead bool // the result was read ahead (PrefetchBytes)

	mu        sync.Mutex
	eng       side
	execute   func(ctx context.Context, e side) error // nil until the client executed it
	metadata  bool                                    // the client read its metadata
	delivered bool                                    // a result batch reached the client
}

func (q *pquery) side() side {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.eng
}

// queryTable holds the open queries by the id the client sees.
type queryTable struct {
	mu      sync.Mutex
	queries map[string]*pquery
	empty   chan struct{} // closed while there is no query; replaced when one comes
}

func (t *queryTable) init() {
	t.queries = make(map[string]*pquery)
	t.empty = make(chan struct{})
	close(t.empty)
}

func (t *queryTable) add(q *pquery) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.queries) == 0 {
		t.empty = make(chan struct{})
	}
	t.queries[q.id] = q
}

// remove forgets q and reports whether it was there.
func (t *queryTable) remove(q *pquery) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.queries[q.id] != q {
		return false
	}
	delete(t.queries, q.id)
	if len(t.queries) == 0 {
		close(t.empty)
	}
	return true
}

// get returns the query id names if it belongs to session s.
func (t *queryTable) get(id string, s *psession) *pquery {
	t.mu.Lock()
	defer t.mu.Unlock()
	q := t.queries[id]
	if q == nil || q.sess != s {
		return nil
	}
	return q
}

func (t *queryTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.queries)
}

// emptied returns a channel closed once no query is open.
func (t *queryTable) emptied() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.empty
}

func (t *queryTable) all() []*pquery {
	t.mu.Lock()
	defer t.mu.Unlock()
	qs := make([]*pquery, 0, len(t.queries))
	for _, q := range t.queries {
		qs = append(qs, q)
	}
	return qs
}

func (t *queryTable) ofConn(c *connTag) []*pquery {
	t.mu.Lock()
	defer t.mu.Unlock()
	var qs []*pquery
	for _, q := range t.queries {
		if q.conn == c {
			qs = append(qs, q)
		}
	}
	return qs
}

func (t *queryTable) ofSession(s *psession) []*pquery {
	t.mu.Lock()
	defer t.mu.Unlock()
	var qs []*pquery
	for _, q := range t.queries {
		if q.sess == s {
			qs = append(qs, q)
		}
	}
	return qs
}

func newQueryID() string {
	var b [16]byte
	rand.Read(b[:])
	return queryIDPrefix + hex.EncodeToString(b[:])
}

// queryIDPrefix starts the query ids the proxy gives.
const queryIDPrefix = "e6coord-"

// errQueryGone is the answer to a call whose query the proxy ended while
// the call replayed it (its session expired, its connection ended).
var errQueryGone = status.Error(codes.NotFound, "e6coord proxy: query ended")

// holds reports whether a query of id is open, whatever its session.
func (t *queryTable) holds(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.queries[id] != nil
}

// has reports whether q is open.
func (t *queryTable) has(q *pquery) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.queries[q.id] == q
}

// clearTimeout bounds the clear of a query the proxy ends on its own.
const clearTimeout = 5 * time.Second

// finish ends q for the proxy, if it is still open: it clears it on the
// engine (a rejection is no error: the query is gone with its colour) and
// releases its pin.
func (p *Proxy) finish(ctx context.Context, q *pquery) {
	q.replayMu.Lock() // a replay under way ends first: its side is the one to clear
	defer q.replayMu.Unlock()
	if !p.queries.remove(q) {
		return
	}
	e := q.side()
	if conn := p.Conn(); conn != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), clearTimeout)
		defer cancel()
		_, _ = conn.Engine().ClearOrCancelQuery(client.WithStrategy(ctx, e.s, e.ip), &e6xpb.ClearOrCancelQueryRequest{
			EngineIP: e.ip, SessionId: e.sid, QueryId: e.qid,
		})
		conn.Coordinator().Release(e.qid)
	}
}

// forget ends q for the proxy after the client cleared or cancelled it.
func (p *Proxy) forget(q *pquery) {
	q.replayMu.Lock()
	defer q.replayMu.Unlock()
	if p.queries.remove(q) {
		if conn := p.Conn(); conn != nil {
			conn.Coordinator().Release(q.side().qid)
		}
	}
}

var errDraining = status.Error(codes.Unavailable, "e6coord proxy: shutting down: no new query")

// prepareQuery prepares a query for session sid on the live colour; prep
// makes the engine's prepare call with an engine session id.
func (p *Proxy) prepareQuery(ctx context.Context, sid string, prep func(ctx context.Context, sid string) (*e6xpb.PrepareStatementResponse, error)) (*e6xpb.PrepareStatementResponse, error) {
	if p.isDraining() {
		return nil, errDraining
	}
	ps, err := p.session(ctx, sid)
	if err != nil {
		return nil, err
	}
	defer p.done(ps)
	conn, err := p.engineConn()
	if err != nil {
		return nil, err
	}
	q := &pquery{id: newQueryID(), sess: ps, conn: connOf(ctx), prepare: prep}
	e, err := p.start(ctx, conn, q, 0)
	if err != nil {
		return nil, engineError(err)
	}
	q.eng = e
	q.engineIP = e.ip
	p.queries.add(q)
	return &e6xpb.PrepareStatementResponse{EngineIP: q.engineIP, QueryId: q.id, SessionId: sid}, nil
}

// start prepares q on the live colour, within the coordinator's retry
// loop, and pins it; for a replay it then executes it and reads its
// metadata if the client had. gen is the generation of the side it makes.
func (p *Proxy) start(ctx context.Context, conn *client.Conn, q *pquery, gen int) (side, error) {
	coord := conn.Coordinator()
	cred := q.sess.cred
	var out side
	err := coord.Do(ctx, func(ctx context.Context, s cache.Strategy) error {
		esid, err := p.engineSession(ctx, conn, cred, s)
		if err != nil {
			return err
		}
		resp, err := q.prepare(client.WithStrategy(ctx, s, ""), esid)
		if err != nil {
			if !client.IsWrongStrategy(err) && client.IsSessionLost(err) {
				dropEngineSession(cred, s, esid)
				return coordinator.Retry(err)
			}
			return err
		}
		e := side{s: s, sid: esid, qid: resp.GetQueryId(), ip: resp.GetEngineIP(), gen: gen}
		if err := coord.Pin(e.qid, s); err != nil {
			return coordinator.Stop(err)
		}
		if gen > 0 {
			if err := p.redo(ctx, conn, q, e); err != nil {
				coord.Release(e.qid)
				if client.IsWrongStrategy(err) {
					return err
				}
				if client.IsSessionLost(err) {
					dropEngineSession(cred, s, esid)
					return coordinator.Retry(err)
				}
				return coordinator.Stop(err)
			}
		}
		out = e
		return nil
	})
	return out, err
}

// redo makes again, on e, the calls the client had made of q after its
// prepare.
func (p *Proxy) redo(ctx context.Context, conn *client.Conn, q *pquery, e side) error {
	q.mu.Lock()
	execute, metadata := q.execute, q.metadata
	q.mu.Unlock()
	if execute == nil {
		return nil
	}
	if err := execute(ctx, e); err != nil {
		return err
	}
	if !metadata {
		return nil
	}
	_, err := conn.Engine().GetResultMetadata(client.WithStrategy(ctx, e.s, e.ip), &e6xpb.GetResultMetadataRequest{
		EngineIP: e.ip, SessionId: e.sid, QueryId: e.qid,
	})
	return err
}

// replay runs q again on the live colour after the engine rejected failed,
// its side then, unless another call replayed it already.
func (p *Proxy) replay(ctx context.Context, conn *client.Conn, q *pquery, failed side) error {
	q.replayMu.Lock()
	defer q.replayMu.Unlock()
	if q.side().gen != failed.gen {
		return nil
	}
	if !p.queries.has(q) {
		return errQueryGone // finished meanwhile (its session expired, its connection ended)
	}
	conn.Coordinator().Release(failed.qid)
	e, err := p.start(ctx, conn, q, failed.gen+1)
	if err != nil {
		return err
	}
	q.mu.Lock()
	q.eng = e
	q.mu.Unlock()
	p.replays.Add(1)
	p.log.Info("query replayed on a new colour", "query", q.id, "rejected", failed.s.String(), "now", e.s.String())
	return nil
}

// maxReplays bounds the replays of one call of a query.
const maxReplays = 5

// queryCall makes call, a call of query qid of session sid, on the side
// the query runs on, and recovers from a rejection of its colour by
// replaying the query while no result batch has reached the client. It
// returns found false when the session holds no such query.
func queryCall[R any](p *Proxy, ctx context.Context, sid, qid string, call func(ctx context.Context, conn *client.Conn, q *pquery, e side) (R, error)) (resp R, found bool, err error) {
	ps, err := p.session(ctx, sid)
	if err != nil {
		return resp, true, err
	}
	defer p.done(ps)
	q := p.queries.get(qid, ps)
	if q == nil {
		if strings.HasPrefix(qid, queryIDPrefix) && !p.queries.holds(qid) {
			// A query id of a proxy's own that this one does not hold: the
			// proxy before a restart gave it, or it was cleared. The
			// engine never knew the id; the published client recovers
			// from Access denied on execute by authenticating again and
			// preparing anew.
			return resp, true, errBadSession
		}
		return resp, false, nil
	}
	conn, err := p.engineConn()
	if err != nil {
		return resp, true, err
	}
	for n := 0; ; n++ {
		e := q.side()
		resp, err = call(client.WithStrategy(ctx, e.s, e.ip), conn, q, e)
		if err == nil {
			return resp, true, nil
		}
		rejected := client.IsWrongStrategy(err)
		if !rejected && !client.IsSessionLost(err) {
			return resp, true, engineError(err)
		}
		if rejected {
			conn.Coordinator().Invalidate(e.s)
		} else {
			dropEngineSession(q.sess.cred, e.s, e.sid)
		}
		q.mu.Lock()
		delivered := q.delivered
		q.mu.Unlock()
		if delivered || n >= maxReplays || ctx.Err() != nil {
			return resp, true, engineError(err)
		}
		if rerr := p.replay(ctx, conn, q, e); rerr != nil {
			return resp, true, engineError(rerr)
		}
	}
}

// sessionCall makes call, a call not tied to a query, for session sid
// with the credential's engine session of the live colour, and retries it
// on the new colour after a rejection (and with a new engine session
// after a lost one), as [coordinator.Coordinator.Do] does.
func (p *Proxy) sessionCall(ctx context.Context, sid string, call func(ctx context.Context, conn *client.Conn, esid string) error) error {
	ps, err := p.session(ctx, sid)
	if err != nil {
		return err
	}
	defer p.done(ps)
	conn, err := p.engineConn()
	if err != nil {
		return err
	}
	cred := ps.cred
	err = conn.Coordinator().Do(ctx, func(ctx context.Context, s cache.Strategy) error {
		esid, err := p.engineSession(ctx, conn, cred, s)
		if err != nil {
			return err
		}
		err = call(client.WithStrategy(ctx, s, ""), conn, esid)
		if err != nil && !client.IsWrongStrategy(err) && client.IsSessionLost(err) {
			dropEngineSession(cred, s, esid)
			return coordinator.Retry(err)
		}
		return err
	})
	return engineError(err)
}
