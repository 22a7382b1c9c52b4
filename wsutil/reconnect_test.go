package wsutil_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// restartable is a WebSocket server on a fixed 127.0.0.1 address that a
// test kills and starts again. It records the text messages it receives,
// across its lives, and echoes them.
type restartable struct {
	t      *testing.T
	addr   string
	refuse atomic.Int32 // a status to refuse handshakes with, or 0

	mu      sync.Mutex
	got     []string      // guarded by mu
	changed chan struct{} // guarded by mu; closed when got grows
	ws      *wsutil.Server
	http    *http.Server
	accepts atomic.Int32
}

func startRestartable(t *testing.T) *restartable {
	r := &restartable{t: t, addr: "127.0.0.1:0", changed: make(chan struct{})}
	r.start()
	t.Cleanup(r.kill)
	return r
}

// start serves on r.addr (a new port the first time, the same after).
func (r *restartable) start() {
	ln, err := net.Listen("tcp", r.addr)
	require.NoError(r.t, err)
	r.addr = ln.Addr().String()
	s := &wsutil.Server{AcceptOptions: wsutil.AcceptOptions{Config: wsutil.Config{
		OnMessage: func(c *wsutil.Conn, m wsutil.Message) {
			r.mu.Lock()
			r.got = append(r.got, string(m.Payload))
			close(r.changed)
			r.changed = make(chan struct{})
			r.mu.Unlock()
			_ = c.Send(context.Background(), m)
		},
	}}}
	s.CheckRequest = func(*wsutil.Request) error {
		r.accepts.Add(1)
		if status := int(r.refuse.Load()); status != 0 {
			return ws.Reject(status, "refused")
		}
		return nil
	}
	hs := &http.Server{Handler: s}
	r.mu.Lock()
	r.ws, r.http = s, hs
	r.mu.Unlock()
	go func() { _ = hs.Serve(ln) }()
}

// kill stops the server at once: the listener and every connection are
// closed, without a closing handshake, as when a process dies.
func (r *restartable) kill() {
	r.mu.Lock()
	s, hs := r.ws, r.http
	r.ws, r.http = nil, nil
	r.mu.Unlock()
	if hs == nil {
		return
	}
	_ = hs.Close()
	s.Range(func(c *wsutil.Conn, _ any) bool {
		_ = c.Terminate()
		return true
	})
}

// waitGot waits until the messages received end with last.
func (r *restartable) waitGot(t *testing.T, last string) []string {
	t.Helper()
	ctx := testContext(t)
	for {
		r.mu.Lock()
		got, changed := slices.Clone(r.got), r.changed
		r.mu.Unlock()
		if len(got) > 0 && got[len(got)-1] == last {
			return got
		}
		select {
		case <-changed:
		case <-ctx.Done():
			require.FailNow(t, "message not received", "waiting for %q; got %q", last, got)
		}
	}
}

func (r *restartable) url() string { return "ws://" + r.addr + "/" }

// fastBackoff keeps the tests quick: a few milliseconds between attempts.
var fastBackoff = wsutil.Backoff{Min: 5 * time.Millisecond, Max: 50 * time.Millisecond}

func sendText(t *testing.T, cl *wsutil.Client, text string) {
	t.Helper()
	require.NoError(t, cl.Send(testContext(t), wsutil.Message{OpCode: ws.OpText, Payload: []byte(text)}))
}

// A server killed and started again: the Client reconnects, OnConnect
// resubscribes, and the messages sent while it was down go out once, in
// order, after the subscription.
func TestReconnectServerRestart(t *testing.T) {
	t.Parallel()
	srv := startRestartable(t)
	disconnected := make(chan error, 4)
	cl, err := wsutil.Reconnect(testContext(t), srv.url(), &wsutil.ReconnectOptions{
		Backoff: fastBackoff,
		OnConnect: func(ctx context.Context, c *wsutil.Conn, _ *wsutil.DialResponse) error {
			return c.Send(ctx, wsutil.Message{OpCode: ws.OpText, Payload: []byte("subscribe")})
		},
		OnDisconnect: func(c *wsutil.Conn) { disconnected <- c.Err() },
	})
	require.NoError(t, err)
	defer cl.Close(ws.StatusNormalClosure, "")
	var want []string
	want = append(want, "subscribe")
	for i := range 10 {
		sendText(t, cl, "a"+strconv.Itoa(i))
		want = append(want, "a"+strconv.Itoa(i))
	}
	srv.waitGot(t, "a9")
	for i := range 11 { // the echoes, the subscription's first
		m, err := cl.Receive(testContext(t))
		require.NoError(t, err)
		assert.Equal(t, want[i], string(m.Payload))
	}

	srv.kill()
	select {
	case err := <-disconnected:
		assert.ErrorIs(t, err, wsutil.ErrAbnormalClosure)
	case <-testContext(t).Done():
		require.FailNow(t, "the Client did not notice the server was gone")
	}
	assert.Nil(t, cl.Conn())
	want = append(want, "subscribe")
	for i := range 10 {
		sendText(t, cl, "b"+strconv.Itoa(i)) // queued while down
		want = append(want, "b"+strconv.Itoa(i))
	}
	srv.start()
	got := srv.waitGot(t, "b9")
	assert.Equal(t, want, got, "every message once, in order")
	require.NoError(t, cl.Close(ws.StatusNormalClosure, "done"))
}

// Messages sent without pause while the server is killed and started
// again: none is duplicated or reordered, every one sent after the Client
// saw the connection go arrives, and only those written to the
// connection before that may be lost (the kernel accepted them after the
// server died; WebSocket has no acknowledgements).
func TestReconnectNoDuplicates(t *testing.T) {
	t.Parallel()
	srv := startRestartable(t)
	down := make(chan struct{}, 4)
	cl, err := wsutil.Reconnect(testContext(t), srv.url(), &wsutil.ReconnectOptions{
		Backoff:      fastBackoff,
		OnDisconnect: func(*wsutil.Conn) { down <- struct{}{} },
	})
	require.NoError(t, err)
	defer cl.Close(ws.StatusNormalClosure, "")
	go func() {
		for range cl.Inbound() {
		}
	}()
	const n = 600
	written := make([]chan error, n)
	for i := range n {
		written[i] = make(chan error, 1)
		require.NoError(t, cl.Send(testContext(t), wsutil.Message{OpCode: ws.OpText,
			Payload: []byte(strconv.Itoa(i)), Done: written[i]}))
		switch i {
		case n / 3:
			srv.kill()
			<-down // from here on, messages wait for the next connection
		case 2 * n / 3:
			srv.start()
		}
	}
	got := srv.waitGot(t, strconv.Itoa(n-1))
	seen := make([]bool, n)
	last := -1
	for _, s := range got {
		i, err := strconv.Atoi(s)
		require.NoError(t, err)
		require.Greater(t, i, last, "duplicated or reordered: %d after %d", i, last)
		seen[i], last = true, i
	}
	lost := 0
	for i := range n {
		select {
		case err := <-written[i]:
			require.NoError(t, err, "message %d", i)
		case <-testContext(t).Done():
			require.FailNow(t, "no outcome", "message %d", i)
		}
		if !seen[i] {
			lost++
			assert.LessOrEqual(t, i, n/3, "message %d, sent once the Client knew it was down, was lost", i)
		}
	}
	t.Logf("%d of %d messages lost with the killed connection", lost, n)
}

// The Client does not reconnect after Close.
func TestReconnectNotAfterClose(t *testing.T) {
	t.Parallel()
	srv := startRestartable(t)
	cl, err := wsutil.Reconnect(testContext(t), srv.url(), &wsutil.ReconnectOptions{Backoff: fastBackoff})
	require.NoError(t, err)
	sendText(t, cl, "last words")
	require.NoError(t, cl.Close(ws.StatusNormalClosure, "bye"))
	assert.Equal(t, []string{"last words"}, srv.waitGot(t, "last words"), "queued messages go out before the close")
	<-cl.Done()
	assert.Equal(t, ws.CloseError{Code: ws.StatusNormalClosure, Reason: "bye"}, cl.Err())
	assert.Equal(t, int32(1), srv.accepts.Load())
	require.ErrorIs(t, cl.Send(testContext(t), wsutil.Message{Payload: []byte("x")}), net.ErrClosed)
	require.ErrorIs(t, cl.Close(ws.StatusNormalClosure, ""), net.ErrClosed)
	for err == nil { // the echo may still come, or be dropped
		_, err = cl.Receive(testContext(t))
	}
	assert.Equal(t, cl.Err(), err)
}

// A refusal that trying again cannot change (4xx) ends the Client; 5xx
// and 429 are tried again.
func TestReconnectRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status    int
		permanent bool
	}{
		{http.StatusForbidden, true},
		{http.StatusNotFound, true},
		{http.StatusTooManyRequests, false},
		{http.StatusServiceUnavailable, false},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			t.Parallel()
			srv := startRestartable(t)
			srv.refuse.Store(int32(tc.status))
			_, err := wsutil.Reconnect(testContext(t), srv.url(), &wsutil.ReconnectOptions{Backoff: fastBackoff, MaxAttempts: 3})
			require.ErrorIs(t, err, wsutil.ErrGaveUp)
			var he *ws.HandshakeError
			require.ErrorAs(t, err, &he)
			assert.Equal(t, tc.status, he.StatusCode)
			attempts := int32(3)
			if tc.permanent {
				attempts = 1
			}
			assert.Equal(t, attempts, srv.accepts.Load())
		})
	}
}

// After the server starts refusing, the Client gives up and ends: Inbound
// closes and Err says why.
func TestReconnectGivesUp(t *testing.T) {
	t.Parallel()
	srv := startRestartable(t)
	dropped := make(chan error, 1)
	cl, err := wsutil.Reconnect(testContext(t), srv.url(), &wsutil.ReconnectOptions{Backoff: fastBackoff})
	require.NoError(t, err)
	srv.refuse.Store(http.StatusUnauthorized)
	srv.kill()
	srv.start()
	for range cl.Inbound() {
	}
	require.ErrorIs(t, cl.Err(), wsutil.ErrGaveUp)
	var he *ws.HandshakeError
	require.ErrorAs(t, cl.Err(), &he)
	assert.Equal(t, http.StatusUnauthorized, he.StatusCode)
	require.ErrorIs(t, cl.Send(testContext(t), wsutil.Message{Payload: []byte("x"), Done: dropped}), net.ErrClosed)
}

// MaxDowntime and MaxAttempts bound the attempts on a server that is gone.
func TestReconnectBounds(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	var dials atomic.Int32
	opts := wsutil.ReconnectOptions{Backoff: fastBackoff, MaxAttempts: 4}
	opts.NetDial = func(ctx context.Context, network, a string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, a)
	}
	_, err = wsutil.Reconnect(testContext(t), "ws://"+addr+"/", &opts)
	require.ErrorIs(t, err, wsutil.ErrGaveUp)
	var oe *net.OpError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, int32(4), dials.Load())

	opts.MaxAttempts = 0
	opts.MaxDowntime = 30 * time.Millisecond
	dials.Store(0)
	_, err = wsutil.Reconnect(testContext(t), "ws://"+addr+"/", &opts)
	require.ErrorIs(t, err, wsutil.ErrGaveUp)
	assert.ErrorContains(t, err, "down for 30ms")
	assert.Positive(t, dials.Load())
}

// Under OfflineFail, Send refuses while disconnected, and nothing sent
// then arrives later.
func TestReconnectOfflineFail(t *testing.T) {
	t.Parallel()
	srv := startRestartable(t)
	down := make(chan struct{}, 4)
	cl, err := wsutil.Reconnect(testContext(t), srv.url(), &wsutil.ReconnectOptions{
		Backoff:      wsutil.Backoff{Min: time.Hour}, // it stays down
		Offline:      wsutil.OfflineFail,
		OnDisconnect: func(*wsutil.Conn) { down <- struct{}{} },
	})
	require.NoError(t, err)
	sendText(t, cl, "up")
	srv.waitGot(t, "up")
	srv.kill()
	<-down
	err = cl.Send(testContext(t), wsutil.Message{OpCode: ws.OpText, Payload: []byte("down")})
	require.ErrorIs(t, err, wsutil.ErrDisconnected)
	require.NoError(t, cl.Close(ws.StatusNormalClosure, ""))
}

// QueueBytes bounds what waits while disconnected: Send waits for room
// until its context ends.
func TestReconnectQueueBytes(t *testing.T) {
	t.Parallel()
	srv := startRestartable(t)
	down := make(chan struct{}, 4)
	cl, err := wsutil.Reconnect(testContext(t), srv.url(), &wsutil.ReconnectOptions{
		Backoff:      wsutil.Backoff{Min: time.Hour},
		QueueBytes:   10,
		OnDisconnect: func(*wsutil.Conn) { down <- struct{}{} },
	})
	require.NoError(t, err)
	srv.kill()
	<-down
	sendText(t, cl, strings.Repeat("x", 8))
	ctx, cancel := context.WithCancel(testContext(t))
	cancel()
	err = cl.Send(ctx, wsutil.Message{OpCode: ws.OpText, Payload: []byte("yyy")})
	require.ErrorIs(t, err, context.Canceled)
	done := make(chan error, 1)
	require.NoError(t, cl.Send(testContext(t), wsutil.Message{OpCode: ws.OpText, Payload: []byte("zz"), Done: done}))
	require.NoError(t, cl.Close(ws.StatusNormalClosure, ""))
	require.ErrorIs(t, <-done, net.ErrClosed, "dropped at Close")
}

func TestBackoffDelay(t *testing.T) {
	t.Parallel()
	b := wsutil.Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	for n, ceiling := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond,
		4: 800 * time.Millisecond, 5: time.Second, 50: time.Second} {
		var top time.Duration
		for range 2000 {
			d := b.Delay(n)
			require.GreaterOrEqual(t, d, time.Duration(0))
			require.Less(t, d, ceiling, "attempt %d", n)
			top = max(top, d)
		}
		assert.Greater(t, top, ceiling*3/4, fmt.Sprintf("attempt %d: full jitter reaches near the ceiling", n))
	}
	var zero wsutil.Backoff
	assert.Less(t, zero.Delay(1), wsutil.DefaultBackoffMin)
	assert.Less(t, zero.Delay(100), wsutil.DefaultBackoffMax)
}
