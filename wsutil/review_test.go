package wsutil

// Review of the channel API under concurrency and failure. Every test in
// this file demonstrates one defect: it fails against the code it was
// written for and passes once the fix it names is in. All of them run in
// a synctest bubble or on a bounded in-memory transport.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// noDeadlineConn is a net.Conn whose deadlines do nothing, like many
// adapters over streams (multiplexed streams, io.ReadWriteCloser wrappers).
type noDeadlineConn struct{ net.Conn }

var errNoDeadline = errors.New("review: deadlines not supported")

func (noDeadlineConn) SetDeadline(time.Time) error      { return errNoDeadline }
func (noDeadlineConn) SetReadDeadline(time.Time) error  { return errNoDeadline }
func (noDeadlineConn) SetWriteDeadline(time.Time) error { return errNoDeadline }

// lateWriteConn returns from writing a ping frame 10 ms after the bytes went
// out, as a writer descheduled right after its system call does.
type lateWriteConn struct{ net.Conn }

func (c lateWriteConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if len(p) > 0 && p[0] == 0x80|byte(ws.OpPing) {
		time.Sleep(10 * time.Millisecond)
	}
	return n, err
}

// outcome waits (in fake time) for the value on a Message.Done channel.
func outcome(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Until(wstest.RunDeadline())):
		t.Fatal("Message.Done never received an outcome")
		return nil
	}
}

// TestReviewDoneLargeMessage: a server message that bufio writes straight
// through (anything over about 8 KiB, or a prepared frame) leaves
// bw.Buffered() at 0, so the writer never calls flush and never settles its
// Done: the outcome is missing while the connection is idle, and reads
// net.ErrClosed at the end although the message was delivered.
// Fix (outbound.go writeLoop): flush/settle when len(w.unflushed) > 0 too:
// `if (bw.Buffered() > 0 || len(w.unflushed) > 0) && !w.flush()`.
func TestReviewDoneLargeMessage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		msg  func(done chan error) Message
	}{
		{"plain 100 KB", func(done chan error) Message {
			return Message{OpCode: ws.OpBinary, Payload: make([]byte, 100_000), Done: done}
		}},
		{"prepared 100 KB", func(done chan error) Message {
			m := Prepare(ws.OpBinary, make([]byte, 100_000))
			m.Done = done
			return m
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				a, b := wstest.Pipe()
				defer b.Close()
				c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{})
				require.NoError(t, err)
				defer c.Terminate()
				p := newRawPeer(t, b, ws.ClientSide)
				done := make(chan error, 1)
				require.NoError(t, c.Send(context.Background(), tc.msg(done)))
				require.Len(t, p.read().Payload, 100_000, "the peer got the whole message")
				require.NoError(t, outcome(t, done), "written, so Done must say nil")
			})
		})
	}
}

// TestReviewOverflowCloseEndsWhileSending: under OverflowClose every Send
// that finds the queue full calls failWith, whose beginClosing pushes the
// write deadline CloseTimeout into the future again. A broadcaster that
// keeps sending to a peer that stopped reading therefore keeps the stuck
// write alive forever: the connection never ends, the 1008 is never sent,
// and its goroutines and queue are held.
// Fix (conn.go/outbound.go): set the closing write deadline once, inside
// closeMu.Do; and make Send return ErrQueueFull (or errClosed) without
// failing again once the failure has been requested.
func TestReviewOverflowCloseEndsWhileSending(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe() // the peer never reads
		defer b.Close()
		const closeTimeout = time.Second
		c, err := NewConn(a, ws.ServerSide, ws.Handshake{},
			Config{OutboundBytes: 10, Overflow: OverflowClose, CloseTimeout: closeTimeout})
		require.NoError(t, err)
		defer c.Terminate()
		var failedAt time.Time
		for {
			select {
			case <-c.Done():
				require.False(t, failedAt.IsZero())
				require.ErrorIs(t, c.Err(), ErrQueueFull)
				return
			default:
			}
			err := c.Send(context.Background(), Message{OpCode: ws.OpBinary, Payload: make([]byte, 10)})
			if failedAt.IsZero() && errors.Is(err, ErrQueueFull) {
				failedAt = time.Now()
			}
			if !failedAt.IsZero() && time.Since(failedAt) > 3*closeTimeout {
				t.Fatalf("OverflowClose failed the connection %v ago and it is still %v: every Send extends the write deadline",
					time.Since(failedAt), c.State())
			}
			time.Sleep(100 * time.Millisecond) // a broadcast every 100 ms
		}
	})
}

// TestReviewKeepaliveSparesClosingHandshake: a sluice client closes while
// the server application is still working on its messages. The server
// keeps sending keepalive pings after the peer's close frame; the client,
// having sent its close, rightly does not answer them; so the server drops
// the connection with ErrKeepaliveTimeout before its replies and its
// answer go out. The client sees 1006 and loses the replies.
// Fix (outbound.go writeLoop): no keepalive once the closing handshake has
// begun (closeRecv, readDone or state != open); CloseTimeout bounds it.
func TestReviewKeepaliveSparesClosingHandshake(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a, b := wstest.Pipe()
		s, err := NewConn(a, ws.ServerSide, ws.Handshake{},
			Config{PingInterval: time.Second, PongTimeout: time.Second, CloseTimeout: 10 * time.Second})
		require.NoError(t, err)
		defer s.Terminate()
		c, err := NewConn(b, ws.ClientSide, ws.Handshake{}, Config{CloseTimeout: 10 * time.Second})
		require.NoError(t, err)
		defer c.Terminate()
		app := make(chan struct{})
		go func() {
			defer close(app)
			first := true
			for m := range s.Inbound() {
				if first {
					time.Sleep(3 * time.Second) // real work, well within CloseTimeout
					first = false
				}
				s.Outbound() <- m
			}
			close(s.Outbound())
		}()
		defer func() { <-app }()
		for i := range 2 {
			require.NoError(t, c.Send(context.Background(), Message{OpCode: ws.OpText, Payload: fmt.Append(nil, i)}))
		}
		closeErr := c.Close(ws.StatusNormalClosure, "")
		var got []string
		for m := range c.Inbound() {
			got = append(got, string(m.Payload))
		}
		assert.Equal(t, []string{"0", "1"}, got, "the replies were lost")
		require.NoError(t, closeErr, "the closing handshake did not complete")
		<-s.Done()
		assert.Equal(t, ws.CloseError{Code: ws.StatusNormalClosure}, s.Err())
	})
}

// TestReviewKeepalivePongBeforePingSent: pingSent is taken after the ping
// has been flushed. When the pong is read before the writer gets there
// (the writer is descheduled after its system call, or the write returns
// late), lastRead predates pingSent and a live peer is dropped with
// ErrKeepaliveTimeout.
// Fix (outbound.go): take pingSent before writing the ping (or compare a
// count of received bytes taken before the ping instead of timestamps).
func TestReviewKeepalivePongBeforePingSent(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a, b := wstest.Pipe()
		s, err := NewConn(lateWriteConn{a}, ws.ServerSide, ws.Handshake{},
			Config{PingInterval: time.Second, PongTimeout: time.Second})
		require.NoError(t, err)
		defer s.Terminate()
		c, err := NewConn(b, ws.ClientSide, ws.Handshake{}, Config{}) // answers every ping
		require.NoError(t, err)
		defer c.Terminate()
		time.Sleep(5 * time.Second)
		require.NoError(t, s.Err(), "a peer that answered every ping was dropped")
		assert.Equal(t, StateOpen, s.State())
	})
}

// TestReviewClosingKeepsDeliveringToReader: the application closes
// Outbound (it is done sending) and goes on reading the peer's last
// messages, a half-close. The reader treats "Inbound full at this instant"
// as "the application no longer reads" and drops every message it holds
// once closing has begun, although they were sent before the peer saw our
// close and the application reads them at once.
// Fix (inbound.go readLoop): while closing, keep waiting for room in
// Inbound as long as the application makes progress; drop only after it
// made none for a while (closeLinger) or at the close deadline.
func TestReviewClosingKeepsDeliveringToReader(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a, b := wstest.Pipe()
		defer b.Close()
		c, err := NewConn(a, ws.ClientSide, ws.Handshake{}, Config{InboundSize: 1})
		require.NoError(t, err)
		defer c.Terminate()
		p := newRawPeer(t, b, ws.ServerSide)
		for i := range 5 {
			p.send(ws.OpText, true, fmt.Append(nil, i))
		}
		synctest.Wait() // the reader waits for room in Inbound
		close(c.Outbound())
		synctest.Wait() // no time passes: the application reads right away
		peer := make(chan ws.StatusCode, 1)
		go func() {
			code := p.readClose()
			p.send(ws.OpClose, true, ws.AppendCloseBody(nil, code, ""))
			_ = b.Close()
			peer <- code
		}()
		var got []string
		for m := range c.Inbound() {
			got = append(got, string(m.Payload))
		}
		assert.Equal(t, ws.StatusNormalClosure, <-peer)
		<-c.Done()
		assert.Equal(t, []string{"0", "1", "2", "3", "4"}, got, "messages dropped while the application was reading")
		assert.Zero(t, c.Stats().Dropped)
	})
}

// TestReviewReceiveReplyBeforeAnswer: Receive promises that a sequential
// request/response loop gets its replies out before the close answer,
// "because the end of Inbound shows that every message was handled". But
// the 50 ms linger still runs: a handler that takes 200 ms finds its reply
// refused, and the peer gets the close answer without it.
// Fix: once Receive has handed out a message, do not arm the linger; wait
// for appDone (Receive seeing the end), bounded by CloseTimeout.
func TestReviewReceiveReplyBeforeAnswer(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a, b := wstest.Pipe()
		defer b.Close()
		c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{})
		require.NoError(t, err)
		defer c.Terminate()
		app := make(chan struct{})
		go func() {
			defer close(app)
			for {
				m, err := c.Receive(context.Background())
				if err != nil {
					return
				}
				time.Sleep(200 * time.Millisecond) // the handler's work
				if c.Send(context.Background(), m) != nil {
					return
				}
			}
		}()
		defer func() { <-app }()
		p := newRawPeer(t, b, ws.ClientSide)
		p.send(ws.OpText, true, []byte("request"))
		synctest.Wait() // the handler is working on it
		p.send(ws.OpClose, true, ws.AppendCloseBody(nil, ws.StatusNormalClosure, ""))
		f := p.read()
		require.Equal(t, ws.OpText, f.Header.OpCode, "the close answer overtook the reply")
		assert.Equal(t, "request", string(f.Payload))
		assert.Equal(t, ws.StatusNormalClosure, p.readClose())
	})
}

// TestReviewLingerArmsWhenInboundDrained: after the peer's close, the
// writer arms the 50 ms linger only when it happens to loop while Inbound
// is already empty. Nothing wakes it when the application drains Inbound,
// so an application that reads its last messages a moment later and has
// no reply to send leaves the peer waiting the full CloseTimeout (5 s)
// instead of about 50 ms.
// Fix (outbound.go): once readDone has fired, arm the linger timer anyway
// and re-check the condition when it fires (re-arming while Inbound or the
// queue is not empty), so the check does not depend on another wake-up.
func TestReviewLingerArmsWhenInboundDrained(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a, b := wstest.Pipe()
		defer b.Close()
		c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{})
		require.NoError(t, err)
		defer c.Terminate()
		app := make(chan struct{})
		go func() {
			defer close(app)
			time.Sleep(10 * time.Millisecond) // busy for a moment
			for range c.Inbound() {
			}
		}()
		defer func() { <-app }()
		p := newRawPeer(t, b, ws.ClientSide)
		start := time.Now()
		p.send(ws.OpText, true, []byte("bye"))
		p.send(ws.OpClose, true, ws.AppendCloseBody(nil, ws.StatusNormalClosure, ""))
		assert.Equal(t, ws.StatusNormalClosure, p.readClose())
		assert.LessOrEqual(t, time.Since(start), time.Second,
			"Inbound was drained at 10 ms and nothing was queued: the answer should follow the 50 ms linger")
	})
}

// TestReviewDropBoundedWithoutDeadlines: Drop waits for Done without a
// bound of its own. It relies on the write deadline set by beginClosing to
// unstick a writer blocked on a peer that does not read; on a net.Conn
// without deadlines it never returns.
// Fix (conn.go Drop): wait for done at most CloseTimeout, then
// shutdown(nil) and wait again (the socket close unblocks the writer).
func TestReviewDropBoundedWithoutDeadlines(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe() // the peer never reads
		const closeTimeout = time.Second
		c, err := NewConn(noDeadlineConn{a}, ws.ServerSide, ws.Handshake{}, Config{CloseTimeout: closeTimeout})
		require.NoError(t, err)
		require.NoError(t, c.Send(context.Background(), Message{OpCode: ws.OpBinary, Payload: make([]byte, 100)}))
		synctest.Wait() // the writer is blocked in Write
		ret := make(chan error, 1)
		go func() { ret <- c.Drop(ws.StatusPolicyViolation, "") }()
		defer func() {
			_ = b.Close() // unsticks the writer if Drop did not
			<-ret
			<-c.Done()
		}()
		select {
		case err := <-ret:
			ret <- err
		case <-time.After(2*closeTimeout + time.Second):
			t.Fatal("Drop did not return: nothing bounds its wait without write deadlines")
		}
	})
}

// TestReviewCloseBoundedWithFullControlQueue: Close starts its own timer
// only after requestClose has put the request on ctl. When the writer is
// blocked on a peer that does not read and ctl already holds four
// requests (pongs to the peer's pings, Ping, WriteControl), requestClose
// waits for room or for stop; on a net.Conn without deadlines neither
// comes, and Close never returns.
// Fix (conn.go Close): start the timer first and select on it in
// requestClose too, or give close requests their own one-slot channel.
func TestReviewCloseBoundedWithFullControlQueue(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe() // the peer never reads
		const closeTimeout = time.Second
		c, err := NewConn(noDeadlineConn{a}, ws.ServerSide, ws.Handshake{}, Config{CloseTimeout: closeTimeout})
		require.NoError(t, err)
		require.NoError(t, c.Send(context.Background(), Message{OpCode: ws.OpBinary, Payload: make([]byte, 100)}))
		synctest.Wait() // the writer is blocked in Write
		for i := range 4 {
			require.NoError(t, c.WriteControl(context.Background(), ws.OpPing, fmt.Append(nil, i)))
		}
		ret := make(chan error, 1)
		go func() { ret <- c.Close(ws.StatusNormalClosure, "") }()
		defer func() {
			_ = b.Close()
			<-ret
			<-c.Done()
		}()
		select {
		case err := <-ret:
			ret <- err
			require.ErrorIs(t, err, ErrAbnormalClosure)
		case <-time.After(2*closeTimeout + 2*time.Second):
			t.Fatal("Close did not return within its own bound")
		}
	})
}

// TestReviewSendRacingEndReportsDone: Send checks stopped, then selects on
// `c.out <- m` and `<-c.stop`. When the connection ends in between, the
// writer's abandon has already drained the queue, both cases are ready,
// and the runtime may pick the send: Send returns nil ("queued"), the
// message stays in the queue of a dead connection, and its Done never
// hears anything. Found with concurrent Terminate/Drop under load; this
// loop hits it within a second under -race.
// Fix (outbound.go): abandon sets a writerGone flag before draining; Send,
// after a successful enqueue, checks the flag and, when set, drains the
// queue itself (dropped++, notify errClosed). Receiving never races with
// the application closing Outbound, unlike sending sentinels would.
// Outbound itself cannot be fixed that way: its doc should say that after
// Done a send may be accepted and silently discarded, instead of "blocks
// forever".
func TestReviewSendRacingEndReportsDone(t *testing.T) {
	budget := time.Now().Add(10 * time.Second)
	for iter := 0; iter < 5000 && time.Now().Before(budget); iter++ {
		a, b := wstest.Pipe()
		c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{})
		require.NoError(t, err)
		go func() { _, _ = io.Copy(io.Discard, b) }()
		var mu sync.Mutex
		var accepted []chan error
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					d := make(chan error, 1)
					if c.Send(context.Background(), Message{OpCode: ws.OpBinary, Payload: []byte("x"), Done: d}) != nil {
						return
					}
					mu.Lock()
					accepted = append(accepted, d)
					mu.Unlock()
				}
			})
		}
		time.Sleep(50 * time.Microsecond)
		require.NoError(t, c.Terminate()) // Done is closed: every outcome is known now
		wg.Wait()
		_ = b.Close()
		lost := 0
		for _, d := range accepted {
			select {
			case <-d:
			default:
				lost++
			}
		}
		require.Zero(t, lost, "iteration %d: Send returned nil for %d message(s) that were neither written nor reported; %d left in the queue",
			iter, lost, c.Buffered())
	}
}

// TestReviewFrameModeCompressedFrameLimit: in FrameMode a compressed frame
// (RSV1 with an extension) skips the raw size check, since the Reader
// leaves limits of encoded messages to the decoder, and FrameMode does not
// decode. readFrameMessage then preallocates the length the header claims:
// one 14-byte header with a length of 2^62 panics the reading goroutine
// (makeslice: cap out of range) and with it the whole process; smaller
// lies allocate what they claim, and MaxMessageSize is never applied.
// Fix (inbound.go/reader.go): in frame mode apply maxMessage to the raw
// length of every frame, encoded or not (close 1009), and grow the payload
// as bytes arrive instead of trusting h.Length.
func TestReviewFrameModeCompressedFrameLimit(t *testing.T) {
	t.Parallel()
	compressed := func(length int64, payload []byte) []byte {
		h := ws.Header{Fin: true, Rsv: ws.Rsv1, OpCode: ws.OpBinary, Length: length, Masked: true, Mask: [4]byte{1, 2, 3, 4}}
		return append(ws.AppendHeader(nil, h), payload...)
	}
	t.Run("lying length", func(t *testing.T) {
		t.Parallel()
		// What readLoop runs for such a Conn, on this goroutine so that the
		// panic can be caught instead of ending the test binary.
		read := connReader(bytes.NewReader(compressed(1<<62, nil)), Config{FrameMode: true}, xorExt{})
		var err error
		require.NotPanics(t, func() { _, err = read() })
		var pe *ws.ProtocolError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, ws.StatusMessageTooBig, pe.Code)
	})
	t.Run("over MaxMessageSize", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			a, b := wstest.Pipe()
			defer b.Close()
			c, err := NewConn(a, ws.ServerSide, ws.Handshake{},
				Config{FrameMode: true, Extension: xorBinder{}, MaxMessageSize: 1000})
			require.NoError(t, err)
			defer c.Terminate()
			_, err = b.Write(compressed(5000, make([]byte, 5000)))
			require.NoError(t, err)
			p := newRawPeer(t, b, ws.ClientSide)
			_ = p.conn.SetReadDeadline(time.Now().Add(time.Minute))
			f, err := ws.ReadFrame(p.br, 0)
			require.NoError(t, err, "a 5000-byte frame against a 1000-byte limit was accepted (Inbound has %d)", len(c.Inbound()))
			require.Equal(t, ws.OpClose, f.Header.OpCode)
			code, _, err := ws.ParseCloseBody(f.Payload)
			require.NoError(t, err)
			assert.Equal(t, ws.StatusMessageTooBig, code)
		})
	})
}

// TestReviewLyingHeaderAllocation: both ways the Conn reads (ReadMessage,
// and readFrameMessage in FrameMode) size the payload buffer from the
// length the header claims, up to MaxMessageSize (16 MiB by default),
// before any payload has arrived. A peer that sends one 14-byte header and
// then nothing makes each of its connections hold 16 MiB; ws.ReadFrame
// promises the opposite ("memory grows with the bytes that actually
// arrive, never with the length a header claims").
// Fix (reader.go ReadMessage, inbound.go readFrameMessage): grow by at most
// a bounded step (say the read buffer size, doubling as data comes) rather
// than by r.left or h.Length.
// Not parallel: it measures the process's allocations.
func TestReviewLyingHeaderAllocation(t *testing.T) {
	h := ws.Header{Fin: true, OpCode: ws.OpBinary, Length: DefaultMaxMessageSize, Masked: true, Mask: [4]byte{1, 2, 3, 4}}
	input := ws.AppendHeader(nil, h) // no payload follows
	cases := []struct {
		name string
		read func(src io.Reader) error
	}{
		{"ReadMessage", func(src io.Reader) error { _, _, err := NewReader(src, ws.ServerSide).ReadMessage(nil); return err }},
		{"Conn", func(src io.Reader) error { _, err := connReader(src, Config{}, nil)(); return err }},
		{"FrameMode", func(src io.Reader) error { _, err := connReader(src, Config{FrameMode: true}, nil)(); return err }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := tc.read(bytes.NewReader(input))
			runtime.ReadMemStats(&after)
			require.ErrorIs(t, err, io.ErrUnexpectedEOF)
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20),
				"%d bytes of input made the reader allocate %d KiB", len(input), (after.TotalAlloc-before.TotalAlloc)>>10)
		})
	}
}

// connReader returns a function that reads messages from src the way a
// Conn's reading goroutine does (pooled buffers, growth as bytes arrive),
// on the calling goroutine, so that a panic can be caught.
func connReader(src io.Reader, cfg Config, ext RecvExtension) func() (Message, error) {
	cfg.MessageTimeout = -1 // no socket to set deadlines on
	c := &Conn{side: ws.ServerSide, cfg: cfg.withDefaults(ws.ServerSide)}
	c.initReader(ext)
	c.r.Reset(src, ws.ServerSide)
	return func() (Message, error) {
		m, _, err := c.readMessage()
		return m, err
	}
}
