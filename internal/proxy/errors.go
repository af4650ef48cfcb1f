package proxy

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/e6coord/e6coord/client"
)

// rejectionMessage is the message of a rejection the proxy passes on: the
// words gRPC C-core reports for an HTTP 456 (PROTOCOL.md), which the
// published client and package client both recognise.
const rejectionMessage = "Received http2 header with status: 456"

// errRejected is the rejection the proxy passes on to a client.
var errRejected = status.Error(codes.Unknown, rejectionMessage)

// grpcStatus returns the gRPC status err carries, the innermost one when
// err wraps several, with its own message.
func grpcStatus(err error) (*status.Status, bool) {
	var last *status.Status
	for e := err; e != nil; {
		if se, ok := e.(interface{ GRPCStatus() *status.Status }); ok {
			last = se.GRPCStatus()
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			e = u.Unwrap()
		case interface{ Unwrap() []error }:
			// A StrategyError unwraps to the sentinel and to the engine's
			// error: follow the last one that carries a status.
			var next error
			for _, x := range u.Unwrap() {
				if _, ok := status.FromError(x); ok {
					next = x
				}
			}
			e = next
		default:
			e = nil
		}
	}
	return last, last != nil
}

// engineError returns err, an error of a call to the engine, as the client
// gets it: a rejection as [errRejected]; the engine's own status as it
// is; the end of the caller's context as its code; anything else as code
// Unavailable (the engine could not be reached or the proxy gave up),
// with its message, which holds no credential.
func engineError(err error) error {
	if err == nil {
		return nil
	}
	if client.IsWrongStrategy(err) {
		return errRejected
	}
	if st, ok := grpcStatus(err); ok {
		return st.Err()
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Unavailable, "e6coord proxy: "+err.Error())
}
