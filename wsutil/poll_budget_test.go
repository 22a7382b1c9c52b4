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

// TestPollBudget shares a 1 MiB Budget between connections reading
// 300 KiB messages, which need 512 KiB each while they arrive.
func TestPollBudget(t *testing.T) {
	t.Parallel()
	const size = 300 << 10
	msg := make([]byte, size)
	partial := func(p *pollPeer) { p.send(ws.OpBinary, false, msg[:size-1000]) }
	rest := func(p *pollPeer) { p.send(ws.OpContinuation, true, msg[size-1000:]) }
	for _, tc := range []struct {
		name   string
		policy BudgetPolicy
	}{{"refuse", BudgetRefuse}, {"wait", BudgetWait}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := NewBudget(1<<20, tc.policy)
			done := make(chan *PollConn, 2)
			_, addr := startPoll(t, echoHandler(Config{MaxMessageSize: size, Budget: b}, done))
			a := dialPeer(t, addr)
			partial(a)
			waitFor(t, "the first message to hold its bytes", func() bool { return b.Used() >= 512<<10 })
			second := dialPeer(t, addr)
			partial(second)
			if tc.policy == BudgetRefuse {
				assert.Equal(t, ws.StatusTryAgainLater, second.readClose().Code)
				second.nc.Close()
				require.ErrorIs(t, ended(t, done).Err(), ErrBudgetExhausted)
			} else {
				waitFor(t, "the second to wait", func() bool {
					b.mu.Lock()
					defer b.mu.Unlock()
					return len(b.waiters) == 1
				})
				rest(second)
			}
			rest(a)
			f := a.read()
			assert.Len(t, f.Payload, size)
			if tc.policy == BudgetWait {
				f := second.read()
				assert.Len(t, f.Payload, size, "the second, once the first gave its bytes back")
			}
			waitFor(t, "every byte back", func() bool { return b.Used() == 0 })
		})
	}
	t.Run("over-the-whole-budget", func(t *testing.T) {
		t.Parallel()
		done := make(chan *PollConn, 1)
		// Its buffer grows to 64 KiB, then wants 128 KiB at once.
		_, addr := startPoll(t, echoHandler(Config{Budget: NewBudget(100<<10, BudgetWait)}, done))
		p := dialPeer(t, addr)
		p.send(ws.OpBinary, true, make([]byte, 1<<20))
		assert.Equal(t, ws.StatusMessageTooBig, p.readClose().Code)
		p.nc.Close()
		require.ErrorIs(t, ended(t, done).Err(), ErrMessageTooBig)
	})
}

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
