package enginetest

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
)

func TestRejectionStyles(t *testing.T) {
	for _, r := range styles {
		t.Run(r.String(), func(t *testing.T) {
			s := newServer(t, Options{Rejection: r})
			ctx := testCtx(t)
			auth(t, s, "blue")
			_, err := s.Engine().Authenticate(as(ctx, "green"), &e6xpb.AuthenticateRequest{User: "u", Password: "p"})
			wantRejected(t, r, err, "blue", "green")
			_, err = s.Engine().Authenticate(as(ctx, "BLUE"), &e6xpb.AuthenticateRequest{})
			wantRejected(t, r, err, "blue", "BLUE")

			// Every engine method is routed by colour, even unknown sessions.
			_, err = s.Engine().GetNextResultBatch(as(ctx, "green"), &e6xpb.GetNextResultBatchRequest{SessionId: "s1", QueryId: "q1"})
			wantRejected(t, r, err, "blue", "green")
			// ClusterService is not.
			if _, err := s.Cluster().Status(as(ctx, "green"), &e6xpb.ClusterStatusRequest{}); err != nil {
				t.Errorf("cluster status with a wrong colour: %v", err)
			}

			log := s.Log()
			if len(log) != 5 {
				t.Fatalf("log has %d calls, want 5: %+v", len(log), log)
			}
			type summary struct {
				Method, Strategy, SessionID, QueryID string
				Accepted                             bool
				Reason                               Reason
				Code                                 codes.Code
			}
			var got []summary
			for _, c := range log {
				if c.SessionID != "" && c.SessionID != "s1" {
					c.SessionID = "new"
				}
				got = append(got, summary{c.Method, c.Strategy, c.SessionID, c.QueryID, c.Accepted, c.Reason, c.Code})
			}
			rejectCode := codes.Unknown
			if r == RejectInvalidArgument {
				rejectCode = codes.InvalidArgument
			}
			want := []summary{
				{e6xpb.QueryEngineService_Authenticate_FullMethodName, "blue", "new", "", true, "", codes.OK},
				{e6xpb.QueryEngineService_Authenticate_FullMethodName, "green", "", "", false, ReasonWrongStrategy, rejectCode},
				{e6xpb.QueryEngineService_Authenticate_FullMethodName, "BLUE", "", "", false, ReasonWrongStrategy, rejectCode},
				{e6xpb.QueryEngineService_GetNextResultBatch_FullMethodName, "green", "s1", "q1", false, ReasonWrongStrategy, rejectCode},
				{e6xpb.ClusterService_Status_FullMethodName, "green", "", "", true, "", codes.OK},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("log mismatch (-want +got):\n%s", diff)
			}
			wantCounts := Counts{
				Calls: 5, Accepted: 2, Rejected: 3,
				Authenticates: ColourCounts{Blue: 1, Green: 1, Other: 1},
				Rejections:    ColourCounts{Green: 2, Other: 1},
			}
			if diff := cmp.Diff(wantCounts, s.Counts()); diff != "" {
				t.Errorf("counts mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMissingStrategy(t *testing.T) {
	for _, r := range styles {
		t.Run(r.String(), func(t *testing.T) {
			s := newServer(t, Options{Rejection: r, Start: Green})
			ctx := testCtx(t)
			req := &e6xpb.AuthenticateRequest{}
			if _, err := s.Engine().Authenticate(ctx, req); err != nil {
				t.Fatalf("authenticate without strategy (accepted by default): %v", err)
			}
			s.SetRejectMissingStrategy(true)
			_, err := s.Engine().Authenticate(ctx, req)
			wantRejected(t, r, err, "green", "")
			if _, err := s.Engine().Authenticate(as(ctx, "green"), req); err != nil {
				t.Fatalf("authenticate as green: %v", err)
			}
			s.SetRejectMissingStrategy(false)
			if _, err := s.Engine().Authenticate(ctx, req); err != nil {
				t.Fatalf("authenticate without strategy: %v", err)
			}
			if got := s.Counts().Rejections; got != (ColourCounts{None: 1}) {
				t.Errorf("rejections = %+v, want one without strategy", got)
			}
		})
	}

	s := newServer(t, Options{RejectMissingStrategy: true})
	_, err := s.Engine().HealthCheck(testCtx(t), &e6xpb.HealthCheckRequest{})
	wantRejected(t, RejectHTTP456, err, "blue", "")
}

// announced calls authenticate as colour and returns its error and
// new_strategy.
func announced(t *testing.T, s *Server, colour string) (string, error) {
	t.Helper()
	resp, err := s.Engine().Authenticate(as(testCtx(t), colour), &e6xpb.AuthenticateRequest{})
	return resp.GetNewStrategy(), err
}

func TestOverlapSwitch(t *testing.T) {
	for _, r := range styles {
		t.Run(r.String(), func(t *testing.T) {
			s := newServer(t, Options{Rejection: r})
			check := func(step, colour, wantAnnounce string, wantErr bool) {
				t.Helper()
				ann, err := announced(t, s, colour)
				if wantErr {
					wantRejected(t, r, err, s.State().Active.String(), colour)
					return
				}
				if err != nil {
					t.Fatalf("%s: %s rejected: %v", step, colour, err)
				}
				if ann != wantAnnounce {
					t.Errorf("%s: %s: new_strategy = %q, want %q", step, colour, ann, wantAnnounce)
				}
			}
			check("steady", "blue", "", false)
			check("steady", "green", "", true)

			if err := s.BeginSwitch(Green); err != nil {
				t.Fatal(err)
			}
			if st := s.State(); !st.Overlapping || st.Pending != Green || st.Active != Blue {
				t.Fatalf("state after BeginSwitch = %v", st)
			}
			check("overlap", "blue", "green", false)
			check("overlap", "green", "green", false)
			check("overlap", "", "green", false)

			if !s.FinishSwitch() {
				t.Fatal("FinishSwitch reported no switch")
			}
			check("switched", "green", "", false)
			check("switched", "blue", "", true)
			if s.FinishSwitch() {
				t.Error("second FinishSwitch reported a switch")
			}
			if err := s.BeginSwitch(Green); err == nil {
				t.Error("BeginSwitch to the active colour succeeded")
			}
			if got := s.Counts().Switches; got != 1 {
				t.Errorf("Switches = %d, want 1", got)
			}
		})
	}
}

func TestSwitchOnClear(t *testing.T) {
	for _, r := range styles {
		t.Run(r.String(), func(t *testing.T) {
			s := newServer(t, Options{Rejection: r, Mode: SwitchOnClear})
			e := s.Engine()
			ctx := testCtx(t)
			blue := as(ctx, "blue")
			sess := auth(t, s, "blue")
			inflight := prepare(t, s, "blue", sess, "SELECT 1")
			cleared := prepare(t, s, "blue", sess, "SELECT 1")

			if err := s.BeginSwitch(Green); err != nil {
				t.Fatal(err)
			}
			// Announced but not accepted yet.
			if ann, err := announced(t, s, "blue"); err != nil || ann != "green" {
				t.Errorf("blue during a pending switch: new_strategy %q, error %v; want green, nil", ann, err)
			}
			_, err := announced(t, s, "green")
			wantRejected(t, r, err, "blue", "green")
			// Cancelling and clearing unknown queries do not switch.
			if _, err := e.CancelQuery(blue, &e6xpb.CancelQueryRequest{SessionId: sess, QueryId: "nope"}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.ClearOrCancelQuery(blue, &e6xpb.ClearOrCancelQueryRequest{SessionId: sess, QueryId: "nope"}); err != nil {
				t.Fatal(err)
			}
			if st := s.State(); st.Active != Blue || !st.SwitchAtClear {
				t.Fatalf("state before the clear = %v", st)
			}

			resp, err := e.ClearOrCancelQuery(blue, &e6xpb.ClearOrCancelQueryRequest{SessionId: sess, QueryId: cleared})
			if err != nil {
				t.Fatalf("clearOrCancelQuery: %v", err)
			}
			if resp.GetNewStrategy() != "green" {
				t.Errorf("clear response new_strategy = %q, want green", resp.GetNewStrategy())
			}
			if st := s.State(); st.Active != Green || st.Pending.Valid() {
				t.Fatalf("state after the clear = %v", st)
			}
			// The old colour is rejected at once, in-flight queries included.
			_, err = e.GetNextResultBatch(blue, &e6xpb.GetNextResultBatchRequest{SessionId: sess, QueryId: inflight})
			wantRejected(t, r, err, "green", "blue")
			if ann, err := announced(t, s, "green"); err != nil || ann != "" {
				t.Errorf("green after the switch: new_strategy %q, error %v; want none", ann, err)
			}

			// clear switches too.
			if err := s.BeginSwitch(Blue); err != nil {
				t.Fatal(err)
			}
			green := as(ctx, "green")
			if _, err := e.Clear(green, &e6xpb.ClearRequest{SessionId: sess, QueryId: inflight}); err != nil {
				t.Fatalf("clear: %v", err)
			}
			if st := s.State(); st.Active != Blue || st.Switches != 2 {
				t.Errorf("state after clear = %v, want blue after 2 switches", st)
			}
		})
	}
}

func TestAnnounceAndSetActive(t *testing.T) {
	s := newServer(t, Options{Rejection: RejectInvalidArgument})
	if err := s.Announce(Green); err != nil {
		t.Fatal(err)
	}
	if ann, err := announced(t, s, "blue"); err != nil || ann != "green" {
		t.Errorf("blue after Announce(green): new_strategy %q, error %v", ann, err)
	}
	_, err := announced(t, s, "green")
	wantRejected(t, RejectInvalidArgument, err, "blue", "green")
	if err := s.Announce(NoColour); err != nil {
		t.Fatal(err)
	}
	if ann, _ := announced(t, s, "blue"); ann != "" {
		t.Errorf("new_strategy after Announce(Unknown) = %q", ann)
	}

	if err := s.SetActive(Green); err != nil {
		t.Fatal(err)
	}
	if ann, err := announced(t, s, "green"); err != nil || ann != "" {
		t.Errorf("green after SetActive(green): new_strategy %q, error %v", ann, err)
	}
	_, err = announced(t, s, "blue")
	wantRejected(t, RejectInvalidArgument, err, "green", "blue")
	if err := s.SetActive(NoColour); err == nil {
		t.Error("SetActive(Unknown) succeeded")
	}
	if err := s.BeginSwitch(Colour(9)); err == nil {
		t.Error("BeginSwitch(9) succeeded")
	}
	if got := s.State(); got.Switches != 1 || got.Generation != 4 {
		t.Errorf("state = %+v, want 1 switch, generation 4", got)
	}
}

func TestFlipEvery(t *testing.T) {
	t.Run("overlap", func(t *testing.T) {
		changes := make(chan State, 100)
		s := newServer(t, Options{
			FlipEvery:     20 * time.Millisecond,
			OverlapWindow: 5 * time.Millisecond,
			OnChange:      func(st State) { changes <- st },
		})
		waitState(t, changes, "overlap to green", func(st State) bool {
			return st.Active == Blue && st.Pending == Green && st.Overlapping
		})
		waitState(t, changes, "green", func(st State) bool { return st.Active == Green && !st.Pending.Valid() })
		waitState(t, changes, "overlap to blue", func(st State) bool { return st.Pending == Blue && st.Overlapping })
		waitState(t, changes, "blue", func(st State) bool { return st.Active == Blue && st.Switches == 2 })
		s.Close()
		gen := s.State().Generation
		// Nothing changes after Close: the loop has stopped (Close waited
		// for it), so no tick can begin a switch.
		for range 3 {
			if got := s.State().Generation; got != gen {
				t.Fatalf("generation changed after Close: %d → %d", gen, got)
			}
		}
	})
	t.Run("switch-on-clear", func(t *testing.T) {
		changes := make(chan State, 100)
		s := newServer(t, Options{
			Mode:      SwitchOnClear,
			FlipEvery: 10 * time.Millisecond,
			OnChange:  func(st State) { changes <- st },
		})
		sess := auth(t, s, "blue")
		q := prepare(t, s, "blue", sess, "SELECT 1")
		waitState(t, changes, "pending green", func(st State) bool { return st.Pending == Green && st.SwitchAtClear })
		// Ticks keep the switch waiting for its clear.
		if _, err := s.Engine().ClearOrCancelQuery(as(testCtx(t), "blue"), &e6xpb.ClearOrCancelQueryRequest{SessionId: sess, QueryId: q}); err != nil {
			t.Fatal(err)
		}
		st := waitState(t, changes, "green", func(st State) bool { return st.Active == Green })
		if st.Switches != 1 {
			t.Errorf("switches = %d, want 1", st.Switches)
		}
		waitState(t, changes, "pending blue", func(st State) bool { return st.Pending == Blue })
	})
	t.Run("invalid", func(t *testing.T) {
		if _, err := NewServer(Options{FlipEvery: time.Second, OverlapWindow: time.Second}); err == nil {
			t.Error("NewServer with an overlap window as long as the period succeeded")
		}
	})
}

func TestMixedQueries(t *testing.T) {
	s := newServer(t, Options{})
	e := s.Engine()
	sess := auth(t, s, "blue")
	clean := prepare(t, s, "blue", sess, "SELECT 1")
	mixed := prepare(t, s, "blue", sess, "SELECT 1")
	if err := s.BeginSwitch(Green); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	// A correct client keeps the query's colour; a wrong one switches mid-query.
	for _, c := range []struct{ colour, q string }{{"blue", clean}, {"", clean}, {"green", mixed}, {"blue", mixed}} {
		if _, err := e.Status(as(ctx, c.colour), &e6xpb.StatusRequest{SessionId: sess, QueryId: c.q}); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := s.MixedQueries(), []string{mixed}; !slices.Equal(got, want) {
		t.Errorf("MixedQueries = %v, want %v", got, want)
	}
	var colours []string
	for _, c := range s.Log() {
		if c.QueryID == mixed {
			colours = append(colours, c.Method+" "+c.Strategy)
		}
	}
	want := []string{
		e6xpb.QueryEngineService_PrepareStatementV2_FullMethodName + " blue",
		e6xpb.QueryEngineService_ExecuteStatementV2_FullMethodName + " blue",
		e6xpb.QueryEngineService_Status_FullMethodName + " green",
		e6xpb.QueryEngineService_Status_FullMethodName + " blue",
	}
	if diff := cmp.Diff(want, colours); diff != "" {
		t.Errorf("calls of the mixed query (-want +got):\n%s", diff)
	}
	s.ResetLog()
	if len(s.Log()) != 0 || len(s.MixedQueries()) != 0 || s.Counts() != (Counts{}) {
		t.Errorf("after ResetLog: log %d, mixed %v, counts %+v", len(s.Log()), s.MixedQueries(), s.Counts())
	}
}

func TestHTTP456LogsRequestIDs(t *testing.T) {
	s := newServer(t, Options{})
	_, err := s.Engine().Status(as(testCtx(t), "green"), &e6xpb.StatusRequest{SessionId: "s9", QueryId: "q9"})
	wantRejected(t, RejectHTTP456, err, "blue", "green")
	if got := status.Convert(err).Message(); got != msgHTTP456 {
		t.Errorf("message = %q, want %q", got, msgHTTP456)
	}
	log := s.Log()
	if len(log) != 1 || log[0].Err != msgHTTP456 || log[0].SessionID != "s9" || log[0].QueryID != "q9" || log[0].Serving != "blue" || log[0].Metadata.Get("strategy")[0] != "green" {
		t.Errorf("log = %+v", log)
	}
}

func TestMaxLog(t *testing.T) {
	s := newServer(t, Options{MaxLog: 4})
	for range 10 {
		auth(t, s, "blue")
	}
	if n := len(s.Log()); n > 4 || n < 2 {
		t.Errorf("log has %d calls, want 2 to 4", n)
	}
	if got := s.Counts().Calls; got != 10 {
		t.Errorf("Calls = %d, want 10", got)
	}
}

func TestInject(t *testing.T) {
	s := newServer(t, Options{Inject: func(_ context.Context, method string, req proto.Message) error {
		if method == e6xpb.QueryEngineService_Status_FullMethodName {
			return status.Error(codes.ResourceExhausted, "injected")
		}
		return nil
	}})
	_, err := s.Engine().Status(testCtx(t), &e6xpb.StatusRequest{})
	wantCode(t, err, codes.ResourceExhausted)
	auth(t, s, "blue")
	if c := s.Counts(); c.Failed != 1 || c.Accepted != 2 {
		t.Errorf("counts = %+v, want 1 failed of 2 accepted", c)
	}
}

func TestCloseWaitsForCallsInFlight(t *testing.T) {
	for _, r := range styles {
		t.Run(r.String(), func(t *testing.T) {
			entered, release := make(chan struct{}), make(chan struct{})
			s, err := NewServer(Options{Rejection: r, Inject: func(_ context.Context, method string, _ proto.Message) error {
				if method == e6xpb.QueryEngineService_HealthCheck_FullMethodName {
					close(entered)
					<-release
				}
				return nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// A separate connection: Close closes s.Conn().
			conn := dial(t, s.Addr())
			callErr := make(chan error, 1)
			go func() {
				_, err := e6xpb.NewQueryEngineServiceClient(conn).HealthCheck(testCtx(t), &e6xpb.HealthCheckRequest{})
				callErr <- err
			}()
			select {
			case <-entered:
			case <-time.After(10 * time.Second):
				t.Fatal("call did not arrive")
			}
			var closed sync.WaitGroup
			closed.Go(s.Close)
			close(release)
			closed.Wait()
			if err := <-callErr; err != nil {
				t.Errorf("call in flight during Close: %v", err)
			}
			if _, err := e6xpb.NewQueryEngineServiceClient(conn).HealthCheck(testCtx(t), &e6xpb.HealthCheckRequest{}); err == nil {
				t.Error("call after Close succeeded")
			}
		})
	}
}

func TestParse(t *testing.T) {
	for _, m := range []SwitchMode{Overlap, SwitchOnClear} {
		if got, err := ParseSwitchMode(m.String()); err != nil || got != m {
			t.Errorf("ParseSwitchMode(%q) = %v, %v", m, got, err)
		}
	}
	for _, r := range styles {
		if got, err := ParseRejection(r.String()); err != nil || got != r {
			t.Errorf("ParseRejection(%q) = %v, %v", r, got, err)
		}
	}
	if _, err := ParseSwitchMode("sometimes"); err == nil {
		t.Error("ParseSwitchMode(sometimes) succeeded")
	}
	if _, err := ParseRejection("418"); err == nil {
		t.Error("ParseRejection(418) succeeded")
	}
	var errs []error
	for _, o := range []Options{{Start: Colour(7)}, {Mode: 5}, {Rejection: -1}, {SessionTTL: -1}} {
		_, err := NewServer(o)
		errs = append(errs, err)
	}
	for i, err := range errs {
		if err == nil {
			t.Errorf("invalid options %d accepted", i)
		}
	}
}

func TestListener(t *testing.T) {
	for _, r := range styles {
		t.Run(r.String(), func(t *testing.T) {
			lis := bufconn.Listen(1 << 20)
			s := newServer(t, Options{
				Rejection: r,
				Listener:  lis,
				DialOptions: []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
					return lis.DialContext(ctx)
				})},
			})
			auth(t, s, "blue")
			_, err := s.Engine().Authenticate(as(testCtx(t), "green"), &e6xpb.AuthenticateRequest{})
			wantRejected(t, r, err, "blue", "green")
		})
	}
}
