package wsutil

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/sluice-ws/sluice/ws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestControlHandler(t *testing.T) {
	t.Parallel()
	closeBody := func(code ws.StatusCode, reason string) string {
		return string(ws.AppendCloseBody(nil, code, reason))
	}
	cases := []struct {
		name    string
		op      ws.OpCode
		payload string
		setup   func(*ControlHandler, *[]string)
		reply   *ws.Frame // nil: no reply
		seen    []string
	}{
		{"ping gets pong with same payload", ws.OpPing, "abc", nil, ptr(ws.NewPongFrame([]byte("abc"))), nil},
		{"empty ping", ws.OpPing, "", nil, ptr(ws.NewPongFrame(nil)), nil},
		{"125-byte ping", ws.OpPing, string(bytes.Repeat([]byte{7}, 125)), nil,
			ptr(ws.NewPongFrame(bytes.Repeat([]byte{7}, 125))), nil},
		{"ping callback cancels pong", ws.OpPing, "x", func(c *ControlHandler, seen *[]string) {
			c.OnPing = func(p []byte) bool { *seen = append(*seen, "ping:"+string(p)); return false }
		}, nil, []string{"ping:x"}},
		{"ping callback keeps pong", ws.OpPing, "y", func(c *ControlHandler, seen *[]string) {
			c.OnPing = func(p []byte) bool { *seen = append(*seen, "ping:"+string(p)); return true }
		}, ptr(ws.NewPongFrame([]byte("y"))), []string{"ping:y"}},
		{"pong is reported, not answered", ws.OpPong, "z", func(c *ControlHandler, seen *[]string) {
			c.OnPong = func(p []byte) { *seen = append(*seen, "pong:"+string(p)) }
		}, nil, []string{"pong:z"}},
		{"close echoes the code", ws.OpClose, closeBody(4001, "custom"), func(c *ControlHandler, seen *[]string) {
			c.OnClose = func(code ws.StatusCode, reason []byte) {
				*seen = append(*seen, fmt.Sprint(int(code), ":", string(reason)))
			}
		}, ptr(ws.NewCloseFrame(4001, "custom")), []string{"4001:custom"}},
		{"empty close gets empty close", ws.OpClose, "", nil, ptr(ws.NewCloseFrame(0, "")), nil},
		{"invalid code answered with 1002", ws.OpClose, closeBody(1005, ""), nil, ptr(ws.NewCloseFrame(ws.StatusProtocolError, "")), nil},
		{"1-byte close answered with 1002", ws.OpClose, "x", nil, ptr(ws.NewCloseFrame(ws.StatusProtocolError, "")), nil},
		{"invalid UTF-8 reason answered with 1007", ws.OpClose, closeBody(1000, "") + "\xff", nil,
			ptr(ws.NewCloseFrame(ws.StatusInvalidFramePayloadData, "")), nil},
		{"no echo after our own close", ws.OpClose, closeBody(1000, ""), func(c *ControlHandler, _ *[]string) {
			c.CloseSent = true
		}, nil, nil},
	}
	for _, side := range []ws.Side{ws.ServerSide, ws.ClientSide} {
		for _, tc := range cases {
			t.Run(side.String()+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				var out bytes.Buffer
				var seen []string
				c := &ControlHandler{Dst: &out, Side: side}
				if tc.setup != nil {
					tc.setup(c, &seen)
				}
				h := ws.Header{Fin: true, OpCode: tc.op, Length: int64(len(tc.payload))}
				require.NoError(t, c.Handle(h, []byte(tc.payload)))
				assert.Equal(t, tc.seen, seen)
				if tc.reply == nil {
					assert.Zero(t, out.Len(), "unexpected reply")
					return
				}
				f, err := ws.ReadFrame(&out, 0)
				require.NoError(t, err)
				assert.Equal(t, side == ws.ClientSide, f.Header.Masked)
				f.Header.Masked, f.Header.Mask = false, [4]byte{}
				assert.Equal(t, tc.reply.Header, f.Header)
				assert.Equal(t, string(tc.reply.Payload), string(f.Payload))
				if tc.op == ws.OpClose {
					assert.True(t, c.CloseSent)
				}
			})
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestCloseCode(t *testing.T) {
	t.Parallel()
	assert.Equal(t, ws.StatusNormalClosure, CloseCode(nil))
	assert.Equal(t, ws.StatusInvalidFramePayloadData, CloseCode(ErrInvalidUTF8))
	assert.Equal(t, ws.StatusMessageTooBig, CloseCode(fmt.Errorf("read: %w", ErrMessageTooBig)))
	assert.Equal(t, ws.StatusGoingAway, CloseCode(ws.CloseError{Code: ws.StatusGoingAway}))
	assert.Equal(t, ws.StatusInternalError, CloseCode(errors.New("disk full")))
}

// TestControlHandlerWithReader runs the handler as a Reader's OnControl:
// pings between fragments are answered in order, and the close ends the
// stream with the peer's code after the echo went out.
func TestControlHandlerWithReader(t *testing.T) {
	t.Parallel()
	s := ws.ServerSide
	closeF := frameFrom(s, ws.OpClose, true, "")
	closeF.Payload = ws.AppendCloseBody(nil, ws.StatusGoingAway, "")
	closeF.Header.Length = 2
	data := wire(
		frameFrom(s, ws.OpText, false, "a"),
		frameFrom(s, ws.OpPing, true, "1"),
		frameFrom(s, ws.OpContinuation, true, "b"),
		frameFrom(s, ws.OpPing, true, "2"),
		closeF,
	)
	var out bytes.Buffer
	ch := &ControlHandler{Dst: &out, Side: s}
	r := NewReader(bytes.NewReader(data), s)
	r.OnControl = ch.Handle
	_, p, err := r.ReadMessage(nil)
	require.NoError(t, err)
	assert.Equal(t, "ab", string(p))
	_, _, err = r.ReadMessage(nil)
	var ce ws.CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, ws.StatusGoingAway, ce.Code)

	frames := readFrames(t, out.Bytes())
	require.Len(t, frames, 3)
	assert.Equal(t, "1", string(frames[0].Payload))
	assert.Equal(t, "2", string(frames[1].Payload))
	assert.Equal(t, ws.OpClose, frames[2].Header.OpCode)
	code, _, err := ws.ParseCloseBody(frames[2].Payload)
	require.NoError(t, err)
	assert.Equal(t, ws.StatusGoingAway, code)
}
