package wsutil

import (
	"io"
	"sync"

	"github.com/sluice-ws/sluice/ws"
)

// helper is the pooled state of the one-call helpers: an unbuffered Reader
// with a ControlHandler bound once, so that a call allocates nothing.
type helper struct {
	r  Reader
	ch ControlHandler
}

var helperPool = sync.Pool{New: func() any {
	h := &helper{}
	h.r.OnControl = h.ch.Handle
	return h
}}

// ReadMessage reads one whole message from rw, as the given side, and
// appends its payload to dst[:0]. Control frames that arrive first are
// answered on rw (pong for ping, the close echo for close), and rw is
// flushed after each answer when it has a Flush method. A close frame
// ends with ws.CloseError; a protocol violation with the *ws.ProtocolError
// that names the close code to send. Text is checked for UTF-8, and
// messages over DefaultMaxMessageSize are refused.
//
// ReadMessage reads exactly the bytes of the frames it consumes, never past
// the message, so it can be called again on the same connection; wrap a
// net.Conn in a bufio.ReadWriter to save system calls (ReadMessage then
// reads headers straight from the bufio buffer). It keeps no state between
// calls, so a fragmented message must be read by one call. Given a dst
// with enough capacity it does not allocate. For a long conversation, a
// Reader of your own is faster.
func ReadMessage(rw io.ReadWriter, side ws.Side, dst []byte) (ws.OpCode, []byte, error) {
	h := helperPool.Get().(*helper)
	h.r.Reset(rw, side)
	h.ch = ControlHandler{Dst: rw, Side: side}
	op, p, err := h.r.ReadMessage(dst)
	h.r.Reset(nil, 0)
	h.ch.Dst = nil
	helperPool.Put(h)
	return op, p, err
}

// WriteMessage writes p as one whole message (a single final frame) with
// opcode op, as the given side: a client masks it with a fresh key, leaving
// p unchanged. op may be a data opcode (text, binary) or a control one
// (ping, pong, close) with at most 125 bytes. It does not allocate in the
// steady state.
func WriteMessage(w io.Writer, side ws.Side, op ws.OpCode, p []byte) error {
	switch {
	case op == ws.OpText, op == ws.OpBinary:
	case op.IsControl() && !op.IsReserved() && len(p) <= ws.MaxControlPayload:
	default:
		return ErrOpCode
	}
	return writeFrame(w, side, op, true, p)
}

// WriteClose writes a close frame with code and reason, as the given side.
// Code 0 sends a close frame without a body. A reason that does not fit in
// a control frame is cut at a UTF-8 boundary. After it, send no more data
// frames (RFC 6455 §5.5.1). To wait for the peer's answer as well, use
// CloseHandshake: ReadMessage would answer the peer's close a second time.
func WriteClose(w io.Writer, side ws.Side, code ws.StatusCode, reason string) error {
	var body [ws.MaxControlPayload]byte
	return writeFrame(w, side, ws.OpClose, true, ws.AppendCloseBody(body[:0], code, reason))
}

// CloseHandshake runs the closing handshake from this end of a connection
// driven by the one-call helpers: it writes a close frame with code and
// reason (flushing rw when it can), then reads until the peer's close
// frame arrives, discarding data still in flight and answering pings, but
// not answering the close. It returns the peer's close as ws.CloseError,
// or the error that ended reading first. It does not close rw: a server
// closes the TCP connection next, a client waits for the server to
// (RFC 6455 §7.1.1).
func CloseHandshake(rw io.ReadWriter, side ws.Side, code ws.StatusCode, reason string) error {
	if err := WriteClose(rw, side, code, reason); err != nil {
		return err
	}
	if f, ok := rw.(interface{ Flush() error }); ok {
		if err := f.Flush(); err != nil {
			return err
		}
	}
	h := helperPool.Get().(*helper)
	defer helperPool.Put(h)
	h.r.Reset(rw, side)
	h.ch = ControlHandler{Dst: rw, Side: side, CloseSent: true}
	defer func() {
		h.r.Reset(nil, 0)
		h.ch.Dst = nil
	}()
	var scratch []byte
	for {
		var err error
		if _, scratch, err = h.r.ReadMessage(scratch[:0]); err != nil {
			return err
		}
	}
}
