package client

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client/internal/resultenc"
	"github.com/e6coord/e6coord/coordinator"
)

// ErrWrongStrategy means the engine rejected a call because of the colour it
// carried (the engine's 456). Test for it with [errors.Is]; the error is a
// [*StrategyError] with the details. It is [coordinator.ErrWrongStrategy]:
// one sentinel, named where callers of either package look for it.
var ErrWrongStrategy = coordinator.ErrWrongStrategy

// colourGoneError ends a call of a query whose colour the engine has
// rejected, in another call of this process, since the query was
// prepared: the engine would reject it too, in-flight queries included
// (PROTOCOL.md), so it is not sent. It is a rejection for the replay
// logic ([IsWrongStrategy]), but not one the engine made: it is not
// counted again ([coordinator.Coordinator.Invalidate]).
type colourGoneError struct{ s cache.Strategy }

func (e colourGoneError) Error() string {
	return fmt.Sprintf("client: %s rejected by the engine since the query was prepared", e.s)
}

func (e colourGoneError) Is(target error) bool { return target == ErrWrongStrategy }

// isColourGone reports whether err is a [colourGoneError].
func isColourGone(err error) bool {
	var g colourGoneError
	return errors.As(err, &g)
}

// StrategyError is the engine's rejection of a call made with the wrong
// colour. It unwraps to [ErrWrongStrategy] and to the gRPC status error, so
// status.FromError still works.
//
// The errors of a query ([Conn.Query], [Rows]) fill in Active,
// Generation and QueryID; the interceptor's ([UnaryInterceptor]) only Sent
// and Err. Active and Generation come from the process's local copy of the
// shared record, with no I/O: a switch the process has not learned of yet
// shows as an Active of Unknown, and the next call detects the colour.
type StrategyError struct {
	Sent       cache.Strategy // the colour the call carried
	Active     cache.Strategy // the active colour of the local record then; Unknown if none, or if it is Sent
	Generation uint64         // the generation of the local record then; 0 if not filled in
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
// colour: a [*StrategyError], or a gRPC status in one of the three forms
// clients see (PROTOCOL.md), its words compared case-insensitively:
//
//   - code Unknown with "status code received from server: 456" (grpc-go:
//     "unexpected HTTP status code received from server: 456 ()");
//   - code Unknown with "status: 456" (gRPC C-core: "Received http2 header
//     with status: 456");
//   - code InvalidArgument with "status: 456" (the widely used mock: "Wrong
//     strategy. Status: 456. Expected: blue, Got: green").
//
// The 456 must not run on into more digits ("status: 4567" is not a
// rejection). Any other error that mentions 456, such as the SQL error
// "syntax error at line 1, position 456", is not a rejection.
func IsWrongStrategy(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrWrongStrategy) {
		return true
	}
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	return isRejection(st.Code(), st.Message())
}

// The wordings of the engine's 456, lower-cased, by the code they come with
// (PROTOCOL.md, "The wrong strategy rejection").
const (
	rejectionGRPCGo = "status code received from server: 456"
	rejectionStatus = "status: 456"
)

// isRejection is the classifier of a gRPC status: it reports whether code
// and msg are one of the engine's three wordings of a 456.
func isRejection(code codes.Code, msg string) bool {
	switch code {
	case codes.Unknown:
		msg = strings.ToLower(msg)
		return hasStatus(msg, rejectionGRPCGo) || hasStatus(msg, rejectionStatus)
	case codes.InvalidArgument:
		return hasStatus(strings.ToLower(msg), rejectionStatus)
	}
	return false
}

// hasStatus reports whether phrase, which ends in a status code, stands in
// msg with no digit right after it.
func hasStatus(msg, phrase string) bool {
	for i := 0; ; {
		j := strings.Index(msg[i:], phrase)
		if j < 0 {
			return false
		}
		end := i + j + len(phrase)
		if end == len(msg) || msg[end] < '0' || msg[end] > '9' {
			return true
		}
		i = end
	}
}

// IsSuspended reports whether err is the engine's answer while its
// cluster is suspended or starting, an HTTP 503 (PROTOCOL.md): code
// Unavailable with "status code received from server: 503" (grpc-go) or
// "status: 503" (gRPC C-core) in the message, compared case-insensitively;
// or an error wrapping [coordinator.ErrSuspended].
func IsSuspended(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, coordinator.ErrSuspended) {
		return true
	}
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Unavailable {
		return false
	}
	msg := strings.ToLower(st.Message())
	return hasStatus(msg, "status code received from server: 503") || hasStatus(msg, "status: 503")
}

// IsSessionLost reports whether the engine refused a call because its
// session expired or was denied (code Internal with "Access denied" in
// the message, or Unauthenticated on a call other than authenticate): the
// caller authenticates again and retries.
func IsSessionLost(err error) bool {
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

// ErrMalformedResult means that the engine sent result metadata or a
// result batch that the client cannot decode: not a valid encoding, values
// missing or inconsistent with the metadata, or a type or time zone the
// client has no Go value for. Test for it with [errors.Is]; the error is a
// [*ResultError] with the details. No row of a malformed batch reaches the
// caller, and no value is substituted.
var ErrMalformedResult = errors.New("client: malformed result")

// ResultError is a malformed result of a query: [Conn.Query] returns it for
// malformed result metadata, and [Rows.Err] for a malformed batch, after the
// rows of the batches before it. It unwraps to [ErrMalformedResult] and to
// the cause.
type ResultError struct {
	QueryID string
	// Batch is the index of the batch (0 for the first), or -1 for the
	// result metadata.
	Batch int
	// Column is the index of the column at fault, or -1 if the error
	// concerns no single column; ColumnName is its name when known.
	Column     int
	ColumnName string
	// Row is the row at fault, counted from the first row of the result
	// (0), or -1 if the error concerns no single row.
	Row int64
	// Err describes the malformation.
	Err error
}

func (e *ResultError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "client: query %s: ", e.QueryID)
	if e.Batch < 0 {
		b.WriteString("result metadata")
	} else {
		fmt.Fprintf(&b, "result batch %d", e.Batch)
	}
	if e.Column >= 0 {
		fmt.Fprintf(&b, ": column %d", e.Column)
		if e.ColumnName != "" {
			fmt.Fprintf(&b, " %q", e.ColumnName)
		}
	}
	if e.Row >= 0 {
		fmt.Fprintf(&b, ": row %d", e.Row)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns ErrMalformedResult and the cause.
func (e *ResultError) Unwrap() []error { return []error{ErrMalformedResult, e.Err} }

// resultError returns a *ResultError for err, a decoding error of batch
// (-1: the metadata) whose row 0 is row base of the result.
func resultError(queryID string, batch int, base int64, cols []Column, err error) error {
	re := &ResultError{QueryID: queryID, Batch: batch, Column: -1, Row: -1, Err: err}
	var e *resultenc.Error
	if errors.As(err, &e) {
		re.Err = e.Err
		re.Column = e.Column
		if e.Column >= 0 && e.Column < len(cols) {
			re.ColumnName = cols[e.Column].Name
		}
		if e.Row >= 0 {
			re.Row = base + int64(e.Row)
		}
	}
	return re
}
