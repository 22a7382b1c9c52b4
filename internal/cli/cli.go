// Package cli is the sluice command: its subcommands, flags and usage.
// Two builds share it: cmd/sluice, the command of the core module, and
// wsnats/cmd/sluice, the same command with NATS linked in for serve's
// -nats flag (docs/scale-out.md). It is internal: its API is the command
// line, which cmd/sluice documents.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Main runs the sluice command line of the process (os.Args) with opts
// and returns its exit status. SIGINT and SIGTERM cancel the command:
// serve shuts down gracefully, dial closes its connection. A second
// signal kills the process, since the default handling is restored once
// the first has arrived.
func Main(opts Options) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	err := Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, opts)
	stop()
	return exitCode(err, os.Stderr)
}

// exitCode reports err on stderr and returns the process exit status:
// 0 for success and for -h, 2 for a usage error (already explained by the
// flag package), 1 for anything else.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintln(stderr, "sluice:", err)
		return 1
	}
}

// command is one subcommand of sluice.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, opts Options) error
}

// commands lists the subcommands in the order usage prints them.
var commands = []command{
	{"serve", "run the demo echo and chat server", runServe},
	{"dial", "talk to a WebSocket server from the terminal", runDial},
	{"bench", "load a WebSocket echo server and measure it", runBench},
	{"conform", "run the RFC 6455/7692 conformance suite against a server", runConform},
	{"autobahn-client", "run the sluice client against an Autobahn fuzzing server", runAutobahnClient},
}

// Run runs the sluice command line args (without the program name) with
// opts, reading from stdin and writing to stdout and stderr. Cancelling
// ctx stops the command gracefully: serve shuts down, dial closes its
// connection. It returns an error matching errUsage after a command-line
// mistake (already reported on stderr) and errHelp when help was asked for.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, opts Options) error {
	if len(args) == 0 {
		usage(stderr)
		return errUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 {
			// "sluice help serve" is "sluice serve -h".
			if c, ok := lookup(rest[0]); ok {
				return c.run(ctx, []string{"-h"}, stdin, stdout, stderr, opts)
			}
		}
		usage(stdout)
		return errHelp
	}
	c, ok := lookup(name)
	if !ok {
		fmt.Fprintf(stderr, "sluice: unknown command %q\n\n", name)
		usage(stderr)
		return errUsage
	}
	return c.run(ctx, rest, stdin, stdout, stderr, opts)
}

// run is Run with the core build's options: what the tests of this
// package call.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return Run(ctx, args, stdin, stdout, stderr, Options{})
}

func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: sluice <command> [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "sluice <command> -h" for the flags of a command.`)
}
