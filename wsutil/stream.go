package wsutil

import (
	"context"
	"io"

	"github.com/sluice-ws/sluice/internal/bufpool"
	"github.com/sluice-ws/sluice/ws"
)

// streamFrame tells the frames of a streamed message apart in the send
// queue.
type streamFrame uint8

const (
	// frameNone: a whole message, framed by the writing goroutine.
	frameNone streamFrame = iota
	// frameMore: a frame of a streamed message, not its last.
	frameMore
	// frameLast: the final frame of a streamed message.
	frameLast
)

// streamFrameSize is the payload of the frames a messageWriter sends
// when Config.FragmentSize does not set one: a pooled buffer of 16 KiB,
// header included.
const streamFrameSize = 16<<10 - headroom

// messageWriter is the io.WriteCloser of Conn.Writer.
type messageWriter struct {
	c    *Conn
	ctx  context.Context
	op   ws.OpCode
	size int // payload bytes per frame

	enc  MessageEncoder // the extension's encoder, if this message is encoded
	rsv  byte           // RSV bits of the first frame
	buf  *bufpool.Buf   // headroom, then the payload being gathered; nil between frames
	acct int64          // Budget bytes buf holds
	n    int            // payload bytes in buf
	err  error          // sticky
	done bool           // Close was called

	first bool        // the next frame is the first
	stop  func() bool // stops the ctx watch
	// queued is set once a frame is in the send queue: an aborted
	// message then fails the connection. Guarded by c.mu.
	queued bool
}

// Writer starts a message with opcode op (ws.OpText or ws.OpBinary; 0
// means binary) and returns a writer that sends it as a stream of frames
// (gorilla's NextWriter, node ws's stream()): Write gathers data into a
// buffer of one frame's payload (Config.FragmentSize, or 16 KiB less the
// header) and queues a non-final frame each time it fills up, encoded
// when compression was negotiated; Close queues the rest as the final
// frame. Close returns nil once the final frame is queued, not yet
// written, and later calls return an error matching net.ErrClosed.
//
// Memory stays bounded whatever the message's length: the buffer being
// filled and the frames queued count against Config.OutboundBytes and
// the Budget like queued messages, and Write waits for room, so a writer
// of a 64 MiB message holds one frame's buffer plus OutboundBytes at
// most. The writer is not safe for concurrent use; the Conn's other
// methods may run concurrently with it.
//
// The message takes the Conn's send order: messages sent after Writer
// returns, with Send, Outbound or another Writer, wait until the writer
// is closed, so that no data frame of theirs lands inside this message
// (RFC 6455 §5.4); Send waits for it whatever Config.Overflow says.
// Control frames (pongs, pings, our close frame) may go out between its
// frames, as §5.5 allows. With compression negotiated, Writer first waits
// for the messages queued before it to be written: their encoder is the
// one this message continues (context takeover).
//
// ctx bounds the whole message, until Close returns. RFC 6455 has no way
// to abandon a message once a frame of it is on the wire, so when ctx
// ends, or a Write or Close fails, after the first frame was queued, the
// message is aborted by failing the connection: the Conn sends a close
// frame with 1011 (internal error) ahead of what is queued, and Err then
// reports ErrMessageAborted. Before any frame was queued, the message is
// simply dropped. The Conn's Close while the message is open sends our
// close frame in the middle of the message, which §5.5 allows; the
// writer then returns an error matching net.ErrClosed.
//
// Writer returns ErrOpCode for a control opcode, ctx.Err() when ctx ends
// while it waits, and an error matching net.ErrClosed once the connection
// is closing or closed. A writer that is never closed holds up every
// later message until ctx ends.
func (c *Conn) Writer(ctx context.Context, op ws.OpCode) (io.WriteCloser, error) {
	if op = dataOpCode(op); op == 0 {
		return nil, ErrOpCode
	}
	size := c.cfg.FragmentSize
	if size <= 0 {
		size = streamFrameSize
	}
	w := &messageWriter{c: c, ctx: ctx, op: op, size: size, first: true}
	for {
		c.mu.Lock()
		if !c.sendableLocked() {
			c.mu.Unlock()
			return nil, errClosed
		}
		if c.q.stream == nil {
			c.q.stream = w
		}
		if c.q.stream == w && (c.sendExt == nil || c.q.bytes == 0) {
			c.mu.Unlock()
			break
		}
		wait := c.roomLocked()
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			w.release()
			return nil, ctx.Err()
		case <-c.stop:
			w.release()
			return nil, errClosed
		}
	}
	if c.sendExt != nil {
		// The writing goroutine is done with the encoder: nothing is
		// queued, and nothing can be until this message ends.
		w.enc, w.rsv = c.sendExt.NextWriter((*streamSink)(w), -1)
	}
	w.stop = context.AfterFunc(ctx, func() { c.abortStream(w) })
	return w, nil
}

// Write adds p to the message, queueing a frame each time a frame's worth
// has gathered (after encoding, when compressed). It waits while the send
// queue is full. The error is sticky: after one, the message is aborted
// (see Conn.Writer).
func (w *messageWriter) Write(p []byte) (int, error) {
	if err := w.check(); err != nil {
		return 0, err
	}
	if w.enc != nil {
		n, err := w.enc.Write(p)
		if err != nil {
			w.fail(err)
		}
		return n, w.err
	}
	return w.gather(p)
}

// gather copies p into frames, queueing each one that fills up.
func (w *messageWriter) gather(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		if err := w.room(); err != nil {
			return total - len(p), err
		}
		k := copy(w.buf.B[headroom+w.n:headroom+w.size], p)
		w.n += k
		p = p[k:]
	}
	return total, nil
}

// Close ends the message: it queues what is buffered as the final frame
// (with what the encoder still holds), and hands the send order to the
// messages waiting for it. It returns nil once the final frame is
// queued (not yet written), the error that aborted the message
// otherwise, and after a first call an error matching net.ErrClosed.
func (w *messageWriter) Close() error {
	if w.done {
		return errWriterClosed
	}
	if err := w.check(); err != nil {
		w.done = true
		return err
	}
	w.done = true
	if w.enc != nil {
		enc := w.enc
		w.enc = nil
		if err := enc.Finish(); err != nil {
			w.fail(err)
			return err
		}
	}
	if w.buf == nil {
		if err := w.grab(); err != nil {
			return err
		}
	}
	if err := w.emit(true); err != nil {
		return err
	}
	w.release()
	return nil
}

// check returns the error that ended the message, if any: a sticky one,
// Close already called, or ctx done.
func (w *messageWriter) check() error {
	switch {
	case w.err != nil:
		return w.err
	case w.done:
		return errWriterClosed
	}
	if err := w.ctx.Err(); err != nil {
		w.fail(err)
		return err
	}
	return nil
}

// room makes sure the buffer has room for at least one byte, queueing
// the full one as a frame first.
func (w *messageWriter) room() error {
	if w.buf != nil && w.n == w.size {
		if err := w.emit(false); err != nil {
			return err
		}
	}
	if w.buf == nil {
		return w.grab()
	}
	return nil
}

// grab borrows the buffer of the next frame, taking its bytes from the
// Budget (waiting for them, within ctx).
func (w *messageWriter) grab() error {
	c := w.c
	n := int64(bufpool.ClassSize(headroom + w.size))
	if b := c.cfg.Budget; !b.tryAcquire(n) {
		c.mu.Lock()
		c.handoverLocked() // the queue must drain for bytes to come back
		c.mu.Unlock()
		switch b.acquire(n, 0, c.stop, w.ctx.Done(), nil) {
		case nil:
		case errBudgetCanceled:
			w.fail(w.ctx.Err())
			return w.err
		case errBudgetTooBig, errBudgetDeadlock:
			w.fail(ErrBudgetExhausted)
			return w.err
		default:
			w.fail(errClosed)
			return w.err
		}
	}
	w.buf, w.acct, w.n = bufpool.Get(headroom+w.size), n, 0
	return nil
}

// emit frames the gathered payload and queues the frame, waiting for room
// in the send queue. The buffer and its Budget bytes go with the frame.
func (w *messageWriter) emit(fin bool) error {
	c := w.c
	h := ws.Header{Fin: fin, OpCode: ws.OpContinuation, Length: int64(w.n)}
	if w.first {
		h.OpCode, h.Rsv = w.op, w.rsv
	}
	if c.side == ws.ClientSide {
		h.Masked, h.Mask = true, mask() // RFC 6455 §5.3: a fresh key per frame
	}
	start := headroom - ws.HeaderSize(h)
	ws.AppendHeader(w.buf.B[start:start], h)
	payload := w.buf.B[headroom : headroom+w.n]
	if h.Masked {
		ws.Cipher(payload, h.Mask, 0)
	}
	m := Message{OpCode: w.op, Payload: w.buf.B[start : headroom+w.n], buf: w.buf, acct: w.acct, frame: frameMore}
	if fin {
		m.frame = frameLast
	}
	w.buf, w.acct, w.n = nil, 0, 0
	w.first = false
	size := queuedSize(m)
	for {
		c.mu.Lock()
		if c.q.stream != w || !c.sendableLocked() {
			c.mu.Unlock()
			c.release(m.buf, m.acct)
			err := w.ctx.Err() // aborted by its ctx, or the connection closed
			if err == nil {
				err = errClosed
			}
			w.fail(err)
			return w.err
		}
		if c.q.bytes == 0 || c.q.bytes+size <= c.cfg.OutboundBytes {
			w.queued = true
			c.enqueueLocked(m, false) // the queue takes over buf and its bytes
			c.mu.Unlock()
			return nil
		}
		wait := c.roomLocked()
		c.mu.Unlock()
		select {
		case <-wait:
		case <-w.ctx.Done():
			c.release(m.buf, m.acct)
			w.fail(w.ctx.Err())
			return w.err
		case <-c.stop:
			c.release(m.buf, m.acct)
			w.fail(errClosed)
			return w.err
		}
	}
}

// fail records err, gives back the buffer and aborts the message.
func (w *messageWriter) fail(err error) {
	if w.err == nil {
		w.err = err
	}
	w.c.abortStream(w)
	w.release()
}

// release gives back what w holds: its buffer and the ctx watch.
func (w *messageWriter) release() {
	if w.buf != nil {
		w.c.release(w.buf, w.acct)
		w.buf, w.acct = nil, 0
	}
	if w.stop != nil {
		w.stop()
		w.stop = nil
	}
	c := w.c
	c.mu.Lock()
	if c.q.stream == w {
		c.q.stream = nil
		c.wakeSendersLocked()
	}
	c.mu.Unlock()
}

// abortStream ends the streamed message w unfinished, when it still holds
// the send order: once a frame of it is queued, the connection is failed
// with 1011, RFC 6455 having no way to abandon a message.
func (c *Conn) abortStream(w *messageWriter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.q.stream != w {
		return
	}
	c.q.stream = nil
	c.wakeSendersLocked()
	if w.queued && c.sendableLocked() {
		c.setErrLocked(ErrMessageAborted)
		c.failLocked(closeFrame{ws.StatusInternalError, "message aborted"}, false)
	}
}

// streamSink is a messageWriter as the destination of its encoder: the
// encoded bytes gather into frames.
type streamSink messageWriter

func (s *streamSink) Write(p []byte) (int, error) {
	w := (*messageWriter)(s)
	if w.err != nil {
		return 0, w.err
	}
	return w.gather(p)
}
