package wsutil

import (
	"errors"
	"os"
	"time"

	"github.com/sluice-ws/sluice/ws"
)

// The closing handshake as the reading goroutine sees it. Reading ends in
// one of four ways, and readEnd takes the goroutine through the rest of
// the connection from there:
//
//   - the peer's close frame (peerClosed): a clean close, whoever began it.
//     If we began, the handshake is complete; if not, we owe the answer,
//     which leaves once the application's replies are queued (answer).
//     Then a server closes TCP and a client waits for the server to
//     (teardown, RFC 6455 §7.1.1);
//   - a protocol violation, a message over its time or over the Budget
//     (failRead): our failing close frame is owed the same way; then we end
//     our half of TCP and read what the peer still sends until it closes
//     too, so that closing the socket with unread input cannot reset the
//     connection and destroy the close frame before the peer reads it;
//   - a read deadline (timedOut): the wait for the peer's close frame or
//     for the rest of a message is over;
//   - any other error: the connection is gone (code 1006).

// closeLinger is how long an application that reads Inbound with a range
// loop and signals nothing must have queued nothing, once it has taken
// every message, before the Conn answers a peer's close on its own.
const closeLinger = 50 * time.Millisecond

// failLinger bounds the wait for the peer's answer after failing a
// connection that cannot be half-closed.
const failLinger = 250 * time.Millisecond

// readEnd decides what the reason the Reader stopped means for the
// connection.
func (c *Conn) readEnd(err error) {
	var ce ws.CloseError
	var pe *ws.ProtocolError
	switch {
	case errors.As(err, &ce):
		c.peerClosed(ce)
	case errors.As(err, &pe):
		c.failRead(err, pe)
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.timedOut(err)
	default:
		c.shutdown(errors.Join(ErrAbnormalClosure, err))
	}
}

// peerClosed handles the peer's close frame.
func (c *Conn) peerClosed(ce ws.CloseError) {
	// The answer echoes the peer's code and reason (RFC 6455 §5.5.1); an
	// empty close is answered with an empty close.
	echo := closeFrame{ce.Code, ce.Reason}
	if ce.Code == ws.StatusNoStatusRcvd {
		echo = closeFrame{}
	}
	c.owe(ce, echo, true)
	c.answer()
	if c.side == ws.ServerSide {
		c.shutdown(nil)
		return
	}
	c.drain(c.cfg.CloseTimeout)
}

// failRead fails the connection after err, whose close code pe carries.
func (c *Conn) failRead(err error, pe *ws.ProtocolError) {
	c.owe(err, closeFrame{pe.Code, pe.Reason}, false)
	c.answer()
	select {
	case <-c.stop:
		return
	default:
	}
	linger := c.cfg.CloseTimeout
	if !c.closeWrite() {
		// The peer cannot see our end of the stream, and a client waits
		// for the server to close: do not wait for its EOF, only long
		// enough to take in its answer.
		linger = min(linger, failLinger)
	}
	c.drain(linger)
}

// timedOut handles a read deadline: the close wait or a message's time.
func (c *Conn) timedOut(err error) {
	c.mu.Lock()
	closeWait := !c.closeDL.IsZero() && !time.Now().Before(c.closeDL)
	c.mu.Unlock()
	switch {
	case closeWait:
		c.shutdown(errors.Join(ErrAbnormalClosure, ErrCloseTimeout))
	case c.cfg.MessageTimeout > 0:
		c.failRead(ErrMessageTimeout, ErrMessageTimeout)
	default:
		c.shutdown(errors.Join(ErrAbnormalClosure, err))
	}
}

// owe records why reading ended (recv: on the peer's close frame) and,
// unless our close frame is already on its way, the close frame we owe. It
// ends Inbound, so that the application learns of the close while its
// replies may still go out.
func (c *Conn) owe(err error, f closeFrame, recv bool) {
	c.mu.Lock()
	c.setErrLocked(err)
	c.recvClose = recv
	if c.phase == phaseOpen {
		c.phase = phaseOwed
		c.owed = f
		c.limitWritesLocked()
	}
	c.mu.Unlock()
	c.closeInbound()
}

// answer sends the close frame we owe once the application is done with
// its replies, and waits until it has left (or the connection ended).
func (c *Conn) answer() {
	c.waitForApp()
	c.mu.Lock()
	c.queueCloseLocked(closeFrame{}) // the owed frame, unless one is queued
	sent := c.sentSignalLocked()
	c.mu.Unlock()
	select {
	case <-sent:
	case <-c.stop:
	}
}

// waitForApp waits until the application has queued its last reply: it
// says so (appDone), or, reading with a range loop, it has taken every
// message and queued nothing for closeLinger; at most CloseTimeout. With
// OnMessage there is nothing to wait for: every call has returned.
func (c *Conn) waitForApp() {
	if c.cfg.OnMessage != nil {
		return
	}
	limit := time.NewTimer(c.cfg.CloseTimeout)
	defer limit.Stop()
	look := time.NewTimer(closeLinger)
	defer look.Stop()
	seen := c.queuedCount()
	for {
		select {
		case <-c.appDone:
			return
		case <-c.sentCh:
			return
		case <-c.stop:
			return
		case <-limit.C:
			return
		case <-look.C:
			if !c.appIdle(&seen) {
				look.Reset(closeLinger)
				continue
			}
			return
		}
	}
}

// appIdle reports whether an application reading with a range loop is
// done: it has taken every message and queued nothing since seen, which
// appIdle moves on. Receive reports its own end.
func (c *Conn) appIdle(seen *uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	idle := !c.receiving && len(c.in) == 0 && len(c.inq.pending) == 0 && c.q.queued == *seen
	*seen = c.q.queued
	return idle
}

// queuedCount returns how many messages have been queued so far.
func (c *Conn) queuedCount() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.q.queued
}

// drain reads and discards until the peer closes TCP or timeout passes,
// then closes the socket. Frames after a close frame carry nothing
// (RFC 6455 §5.5.1).
func (c *Conn) drain(timeout time.Duration) {
	c.mu.Lock()
	c.readDL = time.Now().Add(timeout)
	_ = c.nc.SetReadDeadline(c.readDL)
	c.mu.Unlock()
	scratch := c.r.small[:]
	for {
		if _, err := c.nc.Read(scratch); err != nil {
			break
		}
	}
	c.shutdown(nil)
}

// closeWrite ends our half of the TCP connection when the connection can
// (TCP, TLS, Unix sockets), so the peer reads everything we sent, then EOF.
// It reports whether it could.
func (c *Conn) closeWrite() bool {
	cw, ok := c.nc.(interface{ CloseWrite() error })
	return ok && cw.CloseWrite() == nil
}
