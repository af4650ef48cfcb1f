package main

import (
	"strings"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
)

// `events -o json` prints a snapshot, one change per switch with the
// generation increasing, and a resync with the state re-read after Redis
// is killed and restarted empty on the same port; each line in one Write.
func TestEventsJSON(t *testing.T) {
	cleanEnv(t)
	rs, st := startRedis(t)
	first := write(t, st, cache.State{Active: cache.Blue, ConfirmedAt: time.Now(), ChangedBy: "host-0"})
	c := startCmd(t, append([]string{"events", "-o", "json", "--redis", rs.URL()}, scopeArgs...)...)

	snap := parseState(t, c.next(t))
	if snap.Type != "snapshot" || snap.Generation != first.Generation || snap.Active != "blue" || snap.Status != "healthy" || snap.Time == nil {
		t.Fatalf("first line %+v, want a snapshot of blue at generation %d, with its time", snap, first.Generation)
	}
	if snap.Store.State != "up" || snap.Store.Address != rs.URL() {
		t.Errorf("snapshot store %+v, want up at %s", snap.Store, rs.URL())
	}

	last := snap.Generation
	colour := cache.Blue
	var worst time.Duration
	for i := range 3 {
		colour = colour.Other()
		start := time.Now()
		rec := write(t, st, cache.State{Active: colour, ConfirmedAt: time.Now(), ChangedBy: "host-1"})
		ev := parseState(t, c.next(t))
		worst = max(worst, time.Since(start))
		if ev.Type != "change" || ev.Active != colour.String() || ev.Generation != rec.Generation || ev.Generation <= last || ev.ChangedBy != "host-1" {
			t.Errorf("switch %d: %+v, want a change to %s at generation %d (above %d)", i+1, ev, colour, rec.Generation, last)
		}
		last = ev.Generation
	}
	t.Logf("3 switches: each change printed within %v of its write", worst.Round(time.Millisecond))

	// Redis goes away: events says so on stderr, then resyncs once Redis
	// is back, empty.
	rs.Kill()
	c.stderr.WaitFor(t, "cannot reach the store", 1, inspectWait)
	if !strings.Contains(c.stderr.String(), "level=WARN") {
		t.Errorf("stderr %q: want the retries logged at WARN", c.stderr.String())
	}
	rs.Restart()
	restarted := time.Now() // Restart returns once the server answers PING
	ev := parseState(t, c.next(t))
	t.Logf("resync printed %v after redis-server answered again", time.Since(restarted).Round(time.Millisecond))
	if ev.Type != "resync" || ev.Generation != 0 || ev.Status != "unknown" || ev.Store.State != "up" || ev.Store.LastErrorKind == "" {
		t.Errorf("after the restart: %+v, want a resync of no record (generation 0, unknown), store up after an error", ev)
	}
	// The fleet writes its record back; a generation above the resync's is
	// a change.
	rec := write(t, st, cache.State{Active: colour, Generation: last + 1, ConfirmedAt: time.Now(), ChangedBy: "host-2"})
	if ev := parseState(t, c.next(t)); ev.Type != "change" || ev.Generation != rec.Generation || ev.ChangedBy != "host-2" {
		t.Errorf("after the write-back: %+v, want a change to generation %d by host-2", ev, rec.Generation)
	}

	if code := c.stop(t); code != 0 {
		t.Errorf("exit status %d when interrupted, want 0; stderr:\n%s", code, c.stderr.String())
	}
	select {
	case l := <-c.stdout.lines:
		t.Errorf("unexpected line %q", l)
	default:
	}
}

func TestEventsText(t *testing.T) {
	cleanEnv(t)
	rs, st := startRedis(t)
	write(t, st, cache.State{Active: cache.Blue, Pending: cache.Green, ConfirmedAt: time.Now(), ChangedBy: "host-1"})
	// Each line is stamped when events saw it, by the local clock: after
	// the command started, and before the test read the line.
	started := time.Now().Truncate(time.Millisecond) // the stamps have milliseconds
	c := startCmd(t, append([]string{"events", "--redis", rs.URL()}, scopeArgs...)...)
	for _, want := range []string{" snapshot gen=1 active=blue pending=green by=host-1", " change gen=2 active=green pending=- by=host-2"} {
		l := c.next(t)
		read := time.Now()
		stamp, rest, _ := strings.Cut(l, " ")
		if tm, err := time.Parse("2006-01-02T15:04:05.000Z", stamp); err != nil {
			t.Errorf("line %q does not start with the time in UTC to the millisecond: %v", l, err)
		} else if tm.Before(started) || tm.After(read) {
			t.Errorf("line %q is stamped %v, want a time between the command's start %v and the line's reading %v",
				l, tm, started.UTC(), read.UTC())
		}
		if " "+rest != want {
			t.Errorf("line %q, want <time>%s", l, want)
		}
		if strings.Contains(want, "snapshot") {
			write(t, st, cache.State{Active: cache.Green, ConfirmedAt: time.Now(), ChangedBy: "host-2"})
		}
	}
	if code := c.stop(t); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
}
