// Command e6coord runs e6coord's daemon and tools: the daemon (watch), a
// fake engine, and a self-contained demo of a fleet querying an engine
// that switches colour.
//
//	e6coord demo [flags]          workers query a switching engine; prints each switch and a summary
//	e6coord fake-engine [flags]   serve a fake engine until SIGINT or SIGTERM
//	e6coord watch [flags]         keep the fleet's colour confirmed; serve health, metrics and state
//
// Run `e6coord <command> -h` for a command's flags.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode returns the exit status for the error of run, after printing
// it on stderr unless the command reported it already.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	if err != errFailed {
		fmt.Fprintln(stderr, "e6coord:", err)
	}
	return 1
}
