// Package natstest starts embedded NATS servers on 127.0.0.1 for the
// tests of this module.
package natstest

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
)

// Start starts an embedded NATS server on 127.0.0.1: on a random port
// for port 0, or on port, such as to restart a stopped one there. It is
// shut down at the end of the test, if not before.
func Start(t testing.TB, port int) *server.Server {
	t.Helper()
	if port == 0 {
		port = -1
	}
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	require.NoError(t, err)
	s.Start()
	require.True(t, s.ReadyForConnections(time.Until(wstest.RunDeadline())), "NATS ready")
	t.Cleanup(func() { Stop(s) })
	return s
}

// Stop shuts s down and waits until it has.
func Stop(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}

// Port returns the port s listens on.
func Port(t testing.TB, s *server.Server) int {
	t.Helper()
	_, port, err := net.SplitHostPort(s.Addr().String())
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	return p
}
