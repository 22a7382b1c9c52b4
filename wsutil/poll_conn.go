package wsutil

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/gobwas/httphead"
	"github.com/sluice-ws/sluice/internal/bufpool"
	"github.com/sluice-ws/sluice/ws"
)

// PollConn is a WebSocket connection run by a PollServer's event loop.
// Messages arrive through PollHandler.OnMessage and leave through Send;
// control frames, keepalive, the closing handshake, the limits and the
// byte budgets are handled as for a Conn (see Config), with these
// differences, which come from running without a goroutine:
//
//   - Send never waits: a loop must not wait for a slow peer, and a
//     handler runs on a loop. Under OverflowBlock a message that does not
//     fit in the send queue (or in the Budget) is queued all the same, and
//     the connection stops reading until its queue has drained below half
//     of OutboundBytes; TCP then holds the peer back. A further message
//     while one is already beyond the limit is dropped (ErrDropped). A
//     handler that sends to other connections should use OverflowDrop,
//     OverflowClose or OverflowTryAgain.
//   - Close, Drop and Terminate return at once; OnClose and Done tell when
//     the connection has ended.
//   - When the peer closes, the answer leaves right after the replies
//     queued so far: every OnMessage call has returned by then.
//   - Everything queued goes out in order, pongs and pings included.
//
// All methods are safe for concurrent use, from the loop's callbacks or
// from any other goroutine.
type PollConn struct {
	loop *pollLoop
	ep   *pollEndpoint  // the handshake's until the request is routed
	hs   *pollHandshake // what the handshake settled, when it settled anything
	fd   int

	// Owned by the loop.
	ps     ws.Parser
	recv   RecvExtension
	fh     ws.Header // header of the frame being parsed
	fleft  int64     // payload bytes of that frame still to come
	msg    pollMessage
	ctl    *[ws.MaxControlPayload]byte // a control frame arriving in pieces
	hsBuf  *bufpool.Buf                // a request head arriving in pieces
	pend   *bufpool.Buf                // input read but not handled yet, while paused
	wsegs  []pollSeg                   // taken from the queue, being written
	wait   *pollWait                   // waiting for Budget bytes, or holding what the wait brought
	timer  pollTimer
	ctlN   int32
	pendOf int32       // pend.B[pendOf:] is left
	carry  int32       // the first carry bytes left are payload the parser has passed
	woff   int32       // bytes of wsegs[0] already written
	rs     readState   // what the loop does with input
	paused pauseReason // why the loop reads nothing
	flags  pollFlags

	// The peer's address, as an IPv6 (or IPv4-mapped) address and a
	// port; port 0 when the socket has none.
	rport uint16
	rip   [16]byte

	mu          sync.Mutex
	pressure    atomic.Bool   // the send queue is over its limit: the loop stops reading
	phase       phase         // guarded by mu
	recvClose   bool          // guarded by mu; the peer's close frame has arrived
	failing     bool          // guarded by mu; our close frame fails the connection
	dropOnSent  bool          // guarded by mu; close the socket once our close frame is out
	closeCalled bool          // guarded by mu; Close or Drop was called
	killed      bool          // guarded by mu; Terminate, or Send failed: the loop closes the socket
	ended       bool          // guarded by mu; the socket is closed
	q           pollQueue     // guarded by mu
	send        SendExtension // guarded by mu
	err         error         // guarded by mu; why the connection ended
	done        chan struct{} // guarded by mu; made on demand

	counters
}

// pollFlags are a connection's flags owned by its loop.
type pollFlags struct {
	readble bool // the socket may hold input: no short read since the last edge
	hup     bool // the peer has ended its side, or the socket has an error
	blocked bool // the socket's send buffer is full: wait for EPOLLOUT
	opened  bool // the handshake succeeded: OnClose is owed
	later   bool // on the loop's list to read again next turn
}

// readState is what the loop does with input.
type readState uint8

const (
	rsHandshake readState = iota // the request head
	rsFrames                     // frames
	rsDrain                      // discard until the peer closes: we failed the connection
	rsStopped                    // nothing: the peer has closed, or the socket is closed
)

// pauseReason is why the loop reads nothing from a connection.
type pauseReason uint8

const (
	pauseOutput pauseReason = 1 << iota // the send queue is over its limit
	pauseBudget                         // waiting for Budget bytes
)

// pollHandshake is what a handshake settled, kept only when it settled
// something: most connections negotiate nothing, and carry no room for it.
type pollHandshake struct {
	protocol   string
	extensions []httphead.Option
}

// Protocol returns the negotiated subprotocol, or "".
func (c *PollConn) Protocol() string {
	if c.hs == nil {
		return ""
	}
	return c.hs.protocol
}

// Extensions returns the extensions the handshake accepted.
func (c *PollConn) Extensions() []httphead.Option {
	if c.hs == nil {
		return nil
	}
	return c.hs.extensions
}

// RemoteAddr returns the peer's address: a *net.TCPAddr on TCP, nil on
// other sockets.
func (c *PollConn) RemoteAddr() net.Addr {
	if c.rport == 0 {
		return nil
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom16(c.rip).Unmap(), c.rport))
}

// setRemote records the peer's address.
func (c *PollConn) setRemote(a netip.AddrPort) {
	if a.IsValid() {
		c.rip, c.rport = a.Addr().As16(), a.Port()
	}
}

// Err returns why the connection ended, or nil while it is open, as
// Conn.Err does: a ws.CloseError after a closing handshake, an error
// matching ErrAbnormalClosure without one, the *ws.ProtocolError the peer
// caused, or ErrQueueFull.
func (c *PollConn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// setErrLocked records the first reason the connection ends.
func (c *PollConn) setErrLocked(err error) {
	if c.err == nil {
		c.err = err
	}
}

// State returns the connection's state.
func (c *PollConn) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.ended:
		return StateClosed
	case c.phase == phaseOpen:
		return StateOpen
	}
	return StateClosing
}

// Done returns a channel that is closed once the connection has ended and
// its socket is closed.
func (c *PollConn) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.ended {
			close(c.done)
		}
	}
	return c.done
}

// Buffered returns how many payload bytes wait in the send queue.
func (c *PollConn) Buffered() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.q.payload
}

// Stats returns the connection's counters.
func (c *PollConn) Stats() Stats { return c.counters.stats() }

// Send queues m for sending; m.OpCode must be ws.OpText or ws.OpBinary. It
// never waits (see PollConn): when the send queue is full or the Budget
// is spent it follows Config.Overflow, OverflowBlock queueing one message
// beyond the limit and stopping the connection's reading until the queue
// drains. It returns ctx.Err() when ctx is done already, an error
// matching net.ErrClosed once the connection is closing or closed,
// ErrDropped, or ErrQueueFull. A nil error means queued: set m.Done to
// learn when it has been written. A payload received in OnMessage may be
// sent as it is; any other payload must not change until written.
func (c *PollConn) Send(ctx context.Context, m Message) error {
	if m.OpCode != ws.OpText && m.OpCode != ws.OpBinary {
		return ErrOpCode
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase != phaseOpen {
		return errClosed
	}
	cfg := &c.ep.cfg
	need := c.q.costLocked(m)
	room := c.q.bytes == 0 || c.q.bytes+need <= cfg.OutboundBytes
	if !room || !cfg.Budget.tryAcquire(need) {
		switch {
		case cfg.Overflow == OverflowDrop, cfg.Overflow == OverflowBlock && (c.q.forced || c.q.bytes > cfg.OutboundBytes):
			c.dropped.Add(1)
			return ErrDropped
		case cfg.Overflow != OverflowBlock:
			code := ws.StatusPolicyViolation
			if cfg.Overflow == OverflowTryAgain {
				code = ws.StatusTryAgainLater
			}
			c.setErrLocked(ErrQueueFull)
			c.failAheadLocked(closeFrame{code, "send queue full"}, false)
			return ErrQueueFull
		}
		// OverflowBlock: queue it beyond the limit and stop reading.
		c.q.forced = room // the Budget, not the queue, refused it
		cfg.Budget.force(need)
		c.pressure.Store(true)
	}
	c.q.credit = need
	err := c.encodeLocked(m)
	c.settleCreditLocked()
	if err != nil {
		c.setErrLocked(errors.Join(ErrAbnormalClosure, err))
		c.killed = true
	} else if c.q.bytes > cfg.OutboundBytes {
		c.pressure.Store(true)
	}
	c.scheduleLocked()
	return err
}

// WriteControl queues a ping or pong with the given payload (at most 125
// bytes) behind what is queued, as Conn.WriteControl does. It never
// waits, so ctx is only checked.
func (c *PollConn) WriteControl(ctx context.Context, op ws.OpCode, payload []byte) error {
	if err := checkControl(ctx, op, payload); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase != phaseOpen {
		return errClosed
	}
	c.controlLocked(op, payload)
	return nil
}

// Close starts the closing handshake: after the messages already queued
// it sends a close frame with code and reason (code 0 sends none), waits
// up to Config.CloseTimeout for the peer's close, then closes the socket.
// It returns at once: OnClose and Done tell when the connection has
// ended, and Err how. The first call does the work; later calls, and
// calls once the connection is closing, return an error matching
// net.ErrClosed.
func (c *PollConn) Close(code ws.StatusCode, reason string) error {
	if err := sendableCode(code); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeCalled || c.phase != phaseOpen {
		return errClosed
	}
	c.closeCalled = true
	c.queueCloseLocked(closeFrame{code, reason})
	return nil
}

// Drop sends a close frame with code and reason ahead of what is queued
// and has not begun to go out, then closes the socket without waiting
// for the peer's answer, as Conn.Drop does. It returns at once. Err then
// matches ErrAbnormalClosure and net.ErrClosed.
func (c *PollConn) Drop(code ws.StatusCode, reason string) error {
	if err := sendableCode(code); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeCalled || c.phase >= phaseSent {
		return errClosed
	}
	c.closeCalled = true
	c.setErrLocked(errors.Join(ErrAbnormalClosure, net.ErrClosed))
	c.failAheadLocked(closeFrame{code, reason}, true)
	return nil
}

// Terminate closes the socket without a closing handshake; the loop does
// it within moments. Err then matches ErrAbnormalClosure and
// net.ErrClosed. Later calls return an error matching net.ErrClosed.
func (c *PollConn) Terminate() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.killed || c.ended {
		return errClosed
	}
	c.killed = true
	c.setErrLocked(errors.Join(ErrAbnormalClosure, net.ErrClosed))
	c.scheduleLocked()
	return nil
}

// sendableCode reports a close code that may not be sent (0: no body).
func sendableCode(code ws.StatusCode) error {
	if code != 0 && !code.ValidOnWire() {
		return fmt.Errorf("wsutil: close code %d may not be sent", code)
	}
	return nil
}

// queueCloseLocked queues our close frame f behind what is queued, unless
// one is queued or sent already.
func (c *PollConn) queueCloseLocked(f closeFrame) {
	if c.phase >= phaseQueued {
		return
	}
	c.phase = phaseQueued
	c.q.closeLocked(c, f)
	c.scheduleLocked()
}

// failAheadLocked sends the close frame f ahead of every message not yet
// begun (a close frame queued before included), which will not be sent,
// and with drop closes the socket right after it.
func (c *PollConn) failAheadLocked(f closeFrame, drop bool) {
	if c.phase >= phaseSent {
		return
	}
	c.dropOnSent = c.dropOnSent || drop
	c.q.discardLocked(c)
	c.phase = phaseQueued
	c.q.closeLocked(c, f)
	c.scheduleLocked()
}

// scheduleLocked asks the loop to write what is queued and to act on
// requests (Terminate), once.
func (c *PollConn) scheduleLocked() {
	if c.q.sched || c.ended {
		return
	}
	c.q.sched = true
	c.loop.schedule(c)
}

// peerClosed handles the peer's close frame (loop): the answer echoes its
// code and reason (RFC 6455 §5.5.1), an empty close an empty close, right
// after the replies queued so far. A server closes TCP once it is out
// (§7.1.1); when our close went first, the handshake is complete.
func (c *PollConn) peerClosed(code ws.StatusCode, reason string) {
	c.rs = rsStopped
	c.msg.release(c)
	c.mu.Lock()
	c.setErrLocked(ws.CloseError{Code: code, Reason: reason})
	c.recvClose = true
	echo := closeFrame{code, reason}
	if code == ws.StatusNoStatusRcvd {
		echo = closeFrame{}
	}
	c.queueCloseLocked(echo)
	sent := c.phase >= phaseSent
	c.mu.Unlock()
	if sent {
		c.finish(nil)
	}
}

// fail fails the connection after a violation (loop): err carries the close
// code. Our close frame follows the replies queued so far; then we end our
// half of TCP and discard what the peer still sends until it closes too
// (see closeWritten).
func (c *PollConn) fail(err error) {
	var pe *ws.ProtocolError
	if !errors.As(err, &pe) {
		c.finish(errors.Join(ErrAbnormalClosure, err))
		return
	}
	c.rs = rsDrain
	// What was read is discarded: its Budget bytes go back now, not
	// after the drain, so that the connections still waiting for them
	// (a refusal by the deadlock breaking, say) go on at once.
	c.msg.release(c)
	c.releaseInput()
	c.paused = 0 // draining reads whatever happens
	c.endWait()
	c.mu.Lock()
	c.setErrLocked(err)
	c.failing = true
	sent := c.phase >= phaseSent
	c.queueCloseLocked(closeFrame{pe.Code, pe.Reason})
	c.mu.Unlock()
	if sent {
		c.drain()
	}
}

// closeWritten runs once our close frame is on the wire (loop).
func (c *PollConn) closeWritten() {
	c.mu.Lock()
	c.phase = phaseSent
	done := c.recvClose || c.dropOnSent
	failing := c.failing
	c.mu.Unlock()
	switch {
	case done:
		c.finish(nil)
	case failing:
		c.drain()
	default:
		// Wait for the peer's answer, CloseTimeout at most.
		c.timer.closeAt = c.loop.now + c.ep.cfg.CloseTimeout
		c.rearm()
	}
}

// drain ends our half of TCP, so that the peer reads our close frame and
// then EOF, and discards its input until it closes its half or
// CloseTimeout passes: closing the socket with unread input would reset
// the connection and could destroy the close frame before the peer reads
// it.
func (c *PollConn) drain() {
	c.rs = rsDrain
	sysShutdownWrite(c.fd)
	c.timer.closeAt = c.loop.now + c.ep.cfg.CloseTimeout
	c.rearm()
	c.pump()
}

// finish closes the socket and settles everything (loop): err, when not
// nil and nothing came first, is why the connection ended.
func (c *PollConn) finish(err error) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	if err != nil {
		c.setErrLocked(err)
	}
	c.ended = true
	c.phase = phaseDone
	c.q.abandonLocked(c)
	if c.done != nil {
		close(c.done)
	}
	c.mu.Unlock()
	c.abandonWriting()
	c.rs = rsStopped
	c.msg.release(c)
	c.releaseInput()
	c.endWait()
	c.loop.forget(c)
	if h := c.ep.h; c.flags.opened && h.OnClose != nil {
		h.OnClose(c)
	}
}

// errPollWait reports that the Budget has no room yet: the loop waits.
var errPollWait = errors.New("wsutil: waiting for the budget")
