package wsutil

import (
	"context"
	"errors"
	"io"

	"github.com/sluice-ws/sluice/ws"
)

// Reader returns the opcode of the next received message and a reader of
// its payload (gorilla's NextReader, coder's Reader), waiting until a
// message arrives or ctx is done. The reader returns io.EOF at the end of
// the message; ctx also bounds its waits for the rest of the message.
// Calling Reader again discards what is left of the previous message,
// whose reader then returns an error.
//
// How much is streamed depends on Config.FrameMode, since one goroutine
// reads the socket and hands over what it has read:
//   - without FrameMode, the Conn reads each message whole before Reader
//     returns it, within the read limit (SetReadLimit): the reader only
//     saves the application from handling the buffer;
//   - with FrameMode, the message comes frame by frame as it arrives, so
//     a message longer than InboundBytes flows through with InboundBytes
//     plus one frame held at most (bound frames with MaxFrameSize). The
//     read limit still bounds the whole message: raise it, or make it
//     unlimited with SetReadLimit(-1), to stream messages of any length.
//     A compressed message still arrives whole (see Reader.NextFrame).
//
// Each part of the message is released as soon as it has been read. The
// errors are Receive's: ctx.Err(), or Err once the connection has ended;
// a connection that ends in the middle of a message makes the reader
// return io.ErrUnexpectedEOF joined with Err. Reader and the reads of its
// reader must not run concurrently with each other, nor with Receive or
// Inbound on the same Conn.
func (c *Conn) Reader(ctx context.Context) (ws.OpCode, io.Reader, error) {
	c.rdmu.Lock()
	defer c.rdmu.Unlock()
	if prev := c.rd; prev != nil {
		if err := prev.discard(ctx); err != nil {
			return 0, nil, err // ctx ended: the next call goes on discarding
		}
		c.rd = nil
	}
	for {
		m, err := c.Receive(ctx)
		if err != nil {
			return 0, nil, err
		}
		if m.OpCode == ws.OpContinuation {
			// The rest of a message whose first frame was taken with
			// Receive: not a message to hand out.
			m.Release()
			continue
		}
		r := &messageReader{c: c, ctx: ctx, m: m, rest: m.Payload, more: m.Fragment}
		c.rd = r
		return m.OpCode, r, nil
	}
}

// messageReader is the io.Reader of Conn.Reader.
type messageReader struct {
	c    *Conn
	ctx  context.Context
	m    Message // the frame (FrameMode) or message being read
	rest []byte  // what is left of m.Payload
	more bool    // frames of the message are still to come
	err  error   // sticky: io.EOF, or why the message cannot go on
}

func (r *messageReader) Read(p []byte) (int, error) {
	for len(r.rest) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.m.Release()
		if !r.more {
			r.err = io.EOF
			return 0, io.EOF
		}
		m, err := r.c.Receive(r.ctx)
		if err != nil {
			if r.ctx.Err() == nil {
				r.err = errors.Join(io.ErrUnexpectedEOF, err)
				err = r.err
			}
			return 0, err // a wait cut short by ctx loses nothing
		}
		r.m, r.rest, r.more = m, m.Payload, m.Fragment
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}

// discard drops what is left of the message, so that the next Reader
// starts at a message boundary.
func (r *messageReader) discard(ctx context.Context) error {
	r.m.Release()
	r.rest = nil
	for r.more && r.err == nil {
		m, err := r.c.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			r.err = errors.Join(io.ErrUnexpectedEOF, err)
			break
		}
		r.more = m.Fragment
		m.Release()
	}
	if r.err == nil || r.err == io.EOF {
		r.err = errReaderDone
	}
	return nil
}
