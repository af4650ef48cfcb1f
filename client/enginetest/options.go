package enginetest

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// SwitchMode is how the fake engine carries out a switch of colour (see
// PROTOCOL.md, "Server behaviours seen in the wild during a switch").
type SwitchMode int

const (
	// Overlap: a switch to X announces new_strategy=X and accepts both
	// colours until [Server.FinishSwitch] (or the end of
	// [Options.OverlapWindow] under [Options.FlipEvery]); from then on the
	// old colour is rejected.
	Overlap SwitchMode = iota
	// SwitchOnClear (the widely used mock): a switch to X announces
	// new_strategy=X in every successful response while X is still
	// rejected; the next clear or clearOrCancelQuery of a known query
	// makes X the only accepted colour, at once, in-flight queries
	// included.
	SwitchOnClear
)

// String returns "overlap" or "switch-on-clear".
func (m SwitchMode) String() string {
	switch m {
	case Overlap:
		return "overlap"
	case SwitchOnClear:
		return "switch-on-clear"
	}
	return fmt.Sprintf("SwitchMode(%d)", int(m))
}

// ParseSwitchMode parses "overlap" or "switch-on-clear".
func ParseSwitchMode(s string) (SwitchMode, error) {
	for _, m := range []SwitchMode{Overlap, SwitchOnClear} {
		if s == m.String() {
			return m, nil
		}
	}
	return 0, fmt.Errorf("enginetest: unknown switch mode %q (want overlap or switch-on-clear)", s)
}

// Rejection is how the fake engine rejects a call made with the wrong colour
// (see PROTOCOL.md, "The wrong strategy rejection").
type Rejection int

const (
	// RejectHTTP456 answers with a real HTTP/2 response of status 456, as
	// the engine's gateway does. grpc-go clients see code Unknown and
	// "unexpected HTTP status code received from server: 456 ()" followed
	// by a note on the content type. The server is then served through
	// net/http with unencrypted HTTP/2.
	RejectHTTP456 Rejection = iota
	// RejectUnknown returns a gRPC status with code Unknown and the message
	// gRPC C-core clients report: "Received http2 header with status: 456".
	RejectUnknown
	// RejectInvalidArgument returns code InvalidArgument and the widely used
	// mock's message "Wrong strategy. Status: 456. Expected: blue, Got:
	// green".
	RejectInvalidArgument
)

// String returns "http456", "unknown" or "invalid-argument".
func (r Rejection) String() string {
	switch r {
	case RejectHTTP456:
		return "http456"
	case RejectUnknown:
		return "unknown"
	case RejectInvalidArgument:
		return "invalid-argument"
	}
	return fmt.Sprintf("Rejection(%d)", int(r))
}

// ParseRejection parses "http456", "unknown" or "invalid-argument".
func ParseRejection(s string) (Rejection, error) {
	for _, r := range []Rejection{RejectHTTP456, RejectUnknown, RejectInvalidArgument} {
		if s == r.String() {
			return r, nil
		}
	}
	return 0, fmt.Errorf("enginetest: unknown rejection %q (want http456, unknown or invalid-argument)", s)
}

// Options configures a [Server]. The zero value is a usable configuration:
// every field documents its default.
type Options struct {
	// Addr is the TCP address to listen on. Default "127.0.0.1:0".
	Addr string
	// Listener, if set, is used instead of listening on Addr (a bufconn
	// listener, say). Close closes it. Default nil.
	Listener net.Listener
	// DialOptions are added to the options of [Server.Conn], after
	// insecure credentials; give a dialer here when Listener is not a TCP
	// listener. Default none.
	DialOptions []grpc.DialOption
	// ServerOptions are passed to grpc.NewServer. Default none.
	ServerOptions []grpc.ServerOption
	// TLS, if set, makes the server speak TLS with it (its Certificates
	// name the server): see [SelfSigned]. [Server.Conn] then trusts the
	// certificates of TLS.Certificates alone. Default nil: plaintext.
	TLS *tls.Config

	// Start is the colour served at start. Default Blue.
	Start Colour
	// Mode is how a switch is carried out. Default Overlap.
	Mode SwitchMode
	// Rejection is how a wrong-colour call is rejected. It is fixed for the
	// server's life, because RejectHTTP456 needs a different transport.
	// Only engine (QueryEngineService) calls are routed by colour:
	// ClusterService calls are served whatever strategy header they carry,
	// or without one, because a switch happens only while the cluster is
	// active. Default RejectHTTP456.
	Rejection Rejection
	// RejectMissingStrategy rejects an engine call without a strategy
	// header as if it carried the wrong colour. Default false: such calls
	// are accepted, as the widely used mock does. See also
	// [Server.SetRejectMissingStrategy].
	RejectMissingStrategy bool

	// User and Password are the credentials that authenticate and the
	// ClusterService calls accept; others get Unauthenticated. If User is
	// empty, any credentials are accepted. Default empty.
	User, Password string
	// SessionTTL is how long a session is valid after authenticate.
	// Default 0: sessions never expire (but see [Server.ExpireSessions]).
	SessionTTL time.Duration
	// BindSessions makes a session valid only for calls of the colour it
	// was created under (the strategy header of its authenticate, or the
	// active colour if it had none), as if each colour were a separate
	// cluster. Default false.
	BindSessions bool
	// SessionErrorCode is the code of the "Access denied" error returned
	// for an unknown, expired or (with BindSessions) foreign session.
	// Default codes.Internal.
	SessionErrorCode codes.Code

	// FlipEvery, if positive, starts a switch to the other colour every
	// FlipEvery, driven by a goroutine that Close stops. In Overlap mode
	// each switch finishes OverlapWindow after it began; in SwitchOnClear
	// mode it finishes at the next clear, and a tick that finds a switch
	// still waiting for its clear does nothing. Default 0: no schedule.
	FlipEvery time.Duration
	// OverlapWindow is how long both colours are accepted during a
	// scheduled Overlap switch. It must be shorter than FlipEvery.
	// Default FlipEvery/4.
	OverlapWindow time.Duration

	// NoHealthCheck leaves healthCheck unimplemented, as the widely used
	// mock of the engine does (PROTOCOL.md: "healthCheck is optional"):
	// the call passes the gateway checks, is recorded, and fails with
	// codes.Unimplemented. Default false: healthCheck succeeds.
	NoHealthCheck bool

	// EngineIP is the engineIP returned by prepare (and authenticate).
	// Default "127.0.0.1".
	EngineIP string
	// BatchSize is the number of rows per result batch of the built-in
	// queries other than demo.big. Default 256.
	BatchSize int
	// BigBatchSize is the number of rows per result batch of demo.big.
	// Default 4096.
	BigBatchSize int
	// ClusterStatus is the initial ClusterService status ([StatusActive],
	// [StatusSuspended], ...). While it is not "active", every engine call
	// fails with Unavailable (a real HTTP 503 with RejectHTTP456), whatever
	// its colour; ClusterService calls are served in every status. See
	// [Server.SetClusterStatus]. Default "active".
	ClusterStatus string
	// ResumeTakes is how long a resume takes. A resume call to a cluster
	// that is neither active nor resuming (suspended, failed, or any other
	// status set with [Server.SetClusterStatus]) makes it "resuming" and
	// answers "resuming"; ResumeTakes after the call arrived, it becomes
	// "active" ("failed" with ResumeFails). If ResumeTakes is 0 the resume
	// call makes it "active" (or "failed") at once and answers that. If it
	// is negative ([ResumeNever]) the cluster stays "resuming" until
	// [Server.SetClusterStatus] or a suspend call changes it, as for a
	// client's deadline. A resume call to an active or resuming cluster
	// changes nothing and answers the current status. Default 0.
	ResumeTakes time.Duration
	// ResumeFails makes the resumes end in "failed" instead of "active";
	// the cluster stays failed until a resume call or
	// [Server.SetClusterStatus] changes it. The outcome is
	// chosen when the resume call arrives; see [Server.SetResumeFails].
	// Default false.
	ResumeFails bool
	// SuspendAfter, if positive, suspends an active cluster once no engine
	// call has arrived for that long: the idle period starts when the
	// cluster becomes active (at start, at the end of a resume, or by
	// [Server.SetClusterStatus]) and starts again at every QueryEngineService
	// call that arrives while it is active, whatever the call's colour or
	// outcome. ClusterService calls do not count. Default 0: never.
	SuspendAfter time.Duration

	// Now returns the current time, for the call log, session expiry and
	// the cluster's own status changes (ResumeTakes, SuspendAfter). Those
	// need no timer: whenever the status is observed (a call arrives,
	// [Server.ClusterStatus]), the changes due by Now are applied first, so
	// a test that injects Now steps through them without waiting, and
	// Close has nothing to stop. Default time.Now.
	Now func() time.Time
	// MaxLog bounds the call log: beyond it the oldest calls are dropped
	// ([Server.Counts] and [Server.MixedQueries] still count them).
	// Default 0: unbounded.
	MaxLog int

	// OnChange, if set, is called after every change of the colour state,
	// outside the server's lock, possibly from several goroutines at once
	// (use [State.Generation] to order the calls). It must not block for
	// long: the flip schedule and RPCs wait for it, and Close waits for
	// them. Default nil.
	OnChange func(State)
	// Inject, if set, is called for every admitted call before the fake
	// handles it; a non-nil error is returned to the client instead (use
	// status.Error to choose the code). method is the full method name
	// ("/QueryEngineService/status"). Default nil.
	Inject func(ctx context.Context, method string, req proto.Message) error
}

// withDefaults returns o with defaults filled in, or an error for
// impossible values.
func (o Options) withDefaults() (Options, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Start == NoColour {
		o.Start = Blue
	}
	if !o.Start.Valid() {
		return o, fmt.Errorf("enginetest: invalid start colour %d", o.Start)
	}
	if o.Mode != Overlap && o.Mode != SwitchOnClear {
		return o, fmt.Errorf("enginetest: invalid switch mode %v", o.Mode)
	}
	if o.Rejection < RejectHTTP456 || o.Rejection > RejectInvalidArgument {
		return o, fmt.Errorf("enginetest: invalid rejection %v", o.Rejection)
	}
	if o.SessionTTL < 0 || o.FlipEvery < 0 || o.OverlapWindow < 0 || o.BatchSize < 0 || o.BigBatchSize < 0 || o.MaxLog < 0 || o.SuspendAfter < 0 {
		return o, fmt.Errorf("enginetest: negative duration or size in options")
	}
	if o.SessionErrorCode == codes.OK {
		o.SessionErrorCode = codes.Internal
	}
	if o.FlipEvery > 0 {
		if o.OverlapWindow == 0 {
			o.OverlapWindow = o.FlipEvery / 4
		}
		if o.OverlapWindow >= o.FlipEvery {
			return o, fmt.Errorf("enginetest: overlap window %v is not shorter than the flip period %v", o.OverlapWindow, o.FlipEvery)
		}
	}
	if o.EngineIP == "" {
		o.EngineIP = "127.0.0.1"
	}
	if o.BatchSize == 0 {
		o.BatchSize = 256
	}
	if o.BigBatchSize == 0 {
		o.BigBatchSize = 4096
	}
	if o.ClusterStatus == "" {
		o.ClusterStatus = StatusActive
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}
