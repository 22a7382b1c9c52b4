package wsutil

import (
	"context"
	"time"
)

// Delivery to Inbound. The reader puts a message on Inbound itself when
// there is room; when Inbound is full it queues the message (pending) and
// a deliverer goroutine, started for as long as messages are pending, puts
// them on Inbound as the application takes what is there. The reader
// meanwhile goes on reading, so pings are answered and the peer's close
// frame is seen while the application is busy, until the messages it
// holds for the application reach InboundBytes: then it stops reading the
// socket, and TCP flow control holds the peer.

// inboundQueue accounts for what the application has not taken: the
// messages on Inbound (a channel is FIFO, so when it holds k messages they
// are the last k put in, and sizes keeps their Budget bytes) and the
// pending ones. Guarded by Conn.mu.
type inboundQueue struct {
	sizes   []int64 // a ring of InboundSize entries, oldest at head
	head, n int
	bytes   int64            // the ring's entries and the pending messages
	pending []pendingMessage // not yet on Inbound, oldest first
	// delivering is set while the deliverer runs, ended once reading
	// has ended: the last of the two to finish closes Inbound.
	delivering, ended bool
	// stalled is set when the application took nothing for closeLinger
	// after our close frame left: from then on what does not fit on
	// Inbound is dropped.
	stalled bool
}

// pendingMessage is a message waiting for room on Inbound, with its
// Budget bytes.
type pendingMessage struct {
	m    Message
	held int64
}

// maxTakenCheck bounds the interval at which a reader waiting on
// InboundBytes looks whether the application has taken messages.
const maxTakenCheck = 32 * time.Millisecond

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

// putLocked puts m on Inbound when it has room and nothing is pending, and
// reports whether it did.
func (c *Conn) putLocked(m Message, held int64) bool {
	if len(c.inq.pending) > 0 {
		return false
	}
	select {
	case c.in <- m:
	default:
		return false
	}
	c.ringLocked(held)
	c.inq.bytes += held
	return true
}

// ringLocked records a message just put on Inbound.
func (c *Conn) ringLocked(held int64) {
	q := &c.inq
	q.sizes[(q.head+q.n)%len(q.sizes)] = held
	q.n++
}

// deliverInbound hands m to the application through Inbound: at once when
// Inbound has room, else through the deliverer, as long as what the
// application has not taken stays within InboundBytes (one message always
// fits). Beyond that it waits, reading nothing. Once our close frame has
// left it waits for nobody: a message beyond InboundBytes, or any message
// once the application has stopped taking them (see deliverPending), is
// dropped and counted (RFC 6455 §1.4 lets a closing endpoint discard
// data), so that the peer's close frame gets read. It reports false when
// the connection ended first.
func (c *Conn) deliverInbound(m Message, held int64) bool {
	var check *time.Timer
	defer func() {
		if check != nil {
			check.Stop()
		}
	}()
	delay := time.Millisecond
	for {
		c.mu.Lock()
		c.noteTakenLocked()
		fits := c.inq.bytes == 0 || c.inq.bytes+held <= c.cfg.InboundBytes
		if fits && c.putLocked(m, held) {
			c.mu.Unlock()
			return true
		}
		closing := c.phase >= phaseSent
		if fits && !c.inq.stalled {
			c.inq.pending = append(c.inq.pending, pendingMessage{m, held})
			c.inq.bytes += held
			c.startDelivererLocked()
			c.mu.Unlock()
			return true
		}
		c.mu.Unlock()
		if closing {
			c.drop(m, held)
			return true
		}
		// Over InboundBytes: wait for the application. A taken message
		// cannot be seen, so look again after a growing delay, or when
		// the deliverer or Receive says one was taken.
		check = resetTimer(check, delay)
		delay = min(2*delay, maxTakenCheck)
		c.waiting.Store(true)
		select {
		case <-c.taken:
		case <-check.C:
		case <-c.sentCh:
		case <-c.stop:
			c.waiting.Store(false)
			c.drop(m, held)
			return false
		}
		c.waiting.Store(false)
		c.touch()
	}
}

// startDelivererLocked starts the deliverer unless it runs.
func (c *Conn) startDelivererLocked() {
	if c.inq.delivering || c.phase == phaseDone {
		return
	}
	c.inq.delivering = true
	c.running++
	go c.deliverPending()
}

// deliverPending is the deliverer: it puts the pending messages on Inbound
// in order, waiting for room, and exits when none is left. Once our close
// frame has left, or the connection has ended, an application that takes
// nothing for closeLinger is taken to have stopped reading: the pending
// messages are dropped, and from then on any that do not fit (stalled).
func (c *Conn) deliverPending() {
	defer c.exit()
	var linger *time.Timer
	defer func() {
		if linger != nil {
			linger.Stop()
		}
	}()
	for {
		c.mu.Lock()
		if len(c.inq.pending) == 0 {
			c.inq.pending = nil
			c.inq.delivering = false
			c.endInboundLocked()
			c.mu.Unlock()
			return
		}
		p := c.inq.pending[0]
		c.mu.Unlock()
		var sent, stop <-chan struct{}
		var stall <-chan time.Time
		if linger == nil {
			sent, stop = c.sentCh, c.stop
		} else {
			stall = linger.C
		}
		select {
		case c.in <- p.m:
			c.mu.Lock()
			c.inq.pending[0] = pendingMessage{}
			c.inq.pending = c.inq.pending[1:]
			c.ringLocked(p.held)
			c.noteTakenLocked()
			c.mu.Unlock()
			select { // a reader waiting on InboundBytes may go on
			case c.taken <- struct{}{}:
			default:
			}
			if linger != nil {
				linger.Reset(closeLinger)
			}
		case <-sent:
			linger = time.NewTimer(closeLinger)
		case <-stop:
			linger = time.NewTimer(closeLinger)
		case <-stall:
			c.mu.Lock()
			c.inq.stalled = true
			c.dropPendingLocked()
			c.mu.Unlock()
		}
	}
}

// dropPendingLocked drops the pending messages, counting them.
func (c *Conn) dropPendingLocked() {
	for i, p := range c.inq.pending {
		c.dropped.Add(1)
		c.inq.bytes -= p.held
		c.cfg.Budget.release(p.held)
		if p.m.buf != nil {
			p.m.buf.Release()
		}
		c.inq.pending[i] = pendingMessage{}
	}
	c.inq.pending = nil
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

// closeInbound ends Inbound once reading has ended: at once, or when the
// deliverer has delivered what is pending.
func (c *Conn) closeInbound() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inq.ended = true
	c.endInboundLocked()
}

// endInboundLocked closes Inbound when reading has ended and nothing is
// pending, and stops counting what is left in it: those messages are the
// application's to drain.
func (c *Conn) endInboundLocked() {
	if c.inClosed || !c.inq.ended || c.inq.delivering {
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
