//go:build linux

package wsutil

import (
	"bufio"
	"bytes"
	"io"
	"sync"
	"testing"

	"github.com/gobwas/httphead"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
)

// TestPollBudgetDeadlockCompressed: twenty connections each send a 4 KiB
// frame that inflates to 4 MiB, against a Budget of 8 MiB. Those that hold
// part of a message and need more of the Budget must not wait for one
// another for ever: what a waiting connection has read and kept counts as
// held, so that the deadlock breaking sees it. Every connection gets its
// echo or 1013, and every byte comes back.
func TestPollBudgetDeadlockCompressed(t *testing.T) {
	t.Parallel()
	const (
		conns = 20
		size  = 4 << 20 // inflated, from about 4 KiB
	)
	b := NewBudget(2*size, BudgetWait)
	deflate := &wsflate.Extension{}
	h := echoHandler(Config{MaxMessageSize: size, Budget: b, Extension: deflate}, nil)
	h.Upgrader.Extension = deflate.Negotiate
	_, addr := startPoll(t, h)

	compressed, err := wsflate.AppendCompress(nil, make([]byte, size), wsflate.BestCompression, 15)
	require.NoError(t, err)
	hdr := ws.Header{Fin: true, Rsv: ws.Rsv1, OpCode: ws.OpBinary, Masked: true, Mask: [4]byte{7, 1, 4, 2}, Length: int64(len(compressed))}
	ws.Cipher(compressed, hdr.Mask, 0)
	frame := append(ws.AppendHeader(nil, hdr), compressed...)

	d := ws.Dialer{Extensions: []httphead.Option{deflate.Offer()}, OnExtensions: deflate.CheckResponse}
	codes := make([]ws.StatusCode, conns) // 0: echoed
	var wg sync.WaitGroup
	for i := range codes {
		nc, hs, err := d.Dial(testContext(t), "ws://"+addr+"/")
		require.NoError(t, err)
		t.Cleanup(func() { nc.Close() })
		require.NoError(t, nc.SetDeadline(testDeadline(t)))
		_, err = nc.Write(frame)
		require.NoError(t, err)
		br := bufio.NewReader(io.MultiReader(bytes.NewReader(hs.Buffered), nc))
		wg.Go(func() {
			f, err := ws.ReadFrame(br, 0)
			if !assert.NoError(t, err, "connection %d: no answer", i) {
				return
			}
			switch f.Header.OpCode {
			case ws.OpBinary:
			case ws.OpClose:
				codes[i], _, err = ws.ParseCloseBody(f.Payload)
				assert.NoError(t, err)
			default:
				t.Errorf("connection %d: a %v frame", i, f.Header.OpCode)
			}
			nc.Close()
		})
	}
	wg.Wait()
	echoed := 0
	for i, code := range codes {
		if code == 0 {
			echoed++
		} else {
			assert.Equal(t, ws.StatusTryAgainLater, code, "connection %d", i)
		}
	}
	t.Logf("%d echoed, %d told to try again later", echoed, conns-echoed)
	assert.Positive(t, echoed, "the Budget must let some through")
	waitFor(t, "every byte back", func() bool { return b.Used() == 0 })
}
