package wsutil

import (
	"context"
	"net"
	"sync/atomic"
	"time"

	"github.com/sluice-ws/sluice/ws"
)

// Ping sends a ping and waits for its pong, returning the round-trip time.
// It returns ctx.Err() when ctx ends first and an error matching
// net.ErrClosed when the connection ends first.
func (c *Conn) Ping(ctx context.Context) (time.Duration, error) {
	c.mu.Lock()
	if c.pings == nil {
		c.pings = make(map[uint64]chan time.Time)
	}
	c.pingSeq++
	seq := c.pingSeq
	ch := make(chan time.Time, 1)
	c.pings[seq] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pings, seq)
		c.mu.Unlock()
	}()

	req := control{op: ws.OpPing, n: 8}
	putUint64(req.payload[:8], seq)
	start := time.Now()
	select {
	case c.ctl <- req:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-c.stop:
		return 0, errClosed
	}
	select {
	case at, ok := <-ch:
		if !ok {
			return 0, errClosed
		}
		return at.Sub(start), nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-c.stop:
		return 0, errClosed
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

// countingConn counts bytes in each direction and remembers when bytes
// last arrived, for keepalive.
type countingConn struct {
	net.Conn
	in, out  atomic.Int64
	epoch    time.Time    // set before the goroutines start
	lastRead atomic.Int64 // a time.Duration since epoch
}

// since is the connection's monotonic clock: wall-clock steps cannot fake
// or hide a keepalive timeout.
func (c *countingConn) since() time.Duration { return time.Since(c.epoch) }

func (c *countingConn) touch() { c.lastRead.Store(int64(c.since())) }

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.in.Add(int64(n))
		c.touch()
	}
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.Add(int64(n))
	return n, err
}

// WriteControl queues a ping or pong with the given payload (at most 125
// bytes), ahead of queued messages: the seeds' ping(data) and pong(data),
// a pong being an unsolicited heartbeat the peer does not answer. Ping
// measures a round trip; use WriteControl to choose the payload. A nil
// error means queued: a frame queued as our close frame leaves is not
// sent. It returns ErrOpCode for any other opcode or a longer payload,
// ctx.Err() when ctx ends first, and an error matching net.ErrClosed once
// our close frame is out or the connection has ended.
func (c *Conn) WriteControl(ctx context.Context, op ws.OpCode, payload []byte) error {
	if (op != ws.OpPing && op != ws.OpPong) || len(payload) > ws.MaxControlPayload {
		return ErrOpCode
	}
	if c.closeSent.Load() || c.stopped.Load() {
		return errClosed
	}
	req := control{op: op, n: uint8(len(payload))}
	copy(req.payload[:], payload)
	select {
	case c.ctl <- req:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stop:
		return errClosed
	}
}
