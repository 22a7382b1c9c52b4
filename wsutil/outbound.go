package wsutil

import (
	"context"
	"sync"
	"time"

	"github.com/sluice-ws/sluice/ws"
)

// sendQueue is what waits to be written. The writing goroutine takes all
// of it at once (see writeLoop) and exits when it finds it empty.
type sendQueue struct {
	prio    []control   // control frames: they go before the next message
	items   *msgBuf     // messages and our graceful close frame, in order; nil while idle
	bytes   int64       // queuedSize of the messages queued or being written
	payload int64       // their payload bytes (Buffered)
	queued  uint64      // messages queued so far
	writer  writerState // who writes the queue
	// closing is set once closing has begun: writes are then bounded by
	// CloseTimeout, and the writer no longer moves the write deadline.
	closing bool
	// room is closed when bytes drop, for senders waiting for room; a
	// sender that waits makes it.
	room chan struct{}
	// writeDL is the write deadline the writer set last.
	writeDL time.Time
	// preamble is the 101 response a server has yet to write
	// (ws.Handshake.Response): it goes before anything else.
	preamble []byte
	// progress is when a write last succeeded, on the Conn's clock.
	progress time.Duration
	// stream is the writer of Conn.Writer that holds the send order, if any:
	// other data messages wait until it is closed (see Conn.Writer).
	stream *messageWriter
}

// messageOverhead is what a message costs in a queue besides its payload:
// the Message itself, which a queue of tiny messages is mostly made of.
const messageOverhead = 96

// queuedSize is what m counts against OutboundBytes and the Budget.
func queuedSize(m Message) int64 { return int64(len(m.Payload)) + messageOverhead }

// msgBuf holds the messages of a send queue. The queue and its writer
// each hold one while the connection writes, and give them back to a pool
// when it stops, so that an idle connection holds none and a busy one
// allocates none.
type msgBuf struct{ m []Message }

var msgBufs = sync.Pool{New: func() any { return &msgBuf{m: make([]Message, 0, 16)} }}

// maxPooledItems is the capacity past which a queue slice is let go
// rather than kept in the pool.
const maxPooledItems = 4096

// putMsgBuf gives back b, which must hold no message.
func putMsgBuf(b *msgBuf) {
	if b == nil {
		return
	}
	if cap(b.m) > maxPooledItems {
		b.m = nil
	}
	b.m = b.m[:0]
	msgBufs.Put(b)
}

// idleLocked lets go of the queue's slices once it is empty.
func (q *sendQueue) idleLocked() {
	putMsgBuf(q.items)
	q.items, q.prio = nil, nil
}

// writerState says who writes the queue.
type writerState uint8

const (
	// writerNone: nobody; the next message queued starts a writer.
	writerNone writerState = iota
	// writerGoroutine: a writing goroutine runs (writeLoop).
	writerGoroutine
	// writerOwed: OnMessage queued messages while the reader handles a
	// burst; the reader writes them itself before it next waits
	// (flushOwed), which saves starting a goroutine per burst and
	// batches the replies to the whole burst.
	writerOwed
	// writerReader: the reader is writing them now.
	writerReader
)

// owedBytes bounds what OnMessage's replies may queue for the reader to
// write itself: beyond it a writing goroutine takes them at once, so that
// writing overlaps reading. Owing pays for small replies, which it batches
// into one write per burst; a reader that writes large replies itself
// stops reading while it does, and on a pipelining peer (C=100, 64 KiB,
// depth 16) halved throughput and put p99 latency at 400 times p50.
const owedBytes = 32 << 10

// control is a control frame waiting to be written.
type control struct {
	op      ws.OpCode
	n       uint8
	payload [ws.MaxControlPayload]byte
}

// closeMessage returns our close frame f as a queue item.
func closeMessage(f closeFrame) Message {
	return Message{OpCode: ws.OpClose, Payload: ws.AppendCloseBody(nil, f.code, f.reason)}
}

// enqueueLocked queues m: a message or close frame at the back, or with
// front a close frame ahead of every queued message. It starts the writer
// when none runs.
func (c *Conn) enqueueLocked(m Message, front bool) {
	if front {
		c.enqueueControlLocked(m.OpCode, m.Payload)
		return
	}
	if c.q.items == nil {
		c.q.items = msgBufs.Get().(*msgBuf)
	}
	c.q.items.m = append(c.q.items.m, m)
	c.startWriterLocked()
	if m.OpCode == ws.OpClose {
		c.handoverLocked()
		return
	}
	c.q.bytes += queuedSize(m)
	c.q.payload += int64(len(m.Payload))
	c.q.queued++
	if c.q.writer == writerOwed && c.q.bytes >= min(c.cfg.OutboundBytes/2, owedBytes) {
		// Large replies, or a long burst: do not let them wait for the
		// reader.
		c.handoverLocked()
	}
}

// enqueueControlLocked queues a control frame ahead of the messages.
func (c *Conn) enqueueControlLocked(op ws.OpCode, p []byte) {
	ctl := control{op: op, n: uint8(len(p))}
	copy(ctl.payload[:], p)
	c.q.prio = append(c.q.prio, ctl)
	c.startWriterLocked()
	c.handoverLocked()
}

// startWriterLocked makes sure somebody writes the queue: the reader, when
// OnMessage is running on it, or else a writing goroutine.
func (c *Conn) startWriterLocked() {
	if c.q.writer != writerNone || c.phase == phaseDone {
		return
	}
	if c.inCallback.Load() {
		c.q.writer = writerOwed
		return
	}
	c.q.writer = writerGoroutine
	c.running++
	go c.writeLoop()
}

// handoverLocked gives a flush the reader owes to a writing goroutine:
// whoever is about to wait for the queue to move (a control frame, a
// close, a sender waiting for room) must not depend on a reader that may
// be the very goroutine waiting.
func (c *Conn) handoverLocked() {
	if c.q.writer != writerOwed || c.phase == phaseDone {
		return
	}
	c.q.writer = writerGoroutine
	c.running++
	go c.writeLoop()
}

// wakeSendersLocked wakes the senders waiting for room.
func (c *Conn) wakeSendersLocked() {
	if c.q.room != nil {
		close(c.q.room)
		c.q.room = nil
	}
}

// sendableLocked reports whether a data message may still be queued:
// until our close frame is queued. While we owe the peer an answer, the
// application's replies may still go out.
func (c *Conn) sendableLocked() bool {
	return c.phase == phaseOpen || c.phase == phaseOwed
}

// Send queues m for sending. m.OpCode is ws.OpText or ws.OpBinary (0 means
// binary).
// When the send queue is full (Config.OutboundBytes) or the Budget is
// spent it follows Config.Overflow. It returns ctx.Err() when ctx ends
// first, and an error matching net.ErrClosed once the connection is
// closing or closed. A nil error means queued, not yet written: set
// m.Done to learn the outcome. A payload from a pooled buffer (a received
// message) stays alive until written, even if released meanwhile.
func (c *Conn) Send(ctx context.Context, m Message) error {
	if m.OpCode = dataOpCode(m.OpCode); m.OpCode == 0 {
		return ErrOpCode
	}
	return c.send(ctx, m, c.cfg.Overflow)
}

// send queues m under the overflow policy.
func (c *Conn) send(ctx context.Context, m Message, policy Overflow) error {
	size := queuedSize(m)
	for {
		c.mu.Lock()
		if !c.sendableLocked() {
			c.mu.Unlock()
			return errClosed
		}
		if c.q.stream != nil {
			// A streamed message holds the send order: its frames must
			// not interleave with another message's (RFC 6455 §5.4).
			wait, stop := c.roomLocked(), c.stopSignalLocked()
			c.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return ctx.Err()
			case <-stop:
				return errClosed
			}
		}
		room := c.q.bytes == 0 || c.q.bytes+size <= c.cfg.OutboundBytes ||
			policy != OverflowBlock && c.keepingUpLocked(size)
		if room {
			if held, ok := c.takeCallbackHeldLocked(m); ok {
				m.acct = held
				c.queueDataLocked(m)
				c.mu.Unlock()
				return nil
			}
		}
		if room && c.cfg.Budget.tryAcquire(size) {
			m.acct = size
			c.queueDataLocked(m)
			c.mu.Unlock()
			return nil
		}
		if policy != OverflowBlock {
			err := c.overflowLocked(policy)
			c.mu.Unlock()
			return err
		}
		c.handoverLocked() // this Send waits for the queue to move
		if room {
			// The queue has room but the Budget is spent: wait for
			// bytes, then queue whatever the queue holds meanwhile.
			// Called from OnMessage, the message being handled holds
			// bytes while this waits (see Budget.acquire).
			held, stop := c.cb.held, c.stopSignalLocked()
			c.mu.Unlock()
			if err := c.cfg.Budget.acquire(size, held, stop, ctx.Done(), nil); err != nil {
				switch err {
				case errBudgetCanceled:
					return ctx.Err()
				case errBudgetDeadlock:
					return ErrBudgetExhausted
				}
				return errClosed
			}
			m.acct = size
			c.mu.Lock()
			if !c.sendableLocked() {
				c.mu.Unlock()
				c.cfg.Budget.release(size)
				return errClosed
			}
			if c.q.stream != nil {
				// A streamed message began while this waited: queue
				// behind it, not inside it.
				c.mu.Unlock()
				c.cfg.Budget.release(size)
				continue
			}
			c.queueDataLocked(m)
			c.mu.Unlock()
			return nil
		}
		wait, stop := c.roomLocked(), c.stopSignalLocked()
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return errClosed
		}
	}
}

// roomLocked returns the channel that wakes the senders waiting for room
// (or for a streamed message to end), making it when needed. The caller
// waits on it after unlocking; the queue may have to be handed to a
// writing goroutine first (see handoverLocked).
func (c *Conn) roomLocked() <-chan struct{} {
	c.handoverLocked()
	if c.q.room == nil {
		c.q.room = make(chan struct{})
	}
	return c.q.room
}

// callbackHold is the message OnMessage is handling: the first byte of
// its payload, which tells it apart, and the Budget bytes it still holds.
type callbackHold struct {
	p0   *byte
	held int64
}

// takeCallbackHeldLocked hands the Budget bytes of the message OnMessage
// is handling to a Send of that very message (an echo, a forward), so
// that it counts once, and all the way until written: a handler blocked
// on a full send queue holds its message, and N connections doing so must
// not hold N messages outside the Budget.
func (c *Conn) takeCallbackHeldLocked(m Message) (int64, bool) {
	if c.cb.held == 0 || len(m.Payload) == 0 || &m.Payload[0] != c.cb.p0 {
		return 0, false
	}
	held := c.cb.held
	c.cb.held = 0
	return held, true
}

// dataOpCode returns the opcode a sent message goes out with: op for text
// and binary, binary for none, and 0 for an opcode that is not data.
func dataOpCode(op ws.OpCode) ws.OpCode {
	switch op {
	case ws.OpText, ws.OpBinary:
		return op
	case 0:
		return ws.OpBinary
	}
	return 0
}

// queueDataLocked queues a data message whose Budget bytes are taken.
func (c *Conn) queueDataLocked(m Message) {
	if m.buf != nil {
		m.buf.Retain()
	}
	c.enqueueLocked(m, false)
}

// keepingUpLocked reports whether a queue over OutboundBytes may take a
// message of size anyway, under a policy that would otherwise drop it or
// close the connection: when its writer has written within the last
// slowAfter, the peer is reading, and a burst may fill up to twice
// OutboundBytes. A peer is judged slow by the bytes it holds back and by
// how long it has taken none, not by a momentary backlog.
func (c *Conn) keepingUpLocked(size int64) bool {
	return c.q.bytes+size <= 2*c.cfg.OutboundBytes && c.since()-c.q.progress < slowAfter
}

// slowAfter is how long a writer may make no progress before a send queue
// over OutboundBytes counts as full (keepingUpLocked).
const slowAfter = time.Second

// overflowLocked applies a non-blocking overflow policy to a message that
// does not fit.
func (c *Conn) overflowLocked(policy Overflow) error {
	if policy == OverflowDrop {
		c.dropped.Add(1)
		return ErrDropped
	}
	code := ws.StatusPolicyViolation
	if policy == OverflowTryAgain {
		code = ws.StatusTryAgainLater
	}
	c.setErrLocked(ErrQueueFull)
	c.failLocked(closeFrame{code, "send queue full"}, false)
	return ErrQueueFull
}

// Outbound returns the channel that feeds the send queue. A send completes
// once the message is queued: it waits while the queue is full
// (Config.OutboundBytes, or the Budget), whatever Config.Overflow says.
// Messages sent on Outbound leave in channel order; Send has its own
// entrance to the same queue, so mixing the two does not keep one order
// between them. Closing Outbound asks for a graceful close (code 1000)
// after the messages already queued; do not close it while another
// goroutine may still send on it.
//
// The first call starts the goroutine that takes from the channel; it
// exits when the connection ends, after which a send on Outbound blocks:
// select on Done as well, and set Message.Done when the outcome matters.
// A message with no opcode goes out as binary; one whose opcode Send
// would refuse (a control opcode) reports ErrOpCode on its Done and is
// counted in Stats.Dropped.
func (c *Conn) Outbound() chan<- Message {
	c.outOnce.Do(func() {
		c.out = make(chan Message)
		c.pumpCtl = make(chan pumpRequest)
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.phase != phaseDone {
			c.running++
			c.pumping = true
			go c.pump()
		}
	})
	return c.out
}

// pumpRequest asks the Outbound goroutine to record that the application
// is done (finishApp), and with close to queue our close frame f.
type pumpRequest struct {
	close bool
	f     closeFrame
}

// pump is the Outbound goroutine: it moves what the application sends on
// Outbound into the send queue, and carries out the requests of finishApp
// in order with them.
func (c *Conn) pump() {
	defer c.exit()
	ctx := context.Background()
	stop := c.stopSignal()
	for {
		select {
		case req := <-c.pumpCtl:
			c.mu.Lock()
			c.finishAppLocked()
			if req.close {
				c.queueCloseLocked(req.f)
			}
			c.mu.Unlock()
		case m, ok := <-c.out:
			if !ok {
				c.outboundClosed()
				return
			}
			if m.OpCode = dataOpCode(m.OpCode); m.OpCode == 0 {
				c.dropped.Add(1)
				notify(m.Done, ErrOpCode)
				continue
			}
			if err := c.send(ctx, m, OverflowBlock); err != nil {
				c.dropped.Add(1)
				notify(m.Done, err)
			}
		case <-stop:
			return
		}
	}
}

// outboundClosed starts a graceful close, or sends the answer we owe: the
// application is done sending.
func (c *Conn) outboundClosed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeCalled = true
	c.finishAppLocked()
	c.queueCloseLocked(closeFrame{code: ws.StatusNormalClosure})
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
