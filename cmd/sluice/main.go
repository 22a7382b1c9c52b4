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
//
// This build keeps serve's rooms in the process. The same command with
// serve -nats, whose /chat room spans every node on one NATS server or
// cluster, is github.com/sluice-ws/sluice/wsnats/cmd/sluice, in the module
// that links NATS in (docs/scale-out.md).
package main

import (
	"os"

	"github.com/sluice-ws/sluice/internal/cli"
)

func main() {
	os.Exit(cli.Main(cli.Options{}))
}
