package wsutil

import "time"

// What the event-loop mode needs of a Budget: a loop cannot wait on a
// channel, so a connection that needs bytes joins the waiters like any
// reader (first come, first served, and the deadlock breaking of
// grantLocked) and its loop looks at its turn now and then (pollBudget).

// startWait joins the waiters for n bytes, while the caller holds held.
// The bytes are the caller's once w.ready is closed and w.refused is not
// set.
func (b *Budget) startWait(n, held int64) *budgetWaiter {
	b.sweep()
	w := &budgetWaiter{n: n, held: held, ready: make(chan struct{})}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.waiters = append(b.waiters, w)
	b.waitHeld += held
	b.grantLocked() // bytes may have been freed since tryAcquire
	return w
}

// cancelWait leaves the waiters, giving back the bytes when they were
// granted meanwhile.
func (b *Budget) cancelWait(w *budgetWaiter) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, x := range b.waiters {
		if x == w {
			b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
			b.waitHeld -= w.held
			b.grantLocked() // the next in line may fit now
			return
		}
	}
	if !w.refused {
		b.used -= w.n
		b.grantLocked()
	}
}

// hold adds n bytes to what waiter w holds, while it waits: input the
// connection took in and keeps until it reads on. Bytes held by waiters
// only are a deadlock that grantLocked breaks.
func (b *Budget) hold(w *budgetWaiter, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, x := range b.waiters {
		if x == w {
			w.held += n
			b.waitHeld += n
			b.breakDeadlockLocked()
			return
		}
	}
}

// force takes n bytes whatever is left: for what a connection has taken
// in already (a message admitted beyond the limits under OverflowBlock,
// input read before it had to stop).
func (b *Budget) force(n int64) {
	if b == nil || n <= 0 {
		return
	}
	b.mu.Lock()
	b.used += n
	b.mu.Unlock()
}

// pollWait is a connection's wait for Budget bytes: the waiter while it
// waits, then the bytes it brought until they are used.
type pollWait struct {
	w       *budgetWaiter
	granted int64
	delay   time.Duration // until the loop looks again
}

// startWait has the connection wait for n bytes, while it holds held
// (loop).
func (c *PollConn) startWait(n, held int64) {
	if c.pend != nil {
		held += int64(cap(c.pend.B)) // input kept from before, held while waiting
	}
	c.wait = &pollWait{w: c.ep.cfg.Budget.startWait(n, held), delay: time.Millisecond}
	c.paused |= pauseBudget
	c.timer.budgetAt = c.loop.now + c.wait.delay
	c.rearm()
}

// granted takes the bytes a wait brought: n of them, and what is left
// goes back (loop). It reports false when there are none, or not enough.
func (c *PollConn) granted(n int64) bool {
	if c.wait == nil || c.wait.w != nil {
		return false
	}
	g := c.wait.granted
	c.wait = nil
	if g < n {
		c.ep.cfg.Budget.release(g)
		return false
	}
	c.ep.cfg.Budget.release(g - n)
	return true
}

// endWait stops waiting and gives back what the wait brought (loop).
func (c *PollConn) endWait() {
	if c.wait == nil {
		return
	}
	if c.wait.w != nil {
		c.ep.cfg.Budget.cancelWait(c.wait.w)
	}
	c.ep.cfg.Budget.release(c.wait.granted)
	c.wait = nil
}

// pollBudget looks whether the Budget has granted the bytes the
// connection waits for (loop): then it reads on; refused, it fails with
// 1013; otherwise it looks again later, at growing intervals, as
// Budget.acquire does.
func (c *PollConn) pollBudget(now time.Duration) {
	if c.wait == nil || c.wait.w == nil {
		return
	}
	w := c.wait.w
	select {
	case <-w.ready:
		if w.refused {
			c.wait = nil
			c.fail(ErrBudgetExhausted)
			return
		}
		c.wait.w, c.wait.granted = nil, w.n
		c.resume(pauseBudget)
	default:
		c.ep.cfg.Budget.sweep()
		c.wait.delay = min(2*c.wait.delay, maxTakenCheck)
		c.timer.budgetAt = now + c.wait.delay
	}
}
