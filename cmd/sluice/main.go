// Command sluice is the toolkit's companion tool: a demo WebSocket server
// that doubles as the model of a production setup (serve), an interactive
// client in the spirit of wscat and websocat (dial), a load generator that
// measures an echo server (bench), and two conformance tools: the RFC
// 6455/7692 suite against any server (conform), and the sluice client as
// the testee of an Autobahn fuzzing server (autobahn-client).
//
// Usage:
//
//	sluice serve [flags]                run the echo and chat server
//	sluice dial [flags] URL             talk to a WebSocket server from a terminal
//	sluice bench [flags] URL            load an echo server and measure it
//	sluice conform [flags] URL          run the RFC 6455/7692 conformance suite against a server
//	sluice autobahn-client [flags] URL  run the sluice client against an Autobahn fuzzing server
//	sluice help [command]               print the usage of a command
//
// docs/serve.md, docs/dial.md and docs/bench.md describe the first three in
// full, docs/conformance.md the other two.
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
	// SIGINT and SIGTERM cancel ctx: serve shuts down gracefully, dial
	// closes its connection. A second signal kills the process, since stop
	// restores the default handling once the first has arrived.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
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
	run     func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

// commands lists the subcommands in the order usage prints them.
var commands = []command{
	{"serve", "run the demo echo and chat server", runServe},
	{"dial", "talk to a WebSocket server from the terminal", runDial},
	{"bench", "load a WebSocket echo server and measure it", runBench},
	{"conform", "run the RFC 6455/7692 conformance suite against a server", runConform},
	{"autobahn-client", "run the sluice client against an Autobahn fuzzing server", runAutobahnClient},
}

// run runs the sluice command line args (without the program name),
// reading from stdin and writing to stdout and stderr. Cancelling ctx
// stops the command gracefully: serve shuts down, dial closes its
// connection. It returns an error matching errUsage after a command-line
// mistake (already reported on stderr) and errHelp when help was asked for.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
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
				return c.run(ctx, []string{"-h"}, stdin, stdout, stderr)
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
	return c.run(ctx, rest, stdin, stdout, stderr)
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
