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
		err  error
		want bool
	}{
		{status.Error(codes.Unknown, "unexpected HTTP status code received from server: 456 ()"), true},
		{status.Error(codes.Unknown, `unexpected HTTP status code received from server: 456 (); transport: received unexpected content-type "text/plain"`), true},
		{status.Error(codes.Unknown, "Received http2 header with status: 456"), true},
		{status.Error(codes.InvalidArgument, "Wrong strategy. Status: 456. Expected: blue, Got: green"), true},
		{fmt.Errorf("prepare: %w", status.Error(codes.Unknown, "Received http2 header with status: 456")), true},
		{&client.StrategyError{Sent: cache.Blue}, true},
		{status.Error(codes.Internal, "Received http2 header with status: 456"), false},
		{status.Error(codes.Unavailable, "unexpected HTTP status code received from server: 503"), false},
		{status.Error(codes.InvalidArgument, "table not found: sales_456"), false},
		{status.Error(codes.Unknown, "status 4567"), false},
		{status.Error(codes.Unknown, "x456"), false},
		{errors.New("456"), false},
		{nil, false},
	} {
		if got := client.IsWrongStrategy(tt.err); got != tt.want {
			t.Errorf("IsWrongStrategy(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	se := &client.StrategyError{Sent: cache.Blue, Err: status.Error(codes.Unknown, "x")}
	if !errors.Is(se, client.ErrWrongStrategy) || !errors.Is(se, coordinator.ErrWrongStrategy) || status.Code(se) != codes.Unknown {
		t.Errorf("StrategyError does not unwrap to the sentinels and the status: %v", se)
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
	if n := srv.Counts().Prepared; n != coordinator.DefaultMaxAttempts {
		t.Errorf("prepared %d times, want %d", n, coordinator.DefaultMaxAttempts)
	}
	if p := conn.Coordinator().Pins(); p.Total() != 0 {
		t.Errorf("pins left: %+v", p)
	}
}
