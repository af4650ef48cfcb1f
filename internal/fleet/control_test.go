package fleet_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/fleet"
)

// The parent's commands move the workers between modes: once a mode is
// acknowledged, only that mode's count grows, and idle workers run
// nothing; counts answer with the sequence number asked.
func TestCommandsModes(t *testing.T) {
	srv, err := enginetest.NewServer(enginetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	reports := make(chan fleet.Report, 1024)
	cmds := make(chan string)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var runErr error
	wg.Go(func() {
		_, runErr = fleet.Run(ctx, fleet.Config{
			Client:   client.Config{Addr: srv.Addr(), Catalog: enginetest.Catalog, Schema: enginetest.Schema},
			Query:    "SELECT * FROM demo.numbers LIMIT 10",
			Workers:  3,
			Commands: cmds,
		}, stop, func(r fleet.Report) { reports <- r })
	})
	defer func() {
		close(stop)
		wg.Wait()
		if runErr != nil {
			t.Errorf("Run: %v", runErr)
		}
	}()
	await := func(event string, seq uint64) fleet.Report {
		t.Helper()
		for {
			select {
			case r := <-reports:
				if r.Event == "failed" {
					t.Fatalf("failed: %s", r.Error)
				}
				if r.Event == event && r.Seq == seq {
					return r
				}
			case <-ctx.Done():
				t.Fatalf("no %s report %d", event, seq)
			}
		}
	}
	var seq uint64
	send := func(verb string, args ...string) fleet.Report {
		t.Helper()
		seq++
		line := verb + " " + strconv.FormatUint(seq, 10)
		if verb == "mode" {
			line = verb + " " + args[0] + " " + strconv.FormatUint(seq, 10) + " " + strings.Join(args[1:], " ")
		}
		select {
		case cmds <- line:
		case <-ctx.Done():
			t.Fatal("command not taken")
		}
		return await(verb, seq)
	}
	await("ready", 0)
	for _, m := range []struct {
		name   string
		index  int
		colour string
	}{{"bare", 2, "blue"}, {"memory", 1, ""}, {"coordinated", 0, ""}} {
		if r := send("mode", m.name, m.colour); r.Mode != m.name {
			t.Fatalf("mode report %+v, want %s", r, m.name)
		}
		first := send("count").Counts
		for {
			now := send("count").Counts
			for i := range now {
				if i != m.index && now[i] != first[i] {
					t.Fatalf("in mode %s, count %d went from %d to %d", m.name, i, first[i], now[i])
				}
			}
			if now[m.index] > first[m.index]+5 {
				break
			}
		}
	}
	send("mode", "idle")
	a, b := send("count").Counts, send("count").Counts
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("idle, count %d went from %d to %d", i, a[i], b[i])
		}
	}
}
