package wsflate_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder keeps each Write apart, as wsutil's Writer cuts frames.
type recorder struct{ writes [][]byte }

func (r *recorder) Write(p []byte) (int, error) {
	r.writes = append(r.writes, append([]byte(nil), p...))
	return len(p), nil
}

// TestMarkerDroppedAcrossWrites checks that the flush marker never reaches
// dst, whatever the sizes of the encoder's writes, so that frames sent
// before Finish need no fixing.
func TestMarkerDroppedAcrossWrites(t *testing.T) {
	t.Parallel()
	for _, size := range []int{0, 1, 5, 127, 128, 1000, 100000} {
		msg := text(size, uint64(size))
		want, err := wsflate.AppendCompress(nil, msg, 0, 0)
		require.NoError(t, err)
		s := bind(t, ws.ServerSide, &wsflate.Extension{ServerNoContextTakeover: true, Threshold: -1})
		var rec recorder
		enc, _ := s.NextWriter(&rec, -1)
		for p := msg; len(p) > 0; {
			n := min(len(p), 333)
			_, err := enc.Write(p[:n])
			require.NoError(t, err)
			p = p[n:]
		}
		require.NoError(t, enc.Finish())
		got := bytes.Join(rec.writes, nil)
		assert.Equal(t, want, got, "size %d", size)
		assert.False(t, bytes.HasSuffix(got, []byte{0x00, 0x00, 0xff, 0xff}), "size %d: marker left", size)
		for i, w := range rec.writes {
			assert.NotEmpty(t, w, "write %d is empty", i)
		}
	}
}

func TestAppendCompress(t *testing.T) {
	t.Parallel()
	msg := text(10000, 3)
	for _, level := range []int{wsflate.HuffmanOnly, -1, 0, 1, 5, 9} {
		for _, bits := range []int{0, 8, 11, 15} {
			prefix := []byte("prefix")
			p, err := wsflate.AppendCompress(prefix, msg, level, bits)
			require.NoError(t, err)
			require.Equal(t, "prefix", string(p[:6]))
			got, err := wsflate.AppendDecompress([]byte("x"), p[6:], 0)
			require.NoError(t, err)
			assert.Equal(t, append([]byte("x"), msg...), got, "level %d bits %d", level, bits)
		}
	}
	_, err := wsflate.AppendCompress(nil, msg, 10, 0)
	require.ErrorIs(t, err, wsflate.ErrLevel)
	_, err = wsflate.AppendCompress(nil, msg, 0, 7)
	require.ErrorIs(t, err, wsflate.ErrWindowBits)
}

// TestAppendDecompressLimit checks the limit at and around the message
// size.
func TestAppendDecompressLimit(t *testing.T) {
	t.Parallel()
	msg := text(5000, 1)
	p, err := wsflate.AppendCompress(nil, msg, 0, 0)
	require.NoError(t, err)
	for _, limit := range []int{0, len(msg), len(msg) + 1, 1 << 20} {
		got, err := wsflate.AppendDecompress(nil, p, limit)
		require.NoError(t, err, "limit %d", limit)
		assert.Equal(t, msg, got)
	}
	for _, limit := range []int{1, 4096, len(msg) - 1} {
		got, err := wsflate.AppendDecompress(nil, p, limit)
		require.ErrorIs(t, err, wsflate.ErrMessageTooBig, "limit %d", limit)
		assert.Equal(t, msg[:limit], got)
		var pe *ws.ProtocolError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, ws.StatusMessageTooBig, pe.Code)
	}
}

// TestAppendFrame checks the compiled frame of a broadcast: its header in
// each length form, and that connections with and without context
// takeover on the receiving side read it.
func TestAppendFrame(t *testing.T) {
	t.Parallel()
	random := make([]byte, 70000)
	_, _ = rand.Read(random)
	cases := []struct {
		name   string
		msg    []byte
		op     ws.OpCode
		header int
	}{
		{"7-bit length", text(200, 1), ws.OpText, 2},
		{"16-bit length", text(20000, 1), ws.OpText, 4},
		{"64-bit length", random, ws.OpBinary, 10},
		{"empty", nil, ws.OpBinary, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			frame, err := wsflate.AppendFrame([]byte("x"), tc.op, tc.msg, 0, 10)
			require.NoError(t, err)
			require.Equal(t, byte('x'), frame[0])
			h, n, err := ws.ParseHeader(frame[1:])
			require.NoError(t, err)
			assert.Equal(t, tc.header, n)
			assert.True(t, h.Fin)
			assert.Equal(t, ws.Rsv1, h.Rsv)
			assert.Equal(t, tc.op, h.OpCode)
			assert.False(t, h.Masked)
			payload := frame[1+n:]
			require.Equal(t, h.Length, int64(len(payload)))
			for _, p := range []wsflate.Params{{ServerNoContextTakeover: true}, {}, {ServerMaxWindowBits: 10}} {
				r := receiver(t, p)
				for range 2 {
					got, err := decompress(t, r, payload)
					require.NoError(t, err)
					assert.True(t, bytes.Equal(tc.msg, got))
				}
			}
		})
	}
	_, err := wsflate.AppendFrame(nil, ws.OpPing, nil, 0, 0)
	require.ErrorIs(t, err, wsflate.ErrOpCode)
	_, err = wsflate.AppendFrame(nil, ws.OpText, nil, 0, 16)
	require.ErrorIs(t, err, wsflate.ErrWindowBits)
}

// TestEncoderMisuse checks that an encoder fails after Finish instead of
// corrupting the next message.
func TestEncoderMisuse(t *testing.T) {
	t.Parallel()
	s := bind(t, ws.ServerSide, &wsflate.Extension{Threshold: -1})
	var buf bytes.Buffer
	enc, _ := s.NextWriter(&buf, -1)
	_, err := enc.Write([]byte("hello"))
	require.NoError(t, err)
	require.NoError(t, enc.Finish())
	_, err = enc.Write([]byte("more"))
	require.ErrorIs(t, err, io.ErrClosedPipe)
	require.ErrorIs(t, enc.Finish(), io.ErrClosedPipe)
}

// TestAbandonedEncoder checks that a message started and never finished
// does not break the next one.
func TestAbandonedEncoder(t *testing.T) {
	t.Parallel()
	for _, keep := range []bool{false, true} {
		s := bind(t, ws.ServerSide, &wsflate.Extension{Threshold: -1, KeepCompressor: keep})
		var buf bytes.Buffer
		enc, _ := s.NextWriter(&buf, -1)
		_, err := enc.Write(text(5000, 1))
		require.NoError(t, err)
		msg := text(3000, 2)
		got, err := decompress(t, receiver(t, wsflate.Params{}), compress(t, s, msg, -1))
		require.NoError(t, err)
		assert.Equal(t, msg, got)
	}
}

var errSink = errors.New("sink failed")

type failingWriter struct{ after int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.after < len(p) {
		return 0, errSink
	}
	w.after -= len(p)
	return len(p), nil
}

// TestDestinationError checks that a failing destination's error comes
// back from Write or Finish, and that the sender still works afterwards.
func TestDestinationError(t *testing.T) {
	t.Parallel()
	for _, keep := range []bool{false, true} {
		s := bind(t, ws.ServerSide, &wsflate.Extension{Threshold: -1, KeepCompressor: keep})
		enc, _ := s.NextWriter(&failingWriter{after: 10}, -1)
		_, err := enc.Write(text(200000, 1))
		if err == nil {
			err = enc.Finish()
		}
		require.ErrorIs(t, err, errSink)
		msg := text(3000, 2)
		got, err := decompress(t, receiver(t, wsflate.Params{}), compress(t, s, msg, -1))
		require.NoError(t, err)
		assert.Equal(t, msg, got)
	}
}

// TestTakeoverRepeatedMessage checks that a message like the one sent
// just before refers to it, whatever its size below the window and however
// it is written: the sender primes with enough history.
func TestTakeoverRepeatedMessage(t *testing.T) {
	t.Parallel()
	for _, size := range []int{200, 1000, 5000, 12000, 30000} {
		for _, mode := range []string{"known size", "one write", "small writes"} {
			t.Run(fmt.Sprintf("%d/%s", size, mode), func(t *testing.T) {
				t.Parallel()
				s := bind(t, ws.ServerSide, &wsflate.Extension{Threshold: -1})
				r := receiver(t, wsflate.Params{})
				msg := text(size, uint64(size))
				var sizes []int
				for range 2 {
					var p []byte
					switch mode {
					case "known size":
						p = compress(t, s, msg, len(msg))
					case "one write":
						p = compress(t, s, msg, -1)
					default:
						p = compress(t, s, msg, -1, slices.Repeat([]int{700}, size/700)...)
					}
					sizes = append(sizes, len(p))
					got, err := decompress(t, r, p)
					require.NoError(t, err)
					require.True(t, bytes.Equal(msg, got))
				}
				assert.Less(t, sizes[1], max(20, sizes[0]/10), "the second message refers to the first")
			})
		}
	}
}
