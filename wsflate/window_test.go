package wsflate

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWindow compares the ring with a plain "keep the last size bytes"
// on random writes, reading it back at random moments.
func TestWindow(t *testing.T) {
	t.Parallel()
	for _, size := range []int{256, 512, 1000, 1 << 15} {
		rng := rand.New(rand.NewPCG(uint64(size), 3))
		w := window{size: size}
		var naive []byte
		for range 2000 {
			p := make([]byte, rng.IntN(size*2+1)/(1+rng.IntN(16)))
			for i := range p {
				p[i] = byte(rng.Uint32())
			}
			w.write(p)
			naive = append(naive, p...)
			naive = naive[max(0, len(naive)-size):]
			assert.LessOrEqual(t, cap(w.buf), size, "the window outgrew its size")
			if rng.IntN(3) == 0 {
				require.True(t, bytes.Equal(naive, w.bytes()), "size %d", size)
			}
		}
		require.True(t, bytes.Equal(naive, w.bytes()))
	}
}

// TestWindowGrowsWithData checks that a window holds no more memory than
// the data it has seen needs, give or take doubling.
func TestWindowGrowsWithData(t *testing.T) {
	t.Parallel()
	w := window{size: 1 << 15}
	assert.Zero(t, cap(w.buf))
	w.write(make([]byte, 100))
	assert.Equal(t, minWindowAlloc, cap(w.buf))
	w.write(make([]byte, 1000))
	assert.LessOrEqual(t, cap(w.buf), 2200)
	w.write(make([]byte, 1<<16))
	assert.Equal(t, 1<<15, cap(w.buf))
}

// TestTailWriter checks that tailWriter passes everything but the last
// four bytes on, for random splits of the input.
func TestTailWriter(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		in := make([]byte, rng.IntN(40))
		for i := range in {
			in[i] = byte(rng.Uint32())
		}
		var out bytes.Buffer
		var tw tailWriter
		tw.reset(&out)
		for p := in; len(p) > 0; {
			n := min(len(p), rng.IntN(7))
			k, err := tw.Write(p[:n])
			require.NoError(t, err)
			require.Equal(t, n, k)
			p = p[n:]
		}
		held := min(len(in), 4)
		require.Equal(t, string(in[:len(in)-held]), out.String())
		require.Equal(t, held, tw.n)
		require.Equal(t, string(in[len(in)-held:]), string(tw.tail[:tw.n]))
		require.NoError(t, tw.finish())
		if bytes.HasSuffix(in, flushMarker[:]) {
			assert.Equal(t, string(in[:len(in)-4]), out.String(), "the marker is dropped")
		} else {
			assert.Equal(t, string(in), out.String(), "anything else is passed on")
		}
	}
}

// TestSource checks what an inflater reads: the payload, then the tail.
func TestSource(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		s       source
		payload []byte
	}{
		{"bytes", source{b: []byte("abc")}, []byte("abc")},
		{"reader", source{r: bytes.NewReader([]byte("abc"))}, []byte("abc")},
		{"empty", source{b: []byte{}}, nil},
		{"empty reader", source{r: bytes.NewReader(nil)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := io.ReadAll(&tc.s)
			require.NoError(t, err)
			tail := inflateTail
			if len(tc.payload) == 0 {
				tail = emptyTail
			}
			assert.Equal(t, append(tc.payload, tail...), got)
			assert.Equal(t, int64(len(got)), tc.s.yielded())
		})
	}
}
