// Command e6coord runs e6coord's daemon and tools: a fake engine, and a
// self-contained demo of a fleet querying an engine that switches colour.
//
//	e6coord demo [flags]          workers query a switching engine; prints each switch and a summary
//	e6coord fake-engine [flags]   serve a fake engine until SIGINT or SIGTERM
//
// Run `e6coord <command> -h` for a command's flags.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if err != errFailed {
			fmt.Fprintln(os.Stderr, "e6coord:", err)
		}
		os.Exit(1)
	}
}
