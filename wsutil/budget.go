package wsutil

import (
	"sync"
	"time"
)

// BudgetPolicy is what a Conn does when its Budget cannot cover the bytes a
// message it is reading needs.
type BudgetPolicy uint8

// Budget policies.
const (
	// BudgetWait stops reading the socket until other connections give
	// bytes back: TCP flow control then holds the peer. Inside a message,
	// Config.MessageTimeout bounds the wait; a connection that runs out of
	// it is failed with 1008 (ErrMessageTimeout). When every byte in use
	// is held by connections waiting for more, so that none would ever be
	// given back, the newest of them is failed with 1013
	// (ErrBudgetExhausted) and the others go on.
	BudgetWait BudgetPolicy = iota // wait
	// BudgetRefuse fails the connection at once with 1013 (try again
	// later, ErrBudgetExhausted).
	BudgetRefuse // refuse
)

// Budget bounds the bytes that many Conns hold together: messages being
// read (inflated output included), messages waiting in Inbound, and
// messages queued for sending, counted by the capacity of the buffers that
// hold them. Share one Budget between every Conn of a server (Config.Budget)
// so that N connections cannot add up to more memory than the Budget,
// however each of them stays within its own limits.
//
// On the receiving side, a Conn that needs more than is left follows the
// Budget's policy; a message that could never fit (larger than the whole
// limit) fails its connection with 1009. On the sending side, Send treats an
// exhausted Budget as a full send queue and follows Config.Overflow.
//
// A nil *Budget bounds nothing. A Budget is safe for concurrent use.
type Budget struct {
	limit  int64
	policy BudgetPolicy

	mu       sync.Mutex
	used     int64              // guarded by mu
	waiters  []*budgetWaiter    // guarded by mu; served first come, first served
	waitHeld int64              // guarded by mu; the bytes the waiters hold
	conns    map[*Conn]struct{} // guarded by mu; Conns with an Inbound channel
}

// budgetWaiter is a Conn waiting for n bytes while it holds held; ready is
// closed once they are its, or once it is refused.
type budgetWaiter struct {
	n, held int64
	ready   chan struct{}
	refused bool // set before ready is closed
}

// NewBudget returns a Budget of limit bytes with the given policy.
func NewBudget(limit int64, policy BudgetPolicy) *Budget {
	return &Budget{limit: limit, policy: policy}
}

// Limit returns the Budget's limit in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// Used returns the bytes the Conns sharing b hold now.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// tryAcquire takes n bytes when they are free and nobody waits for bytes
// before it.
func (b *Budget) tryAcquire(n int64) bool {
	if b == nil || n <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiters) > 0 || b.used+n > b.limit {
		return false
	}
	b.used += n
	return true
}

// acquire takes n bytes, waiting for them until stop or cancel is closed or
// timeout fires (nil channels never do). held is what the caller holds
// already and keeps while it waits (the part of a message read so far).
// It returns errBudgetTooBig for more than the whole limit;
// errBudgetDeadlock when every byte in use is held by waiters like it, so
// that nobody would ever give any back, and it is the newest of them (see
// breakDeadlockLocked); and errBudgetStopped, errBudgetCanceled or
// errBudgetTimeout when the wait ended without the bytes.
func (b *Budget) acquire(n, held int64, stop, cancel <-chan struct{}, timeout <-chan time.Time) error {
	if b.tryAcquire(n) {
		return nil
	}
	if n > b.limit {
		return errBudgetTooBig
	}
	b.sweep()
	w := &budgetWaiter{n: n, held: held, ready: make(chan struct{})}
	b.mu.Lock()
	b.waiters = append(b.waiters, w)
	b.waitHeld += held
	b.grantLocked() // bytes may have been freed since tryAcquire
	b.mu.Unlock()
	// Applications take messages from Inbound without telling: while
	// waiting, look again after a growing delay.
	delay := time.Millisecond
	look := time.NewTimer(delay)
	defer look.Stop()
	var err error
wait:
	for {
		select {
		case <-w.ready:
			if w.refused {
				return errBudgetDeadlock
			}
			return nil
		case <-look.C:
			b.sweep()
			delay = min(2*delay, maxTakenCheck)
			look.Reset(delay)
		case <-stop:
			err = errBudgetStopped
			break wait
		case <-cancel:
			err = errBudgetCanceled
			break wait
		case <-timeout:
			err = errBudgetTimeout
			break wait
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, x := range b.waiters {
		if x == w {
			b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
			b.waitHeld -= held
			b.grantLocked() // the next in line may fit now
			return err
		}
	}
	if !w.refused {
		// Granted while we gave up: give the bytes back.
		b.used -= n
		b.grantLocked()
	}
	return err
}

// release gives n bytes back and hands them to the waiters they cover.
func (b *Budget) release(n int64) {
	if b == nil || n <= 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.grantLocked()
	b.mu.Unlock()
}

// grantLocked serves the waiters in order while the first one fits, then
// breaks a deadlock if the rest are stuck in one.
func (b *Budget) grantLocked() {
	for len(b.waiters) > 0 && b.used+b.waiters[0].n <= b.limit {
		w := b.waiters[0]
		b.waiters = b.waiters[1:]
		b.used += w.n
		b.waitHeld -= w.held
		close(w.ready)
	}
	b.breakDeadlockLocked()
}

// breakDeadlockLocked refuses the newest waiter that holds bytes when
// every byte in use is held by waiters: readers that each hold part of a
// message and wait for more would otherwise wait for one another for ever
// (twenty connections inflating 64 MiB messages each against a 128 MiB
// budget, say). The one refused fails its connection with 1013 (try again
// later) and gives its bytes back, which lets the older ones go on. Bytes
// held by anyone else (a send queue draining, a message the application
// has not taken) will come back, so the waiters wait for those.
func (b *Budget) breakDeadlockLocked() {
	if len(b.waiters) == 0 || b.used != b.waitHeld {
		return
	}
	for i := len(b.waiters) - 1; i >= 0; i-- {
		if w := b.waiters[i]; w.held > 0 {
			b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
			b.waitHeld -= w.held
			w.refused = true
			close(w.ready)
			return
		}
	}
}

// register makes c's Inbound one that sweep looks at.
func (b *Budget) register(c *Conn) {
	if b == nil {
		return
	}
	b.mu.Lock()
	if b.conns == nil {
		b.conns = make(map[*Conn]struct{})
	}
	b.conns[c] = struct{}{}
	b.mu.Unlock()
}

// unregister forgets c.
func (b *Budget) unregister(c *Conn) {
	if b == nil {
		return
	}
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
}

// sweep gives back the bytes of every message the applications have taken
// from Inbound since their Conns last looked. A channel does not tell
// when a value is taken, so a Conn whose reader is blocked on the socket
// would otherwise keep counting messages that are long gone; sweep runs
// only when someone has to wait for bytes.
func (b *Budget) sweep() {
	b.mu.Lock()
	conns := make([]*Conn, 0, len(b.conns))
	for c := range b.conns {
		conns = append(conns, c)
	}
	b.mu.Unlock()
	for _, c := range conns {
		c.mu.Lock()
		c.noteTakenLocked()
		c.mu.Unlock()
	}
}
