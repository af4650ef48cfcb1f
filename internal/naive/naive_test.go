package naive_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/naive"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const sql = "SELECT * FROM demo.numbers"

func newClient(t *testing.T, mode enginetest.SwitchMode) (*enginetest.Server, *naive.Client) {
	t.Helper()
	srv, err := enginetest.NewServer(enginetest.Options{Mode: mode, User: "u", Password: "p", RejectMissingStrategy: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv, naive.New(srv.Conn(), naive.Config{User: "u", Password: "p", Catalog: enginetest.Catalog, Schema: enginetest.Schema, Cluster: "Prod-EU"})
}

func query(t *testing.T, c *naive.Client) {
	t.Helper()
	n, err := c.Query(context.Background(), sql)
	if err != nil || n != enginetest.NumbersRows {
		t.Fatalf("query: %d rows, %v; want %d rows", n, err, enginetest.NumbersRows)
	}
}

// The client detects the colour (blue, then green on a 456), and sends it
// in the strategy header with the cluster name lower-cased.
func TestDetectsColour(t *testing.T) {
	srv, c := newClient(t, enginetest.Overlap)
	if err := srv.SetActive(enginetest.Green); err != nil {
		t.Fatal(err)
	}
	query(t, c)
	if c.Colour() != "green" {
		t.Errorf("colour %q, want green", c.Colour())
	}
	if st := c.Stats(); st.Rejections != 1 || st.Reauthentications != 0 || st.Queries != 1 || st.Failed != 0 {
		t.Errorf("stats %+v: want one 456 (blue's authenticate), no re-authentication", st)
	}
	if len(srv.Log()) == 0 {
		t.Fatal("the engine logged no call")
	}
	for _, call := range srv.Log() {
		if call.Strategy != "blue" && call.Strategy != "green" {
			t.Errorf("%s sent strategy %q", call.Method, call.Strategy)
		}
		if got := call.Metadata.Get("cluster-name"); len(got) != 1 || got[0] != "prod-eu" {
			t.Errorf("%s sent cluster-name %q, want prod-eu", call.Method, got)
		}
	}
}

// An announced switch (switch-on-clear): the client records the
// new_strategy, finishes its query on the old colour, and takes the new
// colour after the clear, with a new session: no 456.
func TestPendingAppliedAfterClear(t *testing.T) {
	srv, c := newClient(t, enginetest.SwitchOnClear)
	query(t, c)
	if err := srv.BeginSwitch(enginetest.Green); err != nil {
		t.Fatal(err)
	}
	query(t, c) // sees green announced; its clear switches the engine
	if c.Colour() != "green" {
		t.Fatalf("colour %q after the clear, want green", c.Colour())
	}
	query(t, c)
	if st := c.Stats(); st.Rejections != 0 || st.NewStrategies == 0 || st.Failed != 0 {
		t.Errorf("stats %+v: want new_strategy seen, no 456, none failed", st)
	}
}

// A colour gone without an announcement: the execute step is rejected on
// prepare and recovers by authenticating again (detecting green).
func TestExecuteStepRecovers(t *testing.T) {
	srv, c := newClient(t, enginetest.Overlap)
	query(t, c)
	if err := srv.SetActive(enginetest.Green); err != nil {
		t.Fatal(err)
	}
	query(t, c)
	if st := c.Stats(); c.Colour() != "green" || st.Reauthentications != 1 || st.Failed != 0 {
		t.Errorf("colour %q, stats %+v: want green after one re-authentication", c.Colour(), st)
	}
}
