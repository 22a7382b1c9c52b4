package ws

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parsedFrame is a frame put back together from Parser chunks.
type parsedFrame struct {
	h Header
	p []byte
}

// feed runs ps over wire split into the given chunk sizes (cycled), copying
// each chunk first so that in-place unmasking cannot leak between calls.
func feed(t *testing.T, ps *Parser, wire []byte, sizes []int) ([]parsedFrame, error) {
	t.Helper()
	var out []parsedFrame
	var cur *parsedFrame
	for i := 0; len(wire) > 0; i++ {
		k := min(sizes[i%len(sizes)], len(wire))
		in := bytes.Clone(wire[:k])
		wire = wire[k:]
		for {
			c, n, err := ps.Parse(in)
			in = in[n:]
			if err == io.ErrShortBuffer {
				require.Empty(t, in, "short buffer with input left")
				break
			}
			if err != nil {
				return out, err
			}
			if c.First {
				require.Nil(t, cur, "new frame before the last one ended")
				cur = &parsedFrame{h: c.Header, p: []byte{}}
			}
			require.NotNil(t, cur)
			cur.p = append(cur.p, c.Payload...)
			if c.Final {
				out = append(out, *cur)
				cur = nil
			}
			if len(in) == 0 {
				break
			}
		}
	}
	require.Nil(t, cur, "stream ended inside a frame")
	return out, nil
}

func testStream(masked bool) ([]Frame, []byte) {
	var frames []Frame
	for i, n := range []int{0, 5, 125, 126, 300, 65535, 65536, 0, 1} {
		p := make([]byte, n)
		for j := range p {
			p[j] = byte(i*7 + j)
		}
		f := NewFrame(OpBinary, i%2 == 0, p)
		if i%3 == 1 {
			f = NewPingFrame(p[:min(n, 125)])
		}
		if masked {
			f = f.Masked([4]byte{byte(i), 0x55, 0xaa, byte(n)})
		}
		frames = append(frames, f)
	}
	var wire []byte
	for _, f := range frames {
		wire = AppendFrame(wire, f)
	}
	return frames, wire
}

func TestParserSplits(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	random := make([]int, 64)
	for i := range random {
		random[i] = 1 + rng.IntN(40)
	}
	splits := map[string][]int{
		"whole":       {1 << 30},
		"one byte":    {1},
		"two bytes":   {2},
		"header-ish":  {3, 11, 14},
		"random":      random,
		"large steps": {70000, 10},
	}
	for _, side := range []Side{ServerSide, ClientSide} {
		frames, wire := testStream(side == ServerSide)
		for name, sizes := range splits {
			t.Run(side.String()+"/"+name, func(t *testing.T) {
				t.Parallel()
				ps := Parser{Side: side}
				got, err := feed(t, &ps, wire, sizes)
				require.NoError(t, err)
				require.Len(t, got, len(frames))
				for i, f := range frames {
					assert.Equal(t, f.Header, got[i].h, "frame %d", i)
					assert.Equal(t, f.Payload, got[i].p, "frame %d", i)
				}
				assert.Zero(t, ps.Buffered())
			})
		}
	}
}

func TestParserHeaderFirstChunk(t *testing.T) {
	t.Parallel()
	// A header on its own yields a First chunk with no payload, so that a
	// caller can act on the header (reject it, size a buffer) at once.
	var ps Parser
	wire := AppendFrame(nil, NewBinaryFrame([]byte("abc")).Masked([4]byte{1, 2, 3, 4}))
	c, n, err := ps.Parse(wire[:6])
	require.NoError(t, err)
	assert.Equal(t, 6, n)
	assert.True(t, c.First)
	assert.False(t, c.Final)
	assert.Empty(t, c.Payload)
	assert.Equal(t, int64(3), c.Header.Length)

	_, n, err = ps.Parse(nil)
	require.ErrorIs(t, err, io.ErrShortBuffer)
	assert.Zero(t, n)

	c, n, err = ps.Parse(wire[6:])
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assert.False(t, c.First)
	assert.True(t, c.Final)
	assert.Equal(t, "abc", string(c.Payload))
}

func TestParserErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		ps   Parser
		f    Frame
		want error
	}{
		{"unmasked to server", Parser{}, NewTextFrame([]byte("x")), ErrMaskRequired},
		{"masked to client", Parser{Side: ClientSide}, NewTextFrame([]byte("x")).Masked([4]byte{}), ErrMaskUnexpected},
		{"rsv1 not allowed", Parser{Side: ClientSide}, Frame{Header: Header{Fin: true, Rsv: Rsv1, OpCode: OpText}}, ErrReservedBits},
		{"reserved opcode", Parser{Side: ClientSide}, NewFrame(5, true, nil), ErrReservedOpCode},
		{"long ping", Parser{Side: ClientSide}, NewPingFrame(make([]byte, 126)), ErrControlTooLong},
		{"too big", Parser{Side: ClientSide, MaxPayload: 10}, NewBinaryFrame(make([]byte, 11)), ErrFrameTooBig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wire := AppendFrame(nil, tc.f)
			// Whole, and one byte at a time: the error is the same.
			ps := tc.ps
			_, err := feed(t, &ps, wire, []int{len(wire)})
			require.ErrorIs(t, err, tc.want)
			ps = tc.ps
			_, err = feed(t, &ps, wire, []int{1})
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestParserReset(t *testing.T) {
	t.Parallel()
	ps := Parser{Side: ClientSide}
	wire := AppendFrame(nil, NewBinaryFrame([]byte("hello")))
	_, _, err := ps.Parse(wire[:1])
	require.ErrorIs(t, err, io.ErrShortBuffer)
	assert.Equal(t, 1, ps.Buffered())
	ps.Reset()
	assert.Zero(t, ps.Buffered())
	got, err := feed(t, &ps, wire, []int{len(wire)})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "hello", string(got[0].p))
}

func TestParseFrame(t *testing.T) {
	t.Parallel()
	frames, wire := testStream(true)
	orig := bytes.Clone(wire)
	for i, want := range frames {
		// Every strict prefix of the frame is short and left untouched.
		size := len(AppendFrame(nil, want))
		for _, cut := range []int{0, 1, size / 2, size - 1} {
			_, n, err := ParseFrame(wire[:cut])
			require.ErrorIs(t, err, io.ErrShortBuffer)
			assert.Zero(t, n)
		}
		require.Equal(t, orig[len(orig)-len(wire):], wire, "short parse modified input")
		f, n, err := ParseFrame(wire)
		require.NoError(t, err, "frame %d", i)
		assert.Equal(t, size, n)
		assert.Equal(t, want.Header, f.Header)
		assert.Equal(t, want.Payload, f.Payload)
		wire = wire[n:]
		orig = orig[n:]
	}
	assert.Empty(t, wire)
}
