package wsflate_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gobwas/httphead"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// roundTripMessages are the messages every configuration sends, in order:
// a message, the same again (small with context takeover), a longer one
// with repeats far apart, an empty one, one under primeMin, one longer than
// any window and than a DEFLATE block, and the first one once more.
var roundTripMessages = [][]byte{
	text(600, 1),
	text(600, 1),
	append(append(text(3000, 2), text(9000, 3)...), text(3000, 2)...),
	{},
	[]byte("short"),
	text(70000, 4),
	text(600, 1),
}

// TestRoundTripAllParams runs every combination of the four parameters of
// RFC 7692 §7.1, both ways, with messages written whole and in pieces and
// read whole and in fragments, and with the compressor kept or re-primed.
func TestRoundTripAllParams(t *testing.T) {
	t.Parallel()
	for _, snct := range []bool{false, true} {
		for _, cnct := range []bool{false, true} {
			for sbits := wsflate.MinWindowBits; sbits <= wsflate.MaxWindowBits; sbits++ {
				for cbits := wsflate.MinWindowBits; cbits <= wsflate.MaxWindowBits; cbits++ {
					if raceEnabled && !(sampleBits(sbits) && sampleBits(cbits)) {
						continue
					}
					for _, keep := range []bool{false, true} {
						name := fmt.Sprintf("snct=%v/cnct=%v/sbits=%d/cbits=%d/keep=%v", snct, cnct, sbits, cbits, keep)
						t.Run(name, func(t *testing.T) {
							t.Parallel()
							client := &wsflate.Extension{
								ServerNoContextTakeover: snct, ClientNoContextTakeover: cnct,
								ServerMaxWindowBits: sbits, ClientMaxWindowBits: cbits,
								Threshold: -1, KeepCompressor: keep,
							}
							server := &wsflate.Extension{Threshold: -1, KeepCompressor: keep}
							c := handshake(t, client, server)
							assert.Equal(t, wsflate.Params{
								ServerNoContextTakeover: snct, ClientNoContextTakeover: cnct,
								ServerMaxWindowBits: sbits, ClientMaxWindowBits: cbits,
							}, c.answer, "the server echoes what it can honour")
							seed := uint64(sbits*100 + cbits)
							t.Run("server-to-client", func(t *testing.T) {
								checkStream(t, c.serverSend, c.clientRecv, !snct, sbits, seed)
							})
							t.Run("client-to-server", func(t *testing.T) {
								checkStream(t, c.clientSend, c.serverRecv, !cnct, cbits, seed+1)
							})
						})
					}
				}
			}
		}
	}
}

// sampleBits picks the window sizes tested under the race detector.
func sampleBits(b int) bool { return b == 8 || b == 11 || b == 15 }

// checkStream sends roundTripMessages from s to r and checks what arrives,
// and that the sender keeps within its window and uses context takeover
// exactly when negotiated.
func checkStream(t *testing.T, s wsflate.Sender, r wsflate.Receiver, takeover bool, bits int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 2))
	var sizes []int
	var hist []byte // what the peer's history holds, as refInflate sees it
	for i, msg := range roundTripMessages {
		var pieces []int
		if i%2 == 1 {
			pieces = randomCuts(rng, len(msg)) // written in pieces
		}
		p := compress(t, s, msg, -1, pieces...)
		sizes = append(sizes, len(p))

		// The stream keeps to the window, even for 8 bits.
		ref, _, err := refInflate(hist, p, 1<<bits)
		require.NoError(t, err, "message %d does not inflate with a %d-byte window", i, 1<<bits)
		require.True(t, bytes.Equal(msg, ref), "message %d: reference inflater disagrees", i)
		if takeover {
			hist = append(hist, msg...)
			hist = hist[max(0, len(hist)-1<<bits):]
		}

		var cuts []int
		if i%3 != 0 {
			cuts = randomCuts(rng, len(p)) // read in fragments
		}
		got, err := decompress(t, r, p, cuts...)
		require.NoError(t, err, "message %d", i)
		require.True(t, bytes.Equal(msg, got), "message %d differs after the round trip", i)
	}
	switch {
	case !takeover:
		assert.Equal(t, sizes[0], sizes[1], "no context takeover: the repeated message compresses the same")
	case len(roundTripMessages[0]) <= 1<<bits:
		assert.Less(t, sizes[1], sizes[0]/4, "context takeover: the repeated message refers to the first")
	}
	assert.Equal(t, []byte{0x00}, compress(t, s, nil, 0), "an empty message is one 0x00 byte (RFC 7692 §7.2.3.6)")
}

// TestWindowBoundDetected shows that the window check of the round trip
// can fail: a stream compressed with a 32 KiB window that refers 1000
// bytes back does not inflate with a 512-byte window.
func TestWindowBoundDetected(t *testing.T) {
	t.Parallel()
	block := text(1000, 9)
	msg := append(append([]byte(nil), block...), block...)
	p, err := wsflate.AppendCompress(nil, msg, 0, 15)
	require.NoError(t, err)
	_, dist, err := refInflate(nil, p, 1<<15)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, dist, 1000)
	_, _, err = refInflate(nil, p, 512)
	require.ErrorIs(t, err, errRefWindow)

	// The same message under a 512-byte bound keeps to it.
	p, err = wsflate.AppendCompress(nil, msg, 0, 9)
	require.NoError(t, err)
	got, dist, err := refInflate(nil, p, 512)
	require.NoError(t, err)
	assert.Equal(t, msg, got)
	assert.LessOrEqual(t, dist, 512)
}

// TestWindowBoundAllLevels checks the bound for every level with messages
// full of repeats at every distance up to 32 KiB.
func TestWindowBoundAllLevels(t *testing.T) {
	t.Parallel()
	var msg []byte
	for d := 64; d <= 24<<10; d *= 2 {
		chunk := text(d, uint64(d))
		msg = append(msg, chunk...)
		msg = append(msg, chunk[:min(len(chunk), 300)]...) // a repeat d bytes back
	}
	for _, level := range []int{wsflate.HuffmanOnly, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9} {
		for bits := wsflate.MinWindowBits; bits <= wsflate.MaxWindowBits; bits++ {
			if raceEnabled && !sampleBits(bits) {
				continue
			}
			t.Run(fmt.Sprintf("level=%d/bits=%d", level, bits), func(t *testing.T) {
				t.Parallel()
				s := bind(t, ws.ServerSide, &wsflate.Extension{Level: level, ServerMaxWindowBits: bits, Threshold: -1})
				var hist []byte
				for i := range 3 {
					p := compress(t, s, msg, -1)
					got, dist, err := refInflate(hist, p, 1<<bits)
					require.NoError(t, err, "message %d", i)
					require.True(t, bytes.Equal(msg, got))
					assert.LessOrEqual(t, dist, 1<<bits)
					hist = append(hist, msg...)
					hist = hist[len(hist)-1<<bits:]
				}
			})
		}
	}
}

// bind returns the Sender of a server configured with e, talking to a
// client that offered plain permessage-deflate.
func bind(t testing.TB, side ws.Side, e *wsflate.Extension) wsflate.Sender {
	t.Helper()
	answer, ok := e.Negotiate((&wsflate.Extension{ClientMaxWindowBits: wsflate.WindowBitsNoValue}).Offer())
	require.True(t, ok)
	_, s, err := e.Bind(side, []httphead.Option{answer})
	require.NoError(t, err)
	return s
}
