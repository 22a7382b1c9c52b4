package wsutil

import (
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"

	"github.com/sluice-ws/sluice/ws"
)

// ControlHandler answers control frames the way RFC 6455 §5.5 asks: a ping
// gets a pong with the same payload, and a close frame gets a close frame
// back, echoing the peer's code and reason (§5.5.1), or carrying 1002 or
// 1007 when the peer's close body was invalid. Its Handle method is meant for
// Reader.OnControl.
//
// Replies go to Dst. Nothing else may write to Dst while Handle runs, or a
// reply could land in the middle of a data frame: use the channel API
// (Conn), which funnels every write through one goroutine, when reading
// and writing happen on different goroutines.
type ControlHandler struct {
	// Dst receives the replies.
	Dst io.Writer
	// Side is the role of this end; a client masks its replies.
	Side ws.Side
	// OnPing, if set, sees every ping payload. Returning false suppresses
	// the automatic pong (WebSocket-Node's cancel()).
	OnPing func(payload []byte) (reply bool)
	// OnPong, if set, sees every pong payload.
	OnPong func(payload []byte)
	// OnClose, if set, sees the code and reason of a valid close frame
	// before the echo is sent.
	OnClose func(code ws.StatusCode, reason []byte)
	// CloseSent records that a close frame has gone out on Dst, so that
	// the peer's answer is not echoed again. Handle sets it; set it
	// yourself when you send a close frame first.
	CloseSent bool
}

// Handle handles one control frame with its unmasked payload. The payload
// is only valid during the call. It returns the error of a failed reply;
// a close frame is reported by the Reader, not by Handle.
func (c *ControlHandler) Handle(h ws.Header, payload []byte) error {
	switch h.OpCode {
	case ws.OpPing:
		if c.OnPing != nil && !c.OnPing(payload) {
			return nil
		}
		return c.reply(ws.OpPong, payload)
	case ws.OpPong:
		if c.OnPong != nil {
			c.OnPong(payload)
		}
		return nil
	case ws.OpClose:
		if c.CloseSent {
			return nil
		}
		code, reason, err := ws.ParseCloseBody(payload)
		var body [ws.MaxControlPayload]byte
		var p []byte
		switch {
		case err != nil:
			p = ws.AppendCloseBody(body[:0], CloseCode(err), "")
		case code == ws.StatusNoStatusRcvd:
			p = body[:0] // an empty close is answered with an empty close
		default:
			if c.OnClose != nil {
				c.OnClose(code, reason)
			}
			p = append(ws.AppendCloseBody(body[:0], code, ""), reason...)
		}
		c.CloseSent = true
		return c.reply(ws.OpClose, p)
	}
	return nil
}

// reply writes one control frame to Dst, and flushes Dst when it can (a
// *bufio.Writer or *bufio.ReadWriter): a pong must not wait in a buffer
// while the reader waits for the peer.
func (c *ControlHandler) reply(op ws.OpCode, payload []byte) error {
	if err := writeFrame(c.Dst, c.Side, op, true, payload); err != nil {
		return err
	}
	if f, ok := c.Dst.(interface{ Flush() error }); ok {
		return f.Flush()
	}
	return nil
}

// writeFrame writes payload as one frame of op from side, masking a copy
// when side is the client. It does not allocate in the steady state.
func writeFrame(w io.Writer, side ws.Side, op ws.OpCode, fin bool, payload []byte) error {
	f := ws.NewFrame(op, fin, payload)
	if side == ws.ClientSide {
		var mask [4]byte
		binary.LittleEndian.PutUint32(mask[:], rand.Uint32())
		f = f.Masked(mask)
	}
	return ws.WriteFrame(w, f)
}

// CloseCode returns the close code to send after err ended reading: the
// code a *ws.ProtocolError carries (1002, 1007, 1009...), the peer's code
// for a ws.CloseError (the echo RFC 6455 §5.5.1 asks for), 1000 for nil,
// and 1011 (internal error) for anything else.
func CloseCode(err error) ws.StatusCode {
	var pe *ws.ProtocolError
	var ce ws.CloseError
	switch {
	case err == nil:
		return ws.StatusNormalClosure
	case errors.As(err, &pe):
		return pe.Code
	case errors.As(err, &ce):
		return ce.Code
	}
	return ws.StatusInternalError
}
