package wsutil

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// frameFrom builds a frame as sent by the peer of side: masked when the
// reader is a server.
func frameFrom(side ws.Side, op ws.OpCode, fin bool, p string) ws.Frame {
	f := ws.NewFrame(op, fin, []byte(p))
	if side == ws.ServerSide {
		f = f.Masked([4]byte{0x11, 0x22, 0x33, 0x44})
	}
	return f
}

func wire(frames ...ws.Frame) []byte {
	var b []byte
	for _, f := range frames {
		b = ws.AppendFrame(b, f)
	}
	return b
}

// readerKinds are the two buffering modes of Reader.
var readerKinds = []struct {
	name string
	size int
}{{"buffered", 64}, {"exact", 0}}

func TestReaderMessages(t *testing.T) {
	t.Parallel()
	type msg struct {
		op ws.OpCode
		p  string
	}
	cases := []struct {
		name   string
		frames func(ws.Side) []ws.Frame
		want   []msg
		err    error
	}{
		{"single text", func(s ws.Side) []ws.Frame {
			return []ws.Frame{frameFrom(s, ws.OpText, true, "hello")}
		}, []msg{{ws.OpText, "hello"}}, io.EOF},
		{"empty binary", func(s ws.Side) []ws.Frame {
			return []ws.Frame{frameFrom(s, ws.OpBinary, true, "")}
		}, []msg{{ws.OpBinary, ""}}, io.EOF},
		{"fragmented with control frames between", func(s ws.Side) []ws.Frame {
			return []ws.Frame{
				frameFrom(s, ws.OpText, false, "frag"),
				frameFrom(s, ws.OpPing, true, "p1"),
				frameFrom(s, ws.OpContinuation, false, ""),
				frameFrom(s, ws.OpPong, true, "p2"),
				frameFrom(s, ws.OpContinuation, true, "mented"),
				frameFrom(s, ws.OpBinary, true, "\x00\xff"),
			}
		}, []msg{{ws.OpText, "fragmented"}, {ws.OpBinary, "\x00\xff"}}, io.EOF},
		{"larger than the buffer", func(s ws.Side) []ws.Frame {
			return []ws.Frame{frameFrom(s, ws.OpBinary, true, strings.Repeat("x", 1000))}
		}, []msg{{ws.OpBinary, strings.Repeat("x", 1000)}}, io.EOF},
		{"continuation without start", func(s ws.Side) []ws.Frame {
			return []ws.Frame{frameFrom(s, ws.OpContinuation, true, "x")}
		}, nil, ErrUnexpectedContinuation},
		{"data frame inside fragmented message", func(s ws.Side) []ws.Frame {
			return []ws.Frame{frameFrom(s, ws.OpText, false, "a"), frameFrom(s, ws.OpText, true, "b")}
		}, nil, ErrUnexpectedDataFrame},
		{"reserved opcode", func(s ws.Side) []ws.Frame {
			return []ws.Frame{frameFrom(s, 3, true, "")}
		}, nil, ws.ErrReservedOpCode},
		{"reserved control opcode", func(s ws.Side) []ws.Frame {
			return []ws.Frame{frameFrom(s, 0xb, true, "")}
		}, nil, ws.ErrReservedOpCode},
		{"rsv1 without extension", func(s ws.Side) []ws.Frame {
			f := frameFrom(s, ws.OpText, true, "x")
			f.Header.Rsv = ws.Rsv1
			return []ws.Frame{f}
		}, nil, ws.ErrReservedBits},
		{"fragmented ping", func(s ws.Side) []ws.Frame {
			return []ws.Frame{frameFrom(s, ws.OpPing, false, "x")}
		}, nil, ws.ErrControlFragmented},
		{"ping over 125 bytes", func(s ws.Side) []ws.Frame {
			return []ws.Frame{frameFrom(s, ws.OpPing, true, strings.Repeat("x", 126))}
		}, nil, ws.ErrControlTooLong},
		{"close", func(s ws.Side) []ws.Frame {
			f := frameFrom(s, ws.OpClose, true, "")
			f.Payload = ws.AppendCloseBody(nil, ws.StatusGoingAway, "bye")
			f.Header.Length = int64(len(f.Payload))
			return []ws.Frame{frameFrom(s, ws.OpText, true, "before"), f}
		}, []msg{{ws.OpText, "before"}}, ws.CloseError{Code: ws.StatusGoingAway, Reason: "bye"}},
		{"close inside fragmented message", func(s ws.Side) []ws.Frame {
			f := frameFrom(s, ws.OpClose, true, "")
			return []ws.Frame{frameFrom(s, ws.OpText, false, "half"), f}
		}, nil, ws.CloseError{Code: ws.StatusNoStatusRcvd}},
		{"close with 1-byte body", func(s ws.Side) []ws.Frame {
			return []ws.Frame{frameFrom(s, ws.OpClose, true, "x")}
		}, nil, ws.ErrCloseBodyShort},
		{"close with invalid code", func(s ws.Side) []ws.Frame {
			return []ws.Frame{frameFrom(s, ws.OpClose, true, "\x03\xed")}
		}, nil, ws.ErrCloseCodeInvalid},
		{"invalid UTF-8", func(s ws.Side) []ws.Frame {
			return []ws.Frame{frameFrom(s, ws.OpText, true, "ok\xc0\xafok")}
		}, nil, ErrInvalidUTF8},
		{"truncated UTF-8 at message end", func(s ws.Side) []ws.Frame {
			return []ws.Frame{frameFrom(s, ws.OpText, false, "abc\xe2\x82"), frameFrom(s, ws.OpContinuation, true, "")}
		}, nil, ErrInvalidUTF8},
		{"invalid UTF-8 in binary is fine", func(s ws.Side) []ws.Frame {
			return []ws.Frame{frameFrom(s, ws.OpBinary, true, "\xc0\xaf")}
		}, []msg{{ws.OpBinary, "\xc0\xaf"}}, io.EOF},
		{"stream ends between fragments", func(s ws.Side) []ws.Frame {
			return []ws.Frame{frameFrom(s, ws.OpText, false, "abc")}
		}, nil, io.ErrUnexpectedEOF},
		{"cut inside a frame", func(s ws.Side) []ws.Frame {
			f := frameFrom(s, ws.OpBinary, true, "abcdef")
			f.Header.Length = 100
			return []ws.Frame{f}
		}, nil, io.ErrUnexpectedEOF},
	}
	for _, side := range []ws.Side{ws.ServerSide, ws.ClientSide} {
		for _, kind := range readerKinds {
			for _, tc := range cases {
				t.Run(side.String()+"/"+kind.name+"/"+tc.name, func(t *testing.T) {
					t.Parallel()
					r := NewReaderSize(bytes.NewReader(wire(tc.frames(side)...)), side, kind.size)
					var got []msg
					var err error
					for {
						var op ws.OpCode
						var p []byte
						op, p, err = r.ReadMessage(nil)
						if err != nil {
							break
						}
						got = append(got, msg{op, string(p)})
					}
					assert.Equal(t, tc.want, got)
					require.ErrorIs(t, err, tc.err)
					// Errors are sticky.
					_, err2 := r.NextMessage()
					assert.Equal(t, err, err2)
				})
			}
		}
	}
}

func TestReaderMaskingRules(t *testing.T) {
	t.Parallel()
	unmasked := wire(ws.NewTextFrame([]byte("x")))
	_, err := NewReader(bytes.NewReader(unmasked), ws.ServerSide).NextMessage()
	require.ErrorIs(t, err, ws.ErrMaskRequired)
	masked := wire(ws.NewTextFrame([]byte("x")).Masked([4]byte{1, 2, 3, 4}))
	_, err = NewReader(bytes.NewReader(masked), ws.ClientSide).NextMessage()
	require.ErrorIs(t, err, ws.ErrMaskUnexpected)
}

func TestReaderLimits(t *testing.T) {
	t.Parallel()
	s := ws.ClientSide
	big := wire(frameFrom(s, ws.OpBinary, true, strings.Repeat("a", 100)))
	frag := wire(
		frameFrom(s, ws.OpBinary, false, strings.Repeat("a", 60)),
		frameFrom(s, ws.OpContinuation, true, strings.Repeat("b", 60)),
	)
	cases := []struct {
		name       string
		data       []byte
		frame, msg int64
		err        error
	}{
		{"frame at limit", big, 100, 0, nil},
		{"frame over limit", big, 99, 0, ws.ErrFrameTooBig},
		{"message at limit", frag, 0, 120, nil},
		{"message over limit", frag, 0, 119, ErrMessageTooBig},
		{"message unlimited", frag, 0, -1, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// A reader that fails after the data: the limit must trip on
			// the header, before the payload is read.
			r := NewReaderSize(bytes.NewReader(tc.data), s, 0)
			r.MaxFrameSize, r.MaxMessageSize = tc.frame, tc.msg
			_, _, err := r.ReadMessage(nil)
			if tc.err == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.err)
			var pe *ws.ProtocolError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, ws.StatusMessageTooBig, pe.Code)
		})
	}
}

// TestReaderLimitBeforePayload shows that an oversized frame fails on its
// header alone, without waiting for (or reading) the payload.
func TestReaderLimitBeforePayload(t *testing.T) {
	t.Parallel()
	h := ws.AppendHeader(nil, ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 1 << 30})
	r := NewReader(io.MultiReader(bytes.NewReader(h), blockingReader{}), ws.ClientSide)
	r.MaxMessageSize = 1 << 20
	done := make(chan error, 1)
	go func() { _, err := r.NextMessage(); done <- err }()
	select {
	case err := <-done:
		require.ErrorIs(t, err, ErrMessageTooBig)
	case <-time.After(time.Until(wstest.RunDeadline())):
		t.Fatal("reader waited for the payload of an oversized frame")
	}
}

// blockingReader never returns.
type blockingReader struct{}

func (blockingReader) Read([]byte) (int, error) { select {} }

// TestReaderUTF8FailFast sends the start of a text frame whose first bytes
// are already invalid, and never the rest: the reader must fail at once.
func TestReaderUTF8FailFast(t *testing.T) {
	t.Parallel()
	for _, kind := range readerKinds {
		for _, fragmented := range []bool{false, true} {
			t.Run(kind.name, func(t *testing.T) {
				t.Parallel()
				var data []byte
				if fragmented {
					data = wire(frameFrom(ws.ServerSide, ws.OpText, false, "κόσμε"))
				}
				op := ws.OpText
				if fragmented {
					op = ws.OpContinuation
				}
				f := frameFrom(ws.ServerSide, op, true, "ok\xf4\x90\x80\x80")
				f.Header.Length = 1000 // the rest never comes
				data = append(data, ws.AppendFrame(nil, f)...)
				r := NewReaderSize(io.MultiReader(bytes.NewReader(data), blockingReader{}), ws.ServerSide, kind.size)
				done := make(chan error, 1)
				go func() { _, _, err := r.ReadMessage(nil); done <- err }()
				select {
				case err := <-done:
					require.ErrorIs(t, err, ErrInvalidUTF8)
				case <-time.After(time.Until(wstest.RunDeadline())):
					t.Fatal("invalid UTF-8 not reported before the frame ended")
				}
			})
		}
	}
}

// TestReaderUTF8SplitEverywhere splits valid multi-byte text into two
// fragments at every byte.
func TestReaderUTF8SplitEverywhere(t *testing.T) {
	t.Parallel()
	text := "κόσμε €20 𝄞 日本語"
	for i := 0; i <= len(text); i++ {
		data := wire(
			frameFrom(ws.ServerSide, ws.OpText, false, text[:i]),
			frameFrom(ws.ServerSide, ws.OpContinuation, true, text[i:]),
		)
		r := NewReader(bytes.NewReader(data), ws.ServerSide)
		_, p, err := r.ReadMessage(nil)
		require.NoError(t, err, "split at %d", i)
		assert.Equal(t, text, string(p))
	}
}

func TestReaderExactLeavesRest(t *testing.T) {
	t.Parallel()
	data := append(wire(frameFrom(ws.ClientSide, ws.OpText, true, "one")), "TRAILER"...)
	src := bufio.NewReader(bytes.NewReader(data))
	r := NewReaderSize(src, ws.ClientSide, 0)
	_, p, err := r.ReadMessage(nil)
	require.NoError(t, err)
	assert.Equal(t, "one", string(p))
	rest, _ := io.ReadAll(src)
	assert.Equal(t, "TRAILER", string(rest))
}

func TestReaderStreaming(t *testing.T) {
	t.Parallel()
	s := ws.ClientSide
	data := wire(
		frameFrom(s, ws.OpBinary, false, "abc"),
		frameFrom(s, ws.OpContinuation, true, "def"),
		frameFrom(s, ws.OpText, true, "xyz"),
	)
	r := NewReader(bytes.NewReader(data), s)
	_, err := r.Read(make([]byte, 1))
	require.ErrorIs(t, err, ErrNoMessage)
	op, err := r.NextMessage()
	require.NoError(t, err)
	assert.Equal(t, ws.OpBinary, op)
	buf := make([]byte, 2)
	n, err := r.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "ab", string(buf[:n]))
	// NextMessage skips the rest of the first message.
	op, err = r.NextMessage()
	require.NoError(t, err)
	assert.Equal(t, ws.OpText, op)
	all, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, "xyz", string(all))
	_, err = r.NextMessage()
	require.ErrorIs(t, err, io.EOF)
}

func TestReaderFrameMode(t *testing.T) {
	t.Parallel()
	s := ws.ServerSide
	data := wire(
		frameFrom(s, ws.OpText, false, "κό"),
		frameFrom(s, ws.OpPing, true, "ping"),
		frameFrom(s, ws.OpContinuation, false, "σ"),
		frameFrom(s, ws.OpContinuation, true, "με"),
		frameFrom(s, ws.OpBinary, true, "b"),
	)
	var pings []string
	r := NewReader(bytes.NewReader(data), s)
	r.OnControl = func(h ws.Header, p []byte) error {
		pings = append(pings, h.OpCode.String()+":"+string(p))
		return nil
	}
	type fr struct {
		op  ws.OpCode
		fin bool
		p   string
	}
	var got []fr
	for {
		h, err := r.NextFrame()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		p, err := io.ReadAll(r)
		require.NoError(t, err)
		got = append(got, fr{h.OpCode, h.Fin, string(p)})
	}
	assert.Equal(t, []fr{
		{ws.OpText, false, "κό"},
		{ws.OpContinuation, false, "σ"},
		{ws.OpContinuation, true, "με"},
		{ws.OpBinary, true, "b"},
	}, got)
	assert.Equal(t, []string{"ping:ping"}, pings)
}

func TestReaderFrameModeUTF8AcrossFrames(t *testing.T) {
	t.Parallel()
	s := ws.ServerSide
	data := wire(
		frameFrom(s, ws.OpText, false, "a\xe2"),
		frameFrom(s, ws.OpContinuation, true, "\x82"),
	)
	r := NewReader(bytes.NewReader(data), s)
	_, err := r.NextFrame()
	require.NoError(t, err)
	_, err = io.ReadAll(r)
	require.NoError(t, err, "an open sequence at a frame end is fine")
	_, err = r.NextFrame()
	require.NoError(t, err)
	_, err = io.ReadAll(r)
	require.ErrorIs(t, err, ErrInvalidUTF8)
}

func TestReaderNextMessageSkipsFrameModeRemainder(t *testing.T) {
	t.Parallel()
	s := ws.ClientSide
	data := wire(
		frameFrom(s, ws.OpBinary, false, "1"),
		frameFrom(s, ws.OpContinuation, true, "2"),
		frameFrom(s, ws.OpText, true, "next"),
	)
	r := NewReader(bytes.NewReader(data), s)
	_, err := r.NextFrame()
	require.NoError(t, err)
	_, p, err := r.ReadMessage(nil)
	require.NoError(t, err)
	assert.Equal(t, "next", string(p))
}

func TestReaderOnControlError(t *testing.T) {
	t.Parallel()
	stop := errors.New("stop")
	r := NewReader(bytes.NewReader(wire(frameFrom(ws.ClientSide, ws.OpPing, true, ""))), ws.ClientSide)
	r.OnControl = func(ws.Header, []byte) error { return stop }
	_, err := r.NextMessage()
	require.ErrorIs(t, err, stop)
}

func TestReaderReuseBuffer(t *testing.T) {
	t.Parallel()
	data := wire(frameFrom(ws.ClientSide, ws.OpText, true, "abc"))
	r := NewReader(bytes.NewReader(data), ws.ClientSide)
	dst := make([]byte, 0, 16)
	_, p, err := r.ReadMessage(dst)
	require.NoError(t, err)
	assert.Equal(t, "abc", string(p))
	assert.Equal(t, &dst[:1][0], &p[0], "ReadMessage did not reuse dst")
}
