package wsutil

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/sluice-ws/sluice/internal/bufpool"
	"github.com/sluice-ws/sluice/ws"
)

// writeLoop is the writing goroutine. It runs while something is queued:
// it takes the whole queue, writes it in as few system calls as it can
// (see frameWriter), and goes on until it finds the queue empty, then
// exits. All bytes to the socket go through it, one goroutine at a time.
func (c *Conn) writeLoop() {
	defer c.exit()
	c.writeQueued()
}

// flushOwed writes, on the reading goroutine, what OnMessage queued while
// the reader handled a burst (writerOwed). The reader calls it before it
// waits for anything.
func (c *Conn) flushOwed() {
	c.mu.Lock()
	owed := c.q.writer == writerOwed && c.phase != phaseDone
	if owed {
		c.q.writer = writerReader
	}
	c.mu.Unlock()
	if owed {
		c.writeQueued()
	}
}

// writeQueued writes the queue until it finds it empty, on the goroutine
// that owns the writing.
func (c *Conn) writeQueued() {
	w := frameWriters.Get().(*frameWriter)
	w.c = c
	var prio []control
	spare := msgBufs.Get().(*msgBuf)
	for {
		c.mu.Lock()
		pre := c.q.preamble
		c.q.preamble = nil
		queued := 0
		if c.q.items != nil {
			queued = len(c.q.items.m)
		}
		if c.phase == phaseDone || len(pre)+len(c.q.prio)+queued == 0 {
			c.q.writer = writerNone
			c.q.idleLocked()
			c.mu.Unlock()
			break
		}
		prio, c.q.prio = c.q.prio, prio[:0]
		batch := c.q.items
		if batch == nil {
			batch = msgBufs.Get().(*msgBuf)
		}
		c.q.items = spare
		closed := c.phase >= phaseSent
		c.mu.Unlock()
		ok := w.writeBatch(pre, prio, batch.m, closed)
		clear(prio)
		clear(batch.m)
		batch.m = batch.m[:0]
		spare = batch
		if !ok {
			break
		}
	}
	putMsgBuf(spare)
	w.free()
}

// frameWriters holds the frameWriters of the writing goroutines, with the
// capacity of their vectors.
var frameWriters = sync.Pool{New: func() any { return new(frameWriter) }}

// frameWriter turns a batch of queued items into frames and writes them.
// Headers and small payloads are copied into a buffer borrowed for the
// batch; large payloads are written from where they are, beside it, in
// one vectored write (writev on TCP).
type frameWriter struct {
	c    *Conn
	buf  *bufpool.Buf // borrowed while writing
	mark int          // buf.B[mark:] is not yet in vecs
	vecs net.Buffers  // what the next flush writes, in order
	// moved holds the copies realign made for the next flush.
	moved []*bufpool.Buf
	out   net.Buffers // what WriteTo consumes of vecs
	mw    *Writer     // for fragmented or encoded messages, borrowed
	err   error       // the first write error: after it, nothing is written
}

// byRef is the payload size from which a payload is written from where it
// is rather than copied into the buffer.
const byRef = 8 << 10

// writeBufferSize is the size of the buffer a writer borrows.
const writeBufferSize = 16 << 10

// writerPool holds the Writers that fragmented and encoded messages go
// through, with their buffers.
var writerPool = sync.Pool{New: func() any { return NewWriter(nil, 0, ws.OpBinary) }}

// free gives back what the writer borrowed, and w itself.
func (w *frameWriter) free() {
	defer func() {
		w.c, w.err, w.mark = nil, nil, 0
		frameWriters.Put(w)
	}()
	w.drop()
	if w.buf != nil {
		w.buf.Release()
		w.buf = nil
	}
	if w.mw != nil {
		w.mw.Reset(nil, 0, ws.OpBinary)
		w.mw.Extension = nil
		writerPool.Put(w.mw)
		w.mw = nil
	}
}

// writeBatch writes pre (the 101 response, if the Conn has yet to write
// it), the control frames, then the items, and settles every
// item: its Done learns the outcome, its Budget bytes and buffer are given
// back. closed says our close frame has already left: nothing follows it.
// It reports false when the writer must stop.
func (w *frameWriter) writeBatch(pre []byte, prio []control, items []Message, closed bool) bool {
	c := w.c
	sentClose := false
	var err error
	w.bytes(pre)
	for i := range prio {
		if closed || err != nil {
			break
		}
		p := &prio[i]
		w.frame(p.op, p.payload[:p.n])
		if p.op == ws.OpClose {
			closed, sentClose = true, true
		}
	}
	written := 0 // items[:written] go out with this batch
	for _, m := range items {
		if closed || err != nil {
			break
		}
		if m.OpCode == ws.OpClose {
			w.frame(ws.OpClose, m.Payload)
			closed, sentClose = true, true
		} else {
			err = w.message(m)
		}
		written++
	}
	if err == nil {
		if sentClose {
			c.closeFrameDeadline()
		}
		err = w.flush()
	}
	w.settle(items, written, err)
	if err != nil {
		c.shutdown(errors.Join(ErrAbnormalClosure, err))
		return false
	}
	if sentClose {
		return c.closeSent()
	}
	return true
}

// settle reports the outcome of a batch: items[:written] were written
// unless err, the rest were not sent because our close frame went first.
func (w *frameWriter) settle(items []Message, written int, err error) {
	c := w.c
	var bytes, payload, acct int64
	for i, m := range items {
		if m.OpCode == ws.OpClose {
			continue
		}
		bytes += queuedSize(m)
		acct += m.acct
		payload += int64(len(m.Payload))
		switch {
		case m.frame == frameMore:
			// A frame of a streamed message: the message counts once,
			// with its last frame.
		case i >= written:
			c.dropped.Add(1)
			notify(m.Done, errClosed)
		case err != nil:
			c.dropped.Add(1)
			notify(m.Done, err)
		default:
			c.msgsOut.Add(1)
			notify(m.Done, nil)
		}
		if m.buf != nil {
			m.buf.Release()
		}
	}
	if bytes > 0 {
		// The Budget first: a sender woken by the room below must not
		// see these bytes held twice, by the batch and by what it queues.
		c.cfg.Budget.release(acct)
		c.mu.Lock()
		c.q.bytes -= bytes
		c.q.payload -= payload
		if err == nil {
			c.q.progress = c.since()
		}
		c.wakeSendersLocked()
		c.mu.Unlock()
	}
}

// closeSent records that our close frame is on the wire. Unless the peer
// has closed already, the reader now waits for its answer, CloseTimeout at
// most. It reports false when the writer must stop: after Drop, the socket
// is closed at once.
func (c *Conn) closeSent() bool {
	c.mu.Lock()
	if c.phase < phaseSent {
		c.phase = phaseSent
	}
	c.closeWritten = true
	if c.sentCh != nil {
		close(c.sentCh)
	}
	drop := c.dropOnSent
	if !drop && !c.recvClose {
		c.closeDL = time.Now().Add(c.cfg.CloseTimeout)
		if c.readDL.IsZero() || c.closeDL.Before(c.readDL) {
			_ = c.nc.SetReadDeadline(c.closeDL)
			c.readDL = c.closeDL
		}
	}
	c.mu.Unlock()
	if drop {
		c.shutdown(nil)
		return false
	}
	return true
}

// space returns n bytes of room at the end of the buffer, writing out what
// is batched first when it does not fit (n is at most the buffer's size).
func (w *frameWriter) space(n int) []byte {
	if w.buf == nil {
		w.buf = bufpool.Get(writeBufferSize)
		w.buf.B = w.buf.B[:0]
	}
	b := w.buf.B
	if cap(b)-len(b) < n {
		_ = w.flush() // an error is kept for the batch's last flush
		b = w.buf.B
	}
	w.buf.B = b[:len(b)+n]
	return w.buf.B[len(b):]
}

// copyIn appends p to the batch, in pieces when it is larger than the
// buffer, masking each piece with mask from offset off when masked.
func (w *frameWriter) copyIn(p []byte, masked bool, mask [4]byte) {
	for off := 0; off < len(p); {
		k := min(len(p)-off, writeBufferSize)
		dst := w.space(k)
		copy(dst, p[off:off+k])
		if masked {
			ws.Cipher(dst, mask, off)
		}
		off += k
	}
}

// ref appends p to the batch without copying it, unless it follows just
// its header at the start of a write and the kernel would copy it slowly
// from where it is (aliasedCopy): then it appends a copy placed where the
// kernel copies fast. Only there does the copy pay: the kernel's copy
// lands at the start of a socket page when the socket's earlier writes
// have been read, as with a peer that waits for each reply; further into
// a write, or behind other connections' writes, where it lands is
// anybody's guess, and a copy costs a memmove for nothing (measured: up
// to 13% fewer messages per CPU-second at C=100, 64 KiB, depth 16).
func (w *frameWriter) ref(p []byte) {
	w.cut()
	if pos, ok := w.leadIn(); ok && aliasedCopy(pos, p) != 0 {
		p = w.realign(pos, p)
	}
	w.vecs = append(w.vecs, p)
}

// realign copies p, due pos bytes into the write, into a pooled buffer at
// an offset that takes the copy out of the kernel's slow window. The
// buffer is given back by the flush that writes it.
func (w *frameWriter) realign(pos int, p []byte) []byte {
	b := bufpool.Get(len(p) + aliasWindow)
	w.moved = append(w.moved, b)
	off := aliasedCopy(pos, b.B[:len(p)]) // moving by the distance cancels it
	return b.B[off : off+copy(b.B[off:], p)]
}

// leadIn returns how many bytes the next flush writes before what is
// batched next, and whether they are a frame header at most: whether what
// comes next starts the write, but for its header.
func (w *frameWriter) leadIn() (int, bool) {
	switch len(w.vecs) {
	case 0:
		return 0, true
	case 1:
		return len(w.vecs[0]), len(w.vecs[0]) <= ws.MaxHeaderSize
	}
	return 0, false
}

// cut moves the part of the buffer written since the last cut into vecs.
func (w *frameWriter) cut() {
	if w.buf != nil && len(w.buf.B) > w.mark {
		w.vecs = append(w.vecs, w.buf.B[w.mark:])
		w.mark = len(w.buf.B)
	}
}

// flush writes the batch out. After a write error it writes nothing more
// and keeps returning that error: a frame cut short cannot be followed.
func (w *frameWriter) flush() error {
	w.cut()
	if len(w.vecs) > 0 && w.err == nil {
		w.c.armWriteDeadline()
		var n int64
		if len(w.vecs) == 1 {
			// One buffer: a plain write. A vectored one would make
			// the socket keep an iovec array for the rest of its life,
			// a cost every idle connection would carry.
			var k int
			k, w.err = w.c.nc.Write(w.vecs[0])
			n = int64(k)
		} else {
			w.out = w.vecs
			n, w.err = w.out.WriteTo(w.c.nc)
		}
		w.c.bytesOut.Add(n)
	}
	w.drop()
	return w.err
}

// drop forgets the batch: written, or abandoned after an error (a batch
// left in a pooled frameWriter would go out on the next connection that
// takes it).
func (w *frameWriter) drop() {
	clear(w.vecs)
	w.vecs = w.vecs[:0]
	for _, b := range w.moved {
		b.Release()
	}
	clear(w.moved)
	w.moved = w.moved[:0]
	if w.buf != nil {
		w.buf.B = w.buf.B[:0]
	}
	w.mark = 0
}

// armWriteDeadline keeps the write deadline WriteTimeout ahead while the
// connection is open, moving it only when less than seven eighths of it
// is left: moving it costs as much as a small write.
func (c *Conn) armWriteDeadline() {
	if c.cfg.WriteTimeout <= 0 {
		return
	}
	now := time.Now()
	if c.q.writeDL.Sub(now) >= c.cfg.WriteTimeout*7/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.q.closing {
		c.q.writeDL = now.Add(c.cfg.WriteTimeout)
		_ = c.nc.SetWriteDeadline(c.q.writeDL)
	}
}

// closeFrameDeadline gives our close frame CloseTimeout of its own to go
// out, however long the messages before it took.
func (c *Conn) closeFrameDeadline() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.q.closing = true
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.cfg.CloseTimeout))
}

// mask returns a fresh masking key for a client frame (RFC 6455 §5.3),
// from math/rand/v2's per-thread ChaCha8 generator (see Writer).
func mask() (m [4]byte) {
	binary.LittleEndian.PutUint32(m[:], rand.Uint32())
	return m
}

// frame batches one final frame with a small payload.
func (w *frameWriter) frame(op ws.OpCode, p []byte) {
	h := ws.Header{Fin: true, OpCode: op, Length: int64(len(p))}
	if w.c.side == ws.ClientSide {
		h.Masked, h.Mask = true, mask()
	}
	w.header(h)
	w.copyIn(p, h.Masked, h.Mask)
}

// header batches a frame header.
func (w *frameWriter) header(h ws.Header) {
	dst := w.space(ws.HeaderSize(h))
	ws.AppendHeader(dst[:0], h)
}

// message batches one data message.
func (w *frameWriter) message(m Message) error {
	c := w.c
	if m.frame != frameNone {
		w.bytes(m.Payload) // framed, masked and encoded by Conn.Writer
		return nil
	}
	ext := c.sendExt
	if m.NoCompress {
		ext = nil
	}
	if m.prep != nil && c.side == ws.ServerSide {
		frame, ok, err := m.prep.frame(m, ext)
		if err != nil {
			return err
		}
		if ok {
			w.bytes(frame)
			return nil
		}
	}
	if ext == nil && (c.cfg.FragmentSize <= 0 || len(m.Payload) <= c.cfg.FragmentSize) {
		h := ws.Header{Fin: true, OpCode: m.OpCode, Length: int64(len(m.Payload))}
		if c.side == ws.ClientSide {
			h.Masked, h.Mask = true, mask()
			w.header(h)
			w.copyIn(m.Payload, true, h.Mask)
			return nil
		}
		w.header(h)
		w.bytes(m.Payload)
		return nil
	}
	return w.encoded(m, ext)
}

// bytes batches p as it is: copied when small, by reference when large.
func (w *frameWriter) bytes(p []byte) {
	if len(p) >= byRef {
		w.ref(p)
		return
	}
	w.copyIn(p, false, [4]byte{})
}

// encoded batches a message through a Writer: fragmented, or encoded by
// the extension (permessage-deflate).
func (w *frameWriter) encoded(m Message, ext SendExtension) error {
	if w.mw == nil {
		w.mw = writerPool.Get().(*Writer)
	}
	w.mw.Reset((*batchSink)(w), w.c.side, m.OpCode)
	w.mw.FragmentSize = w.c.cfg.FragmentSize
	w.mw.Extension = ext
	w.mw.begin(len(m.Payload))
	if _, err := w.mw.Write(m.Payload); err != nil {
		return err
	}
	return w.mw.Flush()
}

// batchSink is the frameWriter as the destination of a Writer: the frames
// it makes join the batch.
type batchSink frameWriter

func (s *batchSink) Write(p []byte) (int, error) {
	(*frameWriter)(s).copyIn(p, false, [4]byte{})
	return len(p), nil
}
