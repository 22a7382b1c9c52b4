//go:build linux

package wsutil

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/ws"
)

// The event-loop mode's own tests. Nothing here bounds how long something
// may take on the wall clock: waits end at testDeadline, shortly before the
// test binary's own deadline, and timeouts under test are configuration.

// testDeadline is when a test stops waiting for what it expects.
func testDeadline(t *testing.T) time.Time {
	if d, ok := t.Deadline(); ok {
		return d.Add(-time.Until(d) / 10)
	}
	return time.Now().Add(10 * time.Minute)
}

// testContext is a context that ends at testDeadline.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithDeadline(context.Background(), testDeadline(t))
	t.Cleanup(cancel)
	return ctx
}

// waitFor waits until cond holds, looking every millisecond or so.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(time.Until(testDeadline(t)))
	defer deadline.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("still waiting for %s", what)
		}
	}
}

// pollServer serves h with two loops on 127.0.0.1 and returns the server
// and its address; the test's cleanup closes it.
func startPoll(t *testing.T, h *PollHandler) (*PollServer, string) {
	t.Helper()
	s := &PollServer{Handler: h, Loops: 2}
	return s, servePoll(t, s)
}

// servePoll runs s on 127.0.0.1 until the test's end.
func servePoll(t *testing.T, s *PollServer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	t.Cleanup(func() {
		require.NoError(t, s.Close())
		require.ErrorIs(t, <-errc, ErrServerClosed)
	})
	return ln.Addr().String()
}

// echoHandler echoes every message and reports every end on ended.
func echoHandler(cfg Config, ended chan<- *PollConn) *PollHandler {
	return &PollHandler{
		Config:    cfg,
		OnMessage: func(c *PollConn, m Message) { _ = c.Send(context.Background(), m) },
		OnClose: func(c *PollConn) {
			if ended != nil {
				ended <- c
			}
		},
	}
}

// pollPeer is a client driven frame by frame.
type pollPeer struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

// dialPeer opens a WebSocket connection to addr.
func dialPeer(t *testing.T, addr string) *pollPeer {
	t.Helper()
	nc, hs, err := (&ws.Dialer{}).Dial(testContext(t), "ws://"+addr+"/")
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	require.NoError(t, nc.SetDeadline(testDeadline(t)))
	return &pollPeer{t: t, nc: nc, br: bufio.NewReader(io.MultiReader(bytes.NewReader(hs.Buffered), nc))}
}

func (p *pollPeer) send(op ws.OpCode, fin bool, payload []byte) {
	p.t.Helper()
	require.NoError(p.t, writeFrame(p.nc, ws.ClientSide, op, fin, payload))
}

func (p *pollPeer) read() ws.Frame {
	p.t.Helper()
	f, err := ws.ReadFrame(p.br, 0)
	require.NoError(p.t, err)
	return f
}

// readClose reads frames until a close frame and returns its body.
func (p *pollPeer) readClose() ws.CloseError {
	p.t.Helper()
	for {
		if f := p.read(); f.Header.OpCode == ws.OpClose {
			code, reason, err := ws.ParseCloseBody(f.Payload)
			require.NoError(p.t, err)
			return ws.CloseError{Code: code, Reason: string(reason)}
		}
	}
}

// flood sends messages of size bytes, on a goroutine, until a write fails
// (the connection is closed at the end of the test at the latest).
func (p *pollPeer) flood(size int) {
	go func() {
		msg := make([]byte, size)
		for writeFrame(p.nc, ws.ClientSide, ws.OpBinary, true, msg) == nil {
		}
	}()
}

// expectEOF reads until the server ends the connection.
func (p *pollPeer) expectEOF() {
	p.t.Helper()
	_, err := io.Copy(io.Discard, p.br)
	require.NoError(p.t, err, "the server should end the connection")
}

// ended waits for the next connection to end.
func ended(t *testing.T, ch <-chan *PollConn) *PollConn {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(time.Until(testDeadline(t))):
		t.Fatal("no connection ended")
	}
	return nil
}

func TestPollEcho(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"defaults", Config{}},
		{"fragmented-replies", Config{FragmentSize: 1000}},
		{"small-reads", Config{InboundBytes: 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, addr := startPoll(t, echoHandler(tc.cfg, nil))
			ctx := testContext(t)
			nc, hs, err := ws.Dial(ctx, "ws://"+addr+"/")
			require.NoError(t, err)
			c, err := NewConn(nc, ws.ClientSide, hs, Config{FragmentSize: 777})
			require.NoError(t, err)
			defer c.Terminate()
			var sent []Message
			for _, n := range []int{0, 1, 125, 126, 65535, 65536, 70000, 1 << 20} {
				p := make([]byte, n)
				for i := range p {
					p[i] = byte(i % 127)
				}
				sent = append(sent, Message{OpCode: ws.OpText, Payload: p}, Message{OpCode: ws.OpBinary, Payload: p})
			}
			for _, m := range sent {
				require.NoError(t, c.Send(ctx, m))
			}
			for i, m := range sent {
				got, err := c.Receive(ctx)
				require.NoError(t, err, "message %d", i)
				assert.Equal(t, m.OpCode, got.OpCode, "message %d", i)
				assert.True(t, bytes.Equal(m.Payload, got.Payload), "message %d: %d bytes, got %d", i, len(m.Payload), len(got.Payload))
			}
			require.NoError(t, c.Close(ws.StatusNormalClosure, ""))
		})
	}
}

func TestPollFailures(t *testing.T) {
	t.Parallel()
	huge := make([]byte, 2000)
	for _, tc := range []struct {
		name  string
		cfg   Config
		send  func(p *pollPeer)
		code  ws.StatusCode
		cause error
	}{
		{"unmasked", Config{}, func(p *pollPeer) {
			require.NoError(p.t, ws.WriteFrame(p.nc, ws.NewFrame(ws.OpText, true, []byte("x"))))
		}, ws.StatusProtocolError, ws.ErrMaskRequired},
		{"invalid-utf8-in-an-unfinished-frame", Config{}, func(p *pollPeer) {
			// The frame's header promises more: fail at the bad byte.
			f := ws.NewFrame(ws.OpText, true, []byte("ok \xed\xa0\x80 and more to come"))
			f.Header.Length += 100
			b := ws.AppendFrame(nil, f.Masked([4]byte{1, 2, 3, 4}))
			_, err := p.nc.Write(b)
			require.NoError(p.t, err)
		}, ws.StatusInvalidFramePayloadData, ErrInvalidUTF8},
		{"message-over-the-limit", Config{MaxMessageSize: 1000}, func(p *pollPeer) {
			p.send(ws.OpBinary, false, huge[:600])
			p.send(ws.OpContinuation, true, huge[:600])
		}, ws.StatusMessageTooBig, ErrMessageTooBig},
		{"frame-over-the-limit", Config{MaxFrameSize: 1000}, func(p *pollPeer) {
			p.send(ws.OpBinary, true, huge)
		}, ws.StatusMessageTooBig, ws.ErrFrameTooBig},
		{"continuation-first", Config{}, func(p *pollPeer) {
			p.send(ws.OpContinuation, true, nil)
		}, ws.StatusProtocolError, ErrUnexpectedContinuation},
		{"data-inside-a-message", Config{}, func(p *pollPeer) {
			p.send(ws.OpText, false, []byte("a"))
			p.send(ws.OpText, true, []byte("b"))
		}, ws.StatusProtocolError, ErrUnexpectedDataFrame},
		{"close-code-invalid", Config{}, func(p *pollPeer) {
			p.send(ws.OpClose, true, []byte{0x03, 0xe7}) // 999
		}, ws.StatusProtocolError, ws.ErrCloseCodeInvalid},
		{"message-timeout", Config{MessageTimeout: 50 * time.Millisecond}, func(p *pollPeer) {
			p.send(ws.OpText, false, []byte("never "))
			p.send(ws.OpContinuation, false, []byte("finished"))
		}, ws.StatusPolicyViolation, ErrMessageTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			done := make(chan *PollConn, 1)
			_, addr := startPoll(t, echoHandler(tc.cfg, done))
			p := dialPeer(t, addr)
			tc.send(p)
			assert.Equal(t, tc.code, p.readClose().Code)
			p.expectEOF() // the server ends its half of TCP without waiting for our answer
			p.nc.Close()  // and waits for ours
			c := ended(t, done)
			require.ErrorIs(t, c.Err(), tc.cause)
		})
	}
}

func TestPollKeepalive(t *testing.T) {
	t.Parallel()
	t.Run("answered", func(t *testing.T) {
		t.Parallel()
		// The pong may take as long as the machine needs: what is
		// tested is that pings keep coming and the connection stays.
		_, addr := startPoll(t, echoHandler(Config{PingInterval: 20 * time.Millisecond, PongTimeout: time.Until(testDeadline(t))}, nil))
		ctx := testContext(t)
		nc, hs, err := ws.Dial(ctx, "ws://"+addr+"/")
		require.NoError(t, err)
		pings := make(chan struct{}, 100)
		c, err := NewConn(nc, ws.ClientSide, hs, Config{OnPing: func([]byte) bool {
			pings <- struct{}{}
			return true
		}})
		require.NoError(t, err)
		defer c.Terminate()
		for range 5 {
			select {
			case <-pings:
			case <-ctx.Done():
				t.Fatal("no ping")
			}
		}
		require.NoError(t, c.Send(ctx, Message{OpCode: ws.OpText, Payload: []byte("still there")}))
		m, err := c.Receive(ctx)
		require.NoError(t, err)
		assert.Equal(t, "still there", string(m.Payload))
	})
	t.Run("unanswered", func(t *testing.T) {
		t.Parallel()
		done := make(chan *PollConn, 1)
		_, addr := startPoll(t, echoHandler(Config{PingInterval: 20 * time.Millisecond}, done))
		p := dialPeer(t, addr)
		f := p.read()
		assert.Equal(t, ws.OpPing, f.Header.OpCode)
		// Never answer, never send anything.
		c := ended(t, done)
		require.ErrorIs(t, c.Err(), ErrKeepaliveTimeout)
		require.ErrorIs(t, c.Err(), ErrAbnormalClosure)
	})
}

// TestPollSlowPeer sends messages to the echo server without reading the
// echoes, then reads them all.
func TestPollSlowPeer(t *testing.T) {
	t.Parallel()
	const size = 16 << 10
	const limit = 64 << 10
	t.Run("block", func(t *testing.T) {
		t.Parallel()
		// The server stops reading once its queue is full: the queue
		// stays within the limit and one message, every echo arrives in
		// order, and TCP holds the client back.
		budget := NewBudget(64<<20, BudgetWait)
		opened := make(chan *PollConn, 1)
		h := echoHandler(Config{OutboundBytes: limit, Budget: budget}, nil)
		h.OnOpen = func(c *PollConn) { opened <- c }
		_, addr := startPoll(t, h)
		p := dialPeer(t, addr)
		c := <-opened
		sent := 0
		stalled := false
		msg := make([]byte, size)
		for !stalled && sent < 4096 {
			msg[0], msg[1] = byte(sent), byte(sent>>8)
			// A write that makes no progress for a while: the socket
			// buffers are full both ways and the server reads nothing.
			require.NoError(t, p.nc.SetWriteDeadline(time.Now().Add(100*time.Millisecond)))
			if err := writeFrame(p.nc, ws.ClientSide, ws.OpBinary, true, msg); err != nil {
				require.ErrorIs(t, err, os.ErrDeadlineExceeded)
				stalled = true
				break
			}
			sent++
			assert.LessOrEqual(t, c.Buffered(), int64(limit+size), "the queue, after %d messages", sent)
		}
		require.True(t, stalled, "the server read all of %d messages without their echoes being read", sent)
		assert.LessOrEqual(t, budget.Used(), int64(2*limit+2*size+pollReadSize), "the budget's count")
		require.NoError(t, p.nc.SetWriteDeadline(testDeadline(t)))
		// What the stalled write sent in part must be completed: send
		// the rest of its frame from a fresh one is not possible, so end
		// here by reading every echo that came so far.
		for i := range sent - 2 {
			f := p.read()
			require.Equal(t, ws.OpBinary, f.Header.OpCode)
			require.Equal(t, []byte{byte(i), byte(i >> 8)}, f.Payload[:2], "echo %d", i)
		}
	})
	t.Run("close", func(t *testing.T) {
		t.Parallel()
		done := make(chan *PollConn, 1)
		_, addr := startPoll(t, echoHandler(Config{OutboundBytes: limit, Overflow: OverflowClose, CloseTimeout: 50 * time.Millisecond}, done))
		dialPeer(t, addr).flood(size)
		c := ended(t, done)
		require.ErrorIs(t, c.Err(), ErrQueueFull)
		assert.Positive(t, c.Stats().Dropped+c.Stats().MessagesOut)
	})
	t.Run("write-timeout", func(t *testing.T) {
		t.Parallel()
		done := make(chan *PollConn, 1)
		_, addr := startPoll(t, echoHandler(Config{OutboundBytes: limit, WriteTimeout: 50 * time.Millisecond}, done))
		dialPeer(t, addr).flood(size)
		c := ended(t, done)
		require.ErrorIs(t, c.Err(), ErrAbnormalClosure)
		require.ErrorIs(t, c.Err(), os.ErrDeadlineExceeded)
	})
}

// TestPollGoroutines: the goroutines of a PollServer are its loops and
// its accepting goroutine, however many connections it runs.
func TestPollGoroutines(t *testing.T) {
	// Not parallel: it counts the process's goroutines.
	s, addr := startPoll(t, echoHandler(Config{PingInterval: time.Minute}, nil))
	open := func(n int) {
		for range n {
			p := dialPeer(t, addr)
			p.send(ws.OpText, true, []byte("hello"))
			assert.Equal(t, "hello", string(p.read().Payload))
		}
	}
	open(10)
	waitFor(t, "10 connections", func() bool { return s.Len() == 10 })
	few := runtime.NumGoroutine()
	open(200)
	waitFor(t, "210 connections", func() bool { return s.Len() == 210 })
	waitFor(t, "the dialers' goroutines to end", func() bool { return runtime.NumGoroutine() <= few })
	assert.Equal(t, few, runtime.NumGoroutine(), "goroutines with 10 and with 210 connections")
}

func TestPollShutdown(t *testing.T) {
	t.Parallel()
	done := make(chan *PollConn, 3)
	s, addr := startPoll(t, echoHandler(Config{}, done))
	var clients []*Conn
	ctx := testContext(t)
	for range 3 {
		nc, hs, err := ws.Dial(ctx, "ws://"+addr+"/")
		require.NoError(t, err)
		c, err := NewConn(nc, ws.ClientSide, hs, Config{})
		require.NoError(t, err)
		clients = append(clients, c)
	}
	waitFor(t, "3 connections", func() bool { return s.Len() == 3 })
	require.NoError(t, s.Shutdown(ctx, ws.StatusGoingAway, "bye"))
	assert.Zero(t, s.Len())
	for _, c := range clients {
		<-c.Done()
		assert.Equal(t, ws.CloseError{Code: ws.StatusGoingAway, Reason: "bye"}, c.Err())
		sc := ended(t, done)
		assert.Equal(t, ws.CloseError{Code: ws.StatusGoingAway, Reason: "bye"}, sc.Err(), "the server's end: the clients echo")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	assert.ErrorIs(t, s.Serve(ln), ErrServerClosed, "Serve after Shutdown")
}

func TestPollRoutes(t *testing.T) {
	t.Parallel()
	echo := echoHandler(Config{}, nil)
	broken := &PollHandler{} // no OnMessage
	s := &PollServer{Loops: 1, Route: func(target []byte) *PollHandler {
		switch string(target) {
		case "/echo", "/echo?x=1":
			return echo
		case "/broken":
			return broken
		}
		return nil
	}}
	addr := servePoll(t, s)
	ctx := testContext(t)
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/echo", 101},
		{"/echo?x=1", 101},
		{"/nowhere", 404},
		{"/broken", 500},
	} {
		nc, _, err := ws.Dial(ctx, "ws://"+addr+tc.path)
		if tc.status == 101 {
			require.NoError(t, err, tc.path)
			nc.Close()
			continue
		}
		var he *ws.HandshakeError
		require.ErrorAs(t, err, &he, tc.path)
		assert.Equal(t, tc.status, he.StatusCode, tc.path)
	}

	// A plain HTTP request: not an upgrade.
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, nc.SetDeadline(testDeadline(t)))
	_, err = io.WriteString(nc, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	res, err := io.ReadAll(nc)
	require.NoError(t, err)
	assert.Contains(t, string(res), "HTTP/1.1 426 ")

	for _, bad := range []*PollServer{{}, {Handler: broken}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		assert.Error(t, bad.Serve(ln))
	}
}

func TestPollHandshakeTimeout(t *testing.T) {
	t.Parallel()
	h := echoHandler(Config{}, nil)
	h.Upgrader.Timeout = 50 * time.Millisecond
	s, addr := startPoll(t, h)
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, nc.SetDeadline(testDeadline(t)))
	_, err = io.WriteString(nc, "GET / HTTP/1.1\r\n") // and nothing more
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, nc)
	require.NoError(t, err, "the server ends the connection")
	assert.Zero(t, n, "without an answer")
	waitFor(t, "the connection to be gone", func() bool { return s.Len() == 0 })
}

// TestPollSendFromGoroutines sends from goroutines of the application,
// not from a callback, and learns the outcome through Message.Done.
func TestPollSendFromGoroutines(t *testing.T) {
	t.Parallel()
	opened := make(chan *PollConn, 1)
	h := echoHandler(Config{}, nil)
	h.OnOpen = func(c *PollConn) { opened <- c }
	_, addr := startPoll(t, h)
	p := dialPeer(t, addr)
	c := <-opened
	ctx := testContext(t)
	const n = 200
	written := make(chan error, n)
	for i := range n {
		m := Message{OpCode: ws.OpBinary, Payload: []byte{byte(i)}, Done: written}
		require.NoError(t, c.Send(ctx, m))
	}
	require.NoError(t, c.Send(ctx, Message{OpCode: ws.OpText, Payload: bytes.Repeat([]byte("x"), 100_000)}))
	for i := range n {
		f := p.read()
		require.Equal(t, []byte{byte(i)}, f.Payload, "in order")
	}
	assert.Len(t, p.read().Payload, 100_000)
	for range n {
		select {
		case err := <-written:
			assert.NoError(t, err)
		case <-ctx.Done():
			t.Fatal("Done not told")
		}
	}
	assert.Zero(t, c.Buffered())
	st := c.Stats()
	assert.Equal(t, int64(n+1), st.MessagesOut)
	assert.ErrorIs(t, c.Send(ctx, Message{OpCode: ws.OpClose}), ErrOpCode)
	assert.ErrorIs(t, c.WriteControl(ctx, ws.OpText, nil), ErrOpCode)
	require.NoError(t, c.WriteControl(ctx, ws.OpPing, []byte("hi")))
	f := p.read()
	assert.Equal(t, ws.OpPing, f.Header.OpCode)
	assert.Equal(t, "hi", string(f.Payload))
}
