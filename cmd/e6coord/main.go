// Command e6coord runs e6coord's daemon and tools: the daemon (watch), the
// proxy for clients in any language (proxy), a fake engine, and a
// self-contained demo of a fleet querying an engine that switches colour.
//
//	e6coord demo [flags]          workers query a switching engine; prints each switch and a summary
//	e6coord fake-engine [flags]   serve a fake engine until SIGINT or SIGTERM
//	e6coord status [flags]        print a scope's shared state, read from Redis; exit 3 when degraded
//	e6coord events [flags]        print every change of a scope's shared state until SIGINT or SIGTERM
//	e6coord watch [flags]         keep the fleet's colour confirmed; serve health, metrics and state
//	e6coord proxy [flags]         serve the engine's protocol locally, with the fleet's coordination
//
// Run `e6coord <command> -h` for a command's flags.
package main

import (
	"context"
	"errors"
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
// it on stderr unless the command reported it already: an [exitError]'s
// code, else 1.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code, err = ee.code, ee.err
	}
	if err != nil && err != errFailed {
		fmt.Fprintln(stderr, "e6coord:", err)
	}
	return code
}

// exitError ends a command with exit status code, after printing err
// unless it is nil (the command reported it already).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }
