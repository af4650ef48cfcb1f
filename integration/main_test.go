// Package integration runs fleets of real worker processes against a real
// redis-server and the fake engine, and injects faults: Redis killed and
// restarted empty, paused, cut off silently; a worker killed.
//
// The tests need redis-server; they skip without it unless
// E6COORD_REQUIRE_REDIS=1 (as .ci/run sets). `go test -short` skips them.
package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/e6coord/e6coord/internal/redistest"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/coordinator"
	"github.com/e6coord/e6coord/internal/fleet"
)

// workerEnv carries a worker process's spec from the test to the worker.
const workerEnv = "E6COORD_INTEGRATION_WORKER"

// spec is what a worker process runs.
type spec struct {
	Engine      string
	RedisURL    string
	Workers     int
	Query       string
	Policy      string
	PinTTL      time.Duration
	CacheTTL    time.Duration // the coordinator's CacheTTL; 0 for its default
	StatusEvery time.Duration
	ClockSkew   time.Duration // added to the worker's clock (coordinator.Config.Now)
	// DeafOnSignal: on SIGUSR1 the worker's change subscription goes
	// deaf (see deafStore); the worker writes to SideFile when it does,
	// and what it swallowed at the end.
	DeafOnSignal bool
	SideFile     string
	// HangOnSignal: on SIGUSR1 every call of the worker's store hangs,
	// whatever its deadline, until the next SIGUSR1 (see hangStore); the
	// worker writes to SideFile when its store hangs, and when the hang
	// ends with the calls that began meanwhile. It takes the place of
	// DeafOnSignal.
	HangOnSignal bool
}

// TestMain runs the worker body when the test binary is started as a
// worker process, and the tests otherwise.
func TestMain(m *testing.M) {
	if raw := os.Getenv(workerEnv); raw != "" {
		os.Exit(worker(raw))
	}
	if os.Getenv(demoWorkerEnv) != "" {
		os.Exit(demoWorker(os.Args[1:]))
	}
	// The test process (fake engines, proxies, observers, Redis clients)
	// leaves no goroutine behind; go-redis's tryDial, which a pool starts
	// after failed dials, sleeps up to a second before it sees the pool
	// closed.
	goleak.VerifyTestMain(m, redistest.IgnoreDial)
}

func worker(raw string) int {
	var sp spec
	if err := json.Unmarshal([]byte(raw), &sp); err != nil {
		fmt.Fprintln(os.Stderr, "worker spec:", err)
		return 2
	}
	policy, err := coordinator.ParsePolicy(sp.Policy)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	stop := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	cfg := fleet.Config{
		Client: client.Config{
			Addr: sp.Engine, User: user, Password: password,
			Catalog: enginetest.Catalog, Schema: enginetest.Schema,
			RedisURL:     sp.RedisURL,
			Coordination: coordinator.Config{Policy: policy, PinTTL: sp.PinTTL, CacheTTL: sp.CacheTTL},
		},
		Query: sp.Query, Workers: sp.Workers, StatusEvery: sp.StatusEvery,
	}
	if sp.ClockSkew != 0 {
		cfg.Client.Coordination.Now = func() time.Time { return time.Now().Add(sp.ClockSkew) }
	}
	if os.Getenv("E6COORD_WORKER_LOG") != "" { // debugging a scenario: the workers' records on stderr
		cfg.Client.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	done, err := sp.injectFaults(&cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker faults:", err)
		return 2
	}
	defer done()
	// The workers' queries run under ctx: a store call that carries its
	// mark is on a query's path (hangStore counts them).
	ctx := context.WithValue(context.Background(), queryPath{}, true)
	if err := fleet.Serve(ctx, cfg, stop, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	return 0
}

const user, password = "fleet", "fleet-secret"

// startWorkers starts n worker processes running sp.
func startWorkers(t *testing.T, n int, sp spec) *fleet.Processes {
	t.Helper()
	return startWorkersEach(t, n, func(int) spec { return sp })
}

// startWorkersEach starts n worker processes, worker i running specOf(i).
func startWorkersEach(t *testing.T, n int, specOf func(i int) spec) *fleet.Processes {
	t.Helper()
	raws := make([][]byte, n)
	for i := range n {
		sp := specOf(i)
		if sp.Query == "" {
			sp.Query = "SELECT * FROM demo.numbers"
		}
		if sp.Policy == "" {
			sp.Policy = "drain"
		}
		raw, err := json.Marshal(sp)
		if err != nil {
			t.Fatal(err)
		}
		raws[i] = raw
	}
	procs, err := fleet.Start(n, func(i int) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), workerEnv+"="+string(raws[i]))
		return cmd
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		procs.Stop()
		for range procs.Reports() {
		}
		procs.Wait()
	})
	return procs
}
