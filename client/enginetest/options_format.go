package enginetest

import (
	"fmt"
	"log/slog"
	"strconv"
)

// String returns o as %+v would print its main fields, with the password
// shown as "xxxxx" when set.
func (o Options) String() string {
	pw := ""
	if o.Password != "" {
		pw = "xxxxx"
	}
	return fmt.Sprintf("enginetest.Options{Addr:%s Start:%v Mode:%v Rejection:%v RejectMissingStrategy:%t User:%s Password:%s SessionTTL:%v BindSessions:%t FlipEvery:%v OverlapWindow:%v EngineIP:%s ClusterStatus:%s ResumeTakes:%v ResumeFails:%t}",
		o.Addr, o.Start, o.Mode, o.Rejection, o.RejectMissingStrategy, o.User, pw, o.SessionTTL, o.BindSessions,
		o.FlipEvery, o.OverlapWindow, o.EngineIP, o.ClusterStatus, o.ResumeTakes, o.ResumeFails)
}

// GoString is String, so that %#v hides the password too.
func (o Options) GoString() string { return o.String() }

// Format prints String for every verb and flag, quoted for %q.
func (o Options) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprint(f, strconv.Quote(o.String()))
		return
	}
	fmt.Fprint(f, o.String())
}

// LogValue is String, for log/slog.
func (o Options) LogValue() slog.Value { return slog.StringValue(o.String()) }

// String names the fake engine by its address. A Server holds its
// Options, password and all: String and Format keep fmt from printing its
// fields.
func (s *Server) String() string { return "enginetest.Server(" + s.Addr() + ")" }

// Format prints String for every verb and flag, quoted for %q.
func (s *Server) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprint(f, strconv.Quote(s.String()))
		return
	}
	fmt.Fprint(f, s.String())
}
