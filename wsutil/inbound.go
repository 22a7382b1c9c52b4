package wsutil

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"github.com/sluice-ws/sluice/internal/bufpool"
	"github.com/sluice-ws/sluice/ws"
)

// connSource is the Conn as the Reader's source: it counts the bytes that
// arrive and when they last did, for Stats and keepalive.
type connSource Conn

func (s *connSource) Read(p []byte) (int, error) {
	c := (*Conn)(s)
	n, err := c.nc.Read(p)
	if n > 0 {
		c.bytesIn.Add(int64(n))
		c.touch()
	}
	return n, err
}

// since is the connection's monotonic clock: wall-clock steps cannot fake
// or hide a keepalive timeout.
func (c *Conn) since() time.Duration { return time.Since(c.epoch) }

// touch records that the peer was heard from now.
func (c *Conn) touch() { c.lastRead.Store(int64(c.since())) }

// initReader sets up reading: the Reader, borrowed from a pool only while
// bytes arrive (see reader), decodes with recv, and starts with the bytes
// that came with the handshake.
func (c *Conn) initReader(recv RecvExtension, buffered []byte) {
	c.recv = recv
	if len(buffered) > 0 {
		c.reader().preload(buffered)
	}
}

// readers holds the Readers of Conns between bursts.
var readers = sync.Pool{New: func() any { return new(Reader) }}

// reader returns the Reader of the reading goroutine, borrowing one when
// it has none: a lean Reader, which borrows a read buffer only while a
// message arrives, and lets the Conn arm its read deadlines before each
// blocking read. An idle connection holds none (dropReader), which keeps
// some 340 bytes out of what each one costs.
func (c *Conn) reader() *Reader {
	if c.r == nil {
		r := readers.Get().(*Reader)
		r.MaxMessageSize = c.readLimit.Load()
		r.MaxFrameSize = c.cfg.MaxFrameSize
		r.SkipUTF8 = c.cfg.SkipUTF8
		r.Extension = c.recv
		r.owner = c
		r.lean = c.cfg.ReadBufferSize
		r.Reset((*connSource)(c), c.side)
		c.r = r
	}
	return c.r
}

// dropReader gives the Reader and its read buffer back.
func (c *Conn) dropReader() {
	if r := c.r; r != nil {
		c.r = nil
		r.releaseBuffer()
		*r = Reader{}
		readers.Put(r)
	}
}

// readLoop is the reading goroutine: it owns the Reader and the sending
// side of Inbound, which it closes on exit.
//
// It spends most of its life waiting for the peer, and an idle goroutine
// costs its stack, which reading and handling messages grows past the
// minimum and the runtime never shrinks back while the goroutine waits on
// a socket. So a reading goroutine that has waited idleGrace for the peer
// hands the wait to a fresh goroutine, with a minimal stack, and exits
// (fresh marks that goroutine, which waits without the grace).
func (c *Conn) readLoop(fresh bool) {
	if !fresh {
		c.touch()
	}
	for {
		if c.waitIdle(fresh) == idleHandedOver {
			return
		}
		fresh = false
		if !c.readBurst() {
			c.readerDone()
			return
		}
	}
}

// idleGrace is how long a reading goroutine waits for the peer before it
// hands the wait to a fresh one. Short, so that a burst of connections
// gives its grown stacks up within a second; a connection that receives a
// message every second or so pays a goroutine start and a stack growth,
// a microsecond or two, per message.
const idleGrace = 500 * time.Millisecond

// hotReadSize is the read buffer a reading goroutine waits with during
// its grace period. A message up to about this size then arrives in one
// read; waiting with the small array instead, a 1 KiB message took a read
// for its header and another for the rest. Memory: hotReadSize per
// connection that received something in the last idleGrace.
const hotReadSize = 4 << 10

// Outcomes of waitIdle.
const (
	idleRead       = iota // bytes (or an error) arrived, for the Reader
	idleHandedOver        // a fresh goroutine waits instead
)

// readerDone is the reading goroutine's exit.
func (c *Conn) readerDone() {
	c.mu.Lock()
	c.handoverLocked()
	c.mu.Unlock()
	c.dropReader()
	c.closeInbound()
	c.exit()
}

// waitIdle waits for the next bytes when the Reader is between messages
// with nothing buffered, reading them into its small buffer; a goroutine
// that is not fresh waits idleGrace at most, then hands over.
func (c *Conn) waitIdle(fresh bool) int {
	r := c.r
	if r != nil && !r.idle() {
		return idleRead
	}
	if fresh {
		c.dropReader()
		r = nil
	}
	graceEnds := c.idleWait(!fresh)
	// A goroutine that has just been busy keeps its Reader, and waits
	// with a read buffer of at least hotReadSize for the grace period:
	// the next message's first read takes in more than a header. The
	// fresh goroutine of an idle connection holds neither, and waits with
	// the Conn's small array.
	into := c.small[:]
	if r != nil {
		if r.big == nil {
			r.big = bufpool.Get(hotReadSize)
		}
		into = r.big.B[:cap(r.big.B)]
	}
	n, err := c.nc.Read(into)
	if n > 0 {
		c.bytesIn.Add(int64(n))
		c.touch()
	} else if !graceEnds.IsZero() && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(graceEnds) {
		c.dropReader()
		go c.readLoop(true)
		return idleHandedOver
	}
	if r == nil {
		r = c.reader()
		into = r.small[:]
		copy(into, c.small[:n])
	}
	r.fed(into, n, err)
	return idleRead
}

// idleWait sets the read deadline for a wait between messages: the close
// deadline once our close frame is out, and with grace the end of the
// grace period when that comes first, which it returns (zero when the
// wait has no grace). It leaves a grace deadline that still has half its
// time to run, so that a busy connection moves it every idleGrace/2 at
// most.
func (c *Conn) idleWait(grace bool) (graceEnds time.Time) {
	c.flushOwed()
	c.mu.Lock()
	defer c.mu.Unlock()
	want := c.closeDL
	if grace && (want.IsZero() || time.Until(want) > idleGrace) {
		graceEnds = c.readDL
		if !c.graceDL || time.Until(graceEnds) < idleGrace/2 {
			graceEnds = time.Now().Add(idleGrace)
		}
		want = graceEnds
	}
	if !want.Equal(c.readDL) {
		_ = c.nc.SetReadDeadline(want)
		c.readDL = want
	}
	c.graceDL = !graceEnds.IsZero()
	c.noteTakenLocked()
	return graceEnds
}

// readBurst reads and delivers messages as long as bytes are buffered or
// a message is in progress. It reports false when reading has ended.
func (c *Conn) readBurst() bool {
	for {
		m, held, err := c.readMessage()
		if err == errIdle {
			return true
		}
		if err != nil {
			c.readEnd(err)
			return false
		}
		c.msgsIn.Add(1)
		if !c.deliver(m, held) {
			return false
		}
		if c.r.idle() {
			return true
		}
	}
}

// readMessage reads the next message, or the next frame in FrameMode. held
// is what it counts against the Budget.
func (c *Conn) readMessage() (m Message, held int64, err error) {
	r := c.r
	if !r.inMessage {
		r.MaxMessageSize = c.readLimit.Load()
	}
	if c.cfg.FrameMode {
		var h ws.Header
		if h, err = r.NextFrame(); err != nil {
			return m, 0, err
		}
		if h.OpCode != ws.OpContinuation {
			c.msgStart = time.Time{}
		}
		m.OpCode, m.Fragment = h.OpCode, !h.Fin
	} else {
		if m.OpCode, err = r.NextMessage(); err != nil {
			return m, 0, err
		}
		c.msgStart = time.Time{}
	}
	var p payload
	if err = c.readPayload(&p); err != nil {
		c.release(p.buf, p.held)
		return Message{}, 0, err
	}
	m.Payload, m.buf = p.b, p.buf
	return m, p.held, nil
}

// payload is a message being read: its bytes, the pooled buffer they live
// in (nil for a small message, which gets a plain slice: pooling would
// cost more than it saves), and the Budget bytes they hold.
type payload struct {
	b    []byte
	buf  *bufpool.Buf
	held int64
}

// smallPayload is the size up to which a message gets a plain slice.
const smallPayload = 512

// readPayload reads the rest of the current message (or frame) into p.
// Memory follows the bytes that arrive, not what a header claims (see
// growSize), within MaxMessageSize and the Budget. On error the caller
// gives p back.
func (c *Conn) readPayload(p *payload) error {
	r := c.r
	for {
		dst := p.b[len(p.b):cap(p.b)]
		if len(dst) == 0 && r.needsRoom() {
			if int64(len(p.b)) >= r.maxMessage() {
				// Full to the limit: whether more follows needs one
				// byte of room, not a copy of the whole message.
				dst = r.sink[:]
			} else if err := c.growPayload(p); err != nil {
				return err
			} else {
				dst = p.b[len(p.b):cap(p.b)]
			}
		}
		n, err := r.Read(dst)
		if n > 0 && &dst[0] == &r.sink[0] {
			return ErrMessageTooBig
		}
		p.b = p.b[:len(p.b)+n]
		if err == io.EOF {
			if p.buf != nil {
				p.buf.B = p.b
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// growPayload makes room in p for more of the message.
func (c *Conn) growPayload(p *payload) error {
	r := c.r
	n := len(p.b)
	size := n + growSize(n, cap(p.b), r.left, r.dec != nil, r.maxMessage())
	if p.buf == nil && size <= smallPayload {
		// Small: the whole message in one plain slice.
		if err := c.reserve(int64(size)+messageOverhead, p.held); err != nil {
			return err
		}
		p.held += int64(size) + messageOverhead
		p.b = append(make([]byte, 0, size), p.b...)
		return nil
	}
	size = bufpool.ClassSize(size)
	if err := c.reserve(int64(size), p.held); err != nil {
		return err
	}
	nb := bufpool.Get(size)
	b := nb.B[:n:cap(nb.B)]
	copy(b, p.b)
	// The old bytes go back: a pooled buffer to its pool, a plain slice
	// (or the overhead of an empty message) stays counted.
	old := int64(cap(p.b))
	if p.buf == nil {
		old = 0
		if p.held == 0 {
			if err := c.reserve(messageOverhead, p.held+int64(size)); err != nil {
				nb.Release()
				c.cfg.Budget.release(int64(size))
				return err
			}
			p.held = messageOverhead
		}
	}
	c.release(p.buf, old)
	p.held += int64(size) - old
	p.buf, p.b = nb, b
	return nil
}

// release gives back a buffer the reader no longer needs (nil for none),
// and held Budget bytes.
func (c *Conn) release(b *bufpool.Buf, held int64) {
	c.cfg.Budget.release(held)
	if b != nil {
		b.Release()
	}
}

// reserve takes n bytes of the Budget for the message being read, which
// holds held already, following the Budget's policy when they are not
// free.
func (c *Conn) reserve(n, held int64) error {
	b := c.cfg.Budget
	if b.tryAcquire(n) {
		return nil
	}
	switch {
	case n > b.limit:
		return ErrMessageTooBig
	case b.policy == BudgetRefuse:
		return ErrBudgetExhausted
	}
	c.flushOwed() // what it owes may be what frees the bytes
	var timeout <-chan time.Time
	if c.cfg.MessageTimeout > 0 {
		t := time.NewTimer(time.Until(c.began().Add(c.cfg.MessageTimeout)))
		defer t.Stop()
		timeout = t.C
	}
	c.waiting.Store(true)
	defer c.waiting.Store(false)
	defer c.touch() // waiting for memory is not the peer's silence
	switch b.acquire(n, held, c.stopSignal(), nil, timeout) {
	case nil:
		return nil
	case errBudgetTimeout:
		return ErrMessageTimeout
	case errBudgetDeadlock:
		return ErrBudgetExhausted
	}
	return errClosed
}

// began returns when the message being read began. It is taken the first
// time it is needed, when the reader is about to wait inside a message: a
// message that arrives whole costs no clock reading, and one that does not
// starts its clock within microseconds of its first frame.
func (c *Conn) began() time.Time {
	if c.msgStart.IsZero() {
		c.msgStart = time.Now()
	}
	return c.msgStart
}

// readWait runs before every blocking read of the socket: inside a
// message the read may last until the message's deadline, and once our
// close frame is out until the close deadline.
func (c *Conn) readWait(mid bool) {
	if mid {
		// Inside a message the rest usually follows at once: let a
		// writing goroutine send what OnMessage queued, without delaying
		// the read or splitting the burst's replies into two writes.
		c.mu.Lock()
		c.handoverLocked()
		c.mu.Unlock()
	} else {
		c.flushOwed()
	}
	var want time.Time
	if mid && c.cfg.MessageTimeout > 0 {
		want = c.began().Add(c.cfg.MessageTimeout)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closeDL.IsZero() && (want.IsZero() || c.closeDL.Before(want)) {
		want = c.closeDL
	}
	if !want.Equal(c.readDL) {
		_ = c.nc.SetReadDeadline(want)
		c.readDL = want
	}
	c.graceDL = false
	c.noteTakenLocked()
}

// deliver hands m to the application. It reports false when the
// connection ended first.
func (c *Conn) deliver(m Message, held int64) bool {
	if c.cfg.OnMessage != nil {
		// m counts against the Budget while OnMessage has it, and a Send
		// of m takes its bytes over (takeCallbackHeldLocked).
		var p0 *byte
		if len(m.Payload) > 0 {
			p0 = &m.Payload[0]
		}
		c.mu.Lock()
		c.cb = callbackHold{p0: p0, held: held}
		c.mu.Unlock()
		c.inCallback.Store(true)
		c.waiting.Store(true) // the application's time is not the peer's silence
		c.cfg.OnMessage(c, m)
		c.waiting.Store(false)
		c.inCallback.Store(false)
		c.mu.Lock()
		left := c.cb.held
		c.cb = callbackHold{}
		c.mu.Unlock()
		c.release(m.buf, left)
		return true
	}
	return c.deliverInbound(m, held)
}

// onControl handles control frames on the reading goroutine. Replies go
// through the send queue, so they never land inside a data frame.
func (c *Conn) onControl(h ws.Header, p []byte) error {
	switch h.OpCode {
	case ws.OpPing:
		if c.cfg.OnPing != nil && !c.cfg.OnPing(p) {
			return nil
		}
		c.mu.Lock()
		if c.phase < phaseSent {
			c.enqueueControlLocked(ws.OpPong, p)
		}
		c.mu.Unlock()
	case ws.OpPong:
		if c.cfg.OnPong != nil {
			c.cfg.OnPong(p)
		}
		c.pong(p)
	}
	return nil
}
