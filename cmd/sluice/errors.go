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
	// errConformance reports that conform found cases the server failed.
	errConformance = errors.New("the server does not conform")
	// errAutobahn reports that autobahn-client could not complete a run
	// with the fuzzing server.
	errAutobahn = errors.New("autobahn run incomplete")
)
