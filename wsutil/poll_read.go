package wsutil

import (
	"errors"
	"io"
	"time"

	"github.com/sluice-ws/sluice/internal/bufpool"
	"github.com/sluice-ws/sluice/ws"
)

// The read side of a PollConn, on its loop. The loop reads a socket into
// its own buffer and hands the bytes to consume, which feeds them to the
// connection's ws.Parser. A message that arrived whole in one read is
// handed to OnMessage where it lies, unmasked in place; the others are
// assembled in a pooled buffer that grows as bytes arrive (never on a
// header's word alone, see growSize), within MaxMessageSize and the
// Budget, and the rest of a large frame is read straight into it. A
// compressed message is assembled, then inflated. The checks are those
// of Reader: fragmentation (RFC 6455 §5.4), control frames (§5.5), UTF-8
// as the bytes arrive (§8.1), the frame and message limits.
//
// When the connection must stop reading (its send queue is over its
// limit, or it waits for Budget bytes), what it has read and not handled
// is kept as pending input, with carry bytes in front when the parser
// had already handed them out as payload.

// pollMessage is the message a PollConn is reading.
type pollMessage struct {
	op      ws.OpCode // 0 between messages
	deflate bool      // compressed: raw holds it as it came
	utf8    UTF8Validator
	size    int64         // payload bytes on the wire so far
	raw     pollBuf       // the payload so far, as it came
	start   time.Duration // when the loop first waited inside it; 0: not yet
	inf     *pollInflate  // made by the first compressed message, and kept
}

// pollInflate is the state of inflating a compressed message once it is
// complete.
type pollInflate struct {
	first ws.Header // the header of the message's first frame
	on    bool      // inflating: the message is complete
	dec   io.Reader
	src   pollRaw // the raw payload, for dec
	out   pollBuf // the inflated payload
}

// pollBuf is a message's buffer, from a pool, and the Budget bytes it
// holds.
type pollBuf struct {
	b    []byte
	buf  *bufpool.Buf
	held int64
}

// grow replaces the buffer, which is full, by one of size bytes (a size
// class) with the same bytes, taking them from the Budget first: it
// returns what reserve does when they are not there. others are the bytes
// the message holds besides.
func (p *pollBuf) grow(c *PollConn, size int, others int64) error {
	if err := c.reserve(int64(size), p.held+others); err != nil {
		return err
	}
	nb := bufpool.Get(size)
	b := nb.B[:len(p.b):cap(nb.B)]
	copy(b, p.b)
	p.release(c)
	p.b, p.buf, p.held = b, nb, int64(size)
	return nil
}

// release gives the buffer and its bytes back.
func (p *pollBuf) release(c *PollConn) {
	if p.buf != nil {
		p.buf.Release()
	}
	c.ep.cfg.Budget.release(p.held)
	*p = pollBuf{}
}

// pollRaw reads a message's raw payload for the extension's decoder.
type pollRaw struct{ p []byte }

func (r *pollRaw) Read(p []byte) (int, error) {
	if len(r.p) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.p)
	r.p = r.p[n:]
	return n, nil
}

// release gives back what the message holds and forgets it.
func (m *pollMessage) release(c *PollConn) {
	m.raw.release(c)
	inf := m.inf
	if inf != nil {
		inf.out.release(c)
		*inf = pollInflate{}
	}
	*m = pollMessage{inf: inf}
	if c.rs != rsHandshake {
		c.timer.readAt = 0
	}
}

// directRead is the part of a frame left, in bytes, from which the loop
// reads it straight into the message's buffer.
const directRead = 2 << 10

// maxReads is how many full reads a connection gets in one turn of its
// loop; the others get theirs before it goes on.
const maxReads = 16

// pump reads the socket while it has input and the connection reads
// (loop).
func (c *PollConn) pump() {
	l := c.loop
	for reads := 0; c.flags.readble && c.paused == 0 && c.rs != rsStopped && c.fd >= 0; reads++ {
		if reads == maxReads {
			l.later(c)
			return
		}
		src, p := l.rbuf, l.rbuf.B[:c.ep.readSize]
		if c.rs == rsFrames && c.fleft >= directRead && c.msg.op != 0 && !c.fh.OpCode.IsControl() && c.pend == nil {
			if err := c.roomFor(c.fleft); err != nil {
				if err != errPollWait {
					c.fail(err)
				}
				return
			}
			b := c.msg.raw.b
			src, p = nil, b[len(b):len(b)+int(min(int64(cap(b)-len(b)), c.fleft))]
		}
		n, err := sysRead(c.fd, p)
		if n > 0 {
			c.bytesIn.Add(int64(n))
			c.timer.lastRead = l.now
			// A short read took all there was, unless the peer has ended
			// its side: then the end of stream waits behind the bytes,
			// and no edge will announce it again (edge-triggered).
			c.flags.readble = n == len(p) || c.flags.hup
			c.handle(src, p[:n])
			if src != nil && src.Shared() {
				// Send keeps a message that lies in it: read into
				// another from now on.
				l.rbuf.Release()
				l.rbuf = bufpool.Get(pollReadSize)
			}
			continue
		}
		c.flags.readble = false
		switch {
		case err == errWouldBlock:
		case err == nil:
			c.eof()
		default:
			c.finish(errors.Join(ErrAbnormalClosure, err))
		}
	}
}

// handle handles bytes read from the socket, which lie in src (the loop's
// buffer; nil when read straight into the message's buffer).
func (c *PollConn) handle(src *bufpool.Buf, p []byte) {
	switch c.rs {
	case rsHandshake:
		c.handshake(p)
	case rsFrames:
		c.consume(src, false, p)
	}
}

// eof handles the peer's end of stream.
func (c *PollConn) eof() {
	switch c.rs {
	case rsDrain:
		c.finish(nil)
	case rsHandshake, rsFrames:
		c.finish(errors.Join(ErrAbnormalClosure, io.EOF))
	}
}

// consume feeds p to the parser and handles what comes out, until p is
// used up or the connection pauses or stops reading. src is the buffer p
// lies in; with own it is the connection's pending input, which consume
// may keep.
func (c *PollConn) consume(src *bufpool.Buf, own bool, p []byte) {
	for len(p) > 0 && c.rs == rsFrames {
		if c.paused != 0 {
			c.keep(src, own, nil, p)
			return
		}
		ch, n, err := c.ps.Parse(p)
		p = p[n:]
		if err == io.ErrShortBuffer {
			break
		}
		if err != nil {
			c.fail(err)
			return
		}
		if ch.First {
			c.fh, c.fleft = ch.Header, ch.Header.Length
		}
		c.fleft -= int64(len(ch.Payload))
		k := len(ch.Payload)
		if c.fh.OpCode.IsControl() {
			err = c.controlChunk(ch)
		} else {
			if ch.First {
				err = c.startFrame(ch.Header)
			}
			if err == nil {
				k, err = c.framePayload(src, ch.Payload, ch.First)
			}
		}
		switch {
		case err == errPollWait:
			c.keep(src, own, ch.Payload[k:], p)
			return
		case err != nil:
			c.fail(err)
			return
		}
		if c.pressure.Load() {
			c.paused |= pauseOutput
		}
	}
	c.waitInside()
}

// waitInside starts the message's clock when the loop is about to wait
// inside a message (Config.MessageTimeout).
func (c *PollConn) waitInside() {
	m := &c.msg
	if m.op == 0 || m.start != 0 || c.ep.cfg.MessageTimeout <= 0 || c.rs != rsFrames {
		return
	}
	m.start = c.loop.now
	c.timer.readAt = m.start + c.ep.cfg.MessageTimeout
	c.rearm()
}

// keep keeps carry (payload bytes the parser has handed out) and raw
// (bytes it has not parsed) as pending input, while the connection is
// paused. They lie in src, at its end; with own, src is the pending input
// already.
func (c *PollConn) keep(src *bufpool.Buf, own bool, carry, raw []byte) {
	c.carry = int32(len(carry))
	n := len(carry) + len(raw)
	switch {
	case own:
		c.pend, c.pendOf = src, int32(len(src.B)-n)
	case n == 0:
		return // nothing left to keep
	default:
		b := bufpool.Get(n)
		copy(b.B, carry)
		copy(b.B[len(carry):], raw)
		c.pend, c.pendOf = b, 0
		// Within InboundBytes (the read size); counted all the same.
		c.ep.cfg.Budget.force(int64(cap(b.B)))
	}
	if c.wait != nil && c.wait.w != nil {
		// Held while the connection waits: the Budget's deadlock
		// breaking must see it as the waiter's.
		c.ep.cfg.Budget.hold(c.wait.w, int64(cap(c.pend.B)))
	}
}

// releaseInput gives back the pending input and a partial request head.
func (c *PollConn) releaseInput() {
	if c.pend != nil {
		c.ep.cfg.Budget.release(int64(cap(c.pend.B)))
		c.pend.Release()
		c.pend, c.pendOf, c.carry = nil, 0, 0
	}
	if c.hsBuf != nil {
		c.hsBuf.Release()
		c.hsBuf = nil
	}
}

// resume lifts a reason to stop reading; once none is left, the
// connection goes on where it stopped (loop).
func (c *PollConn) resume(r pauseReason) {
	c.paused &^= r
	if c.paused != 0 || c.rs != rsFrames {
		return
	}
	if c.msg.inf != nil && c.msg.inf.on {
		if err := c.inflate(); err != nil {
			if err != errPollWait {
				c.fail(err)
			}
			return
		}
	}
	if c.pend != nil {
		c.consumePending()
	}
	c.pump()
	if c.wait != nil && c.wait.w == nil {
		// The bytes came, but what needed them went on without (the
		// pending input finished the frame, say): give them back, or
		// the Budget would count them for ever.
		c.endWait()
	}
}

// consumePending handles the pending input (loop).
func (c *PollConn) consumePending() {
	src := c.pend
	p := src.B[c.pendOf:]
	c.pend = nil
	if n := int(c.carry); n > 0 {
		c.carry = 0
		k, err := c.framePayload(src, p[:n], false)
		switch {
		case err == errPollWait:
			c.keep(src, true, p[k:n], p[n:])
			return
		case err != nil:
			c.pend = src
			c.fail(err)
			return
		}
		p = p[n:]
	}
	c.consume(src, true, p)
	if c.pend != src {
		c.ep.cfg.Budget.release(int64(cap(src.B)))
		src.Release()
	}
}

// startFrame checks the header of a data frame against the message in
// progress (RFC 6455 §5.4) and the size limits, and starts a message.
func (c *PollConn) startFrame(h ws.Header) error {
	m := &c.msg
	switch {
	case h.OpCode == ws.OpContinuation && h.Rsv != 0:
		return ws.ErrReservedBits // RFC 7692 §6.1: first frames only
	case h.OpCode == ws.OpContinuation && m.op == 0:
		return ErrUnexpectedContinuation
	case h.OpCode != ws.OpContinuation && m.op != 0:
		return ErrUnexpectedDataFrame
	}
	if h.OpCode != ws.OpContinuation {
		m.op, m.size = h.OpCode, 0
		m.deflate = c.recv != nil && h.Rsv&c.recv.Rsv() != 0
		m.utf8.Reset()
		if m.deflate {
			if m.inf == nil {
				m.inf = new(pollInflate)
			}
			m.inf.first = h
		}
	}
	m.size += h.Length
	if m.size > c.rawLimit() {
		return ErrMessageTooBig
	}
	return nil
}

// maxMessage is the message limit after inflating.
func (c *PollConn) maxMessage() int64 {
	switch n := c.ep.cfg.MaxMessageSize; {
	case n == 0:
		return DefaultMaxMessageSize
	case n < 0:
		return 1<<62 - 1
	default:
		return n
	}
}

// rawLimit bounds the payload on the wire of the message in progress: its
// size, or for a compressed message what DEFLATE may take to store it.
func (c *PollConn) rawLimit() int64 {
	limit := c.maxMessage()
	if c.msg.deflate {
		limit += limit/64 + 64
	}
	return limit
}

// framePayload handles payload bytes of the current data frame. first
// marks the chunk that began the frame: a message wholly in it goes to
// OnMessage where it lies. It returns how many bytes it took.
func (c *PollConn) framePayload(src *bufpool.Buf, p []byte, first bool) (int, error) {
	m := &c.msg
	text := m.op == ws.OpText && !m.deflate && !c.ep.cfg.SkipUTF8
	if first && c.fleft == 0 && c.fh.Fin && c.fh.OpCode != ws.OpContinuation && !m.deflate && src != nil {
		if text && !ValidUTF8(p) {
			return 0, ErrInvalidUTF8
		}
		op := m.op
		*m = pollMessage{inf: m.inf}
		c.deliver(Message{OpCode: op, Payload: p, buf: src})
		return len(p), nil
	}
	r := &m.raw
	if len(p) > 0 && len(r.b) < cap(r.b) && &r.b[:len(r.b)+1][len(r.b)] == &p[0] {
		// Read straight into the buffer.
		if text && !m.utf8.Write(p) {
			return 0, ErrInvalidUTF8
		}
		r.b = r.b[:len(r.b)+len(p)]
	} else {
		for k := 0; k < len(p); {
			if err := c.roomFor(int64(len(p)-k) + c.fleft); err != nil {
				return k, err
			}
			n := copy(r.b[len(r.b):cap(r.b)], p[k:])
			if text && !m.utf8.Write(p[k:k+n]) {
				return k, ErrInvalidUTF8
			}
			r.b = r.b[:len(r.b)+n]
			k += n
		}
	}
	if c.fleft > 0 || !c.fh.Fin {
		return len(p), nil
	}
	return len(p), c.endMessage()
}

// roomFor makes room in the message's buffer, when it is full, for more
// of the left bytes still to come, growing it as growSize says.
func (c *PollConn) roomFor(left int64) error {
	r := &c.msg.raw
	if len(r.b) < cap(r.b) {
		return nil
	}
	n := len(r.b)
	return r.grow(c, bufpool.ClassSize(n+growSize(n, cap(r.b), left, false, c.rawLimit())), 0)
}

// reserve takes n bytes of the Budget for the message being read, which
// holds held already, following the Budget's policy when they are not
// free: errPollWait means the loop waits for them (see pollBudget).
func (c *PollConn) reserve(n, held int64) error {
	b := c.ep.cfg.Budget
	if c.granted(n) || b.tryAcquire(n) {
		return nil
	}
	switch {
	case n > b.limit:
		return ErrMessageTooBig
	case b.policy == BudgetRefuse:
		return ErrBudgetExhausted
	}
	c.startWait(n, held)
	return errPollWait
}

// endMessage delivers the message just completed.
func (c *PollConn) endMessage() error {
	m := &c.msg
	if m.deflate {
		m.inf.on = true
		m.inf.src.p = m.raw.b
		return c.inflate()
	}
	if m.op == ws.OpText && !c.ep.cfg.SkipUTF8 && !m.utf8.Valid() {
		return ErrInvalidUTF8
	}
	c.deliver(Message{OpCode: m.op, Payload: m.raw.b, buf: m.raw.buf})
	m.release(c)
	return nil
}

// inflate decodes a complete compressed message and delivers it. It may
// stop to wait for the Budget (errPollWait) and go on where it stopped.
func (c *PollConn) inflate() error {
	m := &c.msg
	inf := m.inf
	if inf.dec == nil {
		dec, err := c.recv.NextReader(inf.first, &inf.src)
		if err != nil {
			return err
		}
		inf.dec = dec
	}
	limit := c.maxMessage()
	o := &inf.out
	for {
		if n := len(o.b); n == cap(o.b) && int64(n) >= limit {
			// Full at the limit: only the end of the stream may follow,
			// which needs no room (a larger buffer might not fit in the
			// Budget at all).
			var probe [1]byte
			k, err := inf.dec.Read(probe[:])
			switch {
			case k > 0:
				return ErrMessageTooBig
			case err == io.EOF:
			case err != nil:
				return err
			default:
				continue
			}
			break
		}
		if n := len(o.b); n == cap(o.b) {
			if err := o.grow(c, bufpool.ClassSize(n+growSize(n, cap(o.b), 0, true, limit)), m.raw.held); err != nil {
				return err
			}
		}
		n, err := inf.dec.Read(o.b[len(o.b):cap(o.b)])
		o.b = o.b[:len(o.b)+n]
		if int64(len(o.b)) > limit {
			return ErrMessageTooBig
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	switch {
	case len(inf.src.p) > 0:
		return ErrTrailingData
	case m.op == ws.OpText && !c.ep.cfg.SkipUTF8 && !ValidUTF8(o.b):
		return ErrInvalidUTF8
	}
	c.deliver(Message{OpCode: m.op, Payload: o.b, buf: o.buf})
	m.release(c)
	return nil
}

// deliver hands m to the application.
func (c *PollConn) deliver(m Message) {
	c.msgsIn.Add(1)
	c.ep.h.OnMessage(c, m)
}

// controlChunk handles a piece of a control frame: whole, it is handled;
// a control frame that arrives in pieces is collected first.
func (c *PollConn) controlChunk(ch ws.Chunk) error {
	h := c.fh
	if h.Rsv != 0 {
		return ws.ErrReservedBits // RFC 7692 §6.1: no RSV bits on control frames
	}
	if ch.First && c.fleft == 0 {
		return c.control(h, ch.Payload)
	}
	if ch.First {
		c.ctl, c.ctlN = new([ws.MaxControlPayload]byte), 0
	}
	c.ctlN += int32(copy(c.ctl[c.ctlN:], ch.Payload))
	if c.fleft > 0 {
		return nil
	}
	err := c.control(h, c.ctl[:c.ctlN])
	c.ctl = nil
	return err
}

// control acts on a control frame: a pong for a ping, behind what is
// queued; the closing handshake for a close.
func (c *PollConn) control(h ws.Header, p []byte) error {
	cfg := &c.ep.cfg
	switch h.OpCode {
	case ws.OpPing:
		if cfg.OnPing != nil && !cfg.OnPing(p) {
			return nil
		}
		c.mu.Lock()
		if c.phase == phaseOpen {
			c.controlLocked(ws.OpPong, p)
		}
		c.mu.Unlock()
	case ws.OpPong:
		if cfg.OnPong != nil {
			cfg.OnPong(p)
		}
	case ws.OpClose:
		code, reason, err := ws.ParseCloseBody(p)
		if err != nil {
			return err
		}
		c.peerClosed(code, string(reason))
	}
	return nil
}
