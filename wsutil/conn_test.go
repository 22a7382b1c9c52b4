package wsutil

import (
	"bufio"
	"context"
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

// connPair returns a server and a client Conn joined by an in-memory pipe.
func connPair(t *testing.T, scfg, ccfg Config) (*Conn, *Conn) {
	t.Helper()
	a, b := wstest.Pipe()
	s, err := NewConn(a, ws.ServerSide, ws.Handshake{}, scfg)
	require.NoError(t, err)
	c, err := NewConn(b, ws.ClientSide, ws.Handshake{}, ccfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = s.Terminate()
		_ = c.Terminate()
	})
	return s, c
}

// rawPeer is the far end of a Conn, driven frame by frame by the test.
type rawPeer struct {
	t    *testing.T
	conn net.Conn
	side ws.Side
	br   *bufio.Reader
}

func newRawPeer(t *testing.T, conn net.Conn, side ws.Side) *rawPeer {
	return &rawPeer{t: t, conn: conn, side: side, br: bufio.NewReader(conn)}
}

func (p *rawPeer) send(op ws.OpCode, fin bool, payload []byte) {
	p.t.Helper()
	require.NoError(p.t, writeFrame(p.conn, p.side, op, fin, payload))
}

func (p *rawPeer) read() ws.Frame {
	p.t.Helper()
	_ = p.conn.SetReadDeadline(wstest.RunDeadline())
	f, err := ws.ReadFrame(p.br, 0)
	require.NoError(p.t, err)
	return f
}

// readClose reads frames until a close frame and returns its code.
func (p *rawPeer) readClose() ws.StatusCode {
	p.t.Helper()
	for {
		f := p.read()
		if f.Header.OpCode == ws.OpClose {
			code, _, err := ws.ParseCloseBody(f.Payload)
			require.NoError(p.t, err)
			return code
		}
	}
}

func (p *rawPeer) expectEOF() {
	p.t.Helper()
	_ = p.conn.SetReadDeadline(wstest.RunDeadline())
	_, err := io.Copy(io.Discard, p.br)
	require.NoError(p.t, err, "the Conn should close the connection")
}

func recv(t *testing.T, c *Conn) Message {
	t.Helper()
	select {
	case m, ok := <-c.Inbound():
		require.True(t, ok, "Inbound closed: %v", c.Err())
		return m
	case <-time.After(time.Until(wstest.RunDeadline())):
		t.Fatal("no message before the run's deadline")
	}
	return Message{}
}

func waitDone(t *testing.T, c *Conn) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(time.Until(wstest.RunDeadline())):
		t.Fatal("connection did not end")
	}
}

func TestConnEcho(t *testing.T) {
	t.Parallel()
	s, c := connPair(t, Config{}, Config{})
	go func() {
		for m := range s.Inbound() {
			s.Outbound() <- m
		}
	}()
	msgs := []Message{
		{OpCode: ws.OpText, Payload: []byte("hello")},
		{OpCode: ws.OpBinary, Payload: []byte{0, 1, 2}},
		{OpCode: ws.OpText, Payload: []byte{}},
		{OpCode: ws.OpBinary, Payload: make([]byte, 100_000)},
	}
	for _, m := range msgs {
		require.NoError(t, c.Send(context.Background(), m))
	}
	for _, m := range msgs {
		got := recv(t, c)
		assert.Equal(t, m.OpCode, got.OpCode)
		assert.Equal(t, string(m.Payload), string(got.Payload))
	}
	require.NoError(t, c.Close(ws.StatusNormalClosure, "done"))
	waitDone(t, s)
	assert.Equal(t, ws.CloseError{Code: ws.StatusNormalClosure, Reason: "done"}, s.Err())
	assert.Equal(t, ws.StatusNormalClosure, ws.CloseStatus(c.Err()))
	st := c.Stats()
	assert.Equal(t, int64(4), st.MessagesOut)
	assert.Equal(t, int64(4), st.MessagesIn)
	assert.Greater(t, st.BytesOut, int64(100_000))
	assert.Greater(t, st.BytesIn, int64(100_000))
	assert.Equal(t, StateClosed, c.State())
	assert.Equal(t, StateClosed, s.State())
}

// TestConnConcurrentSendersKeepOrder sends from many goroutines at once,
// through Send and Outbound: each sender's messages arrive whole and in
// order, and nothing interleaves.
func TestConnConcurrentSendersKeepOrder(t *testing.T) {
	t.Parallel()
	s, c := connPair(t, Config{}, Config{FragmentSize: 100})
	const senders, each = 8, 200
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				m := Message{OpCode: ws.OpText, Payload: fmt.Appendf(nil, "%d:%d:%0200d", g, i, 0)}
				if g%2 == 0 {
					assert.NoError(t, c.Send(context.Background(), m))
				} else {
					c.Outbound() <- m
				}
			}
		})
	}
	next := make([]int, senders)
	for range senders * each {
		m := recv(t, s)
		var g, i, z int
		_, err := fmt.Sscanf(string(m.Payload), "%d:%d:%d", &g, &i, &z)
		require.NoError(t, err)
		require.Equal(t, next[g], i, "sender %d out of order", g)
		next[g]++
	}
	wg.Wait()
}

func TestConnPeerCloses(t *testing.T) {
	t.Parallel()
	for _, side := range []ws.Side{ws.ServerSide, ws.ClientSide} {
		t.Run(side.String(), func(t *testing.T) {
			t.Parallel()
			a, b := wstest.Pipe()
			c, err := NewConn(a, side, ws.Handshake{}, Config{})
			require.NoError(t, err)
			p := newRawPeer(t, b, side.Peer())
			p.send(ws.OpText, true, []byte("last words"))
			p.send(ws.OpClose, true, ws.AppendCloseBody(nil, 4000, "bye"))
			assert.Equal(t, "last words", string(recv(t, c).Payload))
			// The Conn echoes the code and the reason.
			f := p.read()
			require.Equal(t, ws.OpClose, f.Header.OpCode)
			code, reason, err := ws.ParseCloseBody(f.Payload)
			require.NoError(t, err)
			assert.Equal(t, ws.StatusCode(4000), code)
			assert.Equal(t, "bye", string(reason))
			if side == ws.ClientSide {
				// A client waits for the server to close TCP.
				require.NoError(t, b.Close())
			} else {
				p.expectEOF()
			}
			waitDone(t, c)
			_, ok := <-c.Inbound()
			assert.False(t, ok)
			assert.Equal(t, ws.CloseError{Code: 4000, Reason: "bye"}, c.Err())
			require.ErrorIs(t, c.Close(ws.StatusNormalClosure, ""), net.ErrClosed)
		})
	}
}

func TestConnEmptyCloseEchoedEmpty(t *testing.T) {
	t.Parallel()
	a, b := wstest.Pipe()
	c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{})
	require.NoError(t, err)
	p := newRawPeer(t, b, ws.ClientSide)
	p.send(ws.OpClose, true, nil)
	f := p.read()
	assert.Equal(t, ws.OpClose, f.Header.OpCode)
	assert.Empty(t, f.Payload)
	waitDone(t, c)
	assert.Equal(t, ws.StatusNoStatusRcvd, ws.CloseStatus(c.Err()))
}

func TestConnProtocolErrorFailsWithCode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		send func(p *rawPeer)
		code ws.StatusCode
		err  error
	}{
		{"unmasked frame", func(p *rawPeer) {
			require.NoError(t, ws.WriteFrame(p.conn, ws.NewTextFrame([]byte("x"))))
		}, ws.StatusProtocolError, ws.ErrMaskRequired},
		{"invalid UTF-8", func(p *rawPeer) { p.send(ws.OpText, true, []byte{0xc0}) },
			ws.StatusInvalidFramePayloadData, ErrInvalidUTF8},
		{"too big", func(p *rawPeer) { p.send(ws.OpBinary, true, make([]byte, 2000)) },
			ws.StatusMessageTooBig, ErrMessageTooBig},
		{"bad close code", func(p *rawPeer) { p.send(ws.OpClose, true, []byte{0x03, 0xed}) },
			ws.StatusProtocolError, ws.ErrCloseCodeInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := wstest.Pipe()
			c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{MaxMessageSize: 1000})
			require.NoError(t, err)
			p := newRawPeer(t, b, ws.ClientSide)
			tc.send(p)
			assert.Equal(t, tc.code, p.readClose())
			p.expectEOF()
			waitDone(t, c)
			require.ErrorIs(t, c.Err(), tc.err)
		})
	}
}

func TestConnAbnormalClosure(t *testing.T) {
	t.Parallel()
	a, b := wstest.Pipe()
	c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{})
	require.NoError(t, err)
	require.NoError(t, b.Close())
	waitDone(t, c)
	require.ErrorIs(t, c.Err(), ErrAbnormalClosure)
	require.ErrorIs(t, c.Err(), io.EOF)
	assert.Equal(t, ws.StatusAbnormalClosure, ws.CloseStatus(c.Err()))
	_, ok := <-c.Inbound()
	assert.False(t, ok)
}

func TestConnCloseIdempotent(t *testing.T) {
	t.Parallel()
	s, c := connPair(t, Config{}, Config{})
	var wg sync.WaitGroup
	results := make(chan error, 10)
	for range 10 {
		wg.Go(func() { results <- c.Close(ws.StatusGoingAway, "") })
	}
	wg.Wait()
	close(results)
	var nils, closed int
	for err := range results {
		switch {
		case err == nil:
			nils++
		case errors.Is(err, net.ErrClosed):
			closed++
		}
	}
	assert.Equal(t, 1, nils)
	assert.Equal(t, 9, closed)
	require.ErrorIs(t, c.Terminate(), net.ErrClosed)
	waitDone(t, s)
	assert.Equal(t, ws.StatusGoingAway, ws.CloseStatus(s.Err()))
	require.ErrorIs(t, c.Send(context.Background(), Message{OpCode: ws.OpText}), net.ErrClosed)
}

func TestConnTerminate(t *testing.T) {
	t.Parallel()
	a, b := wstest.Pipe()
	c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{})
	require.NoError(t, err)
	require.NoError(t, c.Terminate())
	require.ErrorIs(t, c.Err(), net.ErrClosed)
	require.ErrorIs(t, c.Err(), ErrAbnormalClosure)
	require.ErrorIs(t, c.Terminate(), net.ErrClosed)
	// The peer sees the connection go without a close frame.
	_, err = io.ReadAll(b)
	require.NoError(t, err)
}

// TestConnOutboundCloseIsGraceful closes the Outbound channel: queued
// messages are written, then a 1000 close.
func TestConnOutboundCloseIsGraceful(t *testing.T) {
	t.Parallel()
	a, b := wstest.Pipe()
	c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{})
	require.NoError(t, err)
	for i := range 5 {
		c.Outbound() <- Message{OpCode: ws.OpText, Payload: fmt.Append(nil, i)}
	}
	close(c.Outbound())
	p := newRawPeer(t, b, ws.ClientSide)
	for i := range 5 {
		f := p.read()
		assert.Equal(t, fmt.Sprint(i), string(f.Payload))
	}
	assert.Equal(t, ws.StatusNormalClosure, p.readClose())
	// A Send after the application closed Outbound is an error, not a
	// panic.
	require.ErrorIs(t, c.Send(context.Background(), Message{OpCode: ws.OpText}), net.ErrClosed)
	p.send(ws.OpClose, true, ws.AppendCloseBody(nil, ws.StatusNormalClosure, ""))
	waitDone(t, c)
	assert.Equal(t, ws.StatusNormalClosure, ws.CloseStatus(c.Err()))
}

func TestConnCloseSendsQueuedFirst(t *testing.T) {
	t.Parallel()
	a, b := wstest.Pipe()
	c, err := NewConn(a, ws.ClientSide, ws.Handshake{}, Config{})
	require.NoError(t, err)
	for i := range 3 {
		require.NoError(t, c.Send(context.Background(), Message{OpCode: ws.OpBinary, Payload: []byte{byte(i)}}))
	}
	p := newRawPeer(t, b, ws.ServerSide)
	done := make(chan error, 1)
	go func() { done <- c.Close(4123, "later") }()
	for i := range 3 {
		f := p.read()
		assert.True(t, f.Header.Masked)
		assert.Equal(t, []byte{byte(i)}, f.Payload)
	}
	assert.Equal(t, ws.StatusCode(4123), p.readClose())
	p.send(ws.OpClose, true, ws.AppendCloseBody(nil, 4123, ""))
	require.NoError(t, b.Close()) // the server closes TCP first
	require.NoError(t, <-done)
}

func TestConnHandshakeBufferedFirst(t *testing.T) {
	t.Parallel()
	a, b := wstest.Pipe()
	early := ws.AppendFrame(nil, ws.NewTextFrame([]byte("early")).Masked([4]byte{1, 2, 3, 4}))
	c, err := NewConn(a, ws.ServerSide, ws.Handshake{Buffered: early}, Config{})
	require.NoError(t, err)
	defer c.Terminate()
	p := newRawPeer(t, b, ws.ClientSide)
	p.send(ws.OpText, true, []byte("late"))
	assert.Equal(t, "early", string(recv(t, c).Payload))
	assert.Equal(t, "late", string(recv(t, c).Payload))
}

func TestConnFrameMode(t *testing.T) {
	t.Parallel()
	a, b := wstest.Pipe()
	c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{FrameMode: true})
	require.NoError(t, err)
	defer c.Terminate()
	p := newRawPeer(t, b, ws.ClientSide)
	p.send(ws.OpText, false, []byte("fra"))
	p.send(ws.OpContinuation, true, []byte("gment"))
	m1, m2 := recv(t, c), recv(t, c)
	assert.Equal(t, ws.OpText, m1.OpCode)
	assert.Equal(t, "fra", string(m1.Payload))
	assert.True(t, m1.Fragment)
	assert.Equal(t, ws.OpContinuation, m2.OpCode)
	assert.Equal(t, "gment", string(m2.Payload))
	assert.False(t, m2.Fragment)
}

func TestConnPingRTT(t *testing.T) {
	t.Parallel()
	var pings, pongs int
	var mu sync.Mutex
	s, c := connPair(t, Config{OnPing: func([]byte) bool { mu.Lock(); pings++; mu.Unlock(); return true }},
		Config{OnPong: func([]byte) { mu.Lock(); pongs++; mu.Unlock() }})
	for range 3 {
		rtt, err := c.Ping(context.Background())
		require.NoError(t, err)
		assert.Greater(t, rtt, time.Duration(0))
	}
	mu.Lock()
	assert.Equal(t, 3, pings)
	assert.Equal(t, 3, pongs)
	mu.Unlock()
	_ = s
}

func TestConnPingCanceled(t *testing.T) {
	t.Parallel()
	// The server suppresses its pongs, so the ping waits for ctx.
	_, c := connPair(t, Config{OnPing: func([]byte) bool { return false }}, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Ping(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestConnSendRejectsControl(t *testing.T) {
	t.Parallel()
	_, c := connPair(t, Config{}, Config{})
	require.ErrorIs(t, c.Send(context.Background(), Message{OpCode: ws.OpPing}), ErrOpCode)
}

// TestConnKeepaliveTimeout: the peer reads but never answers pings; the
// connection is dropped after the pong timeout.
func TestConnKeepaliveTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := wstest.Pipe()
		c, err := NewConn(a, ws.ServerSide, ws.Handshake{},
			Config{PingInterval: time.Second, PongTimeout: 2 * time.Second})
		require.NoError(t, err)
		go func() { _, _ = io.Copy(io.Discard, b) }() // reads, never answers
		start := time.Now()
		<-c.Done()
		require.ErrorIs(t, c.Err(), ErrKeepaliveTimeout)
		require.ErrorIs(t, c.Err(), ErrAbnormalClosure)
		elapsed := time.Since(start)
		assert.GreaterOrEqual(t, elapsed, 3*time.Second)
		assert.LessOrEqual(t, elapsed, 5*time.Second)
		_ = b.Close()
	})
}

// TestConnKeepaliveAlive: a peer that answers pings keeps the connection
// open across many intervals.
func TestConnKeepaliveAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := wstest.Pipe()
		cfg := Config{PingInterval: time.Second, PongTimeout: time.Second}
		s, err := NewConn(a, ws.ServerSide, ws.Handshake{}, cfg)
		require.NoError(t, err)
		var pings int
		var mu sync.Mutex
		c, err := NewConn(b, ws.ClientSide, ws.Handshake{},
			Config{OnPing: func([]byte) bool { mu.Lock(); pings++; mu.Unlock(); return true }})
		require.NoError(t, err)
		time.Sleep(30 * time.Second)
		assert.Equal(t, StateOpen, s.State())
		assert.Nil(t, s.Err())
		mu.Lock()
		assert.GreaterOrEqual(t, pings, 10)
		mu.Unlock()
		require.NoError(t, c.Close(ws.StatusNormalClosure, ""))
		<-s.Done()
	})
}

// TestConnKeepaliveSparesSlowApplication: the application does not read
// Inbound for longer than the pong timeout; the connection must survive.
func TestConnKeepaliveSparesSlowApplication(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := wstest.Pipe()
		s, err := NewConn(a, ws.ServerSide, ws.Handshake{},
			Config{PingInterval: time.Second, PongTimeout: time.Second, InboundSize: 1})
		require.NoError(t, err)
		c, err := NewConn(b, ws.ClientSide, ws.Handshake{}, Config{})
		require.NoError(t, err)
		for i := range 3 {
			require.NoError(t, c.Send(context.Background(), Message{OpCode: ws.OpText, Payload: fmt.Append(nil, i)}))
		}
		time.Sleep(20 * time.Second) // nobody reads s.Inbound
		require.Nil(t, s.Err())
		for i := range 3 {
			m := <-s.Inbound()
			assert.Equal(t, fmt.Sprint(i), string(m.Payload))
		}
		require.NoError(t, c.Close(ws.StatusNormalClosure, ""))
		<-s.Done()
	})
}

// TestConnCloseTimeout: the peer never answers our close frame.
func TestConnCloseTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := wstest.Pipe()
		c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{CloseTimeout: 3 * time.Second})
		require.NoError(t, err)
		go func() { _, _ = io.Copy(io.Discard, b) }()
		start := time.Now()
		err = c.Close(ws.StatusNormalClosure, "")
		require.ErrorIs(t, err, ErrCloseTimeout)
		assert.Equal(t, 3*time.Second, time.Since(start).Round(time.Second))
		_ = b.Close()
	})
}

// TestConnClientWaitsForServerClose: after the handshake a client gives
// the server CloseTimeout to close TCP, then closes it itself.
func TestConnClientWaitsForServerClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := wstest.Pipe()
		c, err := NewConn(a, ws.ClientSide, ws.Handshake{}, Config{CloseTimeout: 2 * time.Second})
		require.NoError(t, err)
		p := newRawPeer(t, b, ws.ServerSide)
		p.send(ws.OpClose, true, ws.AppendCloseBody(nil, ws.StatusGoingAway, ""))
		start := time.Now()
		<-c.Done()
		assert.Equal(t, 2*time.Second, time.Since(start).Round(time.Second))
		assert.Equal(t, ws.StatusGoingAway, ws.CloseStatus(c.Err()))
		_ = b.Close()
	})
}

func TestConnOverflowPolicies(t *testing.T) {
	t.Parallel()
	cases := []struct {
		policy Overflow
		err    error
		code   ws.StatusCode
	}{
		{OverflowDrop, ErrDropped, 0},
		{OverflowClose, ErrQueueFull, ws.StatusPolicyViolation},
		{OverflowTryAgain, ErrQueueFull, ws.StatusTryAgainLater},
	}
	for _, tc := range cases {
		t.Run(tc.policy.String(), func(t *testing.T) {
			t.Parallel()
			a, b := net.Pipe() // writes block until the peer reads
			c, err := NewConn(a, ws.ServerSide, ws.Handshake{},
				Config{OutboundBytes: 20, Overflow: tc.policy, CloseTimeout: 200 * time.Millisecond})
			require.NoError(t, err)
			var got error
			for i := 0; i < 100 && got == nil; i++ {
				got = c.Send(context.Background(), Message{OpCode: ws.OpBinary, Payload: make([]byte, 100)})
			}
			require.ErrorIs(t, got, tc.err)
			if tc.policy == OverflowDrop {
				assert.Positive(t, c.Stats().Dropped)
				assert.Equal(t, StateOpen, c.State())
				require.NoError(t, c.Terminate())
			} else {
				// The peer starts reading: it finds the queued
				// messages, then the close code of the policy.
				p := newRawPeer(t, b, ws.ClientSide)
				assert.Equal(t, tc.code, p.readClose())
				waitDone(t, c)
				require.ErrorIs(t, c.Err(), ErrQueueFull)
			}
			_ = b.Close()
		})
	}
}

func TestConnSendBlocksUntilContext(t *testing.T) {
	t.Parallel()
	a, b := net.Pipe()
	defer b.Close()
	c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{OutboundBytes: 10})
	require.NoError(t, err)
	defer c.Terminate()
	// The first message always finds room (the queue is empty); the
	// second finds none until the first is written, which never happens.
	require.NoError(t, c.Send(context.Background(), Message{OpCode: ws.OpBinary, Payload: make([]byte, 10)}))
	ctx, cancel := context.WithCancel(context.Background())
	stop := time.AfterFunc(20*time.Millisecond, cancel)
	defer stop.Stop()
	got := c.Send(ctx, Message{OpCode: ws.OpBinary, Payload: make([]byte, 10)})
	require.ErrorIs(t, got, context.Canceled, "Send returned before its context ended")
	assert.Equal(t, int64(10), c.Buffered(), "one message waits: it is being written to a peer that does not read")
}

// TestConnBackpressure: an application that stops draining Inbound stops
// the Conn from reading, and the sender fills up; draining resumes it.
func TestConnBackpressure(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, _ := ln.Accept()
		accepted <- nc
	}()
	cc, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	sc := <-accepted
	s, err := NewConn(sc, ws.ServerSide, ws.Handshake{}, Config{InboundSize: 1})
	require.NoError(t, err)
	c, err := NewConn(cc, ws.ClientSide, ws.Handshake{}, Config{OutboundBytes: 4 * 64 << 10})
	require.NoError(t, err)

	const size, count = 64 << 10, 400 // 25 MiB, far more than socket buffers hold
	sent := 0
	for ; sent < count; sent++ {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err := c.Send(ctx, Message{OpCode: ws.OpBinary, Payload: make([]byte, size)})
		cancel()
		if err != nil {
			require.ErrorIs(t, err, context.DeadlineExceeded)
			break
		}
	}
	assert.Less(t, sent, count, "the sender never felt backpressure")
	in := s.Stats().BytesIn
	assert.Less(t, in, int64(sent*size), "the server kept reading while nobody drained Inbound")
	// Drain: everything sent arrives, in order.
	for i := 0; i < sent; i++ {
		m := recv(t, s)
		assert.Len(t, m.Payload, size)
	}
	require.NoError(t, c.Close(ws.StatusNormalClosure, ""))
	waitDone(t, s)
}

// TestConnRepliesBeforeCloseAnswer sends a message and a close frame in one
// write (Autobahn 7.1.1): the application's reply to the message must leave
// before the answer to the close, whichever way the application is
// written.
func TestConnRepliesBeforeCloseAnswer(t *testing.T) {
	t.Parallel()
	apps := map[string]func(c *Conn){
		"range and close Outbound": func(c *Conn) {
			for m := range c.Inbound() {
				c.Outbound() <- m
			}
			close(c.Outbound())
		},
		"Receive loop": func(c *Conn) {
			for {
				m, err := c.Receive(context.Background())
				if err != nil {
					return
				}
				_ = c.Send(context.Background(), m)
			}
		},
		"range only": func(c *Conn) {
			for m := range c.Inbound() {
				c.Outbound() <- m
			}
		},
		"Close after the loop": func(c *Conn) {
			for m := range c.Inbound() {
				c.Outbound() <- m
			}
			_ = c.Close(ws.StatusGoingAway, "ignored: the peer closed first")
		},
	}
	for name, app := range apps {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for range 20 {
				a, b := wstest.Pipe()
				c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{})
				require.NoError(t, err)
				done := make(chan struct{})
				go func() { app(c); close(done) }()
				var data []byte
				for i := range 3 {
					data = ws.AppendFrame(data, ws.NewTextFrame(fmt.Append(nil, "msg", i)).Masked([4]byte{1, 2, 3, 4}))
				}
				data = ws.AppendFrame(data, ws.NewCloseFrame(ws.StatusNormalClosure, "bye").Masked([4]byte{5, 6, 7, 8}))
				_, err = b.Write(data)
				require.NoError(t, err)
				p := newRawPeer(t, b, ws.ClientSide)
				for i := range 3 {
					f := p.read()
					require.Equal(t, ws.OpText, f.Header.OpCode, "reply %d lost before the close answer", i)
					assert.Equal(t, fmt.Sprint("msg", i), string(f.Payload))
				}
				f := p.read()
				require.Equal(t, ws.OpClose, f.Header.OpCode)
				code, reason, err := ws.ParseCloseBody(f.Payload)
				require.NoError(t, err)
				// Every way of finishing echoes the peer's close.
				assert.Equal(t, ws.StatusNormalClosure, code)
				assert.Equal(t, "bye", string(reason))
				p.expectEOF()
				waitDone(t, c)
				<-done
				assert.Equal(t, ws.StatusNormalClosure, ws.CloseStatus(c.Err()))
			}
		})
	}
}

// TestConnSlowReplyBeforeCloseAnswer: a reply that takes a while is still
// sent before the close answer, as long as it comes within the linger.
func TestConnSlowReplyBeforeCloseAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := wstest.Pipe()
		c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{})
		require.NoError(t, err)
		go func() {
			for m := range c.Inbound() {
				time.Sleep(30 * time.Millisecond)
				c.Outbound() <- m
			}
		}()
		p := newRawPeer(t, b, ws.ClientSide)
		p.send(ws.OpText, true, []byte("slow"))
		p.send(ws.OpClose, true, ws.AppendCloseBody(nil, 4001, ""))
		start := time.Now()
		assert.Equal(t, "slow", string(p.read().Payload))
		assert.Equal(t, ws.StatusCode(4001), p.readClose())
		// The Conn looks every 50 ms: at 50 ms the reply (queued at 30 ms)
		// is news, at 100 ms nothing new was queued for a whole look.
		assert.Equal(t, 100*time.Millisecond, time.Since(start))
		<-c.Done()
		_ = b.Close()
	})
}

// TestConnCloseAnswerDeadline: an application that never drains Inbound
// does not hold the peer's close beyond CloseTimeout.
func TestConnCloseAnswerDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := wstest.Pipe()
		c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{CloseTimeout: 2 * time.Second})
		require.NoError(t, err)
		p := newRawPeer(t, b, ws.ClientSide)
		p.send(ws.OpText, true, []byte("never read"))
		p.send(ws.OpClose, true, ws.AppendCloseBody(nil, ws.StatusNormalClosure, ""))
		start := time.Now()
		assert.Equal(t, ws.StatusNormalClosure, p.readClose())
		assert.Equal(t, 2*time.Second, time.Since(start))
		<-c.Done()
		assert.Equal(t, ws.StatusNormalClosure, ws.CloseStatus(c.Err()))
		_ = b.Close()
	})
}

// TestConnSendWorksAfterPeerClose: replies may still be sent through Send
// after the peer's close, until our answer goes out.
func TestConnSendWorksAfterPeerClose(t *testing.T) {
	t.Parallel()
	a, b := wstest.Pipe()
	c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{})
	require.NoError(t, err)
	p := newRawPeer(t, b, ws.ClientSide)
	p.send(ws.OpClose, true, ws.AppendCloseBody(nil, ws.StatusNormalClosure, ""))
	for range c.Inbound() {
	}
	require.NoError(t, c.Send(context.Background(), Message{OpCode: ws.OpText, Payload: []byte("late reply")}))
	close(c.Outbound())
	assert.Equal(t, "late reply", string(p.read().Payload))
	assert.Equal(t, ws.StatusNormalClosure, p.readClose())
	waitDone(t, c)
}

// TestConnFailDoesNotBlock: overflow failures never wait on a writer that
// is stuck on a peer that does not read.
func TestConnFailDoesNotBlock(t *testing.T) {
	t.Parallel()
	a, b := net.Pipe()
	defer b.Close()
	c, err := NewConn(a, ws.ServerSide, ws.Handshake{},
		Config{OutboundBytes: 10, Overflow: OverflowClose, CloseTimeout: 100 * time.Millisecond})
	require.NoError(t, err)
	start := time.Now()
	var got error
	for i := 0; i < 50 && !errors.Is(got, ErrQueueFull); i++ {
		got = c.Send(context.Background(), Message{OpCode: ws.OpBinary, Payload: make([]byte, 10)})
	}
	require.ErrorIs(t, got, ErrQueueFull)
	assert.Less(t, time.Since(start), 50*time.Millisecond, "Send waited on the writer")
	waitDone(t, c)
	require.ErrorIs(t, c.Err(), ErrQueueFull)
}

// TestConnRepliesBeforeFailure: a valid message followed at once by a
// protocol violation gets its reply before the close frame that fails the
// connection (Autobahn 4.1.3 and its kin).
func TestConnRepliesBeforeFailure(t *testing.T) {
	t.Parallel()
	violations := map[string][]byte{
		"reserved opcode": ws.AppendFrame(nil, ws.NewFrame(3, true, nil).Masked([4]byte{1, 2, 3, 4})),
		"invalid UTF-8":   ws.AppendFrame(nil, ws.NewTextFrame([]byte{0xc0, 0xaf}).Masked([4]byte{1, 2, 3, 4})),
		"unmasked":        ws.AppendFrame(nil, ws.NewTextFrame([]byte("x"))),
	}
	for name, bad := range violations {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, b := wstest.Pipe()
			c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{})
			require.NoError(t, err)
			go func() {
				for m := range c.Inbound() {
					c.Outbound() <- m
				}
				close(c.Outbound())
			}()
			data := ws.AppendFrame(nil, ws.NewTextFrame([]byte("valid")).Masked([4]byte{9, 8, 7, 6}))
			_, err = b.Write(append(data, bad...))
			require.NoError(t, err)
			p := newRawPeer(t, b, ws.ClientSide)
			f := p.read()
			require.Equal(t, ws.OpText, f.Header.OpCode, "the echo was lost")
			assert.Equal(t, "valid", string(f.Payload))
			// Read the close frame first: Err is set before it is sent,
			// not necessarily before this goroutine gets here.
			closed := p.readClose()
			assert.Equal(t, CloseCode(c.Err()), closed)
			_ = b.Close()
			waitDone(t, c)
			var pe *ws.ProtocolError
			require.ErrorAs(t, c.Err(), &pe)
		})
	}
}

// TestConnSendDone: Message.Done reports each message's outcome, the
// seeds' send callback.
func TestConnSendDone(t *testing.T) {
	t.Parallel()
	a, b := wstest.Pipe()
	c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{})
	require.NoError(t, err)
	p := newRawPeer(t, b, ws.ClientSide)
	done := make(chan error, 1)
	require.NoError(t, c.Send(context.Background(), Message{OpCode: ws.OpText, Payload: []byte("x"), Done: done}))
	assert.Equal(t, "x", string(p.read().Payload))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(time.Until(wstest.RunDeadline())):
		t.Fatal("no outcome")
	}
	// A bad opcode on Outbound is reported, not sent.
	bad := make(chan error, 1)
	c.Outbound() <- Message{OpCode: ws.OpPing, Done: bad}
	require.ErrorIs(t, <-bad, ErrOpCode)
	assert.Positive(t, c.Stats().Dropped)
	require.NoError(t, c.Terminate())
	_ = b.Close()
}

// TestConnSendDoneAbandoned: messages queued behind a peer that never
// reads learn that they were not sent when the connection ends.
func TestConnSendDoneAbandoned(t *testing.T) {
	t.Parallel()
	a, b := net.Pipe()
	c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{OutboundBytes: 8 * (64 + messageOverhead)})
	require.NoError(t, err)
	outcomes := make(chan error, 8)
	for range 4 {
		require.NoError(t, c.Send(context.Background(), Message{OpCode: ws.OpBinary, Payload: make([]byte, 64), Done: outcomes}))
	}
	require.NoError(t, c.Terminate())
	_ = b.Close()
	// The one being written gets the write's error; the rest were never
	// tried.
	for range 4 {
		require.Error(t, <-outcomes)
	}
}

func TestConnWriteControl(t *testing.T) {
	t.Parallel()
	a, b := wstest.Pipe()
	c, err := NewConn(a, ws.ClientSide, ws.Handshake{}, Config{})
	require.NoError(t, err)
	defer c.Terminate()
	p := newRawPeer(t, b, ws.ServerSide)
	require.NoError(t, c.WriteControl(context.Background(), ws.OpPing, []byte("custom")))
	require.NoError(t, c.WriteControl(context.Background(), ws.OpPong, []byte("heartbeat")))
	f := p.read()
	assert.Equal(t, ws.OpPing, f.Header.OpCode)
	assert.True(t, f.Header.Masked)
	assert.Equal(t, "custom", string(f.Payload))
	f = p.read()
	assert.Equal(t, ws.OpPong, f.Header.OpCode)
	assert.Equal(t, "heartbeat", string(f.Payload))
	require.ErrorIs(t, c.WriteControl(context.Background(), ws.OpText, nil), ErrOpCode)
	require.ErrorIs(t, c.WriteControl(context.Background(), ws.OpPing, make([]byte, 126)), ErrOpCode)
}

// TestConnDrop: a close frame goes out ahead of queued messages, and the
// socket closes without waiting for the answer.
func TestConnDrop(t *testing.T) {
	t.Parallel()
	a, b := wstest.Pipe()
	c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{})
	require.NoError(t, err)
	p := newRawPeer(t, b, ws.ClientSide)
	require.NoError(t, c.Drop(ws.StatusPolicyViolation, "bye now"))
	f := p.read()
	require.Equal(t, ws.OpClose, f.Header.OpCode)
	code, reason, err := ws.ParseCloseBody(f.Payload)
	require.NoError(t, err)
	assert.Equal(t, ws.StatusPolicyViolation, code)
	assert.Equal(t, "bye now", string(reason))
	p.expectEOF()
	require.ErrorIs(t, c.Err(), ErrAbnormalClosure)
	require.ErrorIs(t, c.Drop(ws.StatusPolicyViolation, ""), net.ErrClosed)
	require.ErrorIs(t, c.Close(ws.StatusNormalClosure, ""), net.ErrClosed)
}
