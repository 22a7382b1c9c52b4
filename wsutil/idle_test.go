package wsutil

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
)

// TestPongBetweenMessagesWaitsIdle checks that a control frame arriving
// between messages sends the reading goroutine back to its idle wait,
// which holds no read buffer and hands over to a goroutine with a minimal
// stack, instead of leaving it blocked inside the Reader until the next
// message: keepalive's pongs arrive that way on every idle connection.
func TestPongBetweenMessagesWaitsIdle(t *testing.T) {
	srv, cli := wstest.Pipe()
	defer cli.Close()
	pongs := make(chan struct{}, 1)
	c, err := NewConn(srv, ws.ServerSide, ws.Handshake{}, Config{
		OnMessage: func(c *Conn, m Message) { _ = c.Send(context.Background(), m) },
		OnPong:    func([]byte) { pongs <- struct{}{} },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Terminate()
	mask := [4]byte{1, 2, 3, 4}
	send := func(f ws.Frame) {
		t.Helper()
		_ = cli.SetWriteDeadline(wstest.Deadline(t))
		if err := ws.WriteFrame(cli, f.Masked(mask)); err != nil {
			t.Fatal(err)
		}
	}
	echo := func(p string) {
		t.Helper()
		send(ws.NewTextFrame([]byte(p)))
		_ = cli.SetReadDeadline(wstest.Deadline(t))
		f, err := ws.ReadFrame(cli, 1<<10)
		if err != nil || string(f.Payload) != p {
			t.Fatalf("echo of %q: %q, %v", p, f.Payload, err)
		}
	}
	echo("before")
	send(ws.NewPongFrame([]byte("beat")))
	select {
	case <-pongs:
	case <-wstest.After(t):
		t.Fatal("the pong was not handled")
	}
	// The reading goroutine is back in its idle wait: the pong did not
	// leave it waiting for the next frame inside the Reader.
	for {
		stacks := allStacks()
		if strings.Contains(stacks, "(*Conn).waitIdle") && !strings.Contains(stacks, "(*Reader).fill") {
			break
		}
		if time.Now().After(wstest.Deadline(t)) {
			t.Fatalf("the reader did not go back to its idle wait:\n%s", stacks)
		}
		time.Sleep(time.Millisecond)
	}
	echo("after")
}

// allStacks returns the stacks of every goroutine.
func allStacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}
