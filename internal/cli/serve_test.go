package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

func TestServeFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want error
	}{
		{"help", []string{"-h"}, errHelp},
		{"unknown flag", []string{"-nope"}, errUsage},
		{"argument", []string{"extra"}, errUsage},
		{"zero message size", []string{"-max-message", "0"}, errUsage},
		{"bad size", []string{"-max-message", "12X"}, errUsage},
		{"zero queue", []string{"-chat-queue", "0"}, errUsage},
		{"negative ping", []string{"-ping-interval", "-1s"}, errUsage},
		{"zero shutdown timeout", []string{"-shutdown-timeout", "0"}, errUsage},
		{"zero close timeout", []string{"-close-timeout", "0"}, errUsage},
		{"poll with nats", []string{"-poll", "-nats", "nats://127.0.0.1:4222"}, errUsage},
		{"bad origin pattern", []string{"-origin", "[a-"}, errUsage},
		{"bad log level", []string{"-log-level", "loud"}, errUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseServeFlags(tc.args, io.Discard)
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestServeListenError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	err = run(t.Context(), []string{"serve", "-addr", ln.Addr().String()}, nil, io.Discard, io.Discard)
	var opErr *net.OpError
	require.ErrorAs(t, err, &opErr, "the address is taken")
}

// serve -nats in the core build fails before listening, naming the
// build that has NATS.
func TestServeNATSNotBuiltIn(t *testing.T) {
	t.Parallel()
	var errOut bytes.Buffer
	err := run(t.Context(), []string{"serve", "-addr", "127.0.0.1:0", "-nats", "nats://127.0.0.1:4222"}, nil, io.Discard, &errOut)
	require.ErrorIs(t, err, errNoNATS)
	assert.Contains(t, err.Error(), "github.com/sluice-ws/sluice/wsnats/cmd/sluice")
	assert.NotContains(t, errOut.String(), "listening")
}

// randomText returns about n bytes of valid UTF-8 mixing one- to
// four-byte sequences.
func randomText(n int) []byte {
	runes := []rune("abcdefghijklmnopqrstuvwxyz é€𝄞")
	b := make([]byte, 0, n+4)
	for len(b) < n {
		b = utf8.AppendRune(b, runes[rand.IntN(len(runes))])
	}
	return b
}

func TestServeEcho(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	big := make([]byte, 16<<20) // the size conformance suites send
	for i := range big {
		big[i] = byte(i * 7)
	}
	tests := []struct {
		name string
		msg  wsutil.Message
	}{
		{"text", wsutil.Message{OpCode: ws.OpText, Payload: []byte("hello, sluice ✓")}},
		{"empty text", wsutil.Message{OpCode: ws.OpText, Payload: []byte{}}},
		{"binary", wsutil.Message{OpCode: ws.OpBinary, Payload: []byte{0, 1, 2, 0xff}}},
		{"16 MiB binary", wsutil.Message{OpCode: ws.OpBinary, Payload: big}},
		{"1 MiB text", wsutil.Message{OpCode: ws.OpText, Payload: randomText(1 << 20)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dialConn(t, nil, s.url("/echo"), wsutil.Config{MaxMessageSize: 32 << 20})
			want := bytes.Clone(tc.msg.Payload)
			require.NoError(t, c.Send(testCtx(t), tc.msg))
			m := recv(t, c)
			assert.Equal(t, tc.msg.OpCode, m.OpCode)
			assert.True(t, bytes.Equal(want, m.Payload), "payload differs (%d bytes back)", len(m.Payload))
			require.NoError(t, c.Close(ws.StatusNormalClosure, ""))
		})
	}
}

// A burst of messages comes back complete and in order.
func TestServeEchoOrder(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	c := dialConn(t, nil, s.url("/echo"), wsutil.Config{})
	const n = 500
	go func() {
		for i := range n {
			if c.Send(testCtx(t), wsutil.Message{OpCode: ws.OpText, Payload: fmt.Appendf(nil, "%d", i)}) != nil {
				return
			}
		}
	}()
	for i := range n {
		assert.Equal(t, fmt.Sprint(i), string(recv(t, c).Payload))
	}
	require.NoError(t, c.Close(ws.StatusNormalClosure, ""))
}

// The server answers our close with our code and reason (RFC 6455 §5.5.1).
func TestServeEchoClose(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	tests := []struct {
		name   string
		code   ws.StatusCode
		reason string
	}{
		{"no status", 0, ""},
		{"normal", ws.StatusNormalClosure, ""},
		{"normal with reason", ws.StatusNormalClosure, "done"},
		{"going away", ws.StatusGoingAway, "tab closed"},
		{"private", 4000, "bye"},
		{"application, UTF-8", 3001, "fin ✓"},
		{"longest reason", 4999, strings.Repeat("r", 123)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dialConn(t, nil, s.url("/echo"), wsutil.Config{})
			require.NoError(t, c.Close(tc.code, tc.reason), "a clean closing handshake")
			want := ws.CloseError{Code: tc.code, Reason: tc.reason}
			if tc.code == 0 {
				want.Code = ws.StatusNoStatusRcvd // an empty close is answered empty
			}
			assert.Equal(t, want, c.Err())
		})
	}
}

// A message over -max-message is refused with 1009; one at the limit is
// echoed.
func TestServeEchoMaxMessage(t *testing.T) {
	t.Parallel()
	s := startServe(t, "-max-message", "1KiB")

	c := dialConn(t, nil, s.url("/echo"), wsutil.Config{})
	require.NoError(t, c.Send(testCtx(t), wsutil.Message{OpCode: ws.OpBinary, Payload: make([]byte, 1024)}))
	assert.Len(t, recv(t, c).Payload, 1024)

	require.NoError(t, c.Send(testCtx(t), wsutil.Message{OpCode: ws.OpBinary, Payload: make([]byte, 1025)}))
	err := waitDone(t, c)
	assert.Equal(t, ws.StatusMessageTooBig, ws.CloseStatus(err), "err: %v", err)
}

// -max-frame bounds single frames; a message in smaller fragments passes.
func TestServeEchoMaxFrame(t *testing.T) {
	t.Parallel()
	s := startServe(t, "-max-frame", "512")

	fragmented := dialConn(t, nil, s.url("/echo"), wsutil.Config{FragmentSize: 512})
	require.NoError(t, fragmented.Send(testCtx(t), wsutil.Message{OpCode: ws.OpBinary, Payload: make([]byte, 2000)}))
	assert.Len(t, recv(t, fragmented).Payload, 2000)

	whole := dialConn(t, nil, s.url("/echo"), wsutil.Config{})
	require.NoError(t, whole.Send(testCtx(t), wsutil.Message{OpCode: ws.OpBinary, Payload: make([]byte, 513)}))
	err := waitDone(t, whole)
	assert.Equal(t, ws.StatusMessageTooBig, ws.CloseStatus(err), "err: %v", err)
}

func TestServeEchoSubprotocol(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	tests := []struct {
		name    string
		offered []string
		want    string
	}{
		{"none offered", nil, ""},
		{"one", []string{"chat"}, "chat"},
		{"first of several", []string{"wamp.2.json", "mqtt", "chat"}, "wamp.2.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dialConn(t, &ws.Dialer{Protocols: tc.offered}, s.url("/echo"), wsutil.Config{})
			assert.Equal(t, tc.want, c.Protocol())
		})
	}
}

func TestServeEchoAnyOrigin(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	for _, origin := range []string{"", "https://evil.example", "null", "http://" + s.addr} {
		t.Run("origin "+origin, func(t *testing.T) {
			t.Parallel()
			c := dialConn(t, &ws.Dialer{Origin: origin}, s.url("/echo"), wsutil.Config{})
			require.NoError(t, c.Send(testCtx(t), wsutil.Message{OpCode: ws.OpText, Payload: []byte("hi")}))
			assert.Equal(t, "hi", string(recv(t, c).Payload))
		})
	}
}

// Every chat member gets every message, its own included, in one order
// shared by all.
func TestServeChatBroadcast(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	const members = 3
	var cs []*wsutil.Conn
	for range members {
		cs = append(cs, dialConn(t, nil, s.url("/chat"), wsutil.Config{}))
	}
	// A member joins right after its handshake: wait until the server
	// has all of them.
	waitJoined(t, s, members)

	for i, c := range cs {
		require.NoError(t, c.Send(testCtx(t), wsutil.Message{OpCode: ws.OpText, Payload: fmt.Appendf(nil, "from %d", i)}))
	}
	var orders [members][]string
	for i, c := range cs {
		for len(orders[i]) < members {
			m := recv(t, c)
			assert.Equal(t, ws.OpText, m.OpCode)
			orders[i] = append(orders[i], string(m.Payload))
		}
	}
	assert.ElementsMatch(t, []string{"from 0", "from 1", "from 2"}, orders[0])
	for i := 1; i < members; i++ {
		assert.Equal(t, orders[0], orders[i], "member %d saw another order", i)
	}
}

// waitJoined waits until the chat room has n members.
func waitJoined(t *testing.T, s *testServer, n int) {
	t.Helper()
	s.logs.WaitFor(t, fmt.Sprintf(`msg="chat joined" .*members=%d\b`, n))
}

func TestServeChatOrigin(t *testing.T) {
	t.Parallel()
	plain := startServe(t)
	open := startServe(t, "-origin", "*.example.com", "-origin", "http://localhost:*")
	tests := []struct {
		name   string
		srv    *testServer
		origin string
		ok     bool
	}{
		{"no origin (not a browser)", plain, "", true},
		{"same origin", plain, "http://" + plain.addr, true},
		{"foreign origin", plain, "https://app.example.com", false},
		{"null origin", plain, "null", false},
		{"pattern admits", open, "https://app.example.com", true},
		{"scheme pattern admits", open, "http://localhost:3000", true},
		{"same origin with patterns", open, "http://" + open.addr, true},
		{"pattern refuses others", open, "https://evil.test", false},
		{"scheme pattern refuses https", open, "https://localhost:3000", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := &ws.Dialer{Origin: tc.origin}
			nc, _, err := d.Dial(testCtx(t), tc.srv.url("/chat"))
			if tc.ok {
				require.NoError(t, err)
				nc.Close()
				return
			}
			var he *ws.HandshakeError
			require.ErrorAs(t, err, &he)
			assert.Equal(t, http.StatusForbidden, he.StatusCode)
		})
	}
}

func TestServeIndex(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	client := &http.Client{Timeout: wstest.Remaining(t)}
	t.Cleanup(client.CloseIdleConnections)

	resp, err := client.Get("http://" + s.addr + "/")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, indexHTML, body)
	assert.Contains(t, string(body), `new WebSocket(url)`)
	assert.Contains(t, string(body), `"/chat"`)

	resp, err = client.Get("http://" + s.addr + "/nothing-here")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	// A plain GET on a WebSocket endpoint is told to upgrade.
	resp, err = client.Get("http://" + s.addr + "/echo")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUpgradeRequired, resp.StatusCode)
}

// A client that sends its request slowly is cut off once
// -read-header-timeout has passed, long before it finishes.
func TestServeSlowloris(t *testing.T) {
	t.Parallel()
	const timeout = 500 * time.Millisecond
	s := startServe(t, "-read-header-timeout", timeout.String())

	// The server's clock starts when it accepts, which may be before
	// Dial returns here: start ours before dialling.
	start := time.Now()
	conn, err := net.Dial("tcp", s.addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(wstest.Deadline(t)))

	// Headers of a WebSocket handshake, one byte every 100 ms: with the
	// padding field they would take over a minute to arrive, so a loaded
	// machine has half a minute to cut them off.
	req := "GET /echo HTTP/1.1\r\nHost: " + s.addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"X-Padding: " + strings.Repeat("p", 500) + "\r\n\r\n"
	var sent atomic.Int64
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < len(req); i++ {
			if _, err := conn.Write([]byte{req[i]}); err != nil {
				return
			}
			sent.Add(1)
			select {
			case <-tick.C:
			case <-stop:
				return
			}
		}
	}()
	// The server gives up on the request and closes the connection
	// (net/http answers 400 first, or nothing, depending on the version):
	// reading ends with EOF or a reset, not with our deadline.
	reply, err := io.ReadAll(conn)
	elapsed := time.Since(start)
	close(stop)
	<-writerDone
	if err != nil {
		assert.False(t, errors.Is(err, os.ErrDeadlineExceeded), "the server never cut the connection")
	}
	assert.NotContains(t, string(reply), " 101 ", "no upgrade")
	assert.GreaterOrEqual(t, elapsed, timeout-50*time.Millisecond)
	assert.Less(t, sent.Load(), int64(len(req)/2), "cut off long before the request ended")
}

// Keepalive: a quiet connection gets pinged every -ping-interval.
func TestServeKeepalive(t *testing.T) {
	t.Parallel()
	s := startServe(t, "-ping-interval", "50ms")
	pinged := make(chan struct{}, 1)
	dialConn(t, nil, s.url("/echo"), wsutil.Config{OnPing: func([]byte) bool {
		select {
		case pinged <- struct{}{}:
		default:
		}
		return true
	}})
	select {
	case <-pinged:
	case <-wstest.After(t):
		require.FailNow(t, wstest.Expired(t, "a ping from the server").Error())
	}
}

// Cancelling serve's context closes every WebSocket with 1001 after a
// clean closing handshake, and run returns nil.
func TestServeShutdown(t *testing.T) {
	t.Parallel()
	// Only a hang may reach the shutdown bound: every connection must
	// close cleanly, however slow the machine.
	bound := wstest.Remaining(t).Round(time.Second)
	s := startServe(t, "-shutdown-timeout", bound.String())
	cs := []*wsutil.Conn{
		dialConn(t, nil, s.url("/echo"), wsutil.Config{}),
		dialConn(t, nil, s.url("/echo"), wsutil.Config{}),
		dialConn(t, nil, s.url("/chat"), wsutil.Config{}),
	}
	// Make sure every connection is in the server's books.
	for _, c := range cs {
		require.NoError(t, c.Send(testCtx(t), wsutil.Message{OpCode: ws.OpText, Payload: []byte("ping")}))
		recv(t, c)
	}

	start := time.Now()
	s.cancel()
	require.NoError(t, s.wait(t))
	assert.Less(t, time.Since(start), bound, "within -shutdown-timeout")
	for i, c := range cs {
		err := waitDone(t, c)
		assert.Equal(t, ws.CloseError{Code: ws.StatusGoingAway, Reason: shutdownReason}, err, "conn %d", i)
	}
	s.logs.WaitFor(t, `msg=stopped closed=3 dropped=0`)

	// And the port is closed.
	_, err := net.DialTimeout("tcp", s.addr, wstest.Remaining(t))
	require.Error(t, err)
}

// A peer that never answers our close frame cannot hold the shutdown
// beyond -shutdown-timeout.
func TestServeShutdownBound(t *testing.T) {
	t.Parallel()
	// The good connection must finish its closing handshake within the
	// bound; the silent one would hold the shutdown for the Conn's
	// CloseTimeout (5 s) without it.
	bound := wstest.Slow(300 * time.Millisecond).Round(time.Millisecond)
	s := startServe(t, "-shutdown-timeout", bound.String())
	good := dialConn(t, nil, s.url("/echo"), wsutil.Config{})
	require.NoError(t, good.Send(testCtx(t), wsutil.Message{OpCode: ws.OpText, Payload: []byte("x")}))
	recv(t, good)
	// A raw connection: the handshake, then silence.
	nc, _, err := (&ws.Dialer{}).Dial(testCtx(t), s.url("/echo"))
	require.NoError(t, err)
	defer nc.Close()
	s.logs.WaitFor(t, `(?s)(msg=connected path=/echo.*){2}`)

	start := time.Now()
	s.cancel()
	require.NoError(t, s.wait(t))
	elapsed := time.Since(start)
	assert.GreaterOrEqual(t, elapsed, bound-50*time.Millisecond)
	assert.Less(t, elapsed, bound+wstest.Slow(2*time.Second), "the bound, not the silent peer, ended the shutdown")
	s.logs.WaitFor(t, `msg=stopped closed=1 dropped=1`)

	// The silent peer got the 1001 close frame, then the socket closed.
	require.NoError(t, nc.SetReadDeadline(wstest.Deadline(t)))
	br := bufio.NewReader(nc)
	f, err := ws.ReadFrame(br, 0)
	require.NoError(t, err)
	require.Equal(t, ws.OpClose, f.Header.OpCode)
	code, reason, err := ws.ParseCloseBody(f.Payload)
	require.NoError(t, err)
	assert.Equal(t, ws.StatusGoingAway, code)
	assert.Equal(t, shutdownReason, string(reason))
	_, err = br.ReadByte()
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, ws.CloseError{Code: ws.StatusGoingAway, Reason: shutdownReason}, waitDone(t, good))
}
