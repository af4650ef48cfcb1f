package fleet

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// The modes a process's workers run in, on the parent's command.
const (
	modeCoordinated = iota // the connection of Config: the state in its store
	modeMemory             // a connection on an in-memory store of the process's own
	modeBare               // the bare generated stubs, with a fixed colour
	modeIdle               // no queries
)

var modeNames = [...]string{"coordinated", "memory", "bare", "idle"}

// Commands reads the parent's commands from r, one a line, until r ends;
// stop is closed then. A parent of worker processes writes them to the
// workers' standard input ([Processes.Send]):
//
//	count SEQ              report a "count" event: the queries finished so far in each mode
//	mode NAME SEQ [COLOUR] run the workers in mode NAME (coordinated, memory,
//	                       bare, idle), the bare stubs with COLOUR, and report
//	                       a "mode" event once every worker has finished its
//	                       queries of the mode before
func Commands(r io.Reader) (stop <-chan struct{}, commands <-chan string) {
	s, c := make(chan struct{}), make(chan string, 16)
	go func() {
		defer close(s)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			c <- sc.Text()
		}
		// The rest is not read, so c is left open: Run stops on stop.
	}()
	return s, c
}

// obey carries out one command line.
func obey(ctx context.Context, line string, ctl *control, bare *bareEngine, count func(seq uint64)) error {
	f := strings.Fields(line)
	if len(f) < 2 {
		return fmt.Errorf("fleet: command %q: want a verb and a sequence number", line)
	}
	switch f[0] {
	case "count":
		seq, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return fmt.Errorf("fleet: command %q: %w", line, err)
		}
		count(seq)
		return nil
	case "mode":
		if len(f) < 3 {
			return fmt.Errorf("fleet: command %q: want a mode and a sequence number", line)
		}
		mode := -1
		for i, name := range modeNames {
			if name == f[1] {
				mode = i
			}
		}
		if mode < 0 {
			return fmt.Errorf("fleet: command %q: no mode %q", line, f[1])
		}
		seq, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			return fmt.Errorf("fleet: command %q: %w", line, err)
		}
		if mode == modeBare {
			if len(f) < 4 {
				return fmt.Errorf("fleet: command %q: the bare mode needs a colour", line)
			}
			if err := bare.use(ctx, f[3]); err != nil {
				return err
			}
		}
		ctl.set(mode, seq)
		return nil
	}
	return fmt.Errorf("fleet: command %q: no verb %q", line, f[0])
}

// control is the mode of a process's workers.
type control struct {
	mu      sync.Mutex
	cond    *sync.Cond
	mode    int
	seq     uint64   // of the last mode command
	on      []uint64 // the seq each worker has seen
	caught  int      // workers that have seen seq
	stopped bool
	ack     func(seq uint64, mode int) // called once every worker has seen a mode command
}

func newControl(workers int, ack func(seq uint64, mode int)) *control {
	c := &control{mode: modeCoordinated, on: make([]uint64, workers), caught: workers, ack: ack}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// next returns the mode worker w is to run its next query in, once it is
// not idle; false once stopped.
func (c *control) next(w int) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if c.stopped {
			return 0, false
		}
		if c.on[w] != c.seq {
			c.on[w] = c.seq
			c.caught++
			if c.caught == len(c.on) {
				c.ack(c.seq, c.mode)
			}
		}
		if c.mode != modeIdle {
			return c.mode, true
		}
		c.cond.Wait()
	}
}

// set sets the mode; the workers take it up as they finish their queries.
func (c *control) set(mode int, seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mode, c.seq, c.caught = mode, seq, 0
	if len(c.on) == 0 {
		c.ack(seq, mode)
	}
	c.cond.Broadcast()
}

func (c *control) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	c.cond.Broadcast()
}
