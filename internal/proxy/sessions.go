package proxy

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/e6xpb"
)

// credKey is a credential as a client gave it. It is kept in memory only
// and never printed: nothing formats it.
type credKey struct {
	user, password, impersonate string
}

// credential is a credential the engine accepted, and its engine sessions.
type credential struct {
	key credKey
	// sessions holds the engine session id per colour; an id is replaced,
	// never changed.
	sessions [3]atomic.Pointer[string]
	auth     singleflight.Group
	// engineIP is the engineIP of its first authenticate, if any.
	engineIP atomic.Pointer[string]
}

// psession is a session the proxy gave a client, or learnt from a
// sealed id another Proxy value gave.
type psession struct {
	id       string
	cred     *credential
	lastUsed atomic.Int64 // unix nanoseconds of the Options.Now clock
	busy     atomic.Int32 // calls of the session under way: it is not idle
	learnt   bool         // opened from the id of another Proxy value
}

// use marks s used by a call, from now until the call calls done.
func (p *Proxy) use(s *psession) {
	s.lastUsed.Store(p.opts.Now().UnixNano())
	s.busy.Add(1)
}

// done ends a call's use of s, which session began: every caller of
// session defers it once session returned s.
func (p *Proxy) done(s *psession) {
	s.lastUsed.Store(p.opts.Now().UnixNano())
	s.busy.Add(-1)
}

// idle reports whether s has had no call under way for longer than
// SessionIdle at now.
func (p *Proxy) idle(s *psession, now int64) bool {
	return s.busy.Load() == 0 && time.Duration(now-s.lastUsed.Load()) > p.opts.SessionIdle
}

// sessionTable holds the verified credentials and the proxy's sessions.
type sessionTable struct {
	mu       sync.Mutex
	creds    map[credKey]*credential
	sessions map[string]*psession
	// expired holds the ids of learnt sessions that expired: they still
	// open, and must not be learnt again.
	expired map[string]struct{}
}

func (t *sessionTable) init() {
	t.creds = make(map[credKey]*credential)
	t.sessions = make(map[string]*psession)
	t.expired = make(map[string]struct{})
}

func (t *sessionTable) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.sessions)
	clear(t.creds)
}

// errBadSession is the answer to a session id the proxy does not hold: the
// engine's answer to an unknown session (PROTOCOL.md; the published client
// re-authenticates on it).
var errBadSession = status.Error(codes.Internal, "Access denied: unknown session")

// session returns the live session id names and marks it used by the
// call (until the call's deferred done). An id
// the proxy does not hold is learnt if it opens with the session key
// (see learn); only then does a call cost more than a map lookup.
func (p *Proxy) session(ctx context.Context, id string) (*psession, error) {
	t := &p.sessions
	t.mu.Lock()
	s, ok := t.sessions[id]
	t.mu.Unlock()
	if !ok {
		s, err := p.learn(ctx, id)
		if err != nil {
			return nil, err
		}
		p.use(s)
		return s, nil
	}
	if p.idle(s, p.opts.Now().UnixNano()) {
		p.dropSession(s)
		return nil, errBadSession
	}
	p.use(s)
	return s, nil
}

// dropSession forgets s and clears its queries.
func (p *Proxy) dropSession(s *psession) {
	t := &p.sessions
	t.mu.Lock()
	if t.sessions[s.id] == s {
		delete(t.sessions, s.id)
		if s.learnt {
			t.expired[s.id] = struct{}{}
		}
	}
	t.mu.Unlock()
	for _, q := range p.queries.ofSession(s) {
		p.finish(context.Background(), q)
	}
}

// expireSessions forgets every session idle for longer than SessionIdle:
// with no call under way, and none begun or ended within it.
func (p *Proxy) expireSessions() {
	now := p.opts.Now().UnixNano()
	var idle []*psession
	t := &p.sessions
	t.mu.Lock()
	for _, s := range t.sessions {
		if p.idle(s, now) {
			idle = append(idle, s)
		}
	}
	t.mu.Unlock()
	for _, s := range idle {
		p.dropSession(s)
	}
}

// learn serves a session id this Proxy value did not give: one sealed by
// another Proxy value with the same session key (the proxy before a
// restart, or another proxy sharing the key). Its credential is verified
// as on authenticate (with the engine, unless it is known) and the id
// becomes a session of this proxy, idle from now. An id that does not
// open, that this Proxy value sealed (it gave it and forgot it), or that
// it learnt before and let expire, gets errBadSession; a credential the
// engine refuses gets the engine's error.
func (p *Proxy) learn(ctx context.Context, id string) (*psession, error) {
	key, own, err := p.sealer.open(id)
	if err != nil || own {
		return nil, errBadSession
	}
	t := &p.sessions
	t.mu.Lock()
	_, expired := t.expired[id]
	t.mu.Unlock()
	if expired {
		return nil, errBadSession
	}
	cred, err := p.verified(ctx, key)
	if err != nil {
		return nil, err
	}
	s := &psession{id: id, cred: cred, learnt: true}
	s.lastUsed.Store(p.opts.Now().UnixNano())
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, expired := t.expired[id]; expired {
		return nil, errBadSession
	}
	if cur := t.sessions[id]; cur != nil {
		return cur, nil // another call learnt it first
	}
	t.sessions[id] = s
	p.log.Debug("learnt a session sealed by another proxy", "user", key.user)
	return s, nil
}

// newSession makes a session for cred.
func (p *Proxy) newSession(cred *credential) *psession {
	s := &psession{id: p.sealer.seal(cred.key), cred: cred}
	s.lastUsed.Store(p.opts.Now().UnixNano())
	t := &p.sessions
	t.mu.Lock()
	t.sessions[s.id] = s
	t.mu.Unlock()
	return s
}

// errNotConnected answers a call that needs the engine connection before
// any credential is known.
var errNotConnected = status.Error(codes.Unavailable, "e6coord proxy: no engine connection yet: authenticate first")

// engineConn returns the engine connection, or errNotConnected while
// there is none.
func (p *Proxy) engineConn() (*client.Conn, error) {
	if conn := p.Conn(); conn != nil {
		return conn, nil
	}
	return nil, errNotConnected
}

// errClosed answers a call that comes while the proxy closes.
var errClosed = status.Error(codes.Unavailable, "e6coord proxy: closed")

// verifyOn runs verify, the verification of credential key, on the engine
// connection. While there is none, it opens one with key as the probe
// credential, and keeps it only if verify succeeds; other verifications
// wait meanwhile, so that none is judged by the probes of a credential
// the engine then refuses.
func (p *Proxy) verifyOn(key credKey, verify func(conn *client.Conn) error) error {
	p.connMu.Lock()
	if conn := p.conn; conn != nil {
		p.connMu.Unlock()
		return verify(conn)
	}
	defer p.connMu.Unlock()
	cfg := p.opts.Client
	cfg.User, cfg.Password = key.user, key.password
	conn, err := client.Open(cfg)
	if err != nil {
		return status.Error(codes.Internal, "e6coord proxy: "+err.Error())
	}
	if err := verify(conn); err != nil {
		conn.Close()
		return err
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		conn.Close()
		return errClosed
	}
	p.conn = conn
	return nil
}

// authenticate verifies the credential of req with the engine, unless it
// is known, and returns a new session of the proxy for it.
func (p *Proxy) authenticate(ctx context.Context, req *e6xpb.AuthenticateRequest) (*psession, error) {
	key := credKey{user: req.GetUser(), password: req.GetPassword(), impersonate: req.GetUserNameForImpersonation()}
	cred, err := p.verified(ctx, key)
	if err != nil {
		return nil, err
	}
	return p.newSession(cred), nil
}

// verified returns the credential of key, verified with the engine unless
// it is known; a credential the engine refuses gets the engine's error.
func (p *Proxy) verified(ctx context.Context, key credKey) (*credential, error) {
	t := &p.sessions
	t.mu.Lock()
	cred := t.creds[key]
	t.mu.Unlock()
	if cred != nil {
		return cred, nil
	}
	cred = &credential{key: key}
	err := p.verifyOn(key, func(conn *client.Conn) error {
		return conn.Coordinator().Do(ctx, func(ctx context.Context, s cache.Strategy) error {
			_, err := p.engineSession(ctx, conn, cred, s)
			return err
		})
	})
	if err != nil {
		p.log.Debug("credential not verified", "user", key.user, "error", err)
		return nil, engineError(err)
	}
	t.mu.Lock()
	if c := t.creds[key]; c != nil {
		cred = c // another call verified it first
	} else {
		t.creds[key] = cred
	}
	t.mu.Unlock()
	return cred, nil
}

// engineSession returns cred's engine session of colour s, authenticating
// when there is none. Concurrent callers share one authentication.
func (p *Proxy) engineSession(ctx context.Context, conn *client.Conn, cred *credential, s cache.Strategy) (string, error) {
	if !s.Valid() {
		return "", errors.New("proxy: no colour")
	}
	if id := cred.sessions[s].Load(); id != nil {
		return *id, nil
	}
	ch := cred.auth.DoChan(s.String(), func() (any, error) {
		if id := cred.sessions[s].Load(); id != nil {
			return *id, nil
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), authTimeout)
		defer cancel()
		resp, err := conn.Engine().Authenticate(client.WithStrategy(actx, s, ""), &e6xpb.AuthenticateRequest{
			User:                     cred.key.user,
			Password:                 cred.key.password,
			UserNameForImpersonation: optional(cred.key.impersonate),
		})
		if err != nil {
			return "", err
		}
		id := resp.GetSessionId()
		cred.sessions[s].Store(&id)
		if ip := resp.GetEngineIP(); ip != "" {
			cred.engineIP.CompareAndSwap(nil, &ip)
		}
		return id, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// dropEngineSession forgets cred's engine session id of colour s, if it
// is still current, so that the next call authenticates again.
func dropEngineSession(cred *credential, s cache.Strategy, id string) {
	if !s.Valid() {
		return
	}
	if cur := cred.sessions[s].Load(); cur != nil && *cur == id {
		cred.sessions[s].CompareAndSwap(cur, nil)
	}
}

// authTimeout bounds an authentication that callers share.
const authTimeout = 30 * time.Second

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
