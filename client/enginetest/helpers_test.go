package enginetest

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/e6coord/e6coord/client/e6xpb"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TestMain fails the package if a test leaves a goroutine behind: every
// Server's Close must stop what it started.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var styles = []Rejection{RejectHTTP456, RejectUnknown, RejectInvalidArgument}

// newServer starts a server and closes it when the test ends.
func newServer(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := NewServer(opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// testCtx returns a context that ends with the test or after 10 seconds.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// as returns ctx carrying the strategy header colour, or none if "".
func as(ctx context.Context, colour string) context.Context {
	if colour == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "strategy", colour)
}

func auth(t *testing.T, s *Server, colour string) string {
	t.Helper()
	resp, err := s.Engine().Authenticate(as(testCtx(t), colour), &e6xpb.AuthenticateRequest{User: "u", Password: "p"})
	if err != nil {
		t.Fatalf("authenticate as %q: %v", colour, err)
	}
	return resp.GetSessionId()
}

// prepare prepares sql (V2) and executes it (V2), as colour.
func prepare(t *testing.T, s *Server, colour, session, sql string) string {
	t.Helper()
	ctx := as(testCtx(t), colour)
	p, err := s.Engine().PrepareStatementV2(ctx, &e6xpb.PrepareStatementV2Request{SessionId: session, Schema: Schema, Catalog: Catalog, QueryString: sql})
	if err != nil {
		t.Fatalf("prepare %q as %q: %v", sql, colour, err)
	}
	if _, err := s.Engine().ExecuteStatementV2(ctx, &e6xpb.ExecuteStatementV2Request{EngineIP: p.GetEngineIP(), SessionId: session, QueryId: p.GetQueryId()}); err != nil {
		t.Fatalf("execute %q as %q: %v", sql, colour, err)
	}
	return p.GetQueryId()
}

var (
	word456 = regexp.MustCompile(`(?i)\b456\b`)
	word503 = regexp.MustCompile(`\b503\b`)
)

// wantRejected checks that err is the wrong-colour rejection of style r.
func wantRejected(t *testing.T, r Rejection, err error, expected, got string) {
	t.Helper()
	st := status.Convert(err)
	if err == nil {
		t.Fatalf("call succeeded, want a %v rejection", r)
	}
	switch r {
	case RejectHTTP456:
		if st.Code() != codes.Unknown || !regexp.MustCompile(`^unexpected HTTP status code received from server: 456 \(\)`).MatchString(st.Message()) {
			t.Errorf("error = %v, want Unknown: unexpected HTTP status code received from server: 456 ()...", err)
		}
	case RejectUnknown:
		if st.Code() != codes.Unknown || st.Message() != "Received http2 header with status: 456" {
			t.Errorf("error = %v, want Unknown: Received http2 header with status: 456", err)
		}
	case RejectInvalidArgument:
		want := "Wrong strategy. Status: 456. Expected: " + expected + ", Got: " + got
		if st.Code() != codes.InvalidArgument || st.Message() != want {
			t.Errorf("error = %v, want InvalidArgument: %s", err, want)
		}
	}
	if !word456.MatchString(st.Message()) {
		t.Errorf("message %q does not contain 456 as a word", st.Message())
	}
}

func wantCode(t *testing.T, err error, code codes.Code) {
	t.Helper()
	if got := status.Code(err); got != code {
		t.Errorf("error = %v, want code %v", err, code)
	}
}

// waitState waits for OnChange to report a state satisfying ok.
func waitState(t *testing.T, ch <-chan State, what string, ok func(State) bool) State {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case st := <-ch:
			if ok(st) {
				return st
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// dial returns a plain client connection to addr, closed when the test
// ends.
func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
