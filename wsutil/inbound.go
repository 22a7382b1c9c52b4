package wsutil

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/sluice-ws/sluice/ws"
)

// readLoop is the reading goroutine: it owns the Reader and the Inbound
// channel, which it closes on exit.
func (c *Conn) readLoop() {
	defer c.exit()
	defer c.closeInbound()
	r := NewReaderSize(&c.nc, c.side, withDefault(c.cfg.ReadBufferSize, DefaultReadBufferSize))
	r.preload(c.hs.Buffered)
	r.MaxMessageSize = c.cfg.MaxMessageSize
	r.MaxFrameSize = c.cfg.MaxFrameSize
	r.SkipUTF8 = c.cfg.SkipUTF8
	r.Extension = c.recv
	r.OnControl = c.onControl
	for {
		var m Message
		var err error
		if c.cfg.FrameMode {
			m, err = readFrameMessage(r)
		} else {
			m.OpCode, m.Payload, err = r.ReadMessage(nil)
		}
		if err != nil {
			c.readEnd(err)
			return
		}
		c.msgsIn.Add(1)
		select {
		case c.in <- m:
			continue
		default:
		}
		// The application is behind: stop reading (TCP flow control
		// slows the peer) and keep keepalive from counting the wait.
		c.delivering.Store(true)
		c.deliver(m)
		c.nc.touch() // before clearing delivering: keepalive reads them in the other order
		c.delivering.Store(false)
		if c.stopped.Load() {
			return
		}
	}
}

// deliver waits for room in Inbound. While the connection closes, an
// application that takes no message for closeLinger is taken to have
// stopped reading: its messages are dropped from then on, so that the
// reader gets to the peer's close frame (RFC 6455 §1.4 lets a closing
// endpoint discard data).
func (c *Conn) deliver(m Message) {
	select {
	case c.in <- m:
		return
	case <-c.closing:
	case <-c.stop:
		return
	}
	if !c.stalled.Load() {
		t := time.NewTimer(closeLinger)
		defer t.Stop()
		select {
		case c.in <- m:
			return
		case <-t.C:
			c.stalled.Store(true)
		case <-c.stop:
			return
		}
	}
	c.dropped.Add(1)
}

// readFrameMessage reads one data frame as a Message, for FrameMode.
func readFrameMessage(r *Reader) (Message, error) {
	h, err := r.NextFrame()
	if err != nil {
		return Message{}, err
	}
	// The header's length is checked against the limit, but memory
	// follows the bytes that arrive (growPayload), not the claim.
	var p []byte
	for {
		if len(p) == cap(p) && r.left > 0 {
			p = growPayload(p, r.left, false, r.maxMessage())
		}
		n, err := r.Read(p[len(p):cap(p)])
		p = p[:len(p)+n]
		if err == io.EOF {
			return Message{OpCode: h.OpCode, Payload: p, Fragment: !h.Fin}, nil
		}
		if err != nil {
			return Message{}, err
		}
	}
}

// onControl handles control frames on the reading goroutine. Replies go
// through the writer, so they never land inside a data frame.
func (c *Conn) onControl(h ws.Header, p []byte) error {
	switch h.OpCode {
	case ws.OpPing:
		if c.cfg.OnPing != nil && !c.cfg.OnPing(p) {
			return nil
		}
		if c.closeSent.Load() {
			return nil
		}
		req := control{op: ws.OpPong, n: uint8(len(p))}
		copy(req.payload[:], p)
		select {
		case c.ctl <- req:
		case <-c.stop:
		}
	case ws.OpPong:
		if c.cfg.OnPong != nil {
			c.cfg.OnPong(p)
		}
		c.pong(p)
	}
	return nil
}

// readEnd decides what the reason the Reader stopped means for the
// connection.
func (c *Conn) readEnd(err error) {
	var ce ws.CloseError
	var pe *ws.ProtocolError
	switch {
	case errors.As(err, &ce):
		// The peer's close frame: a clean close, whoever began it. The
		// answer echoes its code and reason (RFC 6455 §5.5.1); an empty
		// close is answered with an empty close.
		c.setErr(ce)
		c.pendCode, c.pendReason = ce.Code, ce.Reason
		if ce.Code == ws.StatusNoStatusRcvd {
			c.pendCode = 0
		}
		c.closeRecv.Store(true)
		c.beginClosing()
		if c.closeSent.Load() {
			c.closeInbound()
			// The answer to our close. A server closes TCP first
			// (RFC 6455 §7.1.1); a client gives it CloseTimeout.
			if c.side == ws.ServerSide {
				c.shutdown(nil)
				return
			}
			c.drain(withDefault(c.cfg.CloseTimeout, DefaultCloseTimeout))
			return
		}
		// The peer closed first: the writer answers once the
		// application's replies are out (see Inbound) and bounds the rest.
		// readDone first: a Receive that sees the end of Inbound finds
		// the close owed.
		close(c.readDone)
		c.closeInbound()
		c.drain(0)
	case errors.As(err, &pe):
		// The peer broke the protocol: fail the connection with the
		// code the violation calls for (RFC 6455 §7.1.7), once the
		// replies to the messages before it are out, as for a close.
		// Then end our half of TCP and read what the peer still sends
		// until it closes too: closing a socket with unread input would
		// reset it and could destroy our close frame before the peer
		// reads it.
		c.setErr(err)
		c.pendCode, c.pendReason = pe.Code, pe.Reason
		c.beginClosing()
		close(c.readDone)
		c.closeInbound()
		select {
		case <-c.closeSentCh:
			linger := withDefault(c.cfg.CloseTimeout, DefaultCloseTimeout)
			if !c.closeWrite() {
				// The peer cannot see our end of the stream, and a client
				// waits for the server to close: do not wait for its EOF,
				// only long enough to take in its answer.
				linger = min(linger, failLinger)
			}
			c.drain(linger)
		case <-c.stop:
		}
	default:
		if c.stopped.Load() {
			return // we closed the socket; the reason is recorded
		}
		if c.closeSent.Load() && errors.Is(err, os.ErrDeadlineExceeded) {
			err = ErrCloseTimeout
		}
		c.shutdown(errors.Join(ErrAbnormalClosure, err))
	}
}

// drain reads and discards until the peer closes TCP, or timeout passes
// when it is positive, then closes the socket. Frames after a close frame
// carry nothing (RFC 6455 §5.5.1). If our answer to the peer's close is not
// out yet, the writer closes the socket once it is, within its own bounds.
func (c *Conn) drain(timeout time.Duration) {
	if timeout > 0 {
		_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
	}
	var scratch [512]byte
	for {
		if _, err := c.nc.Read(scratch[:]); err != nil {
			break
		}
	}
	// Flag first, then look: the writer sets closeSent first, then looks
	// at peerGone, so one of the two always sees the other.
	c.peerGone.Store(true)
	if c.closeSent.Load() || timeout > 0 {
		c.shutdown(nil)
		return
	}
	<-c.stop
}

// failLinger bounds the wait for the peer's answer after failing a
// connection that cannot be half-closed.
const failLinger = 250 * time.Millisecond

// closeWrite ends our half of the TCP connection when the connection can
// (TCP, TLS, Unix sockets), so the peer reads everything we sent, then EOF.
// It reports whether it could.
func (c *Conn) closeWrite() bool {
	cw, ok := c.nc.Conn.(interface{ CloseWrite() error })
	return ok && cw.CloseWrite() == nil
}

// beginClosing bounds every pending and future write by CloseTimeout, so
// that a peer that stopped reading cannot hold the closing handshake.
func (c *Conn) beginClosing() {
	c.state.CompareAndSwap(int32(StateOpen), int32(StateClosing))
	c.closeMu.Do(func() {
		close(c.closing)
		// Once: a later call must not push the bound further out.
		_ = c.nc.SetWriteDeadline(time.Now().Add(withDefault(c.cfg.CloseTimeout, DefaultCloseTimeout)))
	})
}

// closeInbound closes Inbound once.
func (c *Conn) closeInbound() {
	c.inOnce.Do(func() {
		c.inDone.Store(true)
		close(c.in)
	})
}

// Receive returns the next message from Inbound, waiting until one arrives
// or ctx is done. Once Inbound is closed it returns Err: a ws.CloseError
// after a clean close. A sequential request/response loop written with
// Receive gets its replies out before the Conn answers the peer's close,
// however long they take (within CloseTimeout): once Receive has handed
// out a message, the Conn waits for Receive to reach the end of Inbound
// rather than for a lull in the send queue.
func (c *Conn) Receive(ctx context.Context) (Message, error) {
	select {
	case m, ok := <-c.in:
		if ok {
			c.receiving.Store(true)
			return m, nil
		}
		c.appDoneOnce.Do(func() { close(c.appDone) })
		return Message{}, c.Err()
	case <-ctx.Done():
		return Message{}, ctx.Err()
	}
}
