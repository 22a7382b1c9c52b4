//go:build !race

package wsflate_test

import (
	"bytes"
	"io"
	"runtime/debug"
	"testing"

	"github.com/gobwas/httphead"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// noGC turns the collector off for the test, so that it cannot empty the
// pools in the middle of a measurement.
func noGC(t *testing.T) {
	old := debug.SetGCPercent(-1)
	t.Cleanup(func() { debug.SetGCPercent(old) })
}

// TestZeroAllocs proves the hot paths allocation-free in the steady state:
// compressing and inflating messages with pooled state, the message
// helpers with room in dst, and negotiation. Benchmarks with ReportAllocs
// show the same.
func TestZeroAllocs(t *testing.T) {
	noGC(t)
	msgs := benchJSON(16)
	for _, mode := range benchModes {
		t.Run("compress/"+mode.name, func(t *testing.T) {
			s := bind(t, ws.ServerSide, &mode.e)
			var out counter
			i := 0
			allocs := testing.AllocsPerRun(200, func() {
				enc, _ := s.NextWriter(&out, -1)
				_, _ = enc.Write(msgs[i%len(msgs)])
				i++
				_ = enc.Finish()
			})
			assert.Zero(t, allocs)
		})
	}
	for _, mode := range benchModes[:2] {
		t.Run("decompress/"+mode.name, func(t *testing.T) {
			s := bind(t, ws.ServerSide, &mode.e)
			// With context takeover a repeated message's payload
			// settles once the window holds only that message.
			r, _, err := (&wsflate.Extension{}).Bind(ws.ClientSide, []httphead.Option{
				wsflate.Params{ServerNoContextTakeover: mode.e.ServerNoContextTakeover}.Option()})
			require.NoError(t, err)
			var p, prev []byte
			for range 40 {
				prev, p = p, bytes.Clone(compress(t, s, msgs[0], -1))
				got, err := decompress(t, r, p)
				require.NoError(t, err)
				require.Equal(t, msgs[0], got)
			}
			require.Equal(t, prev, p, "the payload has settled")
			var src bytes.Reader
			buf := make([]byte, 4096)
			h := ws.Header{Fin: true, Rsv: ws.Rsv1, OpCode: ws.OpText}
			allocs := testing.AllocsPerRun(200, func() {
				src.Reset(p)
				dec, _ := r.NextReader(h, &src)
				for {
					if _, err := dec.Read(buf); err != nil {
						if err != io.EOF {
							panic(err)
						}
						break
					}
				}
			})
			assert.Zero(t, allocs)
		})
	}
	t.Run("AppendCompress", func(t *testing.T) {
		dst := make([]byte, 0, 4096)
		allocs := testing.AllocsPerRun(200, func() {
			dst, _ = wsflate.AppendCompress(dst[:0], msgs[0], 0, 10)
		})
		assert.Zero(t, allocs)
	})
	t.Run("AppendFrame", func(t *testing.T) {
		dst := make([]byte, 0, 4096)
		allocs := testing.AllocsPerRun(200, func() {
			dst, _ = wsflate.AppendFrame(dst[:0], ws.OpText, msgs[0], 0, 0)
		})
		assert.Zero(t, allocs)
	})
	t.Run("AppendDecompress", func(t *testing.T) {
		p, err := wsflate.AppendCompress(nil, msgs[0], 0, 0)
		require.NoError(t, err)
		dst := make([]byte, 0, 4096)
		allocs := testing.AllocsPerRun(200, func() {
			dst, _ = wsflate.AppendDecompress(dst[:0], p, 1<<20)
		})
		assert.Zero(t, allocs)
	})
	t.Run("Negotiate", func(t *testing.T) {
		offer := option(t, "permessage-deflate; server_no_context_takeover; client_max_window_bits")
		e := &wsflate.Extension{ClientMaxWindowBits: 12, ServerMaxWindowBits: 13}
		allocs := testing.AllocsPerRun(200, func() {
			_, _ = e.Negotiate(offer)
		})
		assert.Zero(t, allocs)
	})
}
