package wsutil

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/sluice-ws/sluice/ws"
)

// NetConn returns a net.Conn over c (coder's NetConn, Node ws's
// createWebSocketStream), so that io.Copy, TLS inside WebSocket and
// existing protocols run over it. Each Write sends one message with
// opcode op (a copy of its bytes: the caller may reuse them at once),
// waiting while the send queue is full; Read reads the payloads of the
// messages received, one after the other, as one stream. Read returns
// io.EOF after a clean close (IsCleanClose) and the connection's error
// otherwise. Close runs the closing handshake with 1000.
//
// Deadlines work as on a TCP connection: a Read or Write past its
// deadline returns an error matching os.ErrDeadlineExceeded, which is a
// net.Error whose Timeout is true, and the connection stays usable. A
// Read cut short by its deadline loses nothing: the message stays queued.
// Read must not be called concurrently with Receive or Inbound on c.
func NetConn(c *Conn, op ws.OpCode) net.Conn {
	return &netConn{c: c, op: op, rd: newDeadline(), wd: newDeadline()}
}

type netConn struct {
	c      *Conn
	op     ws.OpCode
	rd, wd *deadline

	rmu  sync.Mutex // serialises Read
	rest []byte     // guarded by rmu; what is left of the message being read
	msg  Message    // guarded by rmu; the message rest belongs to
	rerr error      // guarded by rmu; the error that ended reading
}

func (n *netConn) Read(p []byte) (int, error) {
	n.rmu.Lock()
	defer n.rmu.Unlock()
	for len(n.rest) == 0 {
		if n.rerr != nil {
			return 0, n.rerr
		}
		n.msg.Release()
		m, err := n.c.Receive(n.rd.context())
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return 0, err
			}
			if IsCleanClose(err) {
				err = io.EOF
			}
			n.rerr = err
			return 0, err
		}
		n.msg, n.rest = m, m.Payload
	}
	k := copy(p, n.rest)
	n.rest = n.rest[k:]
	return k, nil
}

func (n *netConn) Write(p []byte) (int, error) {
	ctx := n.wd.context()
	if err := ctx.Err(); err != nil {
		return 0, err // past its deadline, even with room in the queue
	}
	if err := n.c.Send(ctx, Message{OpCode: n.op, Payload: append([]byte(nil), p...)}); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (n *netConn) Close() error {
	err := n.c.Close(ws.StatusNormalClosure, "")
	if IsCleanClose(err) {
		return nil
	}
	return err
}

func (n *netConn) LocalAddr() net.Addr  { return n.c.NetConn().LocalAddr() }
func (n *netConn) RemoteAddr() net.Addr { return n.c.NetConn().RemoteAddr() }

func (n *netConn) SetDeadline(t time.Time) error {
	n.rd.set(t)
	n.wd.set(t)
	return nil
}

func (n *netConn) SetReadDeadline(t time.Time) error  { n.rd.set(t); return nil }
func (n *netConn) SetWriteDeadline(t time.Time) error { n.wd.set(t); return nil }

// deadline is a settable deadline as a context: its Done channel closes
// when the deadline passes, and a new one is made when it moves again
// (net.Pipe's pipeDeadline, with a context face so that Receive and Send
// take it without a goroutine).
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer   // guarded by mu
	cancel chan struct{} // guarded by mu; closed when the deadline passes
}

func newDeadline() *deadline { return &deadline{cancel: make(chan struct{})} }

// set moves the deadline to t; the zero time means none.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer fired: wait for it to have closed cancel
	}
	d.timer = nil
	closed := isClosed(d.cancel)
	if t.IsZero() {
		if closed {
			d.cancel = make(chan struct{})
		}
		return
	}
	if wait := time.Until(t); wait > 0 {
		if closed {
			d.cancel = make(chan struct{})
		}
		cancel := d.cancel
		d.timer = time.AfterFunc(wait, func() { close(cancel) })
		return
	}
	if !closed {
		close(d.cancel)
	}
}

// context returns a context that is done when the deadline passes.
func (d *deadline) context() context.Context {
	d.mu.Lock()
	defer d.mu.Unlock()
	return deadlineContext{d.cancel}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// deadlineContext is a context.Context whose Done is a deadline's channel
// and whose Err, once it is done, is os.ErrDeadlineExceeded: Read and
// Write return it as it is, as a net.Conn does.
type deadlineContext struct{ done <-chan struct{} }

func (deadlineContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c deadlineContext) Done() <-chan struct{}     { return c.done }
func (deadlineContext) Value(any) any               { return nil }

func (c deadlineContext) Err() error {
	select {
	case <-c.done:
		return os.ErrDeadlineExceeded
	default:
		return nil
	}
}
