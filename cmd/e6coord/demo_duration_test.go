package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/e6coord/e6coord/client/enginetest"
)

// A demo of several worker processes ends at its duration even when the
// engine never answers (its cluster resumes for ever): the workers, still
// connecting, stop when the demo stops them.
func TestDemoProcessesEndWhileClusterResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for its duration")
	}
	srv, err := enginetest.NewServer(enginetest.Options{
		User: "u", Password: "p", ClusterStatus: enginetest.StatusSuspended, ResumeTakes: enginetest.ResumeNever,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Setenv("E6_PASSWORD", "p")
	t.Setenv("E6COORD_REDIS_URL", "")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second) // 22× the duration: only a hang
	defer cancel()
	done := make(chan error, 1)
	var out, errOut bytes.Buffer
	go func() {
		done <- run(ctx, []string{"demo", "--processes", "2", "--workers", "1", "--duration", "4s",
			"--engine", srv.Addr(), "--user", "u", "--catalog", enginetest.Catalog, "--schema", enginetest.Schema}, &out, &errOut)
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		t.Fatalf("the demo of 4s did not end within 90s") // the demo still writes to out and errOut
	}
	t.Logf("demo ended: %v\nstdout: %s", err, out.String())
	if ctx.Err() != nil {
		t.Errorf("the demo ended only when its context did")
	}
	if err == nil || !strings.Contains(err.Error(), "stopped before the engine answered") {
		t.Errorf("demo error = %v, want the workers to say they stopped before the engine answered", err)
	}
}
