package wsutil

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/sluice-ws/sluice/ws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readFrames parses every frame in b, unmasking payloads.
func readFrames(t *testing.T, b []byte) []ws.Frame {
	t.Helper()
	var out []ws.Frame
	r := bytes.NewReader(b)
	for {
		f, err := ws.ReadFrame(r, 0)
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		out = append(out, f)
	}
}

func TestWriterSmallMessage(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := NewWriter(&buf, ws.ServerSide, ws.OpText)
	_, err := io.WriteString(w, "Hello")
	require.NoError(t, err)
	assert.Zero(t, buf.Len(), "Write sent before Flush")
	require.NoError(t, w.Flush())
	// RFC 6455 §5.7: a single-frame unmasked text message.
	assert.Equal(t, []byte{0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}, buf.Bytes())

	// The next Write starts a new message with the same opcode.
	buf.Reset()
	_, _ = io.WriteString(w, "again")
	require.NoError(t, w.Flush())
	assert.Equal(t, byte(0x81), buf.Bytes()[0])
}

func TestWriterEmptyMessage(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := NewWriter(&buf, ws.ServerSide, ws.OpBinary)
	require.NoError(t, w.Flush())
	assert.Equal(t, []byte{0x82, 0x00}, buf.Bytes())
}

func TestWriterFragmentation(t *testing.T) {
	t.Parallel()
	msg := strings.Repeat("0123456789", 1000) // 10,000 bytes
	cases := []struct {
		name     string
		size     int
		fragment int
		writes   []int // sizes of the Write calls
		maxFrame int
	}{
		{"one big write", 64, 0, []int{10000}, 10000},
		{"small writes", 64, 0, []int{7, 100, 3, 9890}, 10000},
		{"fragment size", 4096, 1000, []int{10000}, 1000},
		{"fragment size small writes", 4096, 300, []int{1, 299, 2500, 7200}, 300},
		{"buffer sized frames", 128, 0, repeatInts(10, 1000), 128},
	}
	for _, side := range []ws.Side{ws.ServerSide, ws.ClientSide} {
		for _, tc := range cases {
			t.Run(side.String()+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				var buf bytes.Buffer
				w := NewWriterSize(&buf, side, ws.OpText, tc.size)
				w.FragmentSize = tc.fragment
				src := []byte(msg)
				orig := bytes.Clone(src)
				off := 0
				for _, k := range tc.writes {
					n, err := w.Write(src[off : off+k])
					require.NoError(t, err)
					require.Equal(t, k, n)
					off += k
				}
				require.NoError(t, w.Flush())
				assert.Equal(t, orig, src, "Writer modified the caller's bytes")

				frames := readFrames(t, buf.Bytes())
				require.NotEmpty(t, frames)
				var got []byte
				masks := map[[4]byte]bool{}
				for i, f := range frames {
					wantOp := ws.OpContinuation
					if i == 0 {
						wantOp = ws.OpText
					}
					assert.Equal(t, wantOp, f.Header.OpCode, "frame %d", i)
					assert.Equal(t, i == len(frames)-1, f.Header.Fin, "frame %d", i)
					assert.Equal(t, side == ws.ClientSide, f.Header.Masked)
					assert.LessOrEqual(t, len(f.Payload), tc.maxFrame)
					masks[f.Header.Mask] = true
					got = append(got, f.Payload...)
				}
				assert.Equal(t, msg, string(got))
				if side == ws.ClientSide {
					assert.Len(t, masks, len(frames), "masking keys repeat")
				}
				// A Reader on the other side reassembles the message.
				r := NewReader(bytes.NewReader(buf.Bytes()), side.Peer())
				_, p, err := r.ReadMessage(nil)
				require.NoError(t, err)
				assert.Equal(t, msg, string(p))
			})
		}
	}
}

func repeatInts(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestWriterFlushFragment(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := NewWriter(&buf, ws.ServerSide, ws.OpBinary)
	_, _ = w.Write([]byte("ab"))
	require.NoError(t, w.FlushFragment())
	_, _ = w.Write([]byte("cd"))
	require.NoError(t, w.Flush())
	frames := readFrames(t, buf.Bytes())
	require.Len(t, frames, 2)
	assert.Equal(t, ws.Header{OpCode: ws.OpBinary, Length: 2}, frames[0].Header)
	assert.Equal(t, ws.Header{Fin: true, OpCode: ws.OpContinuation, Length: 2}, frames[1].Header)
}

func TestWriterReadFrom(t *testing.T) {
	t.Parallel()
	data := strings.Repeat("streamed ", 2000)
	for _, side := range []ws.Side{ws.ServerSide, ws.ClientSide} {
		var buf bytes.Buffer
		w := NewWriterSize(&buf, side, ws.OpText, 512)
		n, err := w.ReadFrom(strings.NewReader(data))
		require.NoError(t, err)
		assert.Equal(t, int64(len(data)), n)
		require.NoError(t, w.Flush())
		frames := readFrames(t, buf.Bytes())
		assert.Greater(t, len(frames), 10)
		r := NewReader(bytes.NewReader(buf.Bytes()), side.Peer())
		_, p, err := r.ReadMessage(nil)
		require.NoError(t, err)
		assert.Equal(t, data, string(p))
	}
}

type failWriter struct{ after int }

var errBoom = errors.New("boom")

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errBoom
	}
	f.after--
	return len(p), nil
}

func TestWriterStickyError(t *testing.T) {
	t.Parallel()
	w := NewWriterSize(&failWriter{}, ws.ServerSide, ws.OpBinary, 64)
	_, err := w.Write(make([]byte, 10))
	require.NoError(t, err)
	require.ErrorIs(t, w.Flush(), errBoom)
	_, err = w.Write([]byte("x"))
	require.ErrorIs(t, err, errBoom)
	require.ErrorIs(t, w.Flush(), errBoom)
	w.Reset(io.Discard, ws.ServerSide, ws.OpBinary)
	require.NoError(t, w.Flush())
}

func TestWriterBufferedAvailable(t *testing.T) {
	t.Parallel()
	w := NewWriterSize(io.Discard, ws.ServerSide, ws.OpBinary, 100)
	w.FragmentSize = 50
	_, _ = w.Write(make([]byte, 20))
	assert.Equal(t, 20, w.Buffered())
	assert.Equal(t, 30, w.Available())
}
