package main

import "errors"

// Errors of the sluice command. main prints them after "sluice: ", so
// they carry no prefix of their own.
var (
	// errUsage reports a command-line mistake. The message has already
	// been printed, with the usage, so main only sets the exit status 2.
	errUsage = errors.New("usage error")
	// errHelp reports that -h or help printed the usage: exit status 0.
	errHelp = errors.New("help requested")
	// errUncleanClose reports a connection that dial saw end other than
	// with a completed closing handshake with code 1000 (or no code):
	// the server closed with an error code, or the connection dropped.
	errUncleanClose = errors.New("connection did not close cleanly")
	// errServerClosed reports that the server ended a connection of
	// sluice bench in the middle of a run: with a close frame (the
	// error says which code) or by dropping the TCP connection.
	errServerClosed = errors.New("server closed the connection during the run")
	// errProcUnavailable reports that sluice bench cannot sample the
	// server's CPU time and RSS on this system: it reads them from
	// Linux's /proc.
	errProcUnavailable = errors.New("server CPU and RSS need Linux's /proc, not available on this system")
	// errBenchHandshake reports that the server refused or botched the
	// opening handshake of sluice bench.
	errBenchHandshake = errors.New("handshake failed")
	// errConformance reports that conform found cases the server failed.
	errConformance = errors.New("the server does not conform")
	// errAutobahn reports that autobahn-client could not complete a run
	// with the fuzzing server.
	errAutobahn = errors.New("autobahn run incomplete")
)
