package enginetest

import (
	"slices"
	"time"

	"github.com/e6coord/e6coord/client/e6xpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

// Call records one RPC as the fake engine saw it.
type Call struct {
	// Time is when the call arrived ([Options.Now]).
	Time time.Time
	// Method is the full method name, such as
	// "/QueryEngineService/prepareStatementV2" (the e6xpb
	// *_FullMethodName constants).
	Method string
	// Strategy is the strategy header as sent, "" if none.
	Strategy string
	// SessionID is the session id of the request, or of the response of an
	// authenticate; "" if none.
	SessionID string
	// QueryID is the query id of the request, or of the response of a
	// prepare; "" if none.
	QueryID string
	// Accepted reports whether the call passed the gateway checks (colour
	// and cluster status, for engine calls; ClusterService calls pass
	// unless the server is closing). Reason says why not.
	Accepted bool
	// Reason says why the call was not accepted; "" if it was.
	Reason Reason
	// Serving lists the colours accepted when the call arrived, such as
	// "blue" or "blue+green".
	Serving string
	// Code is the status code the client was given (OK on success). For an
	// HTTP 456 rejection it is codes.Unknown, as grpc-go reports it.
	Code codes.Code
	// Err is the error message the client was given, "" on success.
	Err string
	// Announced is the new_strategy value of the response, "" if none.
	Announced string
	// Metadata is the request metadata (headers). Do not modify it.
	Metadata metadata.MD
}

// Rejected reports whether the call was rejected for its colour (456).
func (c Call) Rejected() bool {
	return c.Reason == ReasonWrongStrategy || c.Reason == ReasonMissingStrategy
}

// Reason says why a call was not accepted.
type Reason string

// The reasons for not accepting a call.
const (
	// ReasonWrongStrategy: the strategy header named a colour not served.
	ReasonWrongStrategy Reason = "wrong strategy"
	// ReasonMissingStrategy: no strategy header, with
	// [Options.RejectMissingStrategy].
	ReasonMissingStrategy Reason = "missing strategy"
	// ReasonClusterNotActive: the cluster status was not "active" (503).
	ReasonClusterNotActive Reason = "cluster not active"
	// ReasonClosing: the server was closing (503).
	ReasonClosing Reason = "server closing"
)

// ColourCounts counts calls by the strategy header they carried.
type ColourCounts struct {
	Blue, Green int
	// None counts calls without a strategy header.
	None int
	// Other counts calls with any other value ("BLUE", "purple").
	Other int
}

func (c *ColourCounts) add(header string) {
	switch header {
	case "blue":
		c.Blue++
	case "green":
		c.Green++
	case "":
		c.None++
	default:
		c.Other++
	}
}

// Counts summarises the calls since the start or the last
// [Server.ResetLog].
type Counts struct {
	// Calls counts every call.
	Calls int
	// Accepted counts the calls that passed the gateway checks.
	Accepted int
	// Rejected counts the calls rejected for their colour (456, in any
	// [Rejection] style).
	Rejected int
	// Unavailable counts the calls rejected because the cluster was not
	// active, or the server was closing.
	Unavailable int
	// Failed counts the accepted calls that returned an error.
	Failed int
	// Authenticates counts authenticate calls, accepted or not, by colour.
	Authenticates ColourCounts
	// Rejections counts the colour rejections by colour.
	Rejections ColourCounts
	// Resumes counts ClusterService resume calls, whatever their outcome
	// ([Server.ResumeCalls]).
	Resumes int
	// Prepared counts the queries created by prepare.
	Prepared int
	// Switches counts the completed switches of colour.
	Switches int
}

// record appends c to the log and updates the counters. s.mu must be held.
func (s *Server) record(c Call) {
	s.counts.Calls++
	switch {
	case c.Accepted:
		s.counts.Accepted++
		if c.Code != codes.OK {
			s.counts.Failed++
		}
	case c.Rejected():
		s.counts.Rejected++
		s.counts.Rejections.add(c.Strategy)
	default:
		s.counts.Unavailable++
	}
	switch c.Method {
	case e6xpb.QueryEngineService_Authenticate_FullMethodName:
		s.counts.Authenticates.add(c.Strategy)
	case e6xpb.ClusterService_Resume_FullMethodName:
		s.counts.Resumes++
	}
	if c.QueryID != "" && c.Strategy != "" {
		q := s.colours[c.QueryID]
		switch {
		case q.first == "":
			q.first = c.Strategy
		case q.first != c.Strategy && !q.mixed:
			q.mixed = true
			s.mixed = append(s.mixed, c.QueryID)
		}
		s.colours[c.QueryID] = q
	}
	if s.opts.MaxLog > 0 && len(s.log) >= s.opts.MaxLog {
		// Drop the oldest half at once, so that appending stays amortised
		// O(1).
		n := copy(s.log, s.log[len(s.log)-s.opts.MaxLog/2:])
		clear(s.log[n:])
		s.log = s.log[:n]
	}
	s.log = append(s.log, c)
}

// queryColours tracks the colours a query's calls carried.
type queryColours struct {
	first string
	mixed bool
}

// Log returns a copy of the call log, oldest first.
func (s *Server) Log() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// Counts returns the counters.
func (s *Server) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counts
	c.Switches = s.state.Switches - s.switchesAt
	return c
}

// MixedQueries returns the ids of the queries whose calls carried two
// different strategy headers (calls without the header are ignored), in
// the order they became mixed. A client that pins each query to its colour
// never produces one.
func (s *Server) MixedQueries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mixed)
}

// ResetLog empties the call log and zeroes the counters and the mixed
// queries. Sessions, queries and the colour state are kept.
func (s *Server) ResetLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLog()
}

func (s *Server) resetLog() {
	s.log = nil
	s.counts = Counts{}
	s.colours = make(map[string]queryColours)
	s.mixed = nil
	s.switchesAt = s.state.Switches
}
