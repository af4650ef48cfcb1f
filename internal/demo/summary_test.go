package demo_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/demo"
	"github.com/e6coord/e6coord/internal/redistest"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startReplica starts a redis-server and a replica of it, and returns the
// replica once it is in sync.
func startReplica(t *testing.T) *redistest.Server {
	t.Helper()
	redistest.Require(t)
	primary, replica := redistest.Start(t), redistest.Start(t)
	c := goredis.NewClient(&goredis.Options{Addr: replica.Addr()})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Do(ctx, "REPLICAOF", "127.0.0.1", fmt.Sprint(primary.Port())).Err(); err != nil {
		t.Fatalf("replicaof: %v", err)
	}
	for {
		info, err := c.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return replica
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the replica is not in sync within 30s: %v\n%s", err, info)
		case <-time.After(50 * time.Millisecond): // polling a condition, not a wait for time
		}
	}
}

// A Redis URL that names a read-only replica is a configuration error of
// its own: logged once, at Error, as such (not "store unreachable" at
// every refused write), and the summary counts the process as refused and
// says so, though the replica answers reads.
func TestDemoReadOnlyReplica(t *testing.T) {
	replica := startReplica(t)
	var out bytes.Buffer
	var logs syncBuffer
	sum, err := demo.Run(context.Background(), demo.Options{
		Duration: 1500 * time.Millisecond, FlipEvery: 300 * time.Millisecond, Workers: 2,
		Client: client.Config{
			RedisURL: replica.URL(),
			Logger:   slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		},
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 0 || sum.Queries == 0 {
		t.Errorf("summary %+v: want queries and none failed", sum)
	}
	if sum.StoreDenied != 1 {
		t.Errorf("store_denied %d, want 1\n%s", sum.StoreDenied, out.String())
	}
	if !strings.Contains(out.String(), "1 of 1 processes (it refused access") || !strings.Contains(out.String(), "read-only replica") {
		t.Errorf("the summary does not say the store refused the process:\n%s", out.String())
	}
	l := logs.String()
	if n := strings.Count(l, "level=ERROR"); n != 1 || !strings.Contains(l, "store is a read-only replica: point the Redis URL at the primary") || strings.Contains(l, "store unreachable") {
		t.Errorf("logged %d errors, want 1 saying the store is a read-only replica, and no \"store unreachable\":\n%s", n, l)
	}
}

// Against an engine whose cluster never finishes resuming, the demo says
// what it waits for every few seconds, and ends at its duration with an
// error saying no query ran, where it waited for the 300 s of the resume.
func TestDemoEndsWhileClusterResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the first note, after 5 s of resume")
	}
	srv, err := enginetest.NewServer(enginetest.Options{
		User: "u", Password: "p", ClusterStatus: enginetest.StatusSuspended, ResumeTakes: enginetest.ResumeNever,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var out bytes.Buffer
	var logs syncBuffer
	done := make(chan error, 1)
	go func() {
		_, err := demo.Run(context.Background(), demo.Options{
			Duration: 6 * time.Second, Workers: 1,
			Client: client.Config{
				Addr: srv.Addr(), User: "u", Password: "p", Catalog: enginetest.Catalog, Schema: enginetest.Schema,
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
			},
		}, &out)
		done <- err
	}()
	select {
	case err = <-done:
	case <-time.After(90 * time.Second): // 15× the duration: only a hang
		t.Fatalf("the demo of 6s did not end within 90s; log:\n%s", logs.String())
	}
	if err == nil || !strings.Contains(err.Error(), "did not answer within the demo's 6s") {
		t.Errorf("Run() error = %v, want one saying the engine did not answer within the duration", err)
	}
	if !strings.Contains(logs.String(), "cluster resuming, 5 s of 300 s") {
		t.Errorf("the log does not say what the demo waited for:\n%s", logs.String())
	}
}

// A demo of several processes refuses client settings its worker
// processes would not get, naming them, rather than dropping them.
func TestDemoProcessesRefuseWhatWorkersLack(t *testing.T) {
	_, err := demo.Run(context.Background(), demo.Options{
		Processes: 2, Duration: time.Second,
		Client:        client.Config{TLS: &tls.Config{}, NoResume: true},
		WorkerCommand: func([]string) *exec.Cmd { return exec.Command("false") },
	}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "TLS, NoResume would be lost") {
		t.Errorf("Run() error = %v, want one naming TLS and NoResume", err)
	}
}
