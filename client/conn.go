package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/memory"
	redisstore "github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/coordinator"
)

// DefaultPrefetchBytes is the default of [Config.PrefetchBytes].
const DefaultPrefetchBytes = 16 << 20

// Config configures a [Conn]. Zero values mean the documented defaults.
type Config struct {
	// Addr is the engine's host:port. Required.
	Addr string
	// User and Password authenticate every session. The password is never
	// logged nor put in an error.
	User, Password string
	// Catalog and Schema are used by queries and catalog calls.
	Catalog, Schema string
	// Cluster is the cluster name, sent lower-cased in the cluster-name
	// header; it also names the scope of the shared state.
	Cluster string
	// TLS, if set, is used for the connection; nil means plaintext.
	TLS *tls.Config

	// RedisURL, if set and Store is nil, shares the engine's state with
	// the fleet through Redis: redis://[user:password@]host:port/db,
	// rediss://... with optional ca= and server_name= parameters,
	// unix:///path, or the Sentinel and Cluster forms
	// (redis+sentinel://, redis+cluster://) that cache/redis's package
	// doc documents, each with an optional prefix= that sets the key
	// prefix (default "e6coord"). Close closes the connection. The
	// password is never shown in errors or logs.
	RedisURL string
	// Store shares the engine's state with the fleet. Default: a Redis
	// store for RedisURL, else an in-process memory store; Close closes
	// either. A store given here is not closed by Close.
	Store cache.Store
	// Coordination configures the coordinator. Its Scope is set from
	// Cluster and Addr; its Logger defaults to Logger.
	Coordination coordinator.Config

	// NoResume turns off resuming the engine's cluster when it answers
	// HTTP 503 (suspended or starting). By default one process of the
	// fleet resumes it through ClusterService and the others wait for it,
	// for up to Coordination.ResumeTimeout (300 s by default); with
	// NoResume a 503 is retried within MaxAttempts and then returned.
	NoResume bool

	// NoReplay turns off replaying a query from prepare when the engine
	// rejects its colour before its rows reach the caller.
	NoReplay bool
	// PrefetchBytes is how many bytes of result batches Query reads before
	// it returns. A query whose result fits is replayed on a 456 anywhere;
	// past that, a 456 is returned to the caller. Default: 16 MiB.
	PrefetchBytes int

	// DialOptions are passed to grpc.NewClient after the client's own.
	DialOptions []grpc.DialOption
	// Logger receives the coordinator's records. Default: nil, discard.
	Logger *slog.Logger
}

// Conn is a connection to one engine. It is safe for concurrent use by any
// number of goroutines; make one per engine and process, and Close it.
type Conn struct {
	cfg       Config
	cc        *grpc.ClientConn
	engine    e6xpb.QueryEngineServiceClient
	cluster   e6xpb.ClusterServiceClient
	coord     *coordinator.Coordinator
	ownStore  io.Closer // the store, if the Conn made it: Close closes it
	authGroup singleflight.Group

	// sessions holds the current session per colour; a session is
	// replaced, never changed, so its pointer tells it apart.
	sessions [3]atomic.Pointer[session]

	// calls holds the fixed call info of calls not tied to a query, per
	// colour, so that their headers are built once.
	calls [3]*callInfo

	replays atomic.Uint64
	closed  sync.Once
}

// session is one authenticated session of the engine.
type session struct {
	id       string
	strategy cache.Strategy
}

// Open returns a connection to the engine at cfg.Addr. It does no I/O: the
// first call authenticates, and connection problems surface there.
func Open(cfg Config) (*Conn, error) {
	if cfg.Addr == "" {
		return nil, errors.New("client: no engine address")
	}
	if cfg.PrefetchBytes == 0 {
		cfg.PrefetchBytes = DefaultPrefetchBytes
	}
	c := &Conn{cfg: cfg}
	for _, s := range cache.Strategies {
		c.calls[s] = newCallInfo(s, "")
	}
	store := cfg.Store
	switch {
	case store != nil:
	case cfg.RedisURL != "":
		rs, err := redisstore.Open(cfg.RedisURL, redisstore.Options{})
		if err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
		c.ownStore, store = rs, rs
	default:
		ms := memory.New(memory.Options{Now: cfg.Coordination.Now})
		c.ownStore, store = ms, ms
	}
	ccfg := cfg.Coordination
	ccfg.Scope = cache.Scope{Cluster: strings.ToLower(cfg.Cluster), Engine: cfg.Addr}
	if ccfg.Logger == nil {
		ccfg.Logger = cfg.Logger
	}
	if !cfg.NoResume && ccfg.Cluster == nil {
		ccfg.Cluster = clusterControl{c}
	}
	coord, err := coordinator.New(store, c.probe, ccfg)
	if err != nil {
		c.closeStore()
		return nil, fmt.Errorf("client: %w", err)
	}
	c.coord = coord

	creds := insecure.NewCredentials()
	if cfg.TLS != nil {
		creds = credentials.NewTLS(cfg.TLS)
	}
	opts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithUnaryInterceptor(UnaryInterceptor(coord, InterceptorOptions{Cluster: cfg.Cluster})),
	}, cfg.DialOptions...)
	cc, err := grpc.NewClient(cfg.Addr, opts...)
	if err != nil {
		coord.Close()
		c.closeStore()
		return nil, fmt.Errorf("client: connect to %s: %w", cfg.Addr, err)
	}
	c.cc = cc
	c.engine = e6xpb.NewQueryEngineServiceClient(cc)
	c.cluster = e6xpb.NewClusterServiceClient(cc)
	return c, nil
}

// Close releases the pins of open queries, closes the connection and, if
// the Conn made it, the store.
func (c *Conn) Close() error {
	var err error
	c.closed.Do(func() {
		c.coord.Close()
		err = c.cc.Close()
		c.closeStore()
	})
	return err
}

func (c *Conn) closeStore() {
	if c.ownStore != nil {
		c.ownStore.Close()
	}
}

// Coordinator returns the coordinator the Conn runs on, for its state and
// statistics.
func (c *Conn) Coordinator() *coordinator.Coordinator { return c.coord }

// Engine returns the generated stub on the Conn's connection, whose calls
// go through the strategy interceptor. A call made on it without a colour
// fixed by [WithStrategy] carries the live colour of the moment: the calls
// of one query must fix the colour its prepare carried, as Query does. A
// call whose request carries a session is not retried after a rejection
// ([UnaryInterceptor]; the Conn sets no RenewSession).
func (c *Conn) Engine() e6xpb.QueryEngineServiceClient { return c.engine }

// Stats counts what the Conn did.
type Stats struct {
	Replays     uint64 // queries replayed from prepare after a rejection
	Coordinator coordinator.Stats
}

// Stats returns the Conn's counters.
func (c *Conn) Stats() Stats {
	return Stats{Replays: c.replays.Load(), Coordinator: c.coord.Stats()}
}

// Connect makes the Conn ready for queries with only the calls a query
// makes: it resolves the active colour (detecting it for the fleet when none
// is trusted, by authenticating with each colour) and opens a session of
// that colour unless one is open, recovering from rejections as queries do.
// It does no I/O when the colour is trusted and its session open. [Open]
// does no I/O, so Connect is the way to learn early that the engine is
// unreachable or refuses the credentials. It never calls the engine's
// optional healthCheck ([Conn.HealthCheck]).
func (c *Conn) Connect(ctx context.Context) error {
	return c.do(ctx, func(context.Context, *session) error { return nil })
}

// probe is the coordinator's probe: it authenticates with colour s, and
// keeps the session it gets.
func (c *Conn) probe(ctx context.Context, s cache.Strategy) error {
	_, err := c.authenticate(ctx, s)
	return err
}

// authenticate opens a session with colour s and makes it the colour's
// current session.
func (c *Conn) authenticate(ctx context.Context, s cache.Strategy) (*session, error) {
	resp, err := c.engine.Authenticate(c.callCtx(ctx, s), &e6xpb.AuthenticateRequest{
		User:     c.cfg.User,
		Password: c.cfg.Password,
	})
	if err != nil {
		if IsWrongStrategy(err) {
			return nil, err
		}
		return nil, fmt.Errorf("client: authenticate as %q: %w", c.cfg.User, err)
	}
	sess := &session{id: resp.GetSessionId(), strategy: s}
	c.sessions[s].Store(sess)
	return sess, nil
}

// authTimeout bounds an authentication that callers share.
const authTimeout = 30 * time.Second

// session returns the current session for colour s, authenticating when
// there is none. Concurrent callers share one authentication, which no
// single caller's cancellation ends; each waits on its own ctx.
func (c *Conn) session(ctx context.Context, s cache.Strategy) (*session, error) {
	if sess := c.sessions[s].Load(); sess != nil {
		return sess, nil
	}
	ch := c.authGroup.DoChan(s.String(), func() (any, error) {
		if sess := c.sessions[s].Load(); sess != nil {
			return sess, nil
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), authTimeout)
		defer cancel()
		return c.authenticate(actx, s)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*session), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// callCtx returns ctx for a call not tied to a query that carries colour s.
func (c *Conn) callCtx(ctx context.Context, s cache.Strategy) context.Context {
	return context.WithValue(ctx, callKey{}, c.calls[s])
}

// dropSession forgets sess, if it is still current, so that the next call
// authenticates again.
func (c *Conn) dropSession(sess *session) {
	if sess != nil {
		c.sessions[sess.strategy].CompareAndSwap(sess, nil)
	}
}

// do runs call, a call not tied to a query, with the colour and session it
// must use, and recovers as [coordinator.Coordinator.Do] does; a lost
// session is dropped and the call retried with a new one.
func (c *Conn) do(ctx context.Context, call func(ctx context.Context, sess *session) error) error {
	return c.coord.Do(ctx, func(ctx context.Context, s cache.Strategy) error {
		sess, err := c.session(ctx, s)
		if err != nil {
			return err // a rejection (StrategyError) is retried; bad credentials are not
		}
		return c.retryLost(sess, call(c.callCtx(ctx, s), sess))
	})
}

// retryLost returns err, the error of a call made with sess, as it is,
// unless the engine lost the session: then sess is dropped, so that the
// next attempt authenticates again, and the error asks the retry loop for
// one ([coordinator.Retry]).
func (c *Conn) retryLost(sess *session, err error) error {
	if err != nil && !IsWrongStrategy(err) && IsSessionLost(err) {
		c.dropSession(sess)
		return coordinator.Retry(err)
	}
	return err
}
