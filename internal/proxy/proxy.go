// Package proxy serves the engine's protocol (QueryEngineService and
// ClusterService, client/e6xpb) on a local port and sends every call to
// the engine through package client and its coordinator, so that a client
// in any language gets the fleet's coordination by changing only the host
// and port it connects to.
//
// What the proxy does with a client's calls:
//
//   - The strategy header the client sends is dropped: the proxy decides
//     the colour of every call (the coordinator's, or the colour a query
//     was prepared with for the calls of that query). The cluster-name
//     header is set from [Options].Client.Cluster when one is configured,
//     else forwarded; the plannerip header is the proxy's own, from the
//     engineIP of the query's prepare. The client's other metadata is
//     forwarded, except :authority, user-agent and the transport's own
//     (content-type, te, grpc-*).
//   - A new_strategy in an engine response goes to the coordinator
//     ([coordinator.Coordinator.Announce], through the client's
//     interceptor) and is removed from the response the client sees.
//   - Sessions: the client authenticates through the proxy. A credential
//     the proxy has not seen is verified with the engine (authenticate);
//     one the engine refuses gets the engine's error and no session.
//     Credentials are kept in memory only. The client gets a session id of
//     the proxy's own, bound to its credential, valid across switches, and
//     forgotten after [Options].SessionIdle with no call under way and
//     none begun or ended; the proxy holds
//     engine sessions per colour per credential. The session id is sealed:
//     128 random bits and the credential, encrypted and authenticated
//     (AES-256-GCM) with [Options].SessionKey, so the client holds the
//     credential only in a form it cannot read or alter. Session ids are
//     bearer tokens, as the engine's are: whoever presents one acts as the
//     credential sealed in it. Whoever holds the key and a session id can
//     open it and read the credential: the key is a secret as the
//     passwords are.
//   - A proxy restarted with the same SessionKey serves the sessions of the
//     one before: a session id it does not hold but can open is learnt,
//     its credential verified again as on authenticate (with the engine,
//     unless the proxy knows it; one the engine refuses gets the engine's
//     error and no session), and its idle time counts from then. Without a
//     SessionKey the key is random, and sessions end with the Proxy value.
//     A session id that does not open (made up, sealed with another key,
//     or altered), or one the proxy gave or learnt and then forgot, gets
//     the engine's error for an unknown session (code Internal, "Access
//     denied"), on which the published client authenticates again on
//     execute only. Only an unknown id costs more than a map lookup. A
//     sealed id carries no time: one that a proxy let expire can be learnt
//     by a proxy started later with the same key, as long as the engine
//     still accepts its credential; a new key ends every session.
//   - A call of a query id of the proxy's own that this Proxy value does
//     not hold (one prepared before a restart) gets the same Access
//     denied, so that the published client's execute prepares anew.
//   - Queries: the client gets query ids of the proxy's own; the engineIP
//     it sees is the one of the query's first prepare, whatever replays
//     happened since. A query is pinned ([coordinator.Coordinator.Pin])
//     from prepare until it is cleared.
//   - Rejections of a colour (456): a call not tied to a query is retried
//     on the new colour with the credential's session of that colour. A
//     query whose result batches have not reached the client yet is
//     replayed on the new colour (prepare, and execute and metadata if the
//     client had made them) and the call is made again. The first
//     getNextResultBatch of a query reads the result ahead, up to
//     [Options].PrefetchBytes, before its first batch reaches the client,
//     so the client never sees a rejection of a query whose result fits.
//     Past that point the client gets code Unknown with "Received http2
//     header with status: 456" (the words gRPC C-core reports for an HTTP
//     456), which the published client and package client both take for a
//     rejection.
//     A rejection on clear or cancel is not an error: the query is gone
//     with its colour.
//   - A query is cleared on the engine when the client connection it was
//     prepared over ends (a client that goes away mid-query), when its
//     session expires, and when the proxy closes.
//
// The engine connection ([client.Conn]) needs a credential for its probes
// (authenticate with each colour when the colour must be detected): the
// one of [Options].Client if it has a User, else the first credential a
// client authenticates with successfully.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/e6xpb"
)

// Defaults of [Options].
const (
	DefaultSessionIdle = 30 * time.Minute
	// DefaultMaxRecvMsgSize is the largest message the proxy receives
	// (from its clients and from the engine): 128 MiB.
	DefaultMaxRecvMsgSize = 128 << 20
)

// Options configures a [Proxy].
type Options struct {
	// Client configures the connection to the engine. Its User and
	// Password, if User is set, are the credential of the proxy's probes;
	// else the first credential a client authenticates with is. Catalog
	// and Schema are not used: a client's calls carry its own.
	Client client.Config
	// SessionIdle is how long a client's session lives without a call.
	// Default DefaultSessionIdle.
	SessionIdle time.Duration
	// PrefetchBytes is how many bytes of result batches the proxy reads
	// ahead, at a query's first getNextResultBatch, before the first batch
	// reaches the client: a result that fits is replayed on a rejection
	// anywhere, as package client's Query does. Default
	// client.DefaultPrefetchBytes (16 MiB); negative: none.
	PrefetchBytes int
	// SessionKey is the AES-256 key (SessionKeySize bytes) that seals the
	// session ids the proxy gives (see ReadSessionKey): a proxy with the
	// same key serves the sessions of one before it, after a restart.
	// Default nil: a random key of this Proxy value, so that its sessions
	// end with it.
	SessionKey []byte
	// Now is the clock of session expiry. Default time.Now.
	Now func() time.Time
	// ServerOptions are added to the gRPC server's own.
	ServerOptions []grpc.ServerOption
	// Logger receives the proxy's records; it never holds a credential.
	// Default nil: discard.
	Logger *slog.Logger
}

// Proxy is the engine's protocol served on a local listener.
type Proxy struct {
	opts Options
	log  *slog.Logger
	srv  *grpc.Server

	connMu sync.Mutex
	conn   *client.Conn // nil until a probe credential is known

	sealer   *sealer
	sessions sessionTable
	queries  queryTable

	replays atomic.Uint64

	grpcMetrics grpcMetrics
	registry    *prometheus.Registry

	mu       sync.Mutex
	draining bool
	closed   bool
	lis      []net.Listener

	drainStarted chan struct{} // closed by Drain once no new query is taken
	drainOnce    sync.Once

	stop    chan struct{} // closed by Close: ends the janitor
	janitor sync.WaitGroup
	bg      sync.WaitGroup // the clears of the queries of connections that ended

	connEnded atomic.Pointer[func(cleared int)] // for tests: called after those clears
}

// New returns a proxy; Serve serves it. With a probe credential in
// opts.Client it opens the engine connection, which does no I/O.
func New(opts Options) (*Proxy, error) {
	if opts.Client.Addr == "" {
		return nil, errors.New("proxy: no engine address")
	}
	if opts.SessionIdle < 0 {
		return nil, fmt.Errorf("proxy: negative session idle time %v", opts.SessionIdle)
	}
	if opts.SessionIdle == 0 {
		opts.SessionIdle = DefaultSessionIdle
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PrefetchBytes == 0 {
		opts.PrefetchBytes = client.DefaultPrefetchBytes
	}
	sealer, err := newSealer(opts.SessionKey)
	if err != nil {
		return nil, err
	}
	opts.SessionKey = nil // the sealer holds it
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Client.Logger == nil {
		opts.Client.Logger = opts.Logger
	}
	gm := newGRPCMetrics()
	opts.Client.DialOptions = append([]grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(DefaultMaxRecvMsgSize)),
		grpc.WithChainUnaryInterceptor(gm.client.UnaryClientInterceptor()),
	}, opts.Client.DialOptions...)
	p := &Proxy{opts: opts, log: log, sealer: sealer, grpcMetrics: gm, stop: make(chan struct{}), drainStarted: make(chan struct{})}
	p.registry = p.newRegistry()
	p.sessions.init()
	p.queries.init()
	if opts.Client.User != "" {
		conn, err := client.Open(opts.Client)
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		p.conn = conn
	}
	sopts := append([]grpc.ServerOption{
		grpc.MaxRecvMsgSize(DefaultMaxRecvMsgSize),
		// The published client may ping every 30 s, with or without calls.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.StatsHandler(connWatch{p}),
		grpc.ChainUnaryInterceptor(gm.server.UnaryServerInterceptor()),
	}, opts.ServerOptions...)
	p.srv = grpc.NewServer(sopts...)
	e6xpb.RegisterQueryEngineServiceServer(p.srv, &engine{p: p})
	e6xpb.RegisterClusterServiceServer(p.srv, &cluster{p: p})
	gm.server.InitializeMetrics(p.srv)
	p.janitor.Add(1)
	go p.expireLoop()
	return p, nil
}

// expireLoop forgets idle sessions, and clears their queries, every
// quarter of SessionIdle (at least every second) until Close.
func (p *Proxy) expireLoop() {
	defer p.janitor.Done()
	tick := time.NewTicker(max(p.opts.SessionIdle/4, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
			p.expireSessions()
		}
	}
}

// Serve serves lis until Drain or Close; it returns nil then.
func (p *Proxy) Serve(lis net.Listener) error {
	p.mu.Lock()
	if p.closed || p.draining {
		p.mu.Unlock()
		lis.Close()
		return nil
	}
	p.lis = append(p.lis, lis)
	p.mu.Unlock()
	err := p.srv.Serve(lis)
	p.mu.Lock()
	stopping := p.closed || p.draining
	p.mu.Unlock()
	if stopping {
		return nil
	}
	return err
}

// Conn returns the engine connection, nil until a probe credential is
// known.
func (p *Proxy) Conn() *client.Conn {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	return p.conn
}

// OpenQueries returns the number of queries prepared through the proxy and
// not cleared yet.
func (p *Proxy) OpenQueries() int { return p.queries.len() }

// Replays returns the number of queries the proxy replayed on a new colour.
func (p *Proxy) Replays() uint64 { return p.replays.Load() }

// Drain stops accepting connections and new queries (a prepare then gets
// code Unavailable), lets the queries in flight go on until they are
// cleared or ctx ends, then clears what remains on the engine, lets the
// calls in flight end while ctx allows, and closes the proxy. It returns
// the number of queries it cleared.
func (p *Proxy) Drain(ctx context.Context) int {
	p.mu.Lock()
	p.draining = true
	lis := p.lis
	p.lis = nil
	p.mu.Unlock()
	p.drainOnce.Do(func() { close(p.drainStarted) })
	for _, l := range lis {
		l.Close() // Serve returns; connections already open are served on
	}
	select {
	case <-p.queries.emptied():
	case <-ctx.Done():
	}
	n := p.clearAll()
	// Let the calls in flight (the last clear, say) end, for as long as
	// ctx allows.
	stopped := make(chan struct{})
	go func() {
		p.srv.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-ctx.Done():
		p.srv.Stop()
		<-stopped
	}
	p.Close()
	return n
}

// Close stops the server at once, clears the queries still open on the
// engine and closes the engine connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	close(p.stop)
	p.janitor.Wait()
	p.srv.Stop()
	p.bg.Wait()
	p.clearAll()
	p.sessions.close()
	if conn := p.Conn(); conn != nil {
		return conn.Close()
	}
	return nil
}

func (p *Proxy) isDraining() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.draining || p.closed
}

// clearAll clears every open query on the engine and returns how many.
func (p *Proxy) clearAll() int {
	qs := p.queries.all()
	for _, q := range qs {
		p.finish(context.Background(), q)
	}
	return len(qs)
}
