package wsutil

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/sluice-ws/sluice/ws"
)

// closeLinger is how long the send queue must stay empty, after reading
// ended on the peer's close or a violation and the application drained
// Inbound, before the Conn sends its close frame on its own. It is also how
// long a closing Conn waits for an application that takes no message.
const closeLinger = 50 * time.Millisecond

// writeLoop is the writing goroutine: every byte to the socket goes
// through it. It writes as long as work is queued and flushes only before
// it would block, so a burst of messages leaves in one system call.
func (c *Conn) writeLoop() {
	defer c.exit()
	bw := bufio.NewWriterSize(&c.nc, withDefault(c.cfg.WriteBufferSize, DefaultWriteBufferSize))
	w := writerState{c: c, bw: bw, out: c.out}
	defer w.abandon()
	w.closeTimer = newStoppedTimer()
	defer w.closeTimer.Stop()
	linger := newStoppedTimer()
	defer linger.Stop()
	var lingerWait <-chan time.Time
	var lastMessage time.Time // when the last message left the queue

	var tick <-chan time.Time
	var pongWait <-chan time.Time
	var pingSent time.Duration // on the connection's monotonic clock
	if c.cfg.PingInterval > 0 {
		t := time.NewTicker(c.cfg.PingInterval)
		defer t.Stop()
		tick = t.C
	}
	pongTimer := newStoppedTimer()
	defer pongTimer.Stop()

	readDone, appDone := c.readDone, c.appDone
	for {
		// A failure goes first, then control frames, ahead of messages.
		select {
		case req := <-c.fail:
			if !w.control(req) {
				return
			}
			continue
		case req := <-c.ctl:
			if !w.control(req) {
				return
			}
			continue
		default:
		}
		// Then queued messages, without the cost of the full select.
		if w.out != nil {
			select {
			case m, ok := <-w.out:
				lastMessage = time.Now()
				if !w.dequeued(m, ok) {
					return
				}
				continue
			default:
			}
		}
		// Nothing is ready: flush (which also reports written messages
		// to their Done channels), then wait.
		if (bw.Buffered() > 0 || len(w.unflushed) > 0) && !w.flush() {
			return
		}
		select {
		case req := <-c.fail:
			if !w.control(req) {
				return
			}
		case req := <-c.ctl:
			if !w.control(req) {
				return
			}
		case m, ok := <-w.out:
			lastMessage = time.Now()
			if !w.dequeued(m, ok) {
				return
			}
		case <-readDone:
			// Send the close frame at the latest after CloseTimeout, and
			// look every closeLinger whether the application is done.
			readDone = nil
			w.closeTimer.Reset(withDefault(c.cfg.CloseTimeout, DefaultCloseTimeout))
			w.closeWait = w.closeTimer.C
			linger.Reset(closeLinger)
			lingerWait = linger.C
		case <-appDone:
			appDone = nil
			if c.readEnded() && !w.answer() {
				return
			}
		case <-lingerWait:
			lingerWait = nil
			if c.closeSent.Load() {
				continue
			}
			// Done when the application has taken every message, reads
			// with the range loop (Receive reports its own end), and
			// has queued nothing for closeLinger.
			quiet := closeLinger - time.Since(lastMessage)
			idle := c.inDone.Load() && len(c.in) == 0 && len(w.out) == 0 && !c.receiving.Load()
			if !idle || quiet > 0 {
				if !idle || quiet > closeLinger {
					quiet = closeLinger
				}
				linger.Reset(quiet)
				lingerWait = linger.C
				continue
			}
			if !w.answer() {
				return
			}
		case <-tick:
			if c.State() != StateOpen || c.delivering.Load() {
				// Closing is bounded by CloseTimeout; waiting for the
				// application is not the peer's silence.
				continue
			}
			idle := c.nc.since() - time.Duration(c.nc.lastRead.Load())
			if pongWait == nil && idle >= c.cfg.PingInterval*9/10 {
				// The clock starts before the ping leaves: a fast pong
				// must not look older than its ping.
				pingSent = c.nc.since()
				if !w.frame(ws.OpPing, nil) || !w.flush() {
					return
				}
				pongTimer.Reset(withDefault(c.cfg.PongTimeout, c.cfg.PingInterval))
				pongWait = pongTimer.C
			}
		case <-pongWait:
			pongWait = nil
			last := time.Duration(c.nc.lastRead.Load())
			if last < pingSent && !c.delivering.Load() && c.State() == StateOpen {
				c.shutdown(errors.Join(ErrAbnormalClosure, ErrKeepaliveTimeout))
				return
			}
		case <-w.closeWait:
			w.closeWait = nil
			if !w.closeTimeout() {
				return
			}
		case <-c.stop:
			return
		}
	}
}

func newStoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

// writerState is what the writing goroutine needs to put frames on the
// socket.
type writerState struct {
	c   *Conn
	bw  *bufio.Writer
	mw  *Writer      // for fragmented or encoded messages, made on first use
	out chan Message // the send queue; nil once the application closed it

	// unflushed holds the Done channels of messages buffered but not yet
	// flushed.
	unflushed []chan<- error

	// closeWait fires CloseTimeout after a close step: our close frame
	// (waiting for the answer), the peer's close (answer it now), or our
	// answer on a client (waiting for the server to close TCP).
	closeTimer *time.Timer
	closeWait  <-chan time.Time
}

// dequeued handles a receive from the send queue. It reports false when
// the writer must stop.
func (w *writerState) dequeued(m Message, ok bool) bool {
	if ok {
		return w.message(m)
	}
	// The application closed Outbound: it is done sending. Send the
	// close frame reading ended on, or begin a graceful close.
	w.out = nil
	w.c.closeCalled.Store(true)
	if w.c.readEnded() {
		return w.answer()
	}
	w.c.beginClosing()
	return w.control(control{op: ws.OpClose, code: ws.StatusNormalClosure})
}

// readEnded reports whether reading ended on the peer's close or on a
// protocol violation, so that we owe the peer a close frame.
func (c *Conn) readEnded() bool {
	select {
	case <-c.readDone:
		return true
	default:
		return false
	}
}

// answer sends the close frame reading ended on, after the queued
// messages; control gives it pendCode and pendReason.
func (w *writerState) answer() bool {
	return w.control(control{op: ws.OpClose, flush: true})
}

// closeTimeout handles the expiry of closeWait.
func (w *writerState) closeTimeout() bool {
	c := w.c
	switch {
	case !c.closeSent.Load():
		// The peer closed and the application never finished: answer.
		return w.answer()
	case !c.closeRecv.Load():
		c.shutdown(errors.Join(ErrAbnormalClosure, ErrCloseTimeout))
	default:
		// A client waited long enough for the server's TCP close.
		c.shutdown(nil)
	}
	return false
}

// fail ends the connection after a write error and reports false.
func (w *writerState) fail(err error) bool {
	w.c.shutdown(errors.Join(ErrAbnormalClosure, err))
	w.settle(err)
	return false
}

// settle reports err (nil: written) to the messages buffered since the
// last flush.
func (w *writerState) settle(err error) {
	for i, d := range w.unflushed {
		notify(d, err)
		w.unflushed[i] = nil
	}
	w.unflushed = w.unflushed[:0]
}

// notify delivers a message's outcome without ever waiting.
func notify(d chan<- error, err error) {
	if d != nil {
		select {
		case d <- err:
		default:
		}
	}
}

// abandon runs when the writer stops: every message still queued or
// buffered is counted as dropped and told it was not sent.
func (w *writerState) abandon() {
	w.settle(errClosed)
	w.c.writerGone.Store(true)
	if w.out != nil {
		w.c.drainQueue()
	}
}

// drainQueue empties the send queue after the writer has stopped, telling
// each message it was not sent.
func (c *Conn) drainQueue() {
	defer func() { _ = recover() }() // tolerate an Outbound closed by the application meanwhile
	for {
		select {
		case m, ok := <-c.out:
			if !ok {
				return
			}
			c.dropped.Add(1)
			notify(m.Done, errClosed)
		default:
			return
		}
	}
}

func (w *writerState) deadline() {
	if w.c.cfg.WriteTimeout > 0 && w.c.State() == StateOpen {
		_ = w.c.nc.SetWriteDeadline(time.Now().Add(w.c.cfg.WriteTimeout))
	}
}

func (w *writerState) flush() bool {
	w.deadline()
	if err := w.bw.Flush(); err != nil {
		return w.fail(err)
	}
	w.settle(nil)
	return true
}

// frame buffers one final frame.
func (w *writerState) frame(op ws.OpCode, p []byte) bool {
	f := ws.NewFrame(op, true, p)
	if w.c.side == ws.ClientSide {
		var mask [4]byte
		binary.LittleEndian.PutUint32(mask[:], rand.Uint32())
		f = f.Masked(mask)
	}
	w.deadline()
	if err := ws.WriteFrame(w.bw, f); err != nil {
		return w.fail(err)
	}
	return true
}

// message buffers one data message.
func (w *writerState) message(m Message) bool {
	c := w.c
	switch {
	case m.OpCode != ws.OpText && m.OpCode != ws.OpBinary:
		// Not sendable: a wrong opcode from Outbound.
		c.dropped.Add(1)
		notify(m.Done, ErrOpCode)
		return true
	case c.closeSent.Load():
		// No data after our close frame (RFC 6455 §5.5.1).
		c.dropped.Add(1)
		notify(m.Done, errClosed)
		return true
	}
	if m.Done != nil {
		w.unflushed = append(w.unflushed, m.Done)
	}
	ext := c.send
	if m.NoCompress {
		ext = nil
	}
	if m.prep != nil && c.side == ws.ServerSide {
		frame, ok, err := m.prep.frame(m, ext)
		if err != nil {
			return w.fail(err)
		}
		if ok {
			w.deadline()
			if _, err := w.bw.Write(frame); err != nil {
				return w.fail(err)
			}
			c.msgsOut.Add(1)
			return true
		}
	}
	if ext == nil && (c.cfg.FragmentSize <= 0 || len(m.Payload) <= c.cfg.FragmentSize) {
		if !w.frame(m.OpCode, m.Payload) {
			return false
		}
		c.msgsOut.Add(1)
		return true
	}
	if w.mw == nil {
		w.mw = NewWriter(w.bw, c.side, m.OpCode)
	}
	w.mw.Reset(w.bw, c.side, m.OpCode)
	w.mw.FragmentSize = c.cfg.FragmentSize
	w.mw.Extension = ext
	w.mw.begin(len(m.Payload))
	w.deadline()
	if _, err := w.mw.Write(m.Payload); err != nil {
		return w.fail(err)
	}
	if err := w.mw.Flush(); err != nil {
		return w.fail(err)
	}
	c.msgsOut.Add(1)
	return true
}

// control carries out a request from the other goroutines. It reports
// false when the writer must stop.
func (w *writerState) control(req control) bool {
	c := w.c
	switch req.op {
	case ws.OpPing, ws.OpPong:
		if c.closeSent.Load() {
			return true
		}
		return w.frame(req.op, req.payload[:req.n])
	case ws.OpClose:
		if c.closeSent.Load() {
			return true
		}
		if req.flush && w.out != nil {
			// Send what was queued before the close was asked for.
			for n := len(w.out); n > 0; n-- {
				m, ok := <-w.out
				if !ok {
					w.out = nil
					break
				}
				if !w.message(m) {
					return false
				}
			}
		}
		if !req.fail && c.readEnded() {
			// Reading has ended on the peer's close or on its protocol
			// violation: whoever asks for the close frame, it carries
			// the code and reason that call for (pendCode, set before
			// readDone was closed).
			req.code, req.reason = c.pendCode, c.pendReason
		}
		// The close frame gets its own time to go out.
		_ = c.nc.SetWriteDeadline(time.Now().Add(withDefault(c.cfg.CloseTimeout, DefaultCloseTimeout)))
		c.state.CompareAndSwap(int32(StateOpen), int32(StateClosing))
		var body [ws.MaxControlPayload]byte
		if !w.frame(ws.OpClose, ws.AppendCloseBody(body[:0], req.code, req.reason)) || !w.flush() {
			return false
		}
		c.closeSent.Store(true)
		close(c.closeSentCh)
		if req.drop {
			c.shutdown(nil)
			return false
		}
		if c.closeRecv.Load() && (c.side == ws.ServerSide || c.peerGone.Load()) {
			// This was the answer, and a server closes TCP first
			// (RFC 6455 §7.1.1), or the peer already has.
			c.shutdown(nil)
			return false
		}
		// Wait for the peer's answer, or (client) for the server to
		// close TCP; a failing reader drains on its own, within the same
		// bound.
		w.closeTimer.Reset(withDefault(c.cfg.CloseTimeout, DefaultCloseTimeout))
		w.closeWait = w.closeTimer.C
	}
	return true
}

// Send queues m for sending. m.OpCode must be ws.OpText or ws.OpBinary.
// When the queue is full it follows Config.Overflow. It returns ctx.Err()
// when ctx ends first, and an error matching net.ErrClosed once the
// connection is closing or closed. A nil error means queued, not yet
// written.
func (c *Conn) Send(ctx context.Context, m Message) (err error) {
	if m.OpCode != ws.OpText && m.OpCode != ws.OpBinary {
		return ErrOpCode
	}
	if c.closeSent.Load() || c.closeCalled.Load() || c.stopped.Load() {
		return errClosed
	}
	// A user who closed Outbound has said they are done sending: report a
	// late Send as closed instead of panicking.
	defer func() {
		if recover() != nil {
			err = errClosed
		}
	}()
	// A nil error means queued; if the writer stopped meanwhile, no one
	// else may take the message, so drain the queue here: its Done, if
	// any, learns the outcome.
	defer func() {
		if err == nil && c.writerGone.Load() {
			c.drainQueue()
		}
	}()
	if c.cfg.Overflow != OverflowBlock {
		select {
		case c.out <- m:
			return nil
		case <-c.stop:
			return errClosed
		default:
		}
		if c.cfg.Overflow == OverflowDrop {
			c.dropped.Add(1)
			return ErrDropped
		}
		code := ws.StatusPolicyViolation
		if c.cfg.Overflow == OverflowTryAgain {
			code = ws.StatusTryAgainLater
		}
		c.setErr(ErrQueueFull)
		c.failWith(code, "send queue full")
		return ErrQueueFull
	}
	select {
	case c.out <- m:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stop:
		return errClosed
	}
}

// errClosed is returned by calls on a closed connection.
var errClosed = fmt.Errorf("wsutil: connection closed: %w", net.ErrClosed)

// failWith asks the writer to fail the connection: send a close frame with
// code, ahead of anything queued, and close the socket. It never blocks:
// the first failure wins, and the write deadline of beginClosing unsticks
// a writer blocked on a peer that does not read.
func (c *Conn) failWith(code ws.StatusCode, reason string) {
	c.beginClosing()
	select {
	case c.fail <- control{op: ws.OpClose, code: code, reason: reason, fail: true}:
	default:
	}
}
