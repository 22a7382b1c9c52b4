package wstest

import (
	"net"
	"testing"
)

// TCPPair returns the two ends, server first, of a TCP connection on
// 127.0.0.1, for tests that need a real socket's buffers and deadlines.
// Both ends are closed when the test ends.
func TCPPair(t testing.TB) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("wstest: listen: %v", err)
	}
	defer ln.Close()
	type accepted struct {
		nc  net.Conn
		err error
	}
	done := make(chan accepted, 1)
	go func() {
		nc, err := ln.Accept()
		done <- accepted{nc, err}
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("wstest: dial: %v", err)
	}
	a := <-done
	if a.err != nil {
		client.Close()
		t.Fatalf("wstest: accept: %v", a.err)
	}
	t.Cleanup(func() {
		a.nc.Close()
		client.Close()
	})
	return a.nc, client
}
