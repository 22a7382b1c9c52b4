// Package wstest holds test helpers shared by sluice's packages.
package wstest

import (
	"bytes"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// Pipe returns the two ends of an in-memory connection. Unlike net.Pipe,
// writes never wait for the other side to read: each direction buffers
// without bound, so a test can write from inside a read callback without
// deadlocking. Deadlines work as on a TCP connection, and closing one end
// gives the other io.EOF after it has read what was sent.
func Pipe() (net.Conn, net.Conn) {
	ab, ba := newHalf(), newHalf()
	a := &conn{rd: ba, wr: ab, local: addr("pipe-a"), remote: addr("pipe-b")}
	b := &conn{rd: ab, wr: ba, local: addr("pipe-b"), remote: addr("pipe-a")}
	return a, b
}

type addr string

func (a addr) Network() string { return "wstest" }
func (a addr) String() string  { return string(a) }

// half is one direction of a pipe.
type half struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	closed bool          // the writer closed
	gone   bool          // the reader closed
	signal chan struct{} // poked on every change
}

func newHalf() *half { return &half{signal: make(chan struct{}, 1)} }

func (h *half) poke() {
	select {
	case h.signal <- struct{}{}:
	default:
	}
}

type conn struct {
	rd, wr        *half
	local, remote net.Addr

	dmu           sync.Mutex
	readDeadline  time.Time
	writeDeadline time.Time
}

func (c *conn) Read(p []byte) (int, error) {
	for {
		c.rd.mu.Lock()
		switch {
		case c.rd.gone:
			c.rd.mu.Unlock()
			return 0, net.ErrClosed
		case c.rd.buf.Len() > 0:
			n, _ := c.rd.buf.Read(p)
			c.rd.mu.Unlock()
			return n, nil
		case c.rd.closed:
			c.rd.mu.Unlock()
			return 0, io.EOF
		}
		c.rd.mu.Unlock()
		if len(p) == 0 {
			return 0, nil
		}
		c.dmu.Lock()
		dl := c.readDeadline
		c.dmu.Unlock()
		var timeout <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, os.ErrDeadlineExceeded
			}
			t := time.NewTimer(d)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-c.rd.signal:
		case <-timeout:
			return 0, os.ErrDeadlineExceeded
		}
	}
}

func (c *conn) Write(p []byte) (int, error) {
	c.dmu.Lock()
	dl := c.writeDeadline
	c.dmu.Unlock()
	if !dl.IsZero() && !time.Now().Before(dl) {
		return 0, os.ErrDeadlineExceeded
	}
	c.wr.mu.Lock()
	defer c.wr.mu.Unlock()
	if c.wr.closed {
		return 0, net.ErrClosed
	}
	if c.wr.gone {
		return 0, io.ErrClosedPipe
	}
	c.wr.buf.Write(p)
	c.wr.poke()
	return len(p), nil
}

func (c *conn) Close() error {
	c.wr.mu.Lock()
	already := c.wr.closed
	c.wr.closed = true
	c.wr.poke()
	c.wr.mu.Unlock()
	c.rd.mu.Lock()
	c.rd.gone = true
	c.rd.poke()
	c.rd.mu.Unlock()
	if already {
		return net.ErrClosed
	}
	return nil
}

func (c *conn) LocalAddr() net.Addr  { return c.local }
func (c *conn) RemoteAddr() net.Addr { return c.remote }

func (c *conn) SetDeadline(t time.Time) error {
	c.dmu.Lock()
	c.readDeadline, c.writeDeadline = t, t
	c.dmu.Unlock()
	c.rd.poke()
	return nil
}

func (c *conn) SetReadDeadline(t time.Time) error {
	c.dmu.Lock()
	c.readDeadline = t
	c.dmu.Unlock()
	c.rd.poke()
	return nil
}

func (c *conn) SetWriteDeadline(t time.Time) error {
	c.dmu.Lock()
	c.writeDeadline = t
	c.dmu.Unlock()
	return nil
}
