package wsutil

import (
	"context"
	"errors"
	"time"

	"github.com/sluice-ws/sluice/ws"
)

// keepaliveState is the keepalive timer's memory between ticks.
type keepaliveState struct {
	awaiting bool          // a keepalive ping is out, its answer not in
	pingSent time.Duration // when it left, on the Conn's clock
}

// keepaliveTick runs on the keepalive timer. The timer, not a goroutine,
// carries keepalive, so an idle connection costs no stack for it: each tick
// sends a ping when the connection has been quiet for PingInterval, drops
// the connection when nothing at all arrived within PongTimeout of a ping,
// and sets itself for the next moment that needs a look.
func (c *Conn) keepaliveTick() {
	c.mu.Lock()
	if c.phase != phaseOpen {
		// Closing is bounded by CloseTimeout instead.
		c.mu.Unlock()
		return
	}
	now := c.since()
	last := time.Duration(c.lastRead.Load())
	next := c.cfg.PingInterval
	write := false
	switch {
	case c.waiting.Load():
		// The reader waits for the application or the Budget: the
		// silence is ours, not the peer's.
		c.ka.awaiting = false
	case c.ka.awaiting && last < c.ka.pingSent:
		if late := now - c.ka.pingSent; late < c.cfg.PongTimeout {
			next = c.cfg.PongTimeout - late
			break
		}
		c.mu.Unlock()
		c.shutdown(errors.Join(ErrAbnormalClosure, ErrKeepaliveTimeout))
		return
	default:
		c.ka.awaiting = false
		if idle := now - last; idle < c.cfg.PingInterval*9/10 {
			next = c.cfg.PingInterval - idle
			break
		}
		// The clock starts before the ping leaves: a fast pong must not
		// look older than its ping.
		c.ka.awaiting, c.ka.pingSent = true, now
		if c.q.writer == writerNone && !c.inCallback.Load() {
			// Nobody writes: this goroutine, which the timer
			// started anyway, writes the ping (below) instead of
			// starting another for it. A keepalive round would
			// otherwise run two goroutines per connection, and the
			// runtime keeps the descriptor of every goroutine that
			// ever ran at once.
			write = true
			c.q.writer = writerGoroutine
			c.running++
		}
		c.enqueueControlLocked(ws.OpPing, nil)
		next = c.cfg.PongTimeout
	}
	c.keepalive.Reset(next)
	c.mu.Unlock()
	if write {
		c.writeLoop()
	}
}

// Ping sends a ping and waits for its pong, returning the round-trip time.
// It returns ctx.Err() when ctx ends first and an error matching
// net.ErrClosed when the connection ends first.
func (c *Conn) Ping(ctx context.Context) (time.Duration, error) {
	c.mu.Lock()
	if c.phase >= phaseSent {
		c.mu.Unlock()
		return 0, errClosed
	}
	if c.pings == nil {
		c.pings = make(map[uint64]chan time.Time)
	}
	c.pingSeq++
	seq := c.pingSeq
	ch := make(chan time.Time, 1)
	c.pings[seq] = ch
	var payload [8]byte
	putUint64(payload[:], seq)
	start := time.Now()
	c.enqueueControlLocked(ws.OpPing, payload[:])
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pings, seq)
		c.mu.Unlock()
	}()
	select {
	case at, ok := <-ch:
		if !ok {
			return 0, errClosed
		}
		return at.Sub(start), nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// pong delivers a pong to the Ping waiting for it, if any.
func (c *Conn) pong(p []byte) {
	if len(p) != 8 {
		return
	}
	seq := getUint64(p)
	c.mu.Lock()
	ch := c.pings[seq]
	c.mu.Unlock()
	if ch != nil {
		select {
		case ch <- time.Now():
		default:
		}
	}
}

func putUint64(b []byte, v uint64) {
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}

func getUint64(b []byte) (v uint64) {
	for _, x := range b[:8] {
		v = v<<8 | uint64(x)
	}
	return v
}

// checkControl vets a WriteControl call: a ping or pong of at most 125
// bytes, and ctx not done.
func checkControl(ctx context.Context, op ws.OpCode, payload []byte) error {
	if (op != ws.OpPing && op != ws.OpPong) || len(payload) > ws.MaxControlPayload {
		return ErrOpCode
	}
	return ctx.Err()
}

// WriteControl queues a ping or pong with the given payload (at most 125
// bytes), ahead of queued messages: the seeds' ping(data) and pong(data),
// a pong being an unsolicited heartbeat the peer does not answer. Ping
// measures a round trip; use WriteControl to choose the payload. A nil
// error means queued: a frame queued as our close frame leaves is not
// sent. It returns ErrOpCode for any other opcode or a longer payload,
// and an error matching net.ErrClosed once our close frame is out or the
// connection has ended. It never waits, so ctx is only checked.
func (c *Conn) WriteControl(ctx context.Context, op ws.OpCode, payload []byte) error {
	if err := checkControl(ctx, op, payload); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase >= phaseSent {
		return errClosed
	}
	c.enqueueControlLocked(op, payload)
	return nil
}
