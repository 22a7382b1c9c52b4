package wsutil

import (
	"errors"
	"os"
	"time"

	"github.com/sluice-ws/sluice/ws"
)

// Time in the event-loop mode: deadlines per operation, on one clock per
// server (time.Duration since it started, monotonic), and one heap of
// connections per loop ordered by their earliest deadline. The loop
// sleeps in epoll until the first one; no connection has a timer or a
// goroutine of its own. A deadline that moves often (keepalive after
// every read, the write timeout after every write) is not moved in the
// heap: the loop looks when the old one comes and sets the next.

// pollTimer is a connection's deadlines, 0 when unset.
type pollTimer struct {
	heap     int32         // 1 + index in the loop's heap, 0 when not in it
	awaiting bool          // the keepalive ping's answer has not come
	at       time.Duration // the earliest of the deadlines below, in the heap

	readAt   time.Duration // the request head (Upgrader.Timeout), or the message being read (MessageTimeout), must be in
	closeAt  time.Duration // the peer's close, or its end of TCP, must be in (CloseTimeout)
	writeAt  time.Duration // writing must have moved (WriteTimeout); moved forward by every write
	pingAt   time.Duration // look whether to ping, or whether the pong came (keepalive)
	budgetAt time.Duration // look whether the Budget has the bytes

	lastRead time.Duration // when bytes last arrived
	pingSent time.Duration // when the keepalive ping left
}

// next returns the earliest deadline, 0 for none.
func (t *pollTimer) next() time.Duration {
	var at time.Duration
	for _, d := range [...]time.Duration{t.readAt, t.closeAt, t.writeAt, t.pingAt, t.budgetAt} {
		if d != 0 && (at == 0 || d < at) {
			at = d
		}
	}
	return at
}

// rearm puts the connection in its loop's heap at its earliest deadline
// (loop).
func (c *PollConn) rearm() {
	if c.fd < 0 {
		return
	}
	c.loop.timers.set(c, c.timer.next())
}

// onTimer acts on the deadlines that have passed at now (loop).
func (c *PollConn) onTimer(now time.Duration) {
	t := &c.timer
	due := func(at time.Duration) bool { return at != 0 && now >= at }
	switch {
	case due(t.readAt) && c.rs == rsHandshake:
		c.finish(errors.Join(ErrAbnormalClosure, os.ErrDeadlineExceeded))
		return
	case due(t.closeAt):
		if c.rs == rsDrain {
			c.finish(nil) // the failing close frame is out; the peer did not close its side
		} else {
			c.finish(errors.Join(ErrAbnormalClosure, ErrCloseTimeout))
		}
		return
	case due(t.writeAt):
		c.finish(errors.Join(ErrAbnormalClosure, os.ErrDeadlineExceeded))
		return
	}
	if due(t.readAt) {
		t.readAt = 0
		if c.msg.op != 0 && c.rs == rsFrames {
			c.fail(ErrMessageTimeout)
		}
	}
	if due(t.budgetAt) {
		t.budgetAt = 0
		c.pollBudget(now)
	}
	if due(t.pingAt) {
		t.pingAt = 0
		c.keepalive(now)
	}
	c.rearm()
}

// keepalive pings a connection quiet for PingInterval and drops it when
// nothing at all arrived within PongTimeout of the ping, as Conn does.
// While the connection reads nothing (its queue is full, or it waits for
// the Budget) the silence is ours, not the peer's.
func (c *PollConn) keepalive(now time.Duration) {
	t := &c.timer
	cfg := &c.ep.cfg
	if c.rs != rsFrames || c.State() != StateOpen {
		return // closing is bounded by CloseTimeout instead
	}
	if c.paused != 0 {
		t.awaiting = false
		t.pingAt = now + cfg.PingInterval
		return
	}
	if t.awaiting && t.lastRead < t.pingSent {
		if now-t.pingSent >= cfg.PongTimeout {
			c.finish(errors.Join(ErrAbnormalClosure, ErrKeepaliveTimeout))
			return
		}
		// Look again at the deadline, or sooner: a pong that comes
		// late but within PongTimeout lets the next ping go out
		// PingInterval after it.
		t.pingAt = min(t.pingSent+cfg.PongTimeout, now+cfg.PingInterval)
		return
	}
	t.awaiting = false
	if idle := now - t.lastRead; idle < cfg.PingInterval*9/10 {
		t.pingAt = t.lastRead + cfg.PingInterval
		return
	}
	c.mu.Lock()
	c.controlLocked(ws.OpPing, nil)
	c.mu.Unlock()
	t.awaiting, t.pingSent = true, now
	// Look again when the next ping is due if the pong comes by then,
	// or when it is late.
	t.pingAt = now + min(cfg.PingInterval, cfg.PongTimeout)
}

// pollTimers is a loop's heap of connections by their earliest deadline.
type pollTimers []*PollConn

// set moves c to at in the heap, or out of it for 0.
func (h *pollTimers) set(c *PollConn, at time.Duration) {
	t := &c.timer
	switch {
	case at == 0 && t.heap > 0:
		h.remove(c)
	case at == 0:
	case t.heap == 0:
		t.at = at
		*h = append(*h, c)
		t.heap = int32(len(*h))
		h.up(len(*h) - 1)
	case at != t.at:
		t.at = at
		h.fix(int(t.heap) - 1)
	}
}

// remove takes c out of the heap.
func (h *pollTimers) remove(c *PollConn) {
	i := int(c.timer.heap) - 1
	if i < 0 {
		return
	}
	s := *h
	last := len(s) - 1
	if i != last {
		h.swap(i, last)
	}
	s[last] = nil
	*h = s[:last]
	c.timer.heap = 0
	if i != last {
		h.fix(i)
	}
}

// due returns the first connection whose deadline is at or before now,
// taking it out of the heap, or nil.
func (h *pollTimers) due(now time.Duration) *PollConn {
	if len(*h) == 0 || (*h)[0].timer.at > now {
		return nil
	}
	c := (*h)[0]
	h.remove(c)
	return c
}

// wait returns how long until the first deadline after now, -1 for none.
func (h *pollTimers) wait(now time.Duration) time.Duration {
	if len(*h) == 0 {
		return -1
	}
	return max((*h)[0].timer.at-now, 0)
}

func (h pollTimers) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].timer.heap, h[j].timer.heap = int32(i+1), int32(j+1)
}

func (h pollTimers) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h pollTimers) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p].timer.at <= h[i].timer.at {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h pollTimers) down(i int) bool {
	start := i
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && h[r].timer.at < h[l].timer.at {
			m = r
		}
		if h[i].timer.at <= h[m].timer.at {
			break
		}
		h.swap(i, m)
		i = m
	}
	return i > start
}
