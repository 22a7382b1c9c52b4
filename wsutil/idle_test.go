package wsutil

import (
	"bytes"
	"context"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
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

// TestMessageArrivesInOneRead checks that between the messages of a busy
// connection the reader waits with a buffer that takes a 1 KiB message in
// whole: one read per message. Waiting with its small array, it took a
// read for the header and another for the rest, a system call more per
// message than a peer library with a 4 KiB buffer makes.
func TestMessageArrivesInOneRead(t *testing.T) {
	srv, cli := wstest.Pipe()
	defer cli.Close()
	counted := &readCounter{Conn: srv}
	c, err := NewConn(counted, ws.ServerSide, ws.Handshake{}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Terminate()
	payload := bytes.Repeat([]byte("x"), 1<<10)
	for i := range 4 {
		before := counted.reads.Load()
		_ = cli.SetWriteDeadline(wstest.Deadline(t))
		if err := ws.WriteFrame(cli, ws.NewBinaryFrame(payload).Masked([4]byte{1, 2, 3, 4})); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-c.Inbound():
			if !bytes.Equal(m.Payload, payload) {
				t.Fatalf("message %d: got %d bytes, not the payload", i, len(m.Payload))
			}
			m.Release()
		case <-wstest.After(t):
			t.Fatalf("message %d was not delivered", i)
		}
		// The first message finds the connection idle, waiting with its
		// small array; the reader is busy from then on.
		if got := counted.reads.Load() - before; i > 0 && got != 1 {
			t.Errorf("message %d took %d reads, want 1", i, got)
		}
	}
}

// readCounter counts the reads of a net.Conn that returned bytes.
type readCounter struct {
	net.Conn
	reads atomic.Int64
}

func (r *readCounter) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	if n > 0 {
		r.reads.Add(1)
	}
	return n, err
}
