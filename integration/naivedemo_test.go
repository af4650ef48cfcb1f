package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/coordinator"
	"github.com/e6coord/e6coord/internal/demo"
	"github.com/e6coord/e6coord/internal/naive"
	"github.com/e6coord/e6coord/internal/redistest"
)

// TestDemoNaiveProxiesShareRedis runs `e6coord demo --client naive --proxy
// --processes 4` against one real redis-server: 4 worker processes, each
// with naive clients (package naive) through a proxy of its own, the
// proxies sharing the state through Redis, while the fake engine switches
// in each mode: no query fails, and the switches reach the proxies.
func TestDemoNaiveProxiesShareRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("fleets of processes")
	}
	redistest.Require(t)
	for _, mode := range []enginetest.SwitchMode{enginetest.Overlap, enginetest.SwitchOnClear} {
		t.Run(mode.String(), func(t *testing.T) {
			r := redistest.Start(t)
			srv := newEngine(t, mode, 500*time.Millisecond)
			var out bytes.Buffer
			sum, err := demo.Run(context.Background(), demo.Options{
				Processes: 4, Workers: 2, Duration: 11 * time.Second, Policy: coordinator.Eager, // some 20 switches
				Naive: true, Proxy: true,
				Client: client.Config{
					Addr: srv.Addr(), User: user, Password: password,
					Catalog: enginetest.Catalog, Schema: enginetest.Schema,
					RedisURL: "redis://" + r.Addr() + "/0",
				},
				WorkerCommand: func(args []string) *exec.Cmd {
					cmd := exec.Command(os.Args[0], args...)
					cmd.Env = append(os.Environ(), demoWorkerEnv+"=1")
					return cmd
				},
			}, &out)
			t.Logf("demo output:\n%s", out.String())
			if err != nil {
				t.Fatal(err)
			}
			if sum.Failed != 0 || sum.Queries == 0 || sum.Processes != 4 {
				t.Errorf("summary %+v: want queries in 4 processes, none failed", sum)
			}
			if sum.Rows != sum.Queries*enginetest.NumbersRows {
				t.Errorf("read %d rows in %d queries, want %d each", sum.Rows, sum.Queries, enginetest.NumbersRows)
			}
			if sum.Switches == 0 || srv.State().Switches == 0 {
				t.Errorf("the engine switched %d times, the proxies saw %d switches: want some", srv.State().Switches, sum.Switches)
			}
			if sum.StoreUnreached != 0 {
				t.Errorf("%d proxies never reached Redis", sum.StoreUnreached)
			}
		})
	}
}

// TestNaiveClientDirect runs package naive's client straight to a fake
// engine that moves from blue to green without announcing it: the
// client's next query is rejected on prepare, and its execute step
// recovers as the published client's does, by authenticating again
// (detecting green) and preparing again.
func TestNaiveClientDirect(t *testing.T) {
	srv := newEngine(t, enginetest.SwitchOnClear, 0)
	c := naive.New(srv.Conn(), naive.Config{User: user, Password: password, Catalog: enginetest.Catalog, Schema: enginetest.Schema})
	ctx := context.Background()
	if n, err := c.Query(ctx, "SELECT * FROM demo.numbers"); err != nil || n != enginetest.NumbersRows {
		t.Fatalf("first query: %d rows, %v", n, err)
	}
	if c.Colour() != "blue" {
		t.Fatalf("colour %q, want blue", c.Colour())
	}
	// The engine moves to green: the client's next query is rejected on
	// prepare, which the execute step recovers from by detecting the
	// colour anew.
	if err := srv.SetActive(enginetest.Green); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Query(ctx, "SELECT * FROM demo.numbers"); err != nil || n != enginetest.NumbersRows {
		t.Fatalf("query after the switch: %d rows, %v", n, err)
	}
	st := c.Stats()
	if c.Colour() != "green" || st.Reauthentications != 1 || st.Rejections == 0 || st.Failed != 0 {
		t.Errorf("colour %q, stats %+v: want green after one re-authentication, none failed", c.Colour(), st)
	}
}
