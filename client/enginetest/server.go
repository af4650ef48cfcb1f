package enginetest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/e6coord/e6coord/client/e6xpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Server is a fake engine: a real gRPC server serving QueryEngineService and
// ClusterService. Create it with [NewServer] and stop it with
// [Server.Close]. All methods are safe for concurrent use.
type Server struct {
	opts Options
	lis  net.Listener
	grpc *grpc.Server
	http *http.Server // nil unless opts.Rejection is RejectHTTP456
	conn *grpc.ClientConn
	tag  string // random, makes ids unique across servers

	cancel    context.CancelFunc // stops the flip loop
	wg        sync.WaitGroup     // the serve goroutine and the flip loop
	inflight  sync.WaitGroup     // HTTP requests being served; Add only while !closing
	closeOnce sync.Once

	mu            sync.Mutex // guards the fields below
	state         State
	rejectMissing bool
	clusterStatus string
	resumeAt      time.Time // when the resume in progress ends; zero if none is timed
	resumeTo      string    // the status the resume in progress ends in
	resumeFails   bool
	idleSince     time.Time // when the active cluster's idle period began
	closing       bool
	nextID        int
	sessions      map[string]*session
	queries       map[string]*query
	results       map[string]*encodedResult // by normalised SQL, from SetResult
	numbers       *encodedResult            // demo.numbers without LIMIT
	types         *encodedResult
	log           []Call
	counts        Counts
	colours       map[string]queryColours // by query id
	mixed         []string
	switchesAt    int // state.Switches at the last ResetLog
}

// NewServer starts a fake engine as opts says and returns it once it is
// listening. The caller must call [Server.Close].
func NewServer(opts Options) (*Server, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	var tag [3]byte
	rand.Read(tag[:])
	s := &Server{
		opts:          opts,
		tag:           hex.EncodeToString(tag[:]),
		state:         State{Active: opts.Start, Generation: 1},
		rejectMissing: opts.RejectMissingStrategy,
		clusterStatus: opts.ClusterStatus,
		resumeFails:   opts.ResumeFails,
		idleSince:     opts.Now(),
		sessions:      make(map[string]*session),
		queries:       make(map[string]*query),
		results:       make(map[string]*encodedResult),
	}
	s.resetLog()
	if s.numbers, err = encodeResult(numbersResult(NumbersRows, opts.BatchSize)); err != nil {
		return nil, err
	}
	if s.types, err = encodeResult(typesResult(opts.BatchSize)); err != nil {
		return nil, err
	}

	s.lis = opts.Listener
	if s.lis == nil {
		if s.lis, err = net.Listen("tcp", opts.Addr); err != nil {
			return nil, fmt.Errorf("enginetest: listen: %w", err)
		}
	}
	s.grpc = grpc.NewServer(append(opts.ServerOptions, grpc.ChainUnaryInterceptor(s.intercept))...)
	e6xpb.RegisterQueryEngineServiceServer(s.grpc, &engine{s: s})
	e6xpb.RegisterClusterServiceServer(s.grpc, &cluster{s: s})

	creds := insecure.NewCredentials()
	if opts.TLS != nil {
		if creds, err = ownCredentials(opts.TLS); err != nil {
			s.lis.Close()
			return nil, err
		}
		s.lis = tls.NewListener(s.lis, serverTLS(opts.TLS, opts.Rejection == RejectHTTP456))
	}
	dialOpts := append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, opts.DialOptions...)
	if s.conn, err = grpc.NewClient("passthrough:///"+s.Addr(), dialOpts...); err != nil {
		s.lis.Close()
		return nil, fmt.Errorf("enginetest: client: %w", err)
	}

	if opts.Rejection == RejectHTTP456 {
		var protocols http.Protocols
		protocols.SetHTTP1(true)
		protocols.SetUnencryptedHTTP2(true)
		protocols.SetHTTP2(true) // over TLS
		s.http = &http.Server{
			Handler:   http.HandlerFunc(s.serveHTTP),
			Protocols: &protocols,
			ErrorLog:  log.New(io.Discard, "", 0),
		}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if s.http != nil {
			s.http.Serve(s.lis)
		} else {
			s.grpc.Serve(s.lis)
		}
	}()

	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if opts.FlipEvery > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.flipLoop(ctx)
		}()
	}
	return s, nil
}

// Addr returns the address the server listens on, such as
// "127.0.0.1:41235".
func (s *Server) Addr() string { return s.lis.Addr().String() }

// Conn returns a client connection to the server (plaintext, or TLS
// trusting the server's own certificates under [Options.TLS]; no
// interceptors, no strategy header). Close closes it.
func (s *Server) Conn() *grpc.ClientConn { return s.conn }

// Engine returns a QueryEngineService client on [Server.Conn].
func (s *Server) Engine() e6xpb.QueryEngineServiceClient {
	return e6xpb.NewQueryEngineServiceClient(s.conn)
}

// Cluster returns a ClusterService client on [Server.Conn].
func (s *Server) Cluster() e6xpb.ClusterServiceClient { return e6xpb.NewClusterServiceClient(s.conn) }

// Close stops the flip schedule, stops accepting calls, waits for the calls
// in flight to finish, and closes the listener and [Server.Conn]. Calls
// arriving meanwhile fail with Unavailable. Close may be called more than
// once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		s.conn.Close()
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		if s.http != nil {
			// Shutdown closes the listener and waits for the connections
			// to go idle, so that the responses of the calls in flight
			// are written out; calls arriving meanwhile are refused.
			s.inflight.Wait()
			ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
			if s.http.Shutdown(ctx) != nil {
				s.http.Close()
			}
			cancel()
			s.grpc.Stop()
		} else {
			s.grpc.GracefulStop()
		}
		s.wg.Wait()
	})
}

// closeTimeout bounds the wait of Close for idle HTTP connections, once
// the calls in flight have finished.
const closeTimeout = 5 * time.Second

// SetRejectMissingStrategy sets whether an engine call without a strategy
// header is rejected ([Options.RejectMissingStrategy]).
func (s *Server) SetRejectMissingStrategy(reject bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectMissing = reject
}

// admissionKey is the context key of the *admission of a call.
type admissionKey struct{}

// admission is the gateway's decision on a call, and the call's record.
type admission struct {
	call     Call
	colour   Colour // the colour the call is served under
	expected Colour // the active colour when the call arrived
	announce Colour // the new_strategy to send, if valid
}

func admissionFrom(ctx context.Context) *admission {
	a, _ := ctx.Value(admissionKey{}).(*admission)
	if a == nil {
		a = &admission{}
	}
	return a
}

// engineMethod reports whether method belongs to QueryEngineService, whose
// calls the gateway routes by colour.
func engineMethod(method string) bool {
	return strings.HasPrefix(method, "/QueryEngineService/")
}

// parseHeader returns the colour a strategy header names, exactly as the
// engine spells it ("blue" or "green"), or NoColour.
func parseHeader(h string) Colour {
	switch h {
	case "blue":
		return Blue
	case "green":
		return Green
	}
	return NoColour
}

// admit decides whether a call is served, as the engine's gateway does.
func (s *Server) admit(method string, md metadata.MD) *admission {
	a := &admission{call: Call{Time: s.opts.Now(), Method: method, Metadata: md}}
	if v := md.Get("strategy"); len(v) > 0 {
		a.call.Strategy = v[0]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clusterAt(a.call.Time)
	if engineMethod(method) {
		s.engineCall(a.call.Time)
	}
	st := s.state
	a.call.Serving = st.Active.String()
	if st.Overlapping {
		a.call.Serving += "+" + st.Pending.String()
	}
	a.colour, a.expected = st.Active, st.Active
	switch {
	case s.closing:
		a.call.Reason = ReasonClosing
	case !engineMethod(method):
	case s.clusterStatus != StatusActive:
		a.call.Reason = ReasonClusterNotActive
	case a.call.Strategy == "":
		if s.rejectMissing {
			a.call.Reason = ReasonMissingStrategy
		}
	case !st.Accepts(parseHeader(a.call.Strategy)):
		a.call.Reason = ReasonWrongStrategy
	default:
		a.colour = parseHeader(a.call.Strategy)
	}
	a.call.Accepted = a.call.Reason == ""
	if a.call.Accepted && engineMethod(method) {
		a.announce = st.Pending
	}
	return a
}

// Messages of the rejections, as clients report them (PROTOCOL.md).
const (
	msgHTTP456 = `unexpected HTTP status code received from server: 456 (); transport: received unexpected content-type "text/plain; charset=utf-8"`
	msgHTTP503 = `unexpected HTTP status code received from server: 503 (Service Unavailable); transport: received unexpected content-type "text/plain; charset=utf-8"`
	msgCCore   = "Received http2 header with status: 456"
)

// rejection returns the gRPC error for a call that was not admitted.
func (s *Server) rejection(a *admission) error {
	switch a.call.Reason {
	case ReasonWrongStrategy, ReasonMissingStrategy:
		switch s.opts.Rejection {
		case RejectUnknown:
			return status.Error(codes.Unknown, msgCCore)
		case RejectInvalidArgument:
			return status.Errorf(codes.InvalidArgument, "Wrong strategy. Status: 456. Expected: %s, Got: %s", a.expected, a.call.Strategy)
		}
		return status.Error(codes.Unknown, msgHTTP456)
	case ReasonClusterNotActive, ReasonClosing:
		return status.Error(codes.Unavailable, msgHTTP503)
	}
	return nil
}

// intercept admits each call (unless the HTTP layer already did), runs
// the injected hook and the handler, sets new_strategy, and records the
// call.
func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	a, ok := ctx.Value(admissionKey{}).(*admission)
	if !ok {
		md, _ := metadata.FromIncomingContext(ctx)
		a = s.admit(info.FullMethod, md.Copy())
		ctx = context.WithValue(ctx, admissionKey{}, a)
	}
	a.call.SessionID = stringField(req, "sessionId")
	a.call.QueryID = stringField(req, "queryId")
	if !a.call.Accepted {
		err := s.rejection(a)
		s.finish(a, err)
		return nil, err
	}
	var resp any
	var err error
	if s.opts.Inject != nil {
		err = s.opts.Inject(ctx, info.FullMethod, protoMessage(req))
	}
	if err == nil {
		resp, err = handler(ctx, req)
	}
	if err == nil {
		if a.announce.Valid() && setStringField(resp, "new_strategy", a.announce.String()) {
			a.call.Announced = a.announce.String()
		}
		if a.call.SessionID == "" {
			a.call.SessionID = stringField(resp, "sessionId")
		}
		if a.call.QueryID == "" {
			a.call.QueryID = stringField(resp, "queryId")
		}
	}
	s.finish(a, err)
	return resp, err
}

// finish records a call with its outcome.
func (s *Server) finish(a *admission, err error) {
	st := status.Convert(err)
	a.call.Code = st.Code()
	if err != nil {
		a.call.Err = st.Message()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record(a.call)
}

// serveHTTP is the HTTP handler of a RejectHTTP456 server: the gateway,
// which answers a wrong colour with a bare HTTP 456 and hands every other
// request to the gRPC server.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	md := make(metadata.MD, len(r.Header))
	for k, v := range r.Header {
		md[strings.ToLower(k)] = v
	}
	s.mu.Lock()
	closing := s.closing
	if !closing {
		s.inflight.Add(1)
	}
	s.mu.Unlock()
	if !closing {
		defer s.inflight.Done()
	}
	a := s.admit(r.URL.Path, md)
	if a.call.Accepted {
		s.grpc.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), admissionKey{}, a)))
		return
	}
	// The gateway does not speak gRPC; for the log, read the request to
	// learn its session and query.
	if req := newRequest(a.call.Method); req != nil && readRequest(r.Body, req) == nil {
		a.call.SessionID = stringField(req, "sessionId")
		a.call.QueryID = stringField(req, "queryId")
	}
	code, msg := 456, msgHTTP456
	if !a.call.Rejected() {
		code, msg = http.StatusServiceUnavailable, msgHTTP503
	}
	a.call.Code, a.call.Err = codes.Unknown, msg
	if code == http.StatusServiceUnavailable {
		a.call.Code = codes.Unavailable
	}
	s.mu.Lock()
	s.record(a.call)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
}
