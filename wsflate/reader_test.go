package wsflate_test

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/klauspost/compress/flate"
	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// receiver returns the Receiver of a client whose server answered
// params.
func receiver(t testing.TB, p wsflate.Params) wsflate.Receiver {
	t.Helper()
	e := &wsflate.Extension{
		ServerNoContextTakeover: p.ServerNoContextTakeover,
		ServerMaxWindowBits:     p.ServerMaxWindowBits,
		ClientMaxWindowBits:     wsflate.WindowBitsNoValue,
	}
	r, _, err := e.Bind(ws.ClientSide, []httphead.Option{p.Option()})
	require.NoError(t, err)
	return r
}

// TestRFC7692Examples decodes the examples of RFC 7692 §7.2.3, each as one
// message read in the fragments the RFC shows.
func TestRFC7692Examples(t *testing.T) {
	t.Parallel()
	hello := []byte("Hello")
	cases := []struct {
		name      string
		fragments [][]byte
		history   bool // decode after the first example, with context takeover
	}{
		{"7.2.3.1 a message compressed", [][]byte{{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}}, false},
		{"7.2.3.1 fragmented", [][]byte{{0xf2, 0x48, 0xcd}, {0xc9, 0xc9, 0x07, 0x00}}, false},
		{"7.2.3.2 sharing the window", [][]byte{{0xf2, 0x00, 0x11, 0x00, 0x00}}, true},
		{"7.2.3.3 no compression", [][]byte{{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}}, false},
		{"7.2.3.4 BFINAL set", [][]byte{{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}}, false},
		{"7.2.3.5 two blocks", [][]byte{{0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := receiver(t, wsflate.Params{})
			if tc.history {
				got, err := decompress(t, r, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00})
				require.NoError(t, err)
				require.Equal(t, hello, got)
			}
			var payload []byte
			var cuts []int
			for _, f := range tc.fragments {
				payload = append(payload, f...)
				cuts = append(cuts, len(f))
			}
			got, err := decompress(t, r, payload, cuts...)
			require.NoError(t, err)
			assert.Equal(t, hello, got)
			// The connection goes on after a BFINAL block, history
			// included (7.2.3.2 after 7.2.3.4).
			got, err = decompress(t, r, []byte{0xf2, 0x00, 0x11, 0x00, 0x00})
			require.NoError(t, err)
			assert.Equal(t, hello, got)
		})
	}
}

// TestEmptyMessage checks the two forms of an empty compressed message: a
// single 0x00 (§7.2.3.6) and no payload at all.
func TestEmptyMessage(t *testing.T) {
	t.Parallel()
	for _, p := range [][]byte{{0x00}, {}} {
		got, err := decompress(t, receiver(t, wsflate.Params{}), p)
		require.NoError(t, err)
		assert.Empty(t, got)
	}
}

// TestCorrupt checks that data that does not inflate fails with a
// *ws.ProtocolError carrying 1007, whether it arrives whole or in
// fragments.
func TestCorrupt(t *testing.T) {
	t.Parallel()
	good, err := wsflate.AppendCompress(nil, text(2000, 1), 0, 0)
	require.NoError(t, err)
	cases := []struct {
		name    string
		payload []byte
		err     error
	}{
		{"reserved block type", []byte{0x07, 0x00}, wsflate.ErrCorrupt},
		{"stored length mismatch", []byte{0x00, 0x05, 0x00, 0x00, 0x00, 'H'}, wsflate.ErrCorrupt},
		{"distance before the start", []byte{0xf2, 0x00, 0x11, 0x00, 0x00}, wsflate.ErrCorrupt},
		{"cut in the middle", good[:len(good)/2], wsflate.ErrCorrupt},
		{"garbage", bytes.Repeat([]byte{0xff}, 100), wsflate.ErrCorrupt},
		{"data after BFINAL", append([]byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, make([]byte, 100)...), wsflate.ErrTrailingData},
	}
	for _, tc := range cases {
		for _, fragmented := range []bool{false, true} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				var cuts []int
				if fragmented {
					cuts = []int{1, 1, 2, 3}
				}
				_, err := decompress(t, receiver(t, wsflate.Params{}), tc.payload, cuts...)
				require.ErrorIs(t, err, tc.err)
				var pe *ws.ProtocolError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, ws.StatusInvalidFramePayloadData, pe.Code)

				_, err = wsflate.AppendDecompress(nil, tc.payload, 0)
				require.ErrorIs(t, err, tc.err)
			})
		}
	}
}

// TestBeyondNegotiatedWindow checks that a peer referring further back
// into earlier messages than the negotiated window fails with 1007.
func TestBeyondNegotiatedWindow(t *testing.T) {
	t.Parallel()
	first := text(4000, 3)
	// A 32 KiB-window sender with context takeover...
	wide := bind(t, ws.ServerSide, &wsflate.Extension{Threshold: -1})
	p1 := compress(t, wide, first, -1)
	p2 := compress(t, wide, first[:1000], -1) // refers 4000 bytes back
	// ...read by a client that was promised 1 KiB.
	r := receiver(t, wsflate.Params{ServerMaxWindowBits: 10})
	got, err := decompress(t, r, p1)
	require.NoError(t, err)
	require.Equal(t, first, got)
	_, err = decompress(t, r, p2)
	require.ErrorIs(t, err, wsflate.ErrCorrupt)
}

// TestZlibWindow8 checks the zlib quirk: a peer told to use 256 bytes that
// uses 512 is still read.
func TestZlibWindow8(t *testing.T) {
	t.Parallel()
	msg := text(500, 5)
	s9 := bind(t, ws.ServerSide, &wsflate.Extension{ServerMaxWindowBits: 9, Threshold: -1})
	p1 := compress(t, s9, msg, -1)
	p2 := compress(t, s9, msg, -1)
	_, dist, err := refInflate(msg, p2, 512)
	require.NoError(t, err)
	require.Greater(t, dist, 256, "the second message must reach beyond 256 bytes")

	r := receiver(t, wsflate.Params{ServerMaxWindowBits: 8})
	for _, p := range [][]byte{p1, p2} {
		got, err := decompress(t, r, p)
		require.NoError(t, err)
		assert.Equal(t, msg, got)
	}
}

// errSource is a source failure, as wsutil's reader reports a broken frame.
var errSource = errors.New("source failed")

type failingReader struct {
	p []byte
}

func (f *failingReader) Read(b []byte) (int, error) {
	if len(f.p) == 0 {
		return 0, errSource
	}
	n := copy(b, f.p)
	f.p = f.p[n:]
	return n, nil
}

// TestSourceError checks that an error of the payload's source is returned
// as it is, not as corrupt data.
func TestSourceError(t *testing.T) {
	t.Parallel()
	p, err := wsflate.AppendCompress(nil, text(5000, 1), 0, 0)
	require.NoError(t, err)
	r := receiver(t, wsflate.Params{})
	dec, err := r.NextReader(ws.Header{Fin: true, Rsv: ws.Rsv1, OpCode: ws.OpBinary}, &failingReader{p: p[:len(p)/2]})
	require.NoError(t, err)
	_, err = io.ReadAll(dec)
	require.ErrorIs(t, err, errSource)
	// The error sticks.
	_, err = dec.Read(make([]byte, 10))
	require.ErrorIs(t, err, errSource)
}

// TestUncompressedMessage checks that a message without RSV1 is passed
// through and leaves the history alone.
func TestUncompressedMessage(t *testing.T) {
	t.Parallel()
	s := bind(t, ws.ServerSide, &wsflate.Extension{Threshold: -1})
	r := receiver(t, wsflate.Params{})
	msg := text(1000, 8)
	got, err := decompress(t, r, compress(t, s, msg, -1))
	require.NoError(t, err)
	require.Equal(t, msg, got)

	plain := bytes.NewReader([]byte("plain"))
	dec, err := r.NextReader(ws.Header{Fin: true, OpCode: ws.OpText}, plain)
	require.NoError(t, err)
	assert.Same(t, plain, dec)

	got, err = decompress(t, r, compress(t, s, msg, -1))
	require.NoError(t, err)
	assert.Equal(t, msg, got)
}

// TestAbandonedMessage checks that starting a message before the last one
// was read to its end works.
func TestAbandonedMessage(t *testing.T) {
	t.Parallel()
	p, err := wsflate.AppendCompress(nil, text(50000, 1), 0, 0)
	require.NoError(t, err)
	r := receiver(t, wsflate.Params{ServerNoContextTakeover: true})
	dec, err := r.NextReader(ws.Header{Fin: true, Rsv: ws.Rsv1, OpCode: ws.OpBinary}, bytes.NewReader(p))
	require.NoError(t, err)
	_, err = dec.Read(make([]byte, 100))
	require.NoError(t, err)
	got, err := decompress(t, r, p)
	require.NoError(t, err)
	assert.Equal(t, text(50000, 1), got)
}

// TestReadBounded checks that a Read never returns more than asked.
func TestReadBounded(t *testing.T) {
	t.Parallel()
	p, err := wsflate.AppendCompress(nil, make([]byte, 1<<20), 0, 0)
	require.NoError(t, err)
	r := receiver(t, wsflate.Params{})
	dec, err := r.NextReader(ws.Header{Fin: true, Rsv: ws.Rsv1, OpCode: ws.OpBinary}, bytes.NewReader(p))
	require.NoError(t, err)
	total := 0
	for _, size := range []int{1, 7, 100, 4096, 1} {
		n, err := dec.Read(make([]byte, size))
		require.NoError(t, err)
		assert.LessOrEqual(t, n, size)
		total += n
	}
	n, err := io.Copy(io.Discard, dec)
	require.NoError(t, err)
	assert.Equal(t, int64(1<<20), int64(total)+n)
}

// bomb returns the payload of a message of 1 GiB of zeros: about 1 MiB.
// It repeats the compressed form of 1 MiB of zeros, which starts with a
// literal and ends on a byte boundary after its sync flush, so that each
// copy stands on its own.
var bomb = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestSpeed)
	if err != nil {
		panic(err)
	}
	_, _ = w.Write(make([]byte, 1<<20))
	_ = w.Flush()
	p := bytes.Repeat(buf.Bytes(), 1<<10)
	return p[:len(p)-4]
})

// TestBomb reads a 1 GiB deflate bomb under a 1 MiB limit, the way wsutil's
// reader stops a message over its limit, and with AppendDecompress: both
// stop after about the limit, quickly and allocating little.
func TestBomb(t *testing.T) {
	p := bomb() // not parallel: it measures memory
	require.Less(t, len(p), 2<<20)
	const limit = 1 << 20

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()

	r := receiver(t, wsflate.Params{})
	src := &countingReader{r: bytes.NewReader(p)}
	dec, err := r.NextReader(ws.Header{Fin: true, Rsv: ws.Rsv1, OpCode: ws.OpBinary}, src)
	require.NoError(t, err)
	buf := make([]byte, 4096)
	total := 0
	for total <= limit {
		n, err := dec.Read(buf)
		require.NoError(t, err)
		total += n
	}
	assert.LessOrEqual(t, total, limit+len(buf))
	assert.Less(t, src.n, 32<<10, "consumed %d of %d payload bytes", src.n, len(p))

	out, err := wsflate.AppendDecompress(nil, p, limit)
	require.ErrorIs(t, err, wsflate.ErrMessageTooBig)
	assert.Len(t, out, limit)

	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	assert.Less(t, elapsed, wstest.Slow(2*time.Second), "inflating 1 GiB would take longer")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(8<<20), "allocated")
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestBombSize checks that the bomb is what it claims: 1 GiB of zeros.
func TestBombSize(t *testing.T) {
	t.Parallel()
	if raceEnabled {
		t.Skip("inflating 1 GiB under the race detector is too slow")
	}
	r := receiver(t, wsflate.Params{})
	dec, err := r.NextReader(ws.Header{Fin: true, Rsv: ws.Rsv1, OpCode: ws.OpBinary}, bytes.NewReader(bomb()))
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, dec)
	require.NoError(t, err)
	assert.Equal(t, int64(1<<30), n)
}
