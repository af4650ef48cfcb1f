package fleet

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
)

// Processes are worker processes started by a parent, each running [Serve]
// and reporting on its standard output. A worker stops when its standard
// input closes.
type Processes struct {
	procs   []*process
	reports chan Report
	wg      sync.WaitGroup // the readers of the workers' output
}

type process struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser

	// summarised and reason tell whether the worker wrote its summary,
	// and the error it carried. The worker's reader sets them; Wait reads
	// them once the readers are done.
	summarised bool
	reason     string
}

// Start starts n worker processes made by command(i). Their reports arrive
// on Reports, which is closed once every worker has exited; the caller must
// keep reading it.
func Start(n int, command func(i int) *exec.Cmd) (*Processes, error) {
	p := &Processes{reports: make(chan Report, 1024)}
	for i := range n {
		cmd := command(i)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			p.abort()
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			p.abort()
			return nil, err
		}
		if cmd.Stderr == nil {
			cmd.Stderr = os.Stderr
		}
		if err := cmd.Start(); err != nil {
			p.abort()
			return nil, fmt.Errorf("fleet: start worker %d: %w", i, err)
		}
		pr := &process{cmd: cmd, stdin: stdin}
		p.procs = append(p.procs, pr)
		p.wg.Go(func() { p.read(pr, stdout) })
	}
	go func() {
		p.wg.Wait()
		close(p.reports)
	}()
	return p, nil
}

// read forwards the reports of worker pr until its output ends, and notes
// its summary's error.
func (p *Processes) read(pr *process, r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var rep Report
		if err := json.Unmarshal(sc.Bytes(), &rep); err != nil {
			rep = Report{Event: "failed", PID: pr.cmd.Process.Pid, Error: "unreadable report: " + sc.Text()}
		}
		if rep.Event == "summary" {
			pr.summarised, pr.reason = true, rep.Error
		}
		p.reports <- rep
	}
}

// Reports returns the workers' reports, in arrival order.
func (p *Processes) Reports() <-chan Report { return p.reports }

// PIDs returns the process ids of the workers.
func (p *Processes) PIDs() []int {
	pids := make([]int, len(p.procs))
	for i, pr := range p.procs {
		pids[i] = pr.cmd.Process.Pid
	}
	return pids
}

// Send writes line to every worker's standard input, one worker after
// the other: a command of [Commands] for workers that read them.
func (p *Processes) Send(line string) error {
	var errs []error
	for i, pr := range p.procs {
		if _, err := io.WriteString(pr.stdin, line+"\n"); err != nil {
			errs = append(errs, fmt.Errorf("fleet: worker %d: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// Stop asks every worker to finish: queries under way end, and each writes
// its summary.
func (p *Processes) Stop() {
	for _, pr := range p.procs {
		pr.stdin.Close()
	}
}

// Kill kills worker i at once (SIGKILL): it writes nothing more.
func (p *Processes) Kill(i int) error {
	return p.procs[i].cmd.Process.Signal(syscall.SIGKILL)
}

// Wait waits for every worker to exit; Reports must be read meanwhile. It
// returns the errors of those that did not exit cleanly, except workers
// killed by Kill, each with the reason the worker gave in its summary:
// "worker 0: exit status 1: <error>", or "worker 0: exit status 1 before
// reporting why" for a worker that exited without a summary.
func (p *Processes) Wait() error {
	p.wg.Wait() // all output read: only then may cmd.Wait close the pipes
	var errs []error
	for i, pr := range p.procs {
		err := pr.cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
				continue
			}
		}
		switch {
		case err == nil:
		case !pr.summarised:
			errs = append(errs, fmt.Errorf("worker %d: %w before reporting why", i, err))
		case pr.reason != "":
			errs = append(errs, fmt.Errorf("worker %d: %w: %s", i, err, pr.reason))
		default:
			errs = append(errs, fmt.Errorf("worker %d: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// abort kills the workers started so far.
func (p *Processes) abort() {
	for _, pr := range p.procs {
		pr.cmd.Process.Kill()
		pr.cmd.Wait()
	}
}
