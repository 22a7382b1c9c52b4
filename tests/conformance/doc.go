// Package conformance runs sluice's RFC 6455 and RFC 7692 conformance
// suite (package internal/conform, which `sluice conform` runs too) against
// the real `sluice serve` command. It has no API; everything is in the
// _test.go file.
//
// # Running
//
//	go test -race ./tests/conformance/
//
// TestMain builds cmd/sluice once (`go build`, with -race when the tests have
// it, so that a data race in the server fails the run) and starts two
// servers per mode as child processes on 127.0.0.1:0: `sluice serve` with
// its defaults (64 MiB messages, permessage-deflate on) and one with
// `-max-message 1024` for the limits section. The modes are "serve" (a
// goroutine per connection) and, on Linux, "poll" (`sluice serve -poll`,
// the event loops of wsutil.PollServer). All log at debug level; the
// address is parsed from the listening line. At the end they get SIGTERM and
// must exit with status 0 (their process group is killed otherwise). When a
// case fails, the server's log lines about that case's connection go to the
// test log.
//
// TestConformance/<mode>/<section>/<case> runs every case over its own connection,
// in parallel: at most -test.parallel at once, 8 when the command line does
// not set that flag, since the cases wait on the network rather than the
// CPU. Every wait that only a hang can reach ends at the run's deadline
// (go test -timeout; internal/wstest); the server must close TCP within 2 s
// of its close frame, scaled by SLUICE_TEST_SLOWDOWN or the machine's load.
// A case sluice serve skips (it declined permessage-deflate) fails.
//
// To run the same cases against a server that is already running:
//
//	SLUICE_CONFORMANCE_URL=ws://127.0.0.1:8080/echo go test ./tests/conformance/
//
// The limits section then needs SLUICE_CONFORMANCE_LIMIT_URL, the echo
// endpoint of a server whose message limit is 1 KiB, and is skipped
// without it. `sluice conform URL` does the same from the command line
// (docs/conformance.md).
package conformance
