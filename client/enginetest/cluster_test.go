package enginetest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/e6coord/e6coord/client/e6xpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// fakeClock is an [Options.Now] that moves only when told.
type fakeClock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// want503 checks that err is the Unavailable a grpc-go client reports for
// the gateway's HTTP 503.
func want503(t *testing.T, err error) {
	t.Helper()
	st := status.Convert(err)
	if err == nil {
		t.Fatal("call succeeded, want Unavailable (503)")
	}
	if st.Code() != codes.Unavailable || !strings.HasPrefix(st.Message(), "unexpected HTTP status code received from server: 503 (Service Unavailable)") || !word503.MatchString(st.Message()) {
		t.Errorf("error = %v, want Unavailable: unexpected HTTP status code received from server: 503 (Service Unavailable)...", err)
	}
}

// engineCall makes an authenticate call as blue and returns its error.
func engineCall(ctx context.Context, s *Server) error {
	_, err := s.Engine().Authenticate(as(ctx, "blue"), &e6xpb.AuthenticateRequest{})
	return err
}

// clusterStatus asks ClusterService for the status.
func clusterStatus(t *testing.T, ctx context.Context, s *Server) string {
	t.Helper()
	resp, err := s.Cluster().Status(ctx, &e6xpb.ClusterStatusRequest{})
	if err != nil {
		t.Fatalf("cluster status: %v", err)
	}
	return resp.GetStatus()
}

// resume calls ClusterService resume and returns the status it answers.
func resume(t *testing.T, ctx context.Context, s *Server) string {
	t.Helper()
	resp, err := s.Cluster().Resume(ctx, &e6xpb.ResumeRequest{})
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	return resp.GetStatus()
}

func wantStatus(t *testing.T, ctx context.Context, s *Server, want string) {
	t.Helper()
	if got := clusterStatus(t, ctx, s); got != want {
		t.Errorf("cluster status = %q, want %q", got, want)
	}
	if got := s.ClusterStatus(); got != want {
		t.Errorf("ClusterStatus() = %q, want %q", got, want)
	}
}

// A cluster started suspended answers every engine call with 503, in
// every rejection style, and logs it as not active; ClusterService
// answers "suspended".
func TestStartSuspended(t *testing.T) {
	for _, r := range styles {
		t.Run(r.String(), func(t *testing.T) {
			s := newServer(t, Options{Rejection: r, ClusterStatus: StatusSuspended})
			ctx := testCtx(t)
			want503(t, engineCall(ctx, s))
			_, err := s.Engine().GetNextResultBatch(as(ctx, "green"), &e6xpb.GetNextResultBatchRequest{SessionId: "s1", QueryId: "q1"})
			want503(t, err)
			wantStatus(t, ctx, s, StatusSuspended)

			log := s.Log()
			if len(log) != 3 {
				t.Fatalf("log has %d calls, want 3: %+v", len(log), log)
			}
			for _, c := range log[:2] {
				if c.Accepted || c.Reason != ReasonClusterNotActive || c.Code != codes.Unavailable {
					t.Errorf("logged %s as accepted=%v reason=%q code=%v, want not active, Unavailable", c.Method, c.Accepted, c.Reason, c.Code)
				}
			}
			if c := s.Counts(); c.Unavailable != 2 || c.Accepted != 1 || c.Resumes != 0 {
				t.Errorf("counts = %+v, want 2 unavailable, 1 accepted, no resume", c)
			}
		})
	}
}

// A resume makes a suspended cluster "resuming" for ResumeTakes, during
// which engine calls still get 503 and further resumes change nothing;
// then it is active and engine calls succeed. Every resume call counts.
func TestResumeTakes(t *testing.T) {
	for _, r := range styles {
		t.Run(r.String(), func(t *testing.T) {
			clk := newFakeClock()
			s := newServer(t, Options{Rejection: r, ClusterStatus: StatusSuspended, ResumeTakes: time.Minute, Now: clk.Now})
			ctx := testCtx(t)
			if got := resume(t, ctx, s); got != StatusResuming {
				t.Fatalf("resume answered %q, want resuming", got)
			}
			wantStatus(t, ctx, s, StatusResuming)
			want503(t, engineCall(ctx, s))

			clk.Advance(30 * time.Second)
			if got := resume(t, ctx, s); got != StatusResuming {
				t.Errorf("second resume answered %q, want resuming", got)
			}
			clk.Advance(30*time.Second - time.Nanosecond) // the second resume did not restart it
			wantStatus(t, ctx, s, StatusResuming)
			want503(t, engineCall(ctx, s))

			clk.Advance(time.Nanosecond)
			wantStatus(t, ctx, s, StatusActive)
			if err := engineCall(ctx, s); err != nil {
				t.Errorf("engine call once active: %v", err)
			}
			if got := resume(t, ctx, s); got != StatusActive {
				t.Errorf("resume of an active cluster answered %q, want active", got)
			}
			wantStatus(t, ctx, s, StatusActive)
			if got := s.ResumeCalls(); got != 3 {
				t.Errorf("ResumeCalls() = %d, want 3", got)
			}
			if got := s.Counts().Unavailable; got != 2 {
				t.Errorf("Unavailable = %d, want 2", got)
			}
		})
	}
}

// ResumeFails ends a resume in "failed", at once or after ResumeTakes;
// a failed cluster answers 503 and can be resumed again, and
// SetResumeFails(false) lets that resume succeed.
func TestResumeFails(t *testing.T) {
	for _, takes := range []time.Duration{0, time.Second} {
		t.Run("takes="+takes.String(), func(t *testing.T) {
			clk := newFakeClock()
			s := newServer(t, Options{ClusterStatus: StatusSuspended, ResumeTakes: takes, ResumeFails: true, Now: clk.Now})
			ctx := testCtx(t)
			first := StatusResuming
			if takes == 0 {
				first = StatusFailed
			}
			if got := resume(t, ctx, s); got != first {
				t.Fatalf("resume answered %q, want %q", got, first)
			}
			s.SetResumeFails(false) // too late for the resume in progress
			clk.Advance(takes)
			wantStatus(t, ctx, s, StatusFailed)
			want503(t, engineCall(ctx, s))

			want := StatusResuming
			if takes == 0 {
				want = StatusActive
			}
			if got := resume(t, ctx, s); got != want {
				t.Fatalf("resume of a failed cluster answered %q, want %q", got, want)
			}
			clk.Advance(takes)
			wantStatus(t, ctx, s, StatusActive)
			if err := engineCall(ctx, s); err != nil {
				t.Errorf("engine call once active: %v", err)
			}
			if got := s.ResumeCalls(); got != 2 {
				t.Errorf("ResumeCalls() = %d, want 2", got)
			}
		})
	}
}

// With ResumeNever the cluster stays resuming until told otherwise; a
// suspend abandons the resume.
func TestResumeNever(t *testing.T) {
	clk := newFakeClock()
	s := newServer(t, Options{ClusterStatus: StatusSuspended, ResumeTakes: ResumeNever, Now: clk.Now})
	ctx := testCtx(t)
	if got := resume(t, ctx, s); got != StatusResuming {
		t.Fatalf("resume answered %q, want resuming", got)
	}
	clk.Advance(24 * time.Hour)
	wantStatus(t, ctx, s, StatusResuming)
	want503(t, engineCall(ctx, s))

	if st, err := s.Cluster().Suspend(ctx, &e6xpb.SuspendRequest{}); err != nil || st.GetStatus() != StatusSuspended {
		t.Fatalf("suspend = %v, %v", st, err)
	}
	wantStatus(t, ctx, s, StatusSuspended)
	if got := resume(t, ctx, s); got != StatusResuming {
		t.Errorf("resume after suspend answered %q, want resuming", got)
	}
	s.SetClusterStatus(StatusActive)
	if err := engineCall(ctx, s); err != nil {
		t.Errorf("engine call once set active: %v", err)
	}
}

// SetClusterStatus abandons a timed resume: the status set stays, even
// "resuming".
func TestSetClusterStatusAbandonsResume(t *testing.T) {
	for _, set := range []string{StatusSuspended, StatusResuming} {
		t.Run(set, func(t *testing.T) {
			clk := newFakeClock()
			s := newServer(t, Options{ClusterStatus: StatusSuspended, ResumeTakes: time.Minute, Now: clk.Now})
			ctx := testCtx(t)
			resume(t, ctx, s)
			s.SetClusterStatus(set)
			clk.Advance(time.Hour)
			wantStatus(t, ctx, s, set)
			want503(t, engineCall(ctx, s))
		})
	}
}

// SuspendAfter suspends an active cluster once no engine call has arrived
// for that long. Every engine call, even one rejected for its colour,
// restarts the idle period; ClusterService calls do not. After a resume
// the idle period starts when the cluster becomes active.
func TestSuspendAfter(t *testing.T) {
	clk := newFakeClock()
	s := newServer(t, Options{SuspendAfter: time.Minute, ResumeTakes: 10 * time.Second, Now: clk.Now})
	ctx := testCtx(t)

	clk.Advance(59 * time.Second)
	if err := engineCall(ctx, s); err != nil {
		t.Fatalf("engine call while active: %v", err)
	}
	clk.Advance(59 * time.Second) // 118 s after the start
	wantStatus(t, ctx, s, StatusActive)
	_, err := s.Engine().Authenticate(as(ctx, "green"), &e6xpb.AuthenticateRequest{})
	wantRejected(t, RejectHTTP456, err, "blue", "green")
	clk.Advance(59 * time.Second)
	wantStatus(t, ctx, s, StatusActive) // a status call is no engine call
	clk.Advance(time.Second)
	wantStatus(t, ctx, s, StatusSuspended)
	want503(t, engineCall(ctx, s))

	// The resume ends 10 s after the call; the idle minute starts then,
	// and both changes are applied at the first look after them.
	if got := resume(t, ctx, s); got != StatusResuming {
		t.Fatalf("resume answered %q, want resuming", got)
	}
	clk.Advance(10*time.Second + time.Minute - time.Nanosecond)
	wantStatus(t, ctx, s, StatusActive)
	clk.Advance(time.Nanosecond)
	wantStatus(t, ctx, s, StatusSuspended)

	resume(t, ctx, s)
	clk.Advance(10*time.Second + time.Minute)
	want503(t, engineCall(ctx, s)) // the idle suspend is due when the call arrives

	// SetClusterStatus(active) starts the idle period afresh.
	s.SetClusterStatus(StatusActive)
	clk.Advance(time.Minute - time.Nanosecond)
	if err := engineCall(ctx, s); err != nil {
		t.Errorf("engine call within the idle minute: %v", err)
	}
}

// The status changes follow the real clock by default: a resume that
// takes 50ms is over 50ms after the call answered.
func TestResumeRealClock(t *testing.T) {
	const takes = 50 * time.Millisecond
	s := newServer(t, Options{ClusterStatus: StatusSuspended, ResumeTakes: takes})
	ctx := testCtx(t)
	if got := resume(t, ctx, s); got != StatusResuming {
		t.Fatalf("resume answered %q, want resuming", got)
	}
	answered := time.Now() // the resume arrived before this
	// Not synchronisation: the resume is due by then, whatever the
	// scheduling, because it is computed from the clock.
	<-time.After(time.Until(answered.Add(takes)))
	wantStatus(t, ctx, s, StatusActive)
	if err := engineCall(ctx, s); err != nil {
		t.Errorf("engine call once active: %v", err)
	}
}

// ClusterService calls are served whatever colour they carry, or none,
// even with RejectMissingStrategy and in every status; they are logged
// with their headers, and credentials are checked on each of them.
func TestClusterCallsAnyColour(t *testing.T) {
	for _, r := range styles {
		t.Run(r.String(), func(t *testing.T) {
			s := newServer(t, Options{Rejection: r, RejectMissingStrategy: true, User: "u", Password: "p", ClusterStatus: StatusSuspended})
			ctx := metadata.AppendToOutgoingContext(testCtx(t), "cluster-name", "c1")
			c := s.Cluster()
			colours := []string{"green", "BLUE", "", "blue"}
			for _, colour := range colours {
				if _, err := c.Status(as(ctx, colour), &e6xpb.ClusterStatusRequest{User: "u", Password: "p"}); err != nil {
					t.Errorf("status as %q: %v", colour, err)
				}
			}
			_, err := c.Resume(as(ctx, "green"), &e6xpb.ResumeRequest{User: "u", Password: "wrong"})
			wantCode(t, err, codes.Unauthenticated)
			if got := s.ClusterStatus(); got != StatusSuspended {
				t.Errorf("after a refused resume, ClusterStatus() = %q, want suspended", got)
			}
			if st, err := c.Resume(as(ctx, "green"), &e6xpb.ResumeRequest{User: "u", Password: "p"}); err != nil || st.GetStatus() != StatusActive {
				t.Errorf("resume as green = %v, %v", st, err)
			}
			if st, err := c.Suspend(ctx, &e6xpb.SuspendRequest{User: "u", Password: "p"}); err != nil || st.GetStatus() != StatusSuspended {
				t.Errorf("suspend without a colour = %v, %v", st, err)
			}
			if got := s.ResumeCalls(); got != 2 {
				t.Errorf("ResumeCalls() = %d, want 2 (the refused one included)", got)
			}

			type summary struct {
				Method, Strategy, Cluster string
				Accepted                  bool
				Code                      codes.Code
			}
			var got []summary
			for _, call := range s.Log() {
				var cluster string
				if v := call.Metadata.Get("cluster-name"); len(v) == 1 {
					cluster = v[0]
				}
				got = append(got, summary{call.Method, call.Strategy, cluster, call.Accepted, call.Code})
			}
			var want []summary
			for _, colour := range colours {
				want = append(want, summary{e6xpb.ClusterService_Status_FullMethodName, colour, "c1", true, codes.OK})
			}
			want = append(want,
				summary{e6xpb.ClusterService_Resume_FullMethodName, "green", "c1", true, codes.Unauthenticated},
				summary{e6xpb.ClusterService_Resume_FullMethodName, "green", "c1", true, codes.OK},
				summary{e6xpb.ClusterService_Suspend_FullMethodName, "", "c1", true, codes.OK},
			)
			if len(got) != len(want) {
				t.Fatalf("log has %d calls, want %d: %+v", len(got), len(want), got)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("call %d logged as %+v, want %+v", i, got[i], want[i])
				}
			}
		})
	}
}

func TestNegativeSuspendAfter(t *testing.T) {
	if s, err := NewServer(Options{SuspendAfter: -time.Second}); err == nil {
		s.Close()
		t.Error("NewServer accepted a negative SuspendAfter")
	}
}
