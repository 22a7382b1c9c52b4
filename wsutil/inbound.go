package wsutil

import (
	"context"
	"errors"
	"io"
	"os"
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

// initReader sets up the Reader the reading goroutine owns: it borrows a
// read buffer only while bytes arrive (lean), and lets the Conn arm its
// read deadlines before each blocking read.
func (c *Conn) initReader(recv RecvExtension) {
	r := &c.r
	r.Reset((*connSource)(c), c.side)
	r.MaxMessageSize = c.cfg.MaxMessageSize
	r.MaxFrameSize = c.cfg.MaxFrameSize
	r.SkipUTF8 = c.cfg.SkipUTF8
	r.Extension = recv
	r.OnControl = c.onControl
	r.lean = c.cfg.ReadBufferSize
	r.wait = c.readWait
	r.buf = r.small[:]
	r.preload(c.hs.Buffered)
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
// hands the wait to a fresh one.
const idleGrace = 2 * time.Second

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
	c.r.releaseBuffer()
	c.closeInbound()
	c.exit()
}

// waitIdle waits for the next bytes when the Reader is between messages
// with nothing buffered, reading them into its small buffer; a goroutine
// that is not fresh waits idleGrace at most, then hands over.
func (c *Conn) waitIdle(fresh bool) int {
	r := &c.r
	if !r.idle() {
		return idleRead
	}
	r.releaseBuffer()
	graceEnds := c.idleWait(!fresh)
	n, err := c.nc.Read(r.small[:])
	if n > 0 {
		c.bytesIn.Add(int64(n))
		c.touch()
	} else if !graceEnds.IsZero() && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(graceEnds) {
		go c.readLoop(true)
		return idleHandedOver
	}
	r.fed(n, err)
	return idleRead
}

// idleWait sets the read deadline for a wait between messages: the close
// deadline once our close frame is out, and with grace the end of the
// grace period when that comes first, which it returns (zero when the
// wait has no grace). It leaves a grace deadline that still has half its
// time to run, so that a busy connection moves it once a second at most.
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
	r := &c.r
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
	r := &c.r
	for {
		dst := p.b[len(p.b):cap(p.b)]
		if len(dst) == 0 && r.needsRoom() {
			if int64(len(p.b)) >= r.maxMessage() {
				// Full to the limit: whether more follows needs one
				// byte of room, not a copy of the whole message.
				dst = r.ctl[:1]
			} else if err := c.growPayload(p); err != nil {
				return err
			} else {
				dst = p.b[len(p.b):cap(p.b)]
			}
		}
		n, err := r.Read(dst)
		if n > 0 && &dst[0] == &r.ctl[0] {
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
	r := &c.r
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
	switch b.acquire(n, held, c.stop, nil, timeout) {
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
	c.flushOwed()
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

// inboundQueue accounts for the messages put on Inbound that the
// application may not have taken yet. Inbound is FIFO, so when it holds k
// messages they are the last k put in: sizes keeps their Budget bytes.
type inboundQueue struct {
	sizes   []int64 // a ring of InboundSize entries, oldest at head
	head, n int
	bytes   int64 // the sum of the n entries
}

// noteTakenLocked drops from the account the messages the application has
// taken from Inbound, and gives their bytes back to the Budget.
func (c *Conn) noteTakenLocked() {
	q := &c.inq
	for left := len(c.in); q.n > left; q.n-- {
		s := q.sizes[q.head]
		q.head = (q.head + 1) % len(q.sizes)
		q.bytes -= s
		c.cfg.Budget.release(s)
	}
}

// fitsLocked reports whether a message holding held bytes may join
// Inbound now.
func (c *Conn) fitsLocked(held int64) bool {
	c.noteTakenLocked()
	return c.inq.n == 0 || c.inq.bytes+held <= c.cfg.InboundBytes
}

// pushLocked accounts for a message just put on Inbound.
func (c *Conn) pushLocked(held int64) {
	q := &c.inq
	q.sizes[(q.head+q.n)%len(q.sizes)] = held
	q.n++
	q.bytes += held
}

// maxTakenCheck bounds the interval at which a reader waiting on
// InboundBytes looks whether the application has taken messages.
const maxTakenCheck = 32 * time.Millisecond

// deliverInbound puts m on Inbound once it has room for it in messages and
// in bytes. While it waits the Conn reads nothing, so TCP flow control
// holds the peer. Once our close frame has left, an application that takes
// nothing for closeLinger is taken to have stopped reading: its messages
// are dropped and counted from then on (RFC 6455 §1.4 lets a closing
// endpoint discard data), so that the peer's close frame gets read. It
// reports false when the connection ended first.
func (c *Conn) deliverInbound(m Message, held int64) bool {
	var check, linger *time.Timer
	defer func() {
		for _, t := range []*time.Timer{check, linger} {
			if t != nil {
				t.Stop()
			}
		}
	}()
	delay := time.Millisecond
	for {
		c.mu.Lock()
		fits := c.fitsLocked(held)
		if fits {
			select {
			case c.in <- m:
				c.pushLocked(held)
				c.mu.Unlock()
				return true
			default:
			}
		}
		closing := c.phase >= phaseSent
		c.mu.Unlock()
		if closing && c.stalled {
			c.drop(m, held)
			return true
		}
		// Inbound is full in messages (a send wakes with the first
		// message taken) or in bytes (a taken message cannot be seen:
		// look again after a growing delay, or after Receive).
		var send chan<- Message
		var recheck, stall <-chan time.Time
		if fits {
			send = c.in
		} else {
			check = resetTimer(check, delay)
			recheck = check.C
			delay = min(2*delay, maxTakenCheck)
		}
		sent := c.sentCh
		if closing {
			sent = nil
			if linger == nil {
				linger = time.NewTimer(closeLinger)
			}
			stall = linger.C
		}
		c.waiting.Store(true)
		select {
		case send <- m:
			c.mu.Lock()
			c.pushLocked(held)
			c.mu.Unlock()
			c.waiting.Store(false)
			c.touch()
			return true
		case <-c.taken:
		case <-recheck:
		case <-sent:
		case <-stall:
			c.stalled = true
		case <-c.stop:
			c.waiting.Store(false)
			c.release(m.buf, held)
			return false
		}
		c.waiting.Store(false)
		c.touch()
	}
}

// drop discards a received message the application will not take.
func (c *Conn) drop(m Message, held int64) {
	c.dropped.Add(1)
	c.release(m.buf, held)
}

// resetTimer returns t, or a new timer when t is nil, set to fire after d.
func resetTimer(t *time.Timer, d time.Duration) *time.Timer {
	if t == nil {
		return time.NewTimer(d)
	}
	t.Reset(d)
	return t
}

// closeInbound closes Inbound once reading has ended, and stops counting
// what is left in it: those messages are the application's to drain.
func (c *Conn) closeInbound() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inClosed {
		return
	}
	c.inClosed = true
	if c.in != nil {
		close(c.in)
	}
	c.cfg.Budget.unregister(c)
	for ; c.inq.n > 0; c.inq.n-- {
		c.cfg.Budget.release(c.inq.sizes[c.inq.head])
		c.inq.head = (c.inq.head + 1) % len(c.inq.sizes)
	}
	c.inq.bytes = 0
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

// Receive returns the next message from Inbound, waiting until one arrives
// or ctx is done. Once Inbound is closed it returns Err: a ws.CloseError
// after a clean close. A sequential request/response loop written with
// Receive gets its replies out before the Conn answers the peer's close,
// however long they take (within CloseTimeout): once Receive has handed
// out a message, the Conn waits for Receive to reach the end of Inbound
// rather than for a lull in the send queue. Receive also lets the Conn see
// at once that a message was taken, which Inbound alone cannot.
func (c *Conn) Receive(ctx context.Context) (Message, error) {
	select {
	case m, ok := <-c.Inbound():
		if !ok {
			c.finishApp(closeFrame{}, false, ctx.Done(), nil)
			return Message{}, c.Err()
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.receiving = true
		c.noteTakenLocked()
		select {
		case c.taken <- struct{}{}:
		default:
		}
		return m, nil
	case <-ctx.Done():
		return Message{}, ctx.Err()
	}
}
