package wsutil

import (
	"errors"

	"github.com/sluice-ws/sluice/internal/bufpool"
	"github.com/sluice-ws/sluice/ws"
)

// The send queue of a PollConn is bytes, not messages: Send frames (and
// compresses) a message at once into chunks borrowed from size-classed
// pools, or, for a large payload that will not change, puts the payload
// itself in the queue behind its header. The loop takes what is queued as
// runs of bytes and writes them with vectored writes when the socket
// takes them; frames queued meanwhile go on filling the same chunk after
// the runs taken. A chunk goes back to its pool once written and no
// longer filled, so an idle connection holds none. The queue counts the
// bytes of its frames against OutboundBytes and the Budget, as a Conn
// counts payloads; the unused end of the chunk being filled (16 KiB at
// most) is not counted.

// Chunk sizes: the first of a burst is small, the next ones double.
const (
	firstChunk = 512
	maxChunk   = 16 << 10
)

// pollQueue is what waits to be handed to the loop's writer.
type pollQueue struct {
	segs    []pollSeg    // taken from the chunks, in order
	open    *bufpool.Buf // the chunk frames are appended to, nil when none
	pend    pollPend     // what open.B[mark:] holds: its messages
	bytes   int64        // frame bytes queued and not yet written (OutboundBytes, Budget)
	payload int64        // payload bytes of the messages queued (Buffered)
	credit  int64        // Budget bytes taken for the message being queued, not used yet
	mark    int32        // open.B[:mark] is in segs already
	chunk   int32        // capacity of the next chunk
	lastRef bool         // the last message queued ended in segs, not in open
	forced  bool         // holds a message the Budget had no room for (OverflowBlock)
	discard bool         // the writer drops what it has not begun (Drop, overflow)
	sched   bool         // the connection is on its loop's list
}

// pollSeg is a run of bytes to write.
type pollSeg struct {
	b       []byte
	buf     *bufpool.Buf   // held until written; nil for an application payload
	payload int64          // payload bytes of the messages that end here
	msgs    int32          // messages that end here
	close   bool           // our close frame
	done    []chan<- error // Message.Done of the messages that end here
}

// pollPend is what a run counts of the messages that end in it.
type pollPend struct {
	payload int64
	msgs    int32
	done    []chan<- error
}

// costLocked returns the bytes queueing m adds to the queue at most, as
// far as can be told before encoding it.
func (q *pollQueue) costLocked(m Message) int64 {
	return int64(len(m.Payload) + ws.MaxHeaderSize)
}

// byReference reports whether m's payload goes in the queue as it is,
// rather than copied: large and not compressed. A payload in a pooled
// buffer (a received message) keeps its buffer alive until written, and
// the queue counts the payload, not the buffer: the payload must fill half
// of it at least, as a size class does (the loop's read buffer holds many
// smaller messages).
func byReference(c *PollConn, m Message) bool {
	return len(m.Payload) >= byRef && (c.send == nil || m.NoCompress) && m.prep == nil &&
		c.ep.cfg.FragmentSize <= 0 && (m.buf == nil || len(m.Payload) >= cap(m.buf.B)/2)
}

// take counts n bytes in the queue: from the credit of the message being
// queued, then beyond the Budget's limit (the message was admitted).
func (q *pollQueue) take(c *PollConn, n int) {
	used := min(int64(n), q.credit)
	q.credit -= used
	c.ep.cfg.Budget.force(int64(n) - used)
	q.bytes += int64(n)
}

// settleCreditLocked gives back what a message's credit did not use.
func (c *PollConn) settleCreditLocked() {
	c.ep.cfg.Budget.release(c.q.credit)
	c.q.credit = 0
}

// space returns n bytes of room at the end of the open chunk, taking a
// new chunk when they do not fit. n is at most maxChunk.
func (q *pollQueue) space(c *PollConn, n int) []byte {
	if q.open != nil && cap(q.open.B)-len(q.open.B) < n {
		q.seal()
		q.open.Release() // the runs keep it until written
		q.open = nil
	}
	if q.open == nil {
		size := bufpool.ClassSize(max(n, int(q.chunk), firstChunk))
		q.chunk = int32(min(2*size, maxChunk))
		q.open, q.mark = bufpool.Get(size), 0
		q.open.B = q.open.B[:0]
	}
	b := q.open.B
	q.open.B = b[:len(b)+n]
	q.take(c, n)
	q.lastRef = false
	return q.open.B[len(b):]
}

// copyIn appends p to the queue, in pieces when it is larger than a chunk.
func (q *pollQueue) copyIn(c *PollConn, p []byte) {
	for len(p) > 0 {
		k := min(len(p), maxChunk)
		copy(q.space(c, k), p[:k])
		p = p[k:]
	}
}

// seal makes what the open chunk holds beyond the runs a run of its own.
func (q *pollQueue) seal() {
	if q.open == nil || len(q.open.B) == int(q.mark) {
		return
	}
	q.open.Retain()
	q.segs = append(q.segs, pollSeg{
		b:   q.open.B[q.mark:len(q.open.B):len(q.open.B)],
		buf: q.open, payload: q.pend.payload, msgs: q.pend.msgs, done: q.pend.done,
	})
	q.mark, q.pend = int32(len(q.open.B)), pollPend{}
}

// ref puts p in the queue as it is; buf, when not nil, is the pooled
// buffer p lives in, kept alive until p is written.
func (q *pollQueue) ref(c *PollConn, p []byte, buf *bufpool.Buf) {
	q.seal()
	if buf != nil {
		buf.Retain()
	}
	q.segs = append(q.segs, pollSeg{b: p, buf: buf})
	q.take(c, len(p))
	q.lastRef = true
}

// endMessage records a message whose last byte was just queued.
func (q *pollQueue) endMessage(payload int, done chan<- error) {
	q.payload += int64(payload)
	if q.lastRef {
		s := &q.segs[len(q.segs)-1]
		s.payload += int64(payload)
		s.msgs++
		if done != nil {
			s.done = append(s.done, done)
		}
		return
	}
	q.pend.payload += int64(payload)
	q.pend.msgs++
	if done != nil {
		q.pend.done = append(q.pend.done, done)
	}
}

// encodeLocked frames m into the queue: as one frame, fragmented at
// FragmentSize, or compressed by the connection's extension (server
// frames are not masked).
func (c *PollConn) encodeLocked(m Message) error {
	q := &c.q
	ext := c.send
	if m.NoCompress {
		ext = nil
	}
	if m.prep != nil {
		frame, ok, err := m.prep.frame(m, ext)
		if err != nil {
			return err
		}
		if ok {
			if len(frame) >= byRef {
				q.ref(c, frame, nil)
			} else {
				q.copyIn(c, frame)
			}
			q.endMessage(len(m.Payload), m.Done)
			return nil
		}
	}
	if ext == nil && (c.ep.cfg.FragmentSize <= 0 || len(m.Payload) <= c.ep.cfg.FragmentSize) {
		h := ws.Header{Fin: true, OpCode: m.OpCode, Length: int64(len(m.Payload))}
		if byReference(c, m) {
			ws.AppendHeader(q.space(c, ws.HeaderSize(h))[:0], h)
			q.ref(c, m.Payload, m.buf)
		} else {
			n := ws.HeaderSize(h)
			dst := q.space(c, n+len(m.Payload))
			ws.AppendHeader(dst[:0], h)
			copy(dst[n:], m.Payload)
		}
		q.endMessage(len(m.Payload), m.Done)
		return nil
	}
	w := writerPool.Get().(*Writer)
	defer func() {
		w.Reset(nil, 0, ws.OpBinary)
		w.Extension = nil
		writerPool.Put(w)
	}()
	w.Reset((*pollSink)(c), ws.ServerSide, m.OpCode)
	w.FragmentSize = c.ep.cfg.FragmentSize
	w.Extension = ext
	w.begin(len(m.Payload))
	if _, err := w.Write(m.Payload); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	q.endMessage(len(m.Payload), m.Done)
	return nil
}

// pollSink is a PollConn as the destination of a Writer, under its lock:
// the frames join the queue.
type pollSink PollConn

func (s *pollSink) Write(p []byte) (int, error) {
	c := (*PollConn)(s)
	c.q.copyIn(c, p)
	return len(p), nil
}

// controlLocked queues a control frame. Control frames are small and
// admitted whatever the limits say; a queue they push over its limit
// stops the connection's reading like any other.
func (c *PollConn) controlLocked(op ws.OpCode, p []byte) {
	h := ws.Header{Fin: true, OpCode: op, Length: int64(len(p))}
	n := ws.HeaderSize(h)
	dst := c.q.space(c, n+len(p))
	ws.AppendHeader(dst[:0], h)
	copy(dst[n:], p)
	if c.q.bytes > c.ep.cfg.OutboundBytes {
		c.pressure.Store(true)
	}
	c.scheduleLocked()
}

// closeLocked queues our close frame f as a run of its own.
func (q *pollQueue) closeLocked(c *PollConn, f closeFrame) {
	q.seal()
	body := ws.AppendCloseBody(nil, f.code, f.reason)
	frame := ws.AppendFrame(nil, ws.NewFrame(ws.OpClose, true, body))
	q.segs = append(q.segs, pollSeg{b: frame, close: true})
	q.take(c, len(frame))
}

// discardLocked drops every message queued and not yet taken by the
// writer, and tells the writer to drop what it has not begun.
func (q *pollQueue) discardLocked(c *PollConn) {
	q.seal()
	q.settle(c, q.segs, errClosed)
	clear(q.segs)
	q.segs = q.segs[:0]
	q.discard = true
	q.idle()
}

// abandonLocked settles everything queued when the connection ends.
func (q *pollQueue) abandonLocked(c *PollConn) {
	q.discardLocked(c)
	if q.open != nil {
		q.open.Release()
		q.open = nil
	}
	q.segs = nil
}

// settle gives back what the runs hold and reports their messages'
// outcome: written when err is nil, dropped otherwise.
func (q *pollQueue) settle(c *PollConn, segs []pollSeg, err error) {
	var n, payload int64
	for _, s := range segs {
		n += int64(len(s.b))
		payload += s.payload
		if err == nil {
			c.msgsOut.Add(int64(s.msgs))
		} else {
			c.dropped.Add(int64(s.msgs))
		}
		for _, d := range s.done {
			notify(d, err)
		}
		if s.buf != nil {
			s.buf.Release()
		}
	}
	q.bytes -= n
	q.payload -= payload
	c.ep.cfg.Budget.release(n)
	q.idle()
}

// idle lets go of the chunk being filled once nothing is queued.
func (q *pollQueue) idle() {
	if q.bytes != 0 {
		return
	}
	q.forced, q.chunk = false, 0
	if q.open != nil && len(q.open.B) == int(q.mark) {
		q.open.Release()
		q.open, q.mark = nil, 0
	}
}

// flush hands what is queued to the writer and writes as much as the
// socket takes (loop).
func (c *PollConn) flush() {
	c.mu.Lock()
	c.q.sched = false
	killed := c.killed
	if c.q.discard {
		c.q.discard = false
		keep := 0
		if c.woff > 0 {
			keep = 1 // begun: a frame cut short cannot be followed
		}
		c.q.settle(c, c.wsegs[keep:], errClosed)
		clear(c.wsegs[keep:])
		c.wsegs = c.wsegs[:keep]
	}
	c.q.seal()
	c.wsegs = append(c.wsegs, c.q.segs...)
	clear(c.q.segs)
	c.q.segs = c.q.segs[:0]
	closing := c.phase >= phaseQueued
	c.mu.Unlock()
	if killed {
		c.finish(nil) // Err says why
		return
	}
	if closing && c.timer.closeAt == 0 {
		// Once closing has begun, CloseTimeout bounds it, however slowly
		// the peer reads what goes before our close frame.
		c.timer.closeAt = c.loop.now + c.ep.cfg.CloseTimeout
		c.rearm()
	}
	if !c.flags.blocked {
		c.writeOut()
	}
}

// writeOut writes the runs until the socket's buffer is full, then acts
// on what went out: our close frame, a queue drained enough for reading
// to go on (loop).
func (c *PollConn) writeOut() {
	l := c.loop
	closed, drained := false, false
	for len(c.wsegs) > 0 && c.fd >= 0 && !closed {
		iov := l.iov[:0]
		for i := 0; i < len(c.wsegs) && len(iov) < cap(l.iov); i++ {
			b := c.wsegs[i].b
			if i == 0 {
				b = b[c.woff:]
			}
			iov = append(iov, b)
		}
		n, err := sysWritev(c.fd, iov)
		clear(iov)
		if n > 0 {
			c.bytesOut.Add(int64(n))
			closed, drained = c.wrote(n)
			if c.timer.writeAt != 0 {
				// Progress: the heap entry stays where it is, and the
				// loop looks at the new deadline when the old one comes.
				c.timer.writeAt = l.now + c.ep.cfg.WriteTimeout
			}
		}
		if err == errWouldBlock {
			c.flags.blocked = true
			if c.ep.cfg.WriteTimeout > 0 && c.timer.writeAt == 0 {
				c.timer.writeAt = l.now + c.ep.cfg.WriteTimeout
				c.rearm()
			}
			break
		}
		if err != nil {
			c.finish(errors.Join(ErrAbnormalClosure, err))
			return
		}
	}
	if !c.flags.blocked {
		c.timer.writeAt = 0
	}
	switch {
	case closed:
		c.closeWritten()
	case drained && c.paused&pauseOutput != 0:
		c.resume(pauseOutput)
	}
}

// wrote settles the first n bytes of the runs, which are written (loop).
// It reports whether our close frame is out, and whether the queue has
// drained below half its limit.
func (c *PollConn) wrote(n int) (closed, drained bool) {
	done := 0
	for done < len(c.wsegs) {
		left := len(c.wsegs[done].b) - int(c.woff)
		if n < left {
			c.woff += int32(n)
			break
		}
		n -= left
		c.woff = 0
		closed = closed || c.wsegs[done].close
		done++
	}
	if done == 0 {
		return false, false
	}
	c.mu.Lock()
	c.q.settle(c, c.wsegs[:done], nil)
	drained = c.q.bytes <= c.ep.cfg.OutboundBytes/2 && !c.q.forced
	if drained {
		c.pressure.Store(false)
	}
	c.mu.Unlock()
	k := copy(c.wsegs, c.wsegs[done:])
	clear(c.wsegs[k:])
	c.wsegs = c.wsegs[:k]
	if k == 0 && cap(c.wsegs) > 64 {
		c.wsegs = nil
	}
	return closed, drained
}

// abandonWriting settles the runs the writer holds once the connection
// has ended (loop).
func (c *PollConn) abandonWriting() {
	c.mu.Lock()
	c.q.settle(c, c.wsegs, errClosed)
	c.mu.Unlock()
	clear(c.wsegs)
	c.wsegs = nil
	c.woff = 0
}
