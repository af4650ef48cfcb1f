package client_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/coordinator"
)

func TestIsWrongStrategy(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		// The three wordings of PROTOCOL.md.
		{"grpc-go", status.Error(codes.Unknown, "unexpected HTTP status code received from server: 456 ()"), true},
		{"grpc-go/content-type", status.Error(codes.Unknown, `unexpected HTTP status code received from server: 456 (); transport: received unexpected content-type "text/plain"`), true},
		{"c-core", status.Error(codes.Unknown, "Received http2 header with status: 456"), true},
		{"mock", status.Error(codes.InvalidArgument, "Wrong strategy. Status: 456. Expected: blue, Got: green"), true},
		{"mock/code-unknown", status.Error(codes.Unknown, "Wrong strategy. Status: 456. Expected: blue, Got: green"), true},
		{"case-insensitive/unknown", status.Error(codes.Unknown, "UNEXPECTED HTTP STATUS CODE RECEIVED FROM SERVER: 456"), true},
		{"case-insensitive/invalid-argument", status.Error(codes.InvalidArgument, "WRONG STRATEGY. STATUS: 456"), true},
		{"wrapped", fmt.Errorf("prepare: %w", status.Error(codes.Unknown, "Received http2 header with status: 456")), true},
		{"strategy-error", &client.StrategyError{Sent: cache.Blue}, true},
		{"sentinel", fmt.Errorf("x: %w", client.ErrWrongStrategy), true},

		// A wording with another code.
		{"c-core/internal", status.Error(codes.Internal, "Received http2 header with status: 456"), false},
		{"grpc-go/invalid-argument", status.Error(codes.InvalidArgument, "unexpected HTTP status code received from server: 456 ()"), false},
		{"503", status.Error(codes.Unavailable, "unexpected HTTP status code received from server: 503"), false},
		// Other statuses.
		{"status-4567/unknown", status.Error(codes.Unknown, "Received http2 header with status: 4567"), false},
		{"status-4567/invalid-argument", status.Error(codes.InvalidArgument, "Wrong strategy. Status: 4567."), false},
		{"server-4560", status.Error(codes.Unknown, "unexpected HTTP status code received from server: 4560 ()"), false},
		{"status-1456", status.Error(codes.Unknown, "Received http2 header with status: 1456"), false},
		// Errors that mention 456 without being a rejection.
		{"sql-position/invalid-argument", status.Error(codes.InvalidArgument, "syntax error at line 1, position 456"), false},
		{"sql-position/unknown", status.Error(codes.Unknown, "syntax error at line 1, position 456"), false},
		{"table-name", status.Error(codes.InvalidArgument, "table not found: sales_456"), false},
		{"bare-456", status.Error(codes.Unknown, "456"), false},
		{"status-no-colon", status.Error(codes.Unknown, "status 456"), false},
		{"not-a-status", errors.New("Received http2 header with status: 456"), false},
		{"nil", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := client.IsWrongStrategy(tt.err); got != tt.want {
				t.Errorf("IsWrongStrategy(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	se := &client.StrategyError{Sent: cache.Blue, Err: status.Error(codes.Unknown, "x")}
	if !errors.Is(se, client.ErrWrongStrategy) || !errors.Is(se, coordinator.ErrWrongStrategy) || status.Code(se) != codes.Unknown {
		t.Errorf("StrategyError does not unwrap to the sentinels and the status: %v", se)
	}
}

// A SQL error that mentions 456 reaches the caller as it is, after one
// prepare and no probe: it is not a rejection.
func TestErrorMentioning456IsNotARejection(t *testing.T) {
	const msg = "syntax error at line 1, position 456"
	for _, code := range []codes.Code{codes.InvalidArgument, codes.Unknown} {
		t.Run("code="+code.String(), func(t *testing.T) {
			srv := newEngine(t, enginetest.Options{
				Inject: func(_ context.Context, method string, _ proto.Message) error {
					if method == e6xpb.QueryEngineService_PrepareStatementV2_FullMethodName {
						return status.Error(code, msg)
					}
					return nil
				},
			})
			conn := open(t, srv)
			ctx := ctxT(t)
			if _, err := conn.Coordinator().Resolve(ctx); err != nil { // the initial detection
				t.Fatal(err)
			}
			probes := conn.Stats().Coordinator.Probes
			srv.ResetLog()

			_, err := conn.Query(ctx, "SELECT 1")
			if st, ok := status.FromError(err); !ok || st.Code() != code || st.Message() != msg {
				t.Fatalf("Query() error = %v, want the engine's %v %q as it is", err, code, msg)
			}
			if errors.Is(err, client.ErrWrongStrategy) {
				t.Errorf("Query() error %v is a rejection", err)
			}
			var prepares, others []string
			for _, c := range srv.Log() {
				if c.Method == e6xpb.QueryEngineService_PrepareStatementV2_FullMethodName {
					prepares = append(prepares, c.Method)
				} else {
					others = append(others, c.Method)
				}
			}
			if len(prepares) != 1 {
				t.Errorf("engine saw %d prepares, want 1", len(prepares))
			}
			if len(others) != 0 {
				t.Errorf("engine saw other calls %v, want none (no probe, no clear)", others)
			}
			st := conn.Stats()
			if st.Coordinator.Probes != probes || st.Coordinator.WrongStrategy != 0 || st.Replays != 0 {
				t.Errorf("stats %+v; want %d probes (the initial detection's), no rejection, no replay", st, probes)
			}
			if p := conn.Coordinator().Pins(); p.Total() != 0 {
				t.Errorf("pins left: %+v", p)
			}
		})
	}
}

// A query the engine keeps rejecting costs MaxAttempts prepares in all,
// replays included, then fails with the rejection.
func TestReplaysStayWithinMaxAttempts(t *testing.T) {
	srv := newEngine(t, enginetest.Options{
		Inject: func(_ context.Context, method string, _ proto.Message) error {
			if method == e6xpb.QueryEngineService_ExecuteStatementV2_FullMethodName {
				return status.Error(codes.Unknown, "Received http2 header with status: 456")
			}
			return nil
		},
	})
	conn := open(t, srv)
	_, err := conn.Query(ctxT(t), "SELECT 1")
	if !errors.Is(err, client.ErrWrongStrategy) {
		t.Fatalf("Query() = %v, want a rejection", err)
	}
	if n := srv.Counts().Prepared; n != conn.Coordinator().Config().MaxAttempts {
		t.Errorf("prepared %d times, want %d", n, conn.Coordinator().Config().MaxAttempts)
	}
	if p := conn.Coordinator().Pins(); p.Total() != 0 {
		t.Errorf("pins left: %+v", p)
	}
}
