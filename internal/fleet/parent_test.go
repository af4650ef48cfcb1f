package fleet_test

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/e6coord/e6coord/internal/fleet"
)

// workerMode, when set, makes the test binary a worker process that acts
// as its value says.
const workerMode = "FLEET_TEST_WORKER"

const reason = "client: redis: open redis://u:xxxxx@h/0?dial_timeout=xxxxx: invalid dial_timeout duration"

func TestMain(m *testing.M) {
	summary := func(err string) {
		_ = json.NewEncoder(os.Stdout).Encode(fleet.Report{Event: "summary", PID: os.Getpid(), Stats: &fleet.Stats{}, Error: err})
	}
	switch os.Getenv(workerMode) {
	case "":
		goleak.VerifyTestMain(m)
	case "fails": // as Serve does when Run fails
		summary(reason)
		os.Exit(1)
	case "silent": // dies before reporting anything
		os.Exit(3)
	case "clean":
		summary("")
		os.Exit(0)
	}
	os.Exit(2)
}

// Wait names each failed worker with the reason of its summary, or says
// that it gave none; a worker that exited cleanly is not an error.
func TestWaitReportsReasons(t *testing.T) {
	modes := []string{"fails", "silent", "clean"}
	procs, err := fleet.Start(len(modes), func(i int) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), workerMode+"="+modes[i])
		cmd.Stderr = io.Discard
		return cmd
	})
	if err != nil {
		t.Fatal(err)
	}
	procs.Stop()
	summaries := 0
	for r := range procs.Reports() {
		if r.Event == "summary" {
			summaries++
		}
	}
	if summaries != 2 {
		t.Errorf("read %d summaries, want 2", summaries)
	}
	err = procs.Wait()
	if err == nil {
		t.Fatal("Wait() = nil, want the errors of workers 0 and 1")
	}
	msg := err.Error()
	for _, want := range []string{"worker 0: exit status 1: " + reason, "worker 1: exit status 3 before reporting why"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Wait() = %q, want it to hold %q", msg, want)
		}
	}
	if strings.Contains(msg, "worker 2") {
		t.Errorf("Wait() = %q names worker 2, which exited cleanly", msg)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Errorf("Wait() = %v, want it to wrap the *exec.ExitError", err)
	}
}
