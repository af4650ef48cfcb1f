package client

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/coordinator"
)

// ErrWrongStrategy means the engine rejected a call because of the colour it
// carried (the engine's 456). Test for it with [errors.Is]; the error is a
// [*StrategyError] with the details. It is [coordinator.ErrWrongStrategy]:
// one sentinel, named where callers of either package look for it.
var ErrWrongStrategy = coordinator.ErrWrongStrategy

// StrategyError is the engine's rejection of a call made with the wrong
// colour. It unwraps to [ErrWrongStrategy] and to the gRPC status error, so
// status.FromError still works.
type StrategyError struct {
	Sent       cache.Strategy // the colour the call carried
	Active     cache.Strategy // the active colour as known after the rejection; Unknown if none
	Generation uint64         // the generation of the shared record then
	QueryID    string         // the query the call belonged to, if any
	Err        error          // the engine's error
}

func (e *StrategyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "client: engine rejected colour %s", orNone(e.Sent))
	if e.QueryID != "" {
		fmt.Fprintf(&b, " for query %s", e.QueryID)
	}
	if e.Active.Valid() || e.Generation > 0 {
		fmt.Fprintf(&b, " (active now %s, generation %d)", orNone(e.Active), e.Generation)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns ErrWrongStrategy and the cause.
func (e *StrategyError) Unwrap() []error {
	return []error{ErrWrongStrategy, e.Err}
}

func orNone(s cache.Strategy) string {
	if s.Valid() {
		return s.String()
	}
	return "none"
}

// IsWrongStrategy reports whether err is the engine's rejection of a call's
// colour, in any of the forms clients see it: a [StrategyError], or a gRPC
// status with code Unknown or InvalidArgument whose message has 456 as a
// whole word ("unexpected HTTP status code received from server: 456",
// "Received http2 header with status: 456", "Wrong strategy. Status: 456").
func IsWrongStrategy(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrWrongStrategy) {
		return true
	}
	st, ok := status.FromError(err)
	if !ok || (st.Code() != codes.Unknown && st.Code() != codes.InvalidArgument) {
		return false
	}
	return hasWord(st.Message(), "456")
}

// hasWord reports whether w stands in s with no letter or digit on either
// side.
func hasWord(s, w string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(w)
		if (start == 0 || !isAlnum(s[start-1])) && (end == len(s) || !isAlnum(s[end])) {
			return true
		}
		i = start + 1
	}
}

// isAlnum reports whether c is part of a word: a letter, digit or '_'.
func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

// isSessionLost reports whether the engine refused a call because its
// session expired or was denied: the client authenticates again and retries.
func isSessionLost(err error) bool {
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	switch st.Code() {
	case codes.Internal:
		return strings.Contains(strings.ToLower(st.Message()), "access denied")
	case codes.Unauthenticated:
		return true // on a call other than authenticate: the session is gone
	}
	return false
}
