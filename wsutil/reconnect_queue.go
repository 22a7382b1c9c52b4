package wsutil

import (
	"context"
)

// Send queues m for sending on the current connection, or the next one
// (see OfflinePolicy). It waits while the Client holds QueueBytes not yet
// written, until ctx is done. It returns ErrDisconnected under
// OfflineFail while there is no connection, and an error matching
// net.ErrClosed once the Client is closing or has ended. A nil error
// means queued: set m.Done to learn when it was written.
func (cl *Client) Send(ctx context.Context, m Message) error {
	if m.OpCode = dataOpCode(m.OpCode); m.OpCode == 0 {
		return ErrOpCode
	}
	size := int64(len(m.Payload))
	for {
		cl.mu.Lock()
		switch {
		case cl.closing || cl.err != nil:
			cl.mu.Unlock()
			return errClosed
		case cl.conn == nil && cl.opts.Offline == OfflineFail:
			cl.mu.Unlock()
			return ErrDisconnected
		case cl.bytes == 0 || cl.bytes+size <= cl.opts.QueueBytes:
			cl.queue = append(cl.queue, m)
			cl.bytes += size
			cl.pokeLocked()
			cl.mu.Unlock()
			return nil
		}
		if cl.room == nil {
			cl.room = make(chan struct{})
		}
		room := cl.room
		cl.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		case <-cl.done:
			return errClosed
		}
	}
}

// feed hands the queue to c, in order, until c ends, or until the queue
// is empty once Close was called. Each message goes with a Done channel
// of its own, so that the Client learns whether c wrote it.
func (cl *Client) feed(c *Conn) {
	ctx := context.Background()
	for {
		cl.mu.Lock()
		if len(cl.queue) == 0 {
			if cl.closing {
				cl.mu.Unlock()
				return
			}
			var first <-chan error
			if len(cl.inflight) > 0 {
				first = cl.inflight[0].done
			}
			cl.mu.Unlock()
			select {
			case <-cl.wake:
			case err := <-first:
				cl.mu.Lock()
				cl.settleFirstLocked(err)
				cl.mu.Unlock()
			case <-c.Done():
				return
			}
			continue
		}
		m := cl.queue[0]
		cl.queue[0] = Message{}
		cl.queue = cl.queue[1:]
		f := inflight{m: m, done: make(chan error, 1)}
		cl.inflight = append(cl.inflight, f)
		cl.mu.Unlock()
		sent := m
		sent.Done = f.done
		if err := c.Send(ctx, sent); err != nil {
			notify(f.done, err) // settled with the others: requeued when c has ended
		}
		cl.mu.Lock()
		cl.settleLocked(false)
		cl.mu.Unlock()
	}
}

// settleFirstLocked settles the first message in flight, whose outcome
// is err.
func (cl *Client) settleFirstLocked(err error) {
	f := cl.inflight[0]
	cl.inflight[0] = inflight{}
	cl.inflight = cl.inflight[1:]
	if err == nil {
		cl.bytes -= int64(len(f.m.Payload))
		notify(f.m.Done, nil)
		cl.wakeLocked()
		return
	}
	// Not written: put it back where it was, or fail it.
	f.done <- err
	cl.inflight = append([]inflight{f}, cl.inflight...)
}

// settleLocked settles the messages in flight whose outcome is known, in
// order: written ones are done. With ended (the connection has ended and
// every outcome is known) the rest go back to the front of the queue
// under OfflineQueue, or fail under OfflineFail and once closing.
func (cl *Client) settleLocked(ended bool) {
	var back []Message
	for len(cl.inflight) > 0 {
		f := cl.inflight[0]
		var err error
		select {
		case err = <-f.done:
		default:
			if !ended {
				return
			}
			err = errClosed
		}
		cl.inflight[0] = inflight{}
		cl.inflight = cl.inflight[1:]
		switch {
		case err == nil:
			cl.bytes -= int64(len(f.m.Payload))
			notify(f.m.Done, nil)
		case !ended:
			// Not written, and the connection is ending: keep it
			// for the final settlement.
			f.done <- err
			cl.inflight = append([]inflight{f}, cl.inflight...)
			cl.wakeLocked()
			return
		case cl.opts.Offline == OfflineQueue && !cl.closing:
			back = append(back, f.m)
		default:
			cl.bytes -= int64(len(f.m.Payload))
			notify(f.m.Done, ErrDisconnected)
		}
	}
	cl.inflight = nil
	if len(back) > 0 {
		cl.queue = append(back, cl.queue...)
	}
	if ended && (cl.opts.Offline == OfflineFail || cl.closing) {
		for _, m := range cl.queue {
			cl.bytes -= int64(len(m.Payload))
			notify(m.Done, ErrDisconnected)
		}
		cl.queue = nil
	}
	cl.wakeLocked()
}

// pokeLocked wakes the feeding goroutine.
func (cl *Client) pokeLocked() {
	select {
	case cl.wake <- struct{}{}:
	default:
	}
}

// wakeLocked wakes the senders waiting for room, and the feeder.
func (cl *Client) wakeLocked() {
	if cl.room != nil {
		close(cl.room)
		cl.room = nil
	}
	cl.pokeLocked()
}
