package wsutil

import (
	"bytes"
	"io"
	"testing"

	"github.com/sluice-ws/sluice/ws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// xorExt is a toy extension for the plumbing tests: it XORs every byte
// with 0xff and marks encoded messages with RSV1. Messages shorter than
// threshold stay plain.
type xorExt struct{ threshold int }

func (xorExt) Rsv() byte { return ws.Rsv1 }

func (xorExt) NextReader(_ ws.Header, src io.Reader) (io.Reader, error) {
	return &xorReader{src}, nil
}

type xorReader struct{ src io.Reader }

func (x *xorReader) Read(p []byte) (int, error) {
	n, err := x.src.Read(p)
	for i := range p[:n] {
		p[i] ^= 0xff
	}
	return n, err
}

func (x xorExt) NextWriter(dst io.Writer, size int) (MessageEncoder, byte) {
	if size >= 0 && size < x.threshold {
		return nil, 0
	}
	return &xorWriter{dst: dst}, ws.Rsv1
}

type xorWriter struct {
	dst io.Writer
	buf []byte
}

func (x *xorWriter) Write(p []byte) (int, error) {
	x.buf = x.buf[:0]
	for _, b := range p {
		x.buf = append(x.buf, b^0xff)
	}
	return x.dst.Write(x.buf)
}

func (x *xorWriter) Finish() error { return nil }

func TestExtensionRoundTrip(t *testing.T) {
	t.Parallel()
	msg := bytes.Repeat([]byte("κόσμε "), 300)
	for _, side := range []ws.Side{ws.ServerSide, ws.ClientSide} {
		var buf bytes.Buffer
		w := NewWriterSize(&buf, side, ws.OpText, 256)
		w.Extension = xorExt{}
		_, err := w.Write(msg)
		require.NoError(t, err)
		require.NoError(t, w.Flush())

		frames := readFrames(t, buf.Bytes())
		require.Greater(t, len(frames), 1)
		assert.Equal(t, ws.Rsv1, frames[0].Header.Rsv, "first frame carries RSV1")
		for _, f := range frames[1:] {
			assert.Zero(t, f.Header.Rsv, "continuation frames carry no RSV bit")
		}
		assert.NotEqual(t, msg[:10], frames[0].Payload[:10], "payload was not encoded")

		r := NewReader(bytes.NewReader(buf.Bytes()), side.Peer())
		r.Extension = xorExt{}
		op, p, err := r.ReadMessage(nil)
		require.NoError(t, err)
		assert.Equal(t, ws.OpText, op)
		assert.Equal(t, msg, p)
	}
}

func TestExtensionPerMessageChoice(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := NewWriter(&buf, ws.ServerSide, ws.OpBinary)
	w.Extension = xorExt{}
	_, _ = w.Write([]byte("encoded"))
	require.NoError(t, w.Flush())
	w.Extension = nil
	_, _ = w.Write([]byte("plain"))
	require.NoError(t, w.Flush())
	frames := readFrames(t, buf.Bytes())
	require.Len(t, frames, 2)
	assert.Equal(t, ws.Rsv1, frames[0].Header.Rsv)
	assert.Zero(t, frames[1].Header.Rsv)
	assert.Equal(t, "plain", string(frames[1].Payload))

	r := NewReader(bytes.NewReader(buf.Bytes()), ws.ClientSide)
	r.Extension = xorExt{}
	_, p, err := r.ReadMessage(nil)
	require.NoError(t, err)
	assert.Equal(t, "encoded", string(p))
	_, p, err = r.ReadMessage(nil)
	require.NoError(t, err)
	assert.Equal(t, "plain", string(p))
}

func TestExtensionRsvRules(t *testing.T) {
	t.Parallel()
	s := ws.ClientSide
	withRsv := func(f ws.Frame) ws.Frame { f.Header.Rsv = ws.Rsv1; return f }
	cases := []struct {
		name   string
		frames []ws.Frame
		err    error
	}{
		{"rsv1 on continuation", []ws.Frame{
			withRsv(frameFrom(s, ws.OpText, false, "\x9e")),
			withRsv(frameFrom(s, ws.OpContinuation, true, "\x9e")),
		}, ws.ErrReservedBits},
		{"rsv1 on control", []ws.Frame{withRsv(frameFrom(s, ws.OpPing, true, ""))}, ws.ErrReservedBits},
		{"rsv2 on first frame", []ws.Frame{func() ws.Frame {
			f := frameFrom(s, ws.OpText, true, "")
			f.Header.Rsv = ws.Rsv2
			return f
		}()}, ws.ErrReservedBits},
		// 0x3f ^ 0xff = 0xc0: invalid UTF-8 after decoding.
		{"UTF-8 checked after decoding", []ws.Frame{withRsv(frameFrom(s, ws.OpText, true, "\x3f\x50"))}, ErrInvalidUTF8},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := NewReader(bytes.NewReader(wire(tc.frames...)), s)
			r.Extension = xorExt{}
			_, _, err := r.ReadMessage(nil)
			require.ErrorIs(t, err, tc.err)
		})
	}
}

// TestExtensionDecodedLimit checks that the message limit applies to the
// decoded size.
func TestExtensionDecodedLimit(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := NewWriter(&buf, ws.ServerSide, ws.OpBinary)
	w.Extension = xorExt{}
	_, _ = w.Write(make([]byte, 1000))
	require.NoError(t, w.Flush())
	r := NewReader(bytes.NewReader(buf.Bytes()), ws.ClientSide)
	r.Extension = xorExt{}
	r.MaxMessageSize = 999
	_, _, err := r.ReadMessage(nil)
	require.ErrorIs(t, err, ErrMessageTooBig)
}

func TestExtensionThreshold(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := NewWriter(&buf, ws.ServerSide, ws.OpBinary)
	w.Extension = xorExt{threshold: 100}
	w.begin(10) // a caller that knows the size
	_, _ = w.Write(make([]byte, 10))
	require.NoError(t, w.Flush())
	frames := readFrames(t, buf.Bytes())
	require.Len(t, frames, 1)
	assert.Zero(t, frames[0].Header.Rsv)
}
