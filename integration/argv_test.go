package integration

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/coordinator"
	"github.com/e6coord/e6coord/internal/demo"
	"github.com/e6coord/e6coord/internal/fleet"
	"github.com/e6coord/e6coord/internal/redistest"
	"github.com/e6coord/e6coord/internal/secrettest"
)

// demoWorkerEnv makes the test binary a worker process of demo.Run, as
// `e6coord demo-worker` is: it takes the flags of demo.WorkerFlags, and
// the password and the Redis URL from E6COORD_PASSWORD and
// E6COORD_REDIS_URL.
const demoWorkerEnv = "E6COORD_INTEGRATION_DEMO_WORKER"

func demoWorker(args []string) int {
	fs := flag.NewFlagSet("demo-worker", flag.ContinueOnError)
	var cfg fleet.Config
	policy := fs.String("policy", coordinator.Eager.String(), "")
	fetch := fs.Bool("fetch", true, "")
	fs.StringVar(&cfg.Client.Addr, "engine", "", "")
	fs.StringVar(&cfg.Client.User, "user", "", "")
	fs.StringVar(&cfg.Client.Catalog, "catalog", "", "")
	fs.StringVar(&cfg.Client.Schema, "schema", "", "")
	fs.StringVar(&cfg.Client.Cluster, "cluster", "", "")
	fs.StringVar(&cfg.Query, "query", demo.DefaultQuery, "")
	fs.IntVar(&cfg.Workers, "workers", 1, "")
	fs.BoolVar(&cfg.Naive, "naive", false, "")
	fs.BoolVar(&cfg.Proxy, "proxy", false, "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var err error
	if cfg.Client.Coordination.Policy, err = coordinator.ParsePolicy(*policy); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cfg.NoFetch = !*fetch
	cfg.Client.Password = os.Getenv("E6COORD_PASSWORD")
	cfg.Client.RedisURL = os.Getenv("E6COORD_REDIS_URL")
	stop := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	if err := fleet.Serve(context.Background(), cfg, stop, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo worker:", err)
		return 1
	}
	return 0
}

// TestDemoWorkersCommandLines runs demo.Run's worker processes with an
// engine password and a Redis URL with a password, and reads each
// worker's command line from /proc/PID/cmdline while it runs queries: it
// holds the worker's flags and no piece of either secret, which reach the
// worker in its environment (/proc/PID/environ holds them).
func TestDemoWorkersCommandLines(t *testing.T) {
	if testing.Short() {
		t.Skip("fleets of processes")
	}
	redistest.Require(t)
	const n = 2
	s := secrettest.New()
	enginePassword, redisPassword := s.B+s.A, s.A+s.B
	r := redistest.Start(t)
	admin := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
	err := admin.ConfigSet(context.Background(), "requirepass", redisPassword).Err()
	admin.Close()
	if err != nil {
		t.Fatal(err)
	}
	redisURL := "redis://:" + redisPassword + "@" + r.Addr() + "/0"
	srv := newEngine(t, enginetest.Overlap, 0, func(o *enginetest.Options) { o.Password = enginePassword })
	clock := clockOf(srv)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		sum demo.Summary
		err error
	}
	done := make(chan result, 1)
	var out bytes.Buffer
	started := time.Now()
	go func() {
		sum, err := demo.Run(ctx, demo.Options{
			Processes: n, Workers: 1, Duration: time.Minute, Policy: coordinator.Eager,
			Client: client.Config{
				Addr: srv.Addr(), User: user, Password: enginePassword,
				Catalog: enginetest.Catalog, Schema: enginetest.Schema,
				RedisURL: redisURL,
			},
			WorkerCommand: func(args []string) *exec.Cmd {
				cmd := exec.Command(os.Args[0], args...)
				cmd.Env = append(os.Environ(), demoWorkerEnv+"=1")
				return cmd
			},
		}, &out)
		done <- result{sum, err}
	}()

	// The workers, children of this process, run queries.
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var workers []int
	for {
		workers = children(t, demoWorkerEnv+"=1")
		running := 0
		for _, q := range clock.ranWithin(started, time.Now()) {
			if q > 0 {
				running++
			}
		}
		if len(workers) == n && running == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s: %d worker processes, %d running queries; want %d", len(workers), running, n)
		}
		select {
		case <-tick.C:
		case res := <-done:
			t.Fatalf("demo ended early: %v\n%s", res.err, s.Hide(out.String()))
		}
	}
	for _, pid := range workers {
		cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if err != nil {
			t.Fatal(err)
		}
		environ, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
		if err != nil {
			t.Fatal(err)
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		t.Logf("pid %d: command line %q", pid, s.Hide(strings.Join(args, " ")))
		s.Check(t, fmt.Sprintf("pid %d's command line", pid), string(cmdline))
		if !strings.Contains(string(cmdline), "--engine\x00"+srv.Addr()+"\x00") {
			t.Errorf("pid %d's command line %q lacks --engine %s: not a demo worker's", pid, s.Hide(string(cmdline)), srv.Addr())
		}
		for _, v := range []string{"E6COORD_PASSWORD=" + enginePassword, "E6COORD_REDIS_URL=" + redisURL} {
			if !strings.Contains("\x00"+string(environ), "\x00"+v+"\x00") {
				t.Errorf("pid %d's environment lacks %s", pid, s.Hide(v))
			}
		}
	}

	cancel()
	res := <-done
	if res.err != nil && !errors.Is(res.err, context.Canceled) {
		t.Fatalf("demo: %v\n%s", s.Hide(res.err.Error()), s.Hide(out.String()))
	}
	s.Check(t, "the demo's output", out.String())
	if res.sum.Failed != 0 || res.sum.StoreUnreached != 0 || res.sum.Queries == 0 {
		t.Errorf("demo summary %+v: want queries, none failed, every process on the store", res.sum)
	}
}

// children returns the processes whose parent is this process and whose
// environment holds the variable kv ("NAME=value").
func children(t *testing.T, kv string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	me := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue // gone
		}
		ppid := -1
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "PPid:"); ok {
				ppid, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		if ppid != me {
			continue
		}
		environ, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err == nil && strings.Contains("\x00"+string(environ), "\x00"+kv+"\x00") {
			pids = append(pids, pid)
		}
	}
	return pids
}
