package wsutil

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// streamPeer returns a Conn of side with cfg and a raw peer on the other
// end of an in-memory pipe.
func streamPeer(t *testing.T, side ws.Side, cfg Config) (*Conn, *rawPeer) {
	t.Helper()
	a, b := wstest.Pipe()
	c, err := NewConn(a, side, ws.Handshake{}, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Terminate() })
	peer := ws.ClientSide
	if side == ws.ClientSide {
		peer = ws.ServerSide
	}
	return c, newRawPeer(t, b, peer)
}

// A streamed message goes out as fragments, one per frame's worth of
// data, and holds the send order: messages sent meanwhile by other
// goroutines wait, whole, behind its final frame, in their own order.
func TestConnWriterFragmentsAndHoldsOrder(t *testing.T) {
	t.Parallel()
	for _, side := range []ws.Side{ws.ServerSide, ws.ClientSide} {
		t.Run(side.String(), func(t *testing.T) {
			t.Parallel()
			const frag, chunks, senders, each = 1000, 10, 8, 5
			c, peer := streamPeer(t, side, Config{FragmentSize: frag})
			ctx := wstest.Context(t, "streamed message")
			require.NoError(t, c.Send(ctx, Message{OpCode: ws.OpText, Payload: []byte("before")}))
			w, err := c.Writer(ctx, ws.OpBinary)
			require.NoError(t, err)

			var started, wg sync.WaitGroup
			started.Add(senders)
			for g := range senders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					started.Done()
					for i := range each {
						assert.NoError(t, c.Send(ctx, Message{OpCode: ws.OpText, Payload: fmt.Appendf(nil, "%d-%d", g, i)}))
					}
				}()
			}
			started.Wait()
			want := make([]byte, frag*chunks)
			_, _ = rand.Read(want)
			for i := range chunks {
				n, err := w.Write(want[i*frag : (i+1)*frag])
				require.NoError(t, err)
				require.Equal(t, frag, n)
			}
			require.NoError(t, w.Close())
			require.ErrorIs(t, w.Close(), net.ErrClosed, "a second Close")
			_, err = w.Write([]byte("late"))
			require.ErrorIs(t, err, net.ErrClosed, "a Write after Close")

			f := peer.read()
			require.Equal(t, "before", string(f.Payload), "sent before Writer, out before it")
			var got []byte
			frames := 0
			for {
				f := peer.read()
				frames++
				if frames == 1 {
					require.Equal(t, ws.OpBinary, f.Header.OpCode)
				} else {
					require.Equal(t, ws.OpContinuation, f.Header.OpCode, "frame %d: another message inside the stream", frames)
				}
				require.Equal(t, side == ws.ClientSide, f.Header.Masked)
				require.LessOrEqual(t, len(f.Payload), frag)
				got = append(got, f.Payload...)
				if f.Header.Fin {
					break
				}
			}
			assert.Equal(t, want, got)
			assert.GreaterOrEqual(t, frames, chunks, "one frame per frame's worth at least")
			wg.Wait()
			next := make([]int, senders)
			for range senders * each {
				f := peer.read()
				require.True(t, f.Header.Fin)
				require.Equal(t, ws.OpText, f.Header.OpCode)
				var g, i int
				_, err := fmt.Sscanf(string(f.Payload), "%d-%d", &g, &i)
				require.NoError(t, err)
				require.Equal(t, next[g], i, "sender %d out of order", g)
				next[g]++
			}
			// The writer counts a batch's messages once its write has
			// returned, which may be after the peer has read them all.
			for c.Stats().MessagesOut < int64(2+senders*each) && ctx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
			assert.Equal(t, int64(2+senders*each), c.Stats().MessagesOut, "a streamed message counts once")
		})
	}
}

// A message of 64 MiB streams through a Conn whose send queue holds 256
// KiB: the bytes the Budget sees never pass the queue's bound plus one
// frame's buffer, so the writer never held the message.
func TestConnWriterMemoryBound(t *testing.T) {
	t.Parallel()
	const total, outbound = 64 << 20, 256 << 10
	budget := NewBudget(1<<30, BudgetWait)
	c, peer := streamPeer(t, ws.ServerSide, Config{OutboundBytes: outbound, Budget: budget})
	ctx := wstest.Context(t, "64 MiB streamed")
	received := make(chan int64, 1)
	go func() {
		var n int64
		defer func() { received <- n }()
		r := NewReader(peer.conn, ws.ClientSide)
		r.MaxMessageSize = -1
		if _, err := r.NextMessage(); err != nil {
			return
		}
		n, _ = io.Copy(io.Discard, r)
	}()
	w, err := c.Writer(ctx, ws.OpBinary)
	require.NoError(t, err)
	chunk := make([]byte, 64<<10)
	_, _ = rand.Read(chunk)
	frameBuf := int64(16 << 10)
	var peak int64
	for range total / len(chunk) {
		_, err := w.Write(chunk)
		require.NoError(t, err)
		peak = max(peak, budget.Used())
		require.LessOrEqual(t, c.Buffered(), int64(outbound)+frameBuf)
	}
	require.NoError(t, w.Close())
	select {
	case n := <-received:
		assert.Equal(t, int64(total), n)
	case <-wstest.After(t):
		t.Fatal("the peer did not receive the whole message before the run's deadline")
	}
	assert.LessOrEqual(t, peak, int64(outbound)+2*frameBuf, "held by the stream at most")
	assert.Positive(t, peak, "the stream's bytes count against the Budget")
	assert.Zero(t, budget.Used(), "every byte given back")
}

// When ctx ends in the middle of a streamed message, the message cannot be
// abandoned on the wire: the connection fails with 1011 and Err says why;
// messages waiting behind the stream learn the connection is closed.
func TestConnWriterCancelFailsConnection(t *testing.T) {
	t.Parallel()
	c, peer := streamPeer(t, ws.ServerSide, Config{FragmentSize: 100})
	ctx, cancel := context.WithCancel(wstest.Context(t, "canceled stream"))
	w, err := c.Writer(ctx, ws.OpText)
	require.NoError(t, err)
	_, err = w.Write(bytes.Repeat([]byte("a"), 250)) // two frames queued
	require.NoError(t, err)
	waiting := make(chan error, 1)
	go func() {
		waiting <- c.Send(context.Background(), Message{OpCode: ws.OpText, Payload: []byte("behind")})
	}()
	f := peer.read()
	require.Equal(t, ws.OpText, f.Header.OpCode)
	require.False(t, f.Header.Fin)
	cancel()
	assert.Equal(t, ws.StatusInternalError, peer.readClose())
	select {
	case err := <-waiting:
		require.ErrorIs(t, err, net.ErrClosed, "the Send behind the stream")
	case <-wstest.After(t):
		t.Fatal("a Send waiting behind an aborted stream did not return")
	}
	_, err = w.Write([]byte("more"))
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, w.Close(), context.Canceled)
	peer.send(ws.OpClose, true, ws.AppendCloseBody(nil, ws.StatusInternalError, ""))
	waitDone(t, c)
	require.ErrorIs(t, c.Err(), ErrMessageAborted)
}

// A stream canceled before any frame was queued leaves the connection
// alone; the next message goes out.
func TestConnWriterCancelBeforeFirstFrame(t *testing.T) {
	t.Parallel()
	c, peer := streamPeer(t, ws.ServerSide, Config{})
	ctx, cancel := context.WithCancel(wstest.Context(t, "stream"))
	w, err := c.Writer(ctx, ws.OpText)
	require.NoError(t, err)
	_, err = w.Write([]byte("buffered, never sent"))
	require.NoError(t, err)
	cancel()
	require.ErrorIs(t, w.Close(), context.Canceled)
	require.NoError(t, c.Send(wstest.Context(t, "send"), Message{OpCode: ws.OpText, Payload: []byte("next")}))
	f := peer.read()
	assert.True(t, f.Header.Fin)
	assert.Equal(t, "next", string(f.Payload))
	assert.NoError(t, c.Err())
}

// Closing the Conn in the middle of a streamed message sends the close
// frame between its fragments (RFC 6455 §5.5); the writer then fails with
// net.ErrClosed.
func TestConnWriterConnClosedMidMessage(t *testing.T) {
	t.Parallel()
	c, peer := streamPeer(t, ws.ServerSide, Config{FragmentSize: 10})
	ctx := wstest.Context(t, "stream")
	w, err := c.Writer(ctx, ws.OpBinary)
	require.NoError(t, err)
	_, err = w.Write(make([]byte, 25))
	require.NoError(t, err)
	closed := make(chan error, 1)
	go func() { closed <- c.Close(ws.StatusGoingAway, "bye") }()
	assert.Equal(t, ws.StatusGoingAway, peer.readClose())
	peer.send(ws.OpClose, true, ws.AppendCloseBody(nil, ws.StatusGoingAway, ""))
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-wstest.After(t):
		t.Fatal("Close did not return")
	}
	_, err = w.Write(make([]byte, 25))
	require.ErrorIs(t, err, net.ErrClosed)
	_, err = c.Writer(ctx, ws.OpBinary)
	require.ErrorIs(t, err, net.ErrClosed)
}

// With an extension, a streamed message is encoded as one message across
// its frames: RSV bits on the first frame only, and the peer decodes the
// whole. Messages queued before it are written before it starts encoding.
func TestConnWriterEncodes(t *testing.T) {
	t.Parallel()
	c, peer := streamPeer(t, ws.ServerSide, Config{FragmentSize: 64})
	c.sendExt = xorExt{}
	ctx := wstest.Context(t, "encoded stream")
	require.NoError(t, c.Send(ctx, Message{OpCode: ws.OpText, Payload: []byte("first")}))
	w, err := c.Writer(ctx, ws.OpText)
	require.NoError(t, err)
	want := bytes.Repeat([]byte("streamed "), 50)
	_, err = w.Write(want)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	r := NewReader(peer.conn, ws.ClientSide)
	r.Extension = xorExt{}
	var got [][]byte
	for range 2 {
		_, err := r.NextMessage()
		require.NoError(t, err)
		b, err := io.ReadAll(r)
		require.NoError(t, err)
		got = append(got, b)
	}
	assert.Equal(t, "first", string(got[0]))
	assert.Equal(t, want, got[1])
}

// Reader streams a fragmented message frame by frame in FrameMode, each
// frame released once read, and a second Reader discards what the first
// left unread.
func TestConnReaderFrameMode(t *testing.T) {
	t.Parallel()
	a, b := wstest.Pipe()
	c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{FrameMode: true, InboundBytes: 1 << 10})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Terminate() })
	c.SetReadLimit(-1)
	peer := newRawPeer(t, b, ws.ClientSide)
	ctx := wstest.Context(t, "streamed read")

	want := make([]byte, 64<<10) // 64 times InboundBytes
	_, _ = rand.Read(want)
	go func() {
		for i := 0; i < len(want); i += 512 {
			op := ws.OpContinuation
			if i == 0 {
				op = ws.OpBinary
			}
			if writeFrame(peer.conn, ws.ClientSide, op, i+512 == len(want), want[i:i+512]) != nil {
				return
			}
		}
		_ = writeFrame(peer.conn, ws.ClientSide, ws.OpText, false, []byte("skip"))
		_ = writeFrame(peer.conn, ws.ClientSide, ws.OpContinuation, false, []byte(" me"))
		_ = writeFrame(peer.conn, ws.ClientSide, ws.OpContinuation, true, []byte("!"))
		_ = writeFrame(peer.conn, ws.ClientSide, ws.OpText, true, []byte("last"))
	}()
	op, r, err := c.Reader(ctx)
	require.NoError(t, err)
	require.Equal(t, ws.OpBinary, op)
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, want, got)

	op, r, err = c.Reader(ctx)
	require.NoError(t, err)
	require.Equal(t, ws.OpText, op)
	p := make([]byte, 2)
	n, err := r.Read(p)
	require.NoError(t, err)
	require.Equal(t, "sk", string(p[:n]))

	op, r2, err := c.Reader(ctx)
	require.NoError(t, err, "the rest of the second message is discarded")
	assert.Equal(t, ws.OpText, op)
	last, err := io.ReadAll(r2)
	require.NoError(t, err)
	assert.Equal(t, "last", string(last))
	_, err = r.Read(p)
	assert.Error(t, err, "a reader superseded by the next Reader")
	assert.False(t, errors.Is(err, io.EOF))
}

// Without FrameMode, Reader hands out whole messages; a connection that
// ends is Reader's error, a clean close included.
func TestConnReaderWholeMessages(t *testing.T) {
	t.Parallel()
	s, c := connPair(t, Config{}, Config{})
	ctx := wstest.Context(t, "reader")
	require.NoError(t, c.Send(ctx, Message{OpCode: ws.OpText, Payload: []byte("hello")}))
	op, r, err := s.Reader(ctx)
	require.NoError(t, err)
	assert.Equal(t, ws.OpText, op)
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(b))
	go func() { _ = c.Close(ws.StatusNormalClosure, "") }()
	_, _, err = s.Reader(ctx)
	assert.True(t, IsCleanClose(err), "%v", err)
}

// A Send that was waiting for Budget bytes when a streamed message began
// queues behind the stream once it gets them, not inside it.
func TestConnWriterSendWaitingForBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		budget := NewBudget(4<<10, BudgetWait)
		c, peer := streamPeer(t, ws.ServerSide, Config{Budget: budget, FragmentSize: 100})
		ctx := context.Background()
		require.True(t, budget.tryAcquire(budget.Limit()), "the Budget spent elsewhere")
		sent := make(chan error, 1)
		go func() { sent <- c.Send(ctx, Message{OpCode: ws.OpText, Payload: []byte("behind")}) }()
		synctest.Wait() // the Send waits for the Budget
		w, err := c.Writer(ctx, ws.OpBinary)
		require.NoError(t, err)
		budget.release(budget.Limit())
		synctest.Wait()
		select {
		case err := <-sent:
			t.Fatalf("Send returned (%v) while the streamed message is open", err)
		default:
		}
		_, err = w.Write(make([]byte, 250))
		require.NoError(t, err)
		require.NoError(t, w.Close())
		require.NoError(t, <-sent)
		for i, want := range []ws.OpCode{ws.OpBinary, ws.OpContinuation, ws.OpContinuation} {
			f := peer.read()
			require.Equal(t, want, f.Header.OpCode, "frame %d of the stream", i)
			require.Equal(t, i == 2, f.Header.Fin)
		}
		f := peer.read()
		assert.Equal(t, "behind", string(f.Payload))
		_ = c.Terminate()
	})
}
