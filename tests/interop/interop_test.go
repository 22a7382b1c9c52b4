package interop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// interopCase is one conversation between our end and a peer, written once
// and run over every pair whose ends can do what it needs.
type interopCase struct {
	name      string
	needs     caps
	protocols []string      // offered by the client
	cfg       wsutil.Config // our wsutil.Conn's
	compress  *deflateOpts  // the peer's permessage-deflate options; nil: off
	run       func(t *caseT, ctx context.Context, ours local, theirs *remote)
}

// cases is the matrix's row list; see doc.go.
var cases = []interopCase{
	{name: "echo", run: testEcho},
	{name: "fragmented-by-peer", needs: peerFragments, run: testFragmentedByPeer},
	{name: "fragmented-by-us", needs: ourFragments, cfg: wsutil.Config{FragmentSize: 1000}, run: testFragmentedByUs},
	{name: "ping-by-us", needs: ourPing, run: testPingByUs},
	{name: "ping-by-peer", needs: peerPing, run: testPingByPeer},
	{name: "subprotocol", protocols: []string{"chat.v1", "chat.v2"}, run: testSubprotocol},
	{name: "close-by-peer", run: testCloseByPeer},
	{name: "close-by-us", run: testCloseByUs},
	{name: "abnormal-close-by-peer", needs: peerKill, run: testAbnormalClose},
	{name: "invalid-utf8-by-peer", needs: peerRawText, run: testInvalidUTF8},
	{name: "invalid-utf8-unfinished-fragment", needs: peerRawText | peerFragments, run: testInvalidUTF8Fragment},
}

// runCases runs every case that the ends' capabilities allow, each over a
// new connection from open.
func runCases(t *caseT, have caps, open func(t *caseT, ctx context.Context, c interopCase) (local, *remote)) {
	for _, c := range cases {
		if have&c.needs != c.needs {
			continue // not something this pair can do (see doc.go)
		}
		t.Run(c.name, func(t *caseT) {
			t.Parallel()
			ctx := wstest.Context(t.T, "case "+t.Name())
			if c.cfg.CloseTimeout == 0 {
				c.cfg.CloseTimeout = wstest.Remaining(t.T) // only a hang may end a closing handshake
			}
			ours, theirs := open(t, ctx, c)
			if len(c.protocols) == 0 {
				assert.Empty(t, ours.Protocol(), "our subprotocol")
				assert.Empty(t, theirs.protocol, "peer's subprotocol")
			}
			c.run(t, ctx, ours, theirs)
		})
	}
}

// asClients runs the cases with each client peer connecting to each of
// our server variants on s.
func asClients(t *caseT, s *ourServer, peers ...*peer) {
	for _, p := range peers {
		t.with(p).Run(p.name, func(t *caseT) {
			for _, v := range serverVariants(false) {
				t.Run(v.name, func(t *caseT) {
					runCases(t, p.caps|v.caps, func(t *caseT, ctx context.Context, c interopCase) (local, *remote) {
						return s.pairWithClient(t, ctx, p, v, c)
					})
				})
			}
		})
	}
}

// asServers runs the cases with our client (ws.Dialer + wsutil.Conn)
// connecting to a server of each peer.
func asServers(t *caseT, peers ...*peer) {
	for _, p := range peers {
		t.with(p).Run(p.name, func(t *caseT) {
			srv := listen(t, wstest.Context(t.T, "the listen of "+p.name), p, nil)
			runCases(t, p.caps|variantConn.caps, func(t *caseT, ctx context.Context, c interopCase) (local, *remote) {
				return srv.pairWithServer(t, ctx, c)
			})
		})
	}
}

// --- payloads ----------------------------------------------------------------

func text(s string) wsutil.Message   { return wsutil.Message{OpCode: ws.OpText, Payload: []byte(s)} }
func binary(p []byte) wsutil.Message { return wsutil.Message{OpCode: ws.OpBinary, Payload: p} }

const mib = 1 << 20

// bigText is 1 MiB of valid UTF-8 with 1- to 4-byte characters.
var bigText = func() string {
	const unit = "sluice κόσμε 日本語 🌍🚀 ñ "
	s := strings.Repeat(unit, mib/len(unit))
	return s + strings.Repeat("x", mib-len(s))
}()

// bigBinary is 1 MiB of fixed pseudo-random bytes.
var bigBinary = func() []byte {
	r := rand.NewChaCha8([32]byte{'s', 'l', 'u', 'i', 'c', 'e'})
	p := make([]byte, mib)
	_, _ = r.Read(p)
	return p
}()

// invalidUTF8 is valid text up to a UTF-16 surrogate (ED A0 80), which
// UTF-8 forbids (RFC 3629 §3), the way Autobahn's case 6.4.4 builds it.
var invalidUTF8 = []byte("κόσμε\xed\xa0\x80edited")

// assertMessage compares messages without printing megabytes on failure.
func assertMessage(t *caseT, want, got wsutil.Message) {
	t.Helper()
	assert.Equal(t, want.OpCode, got.OpCode, "opcode")
	if !bytes.Equal(want.Payload, got.Payload) {
		if len(want.Payload) > 256 || len(got.Payload) > 256 {
			t.Errorf("payload differs: want %d bytes (sha256 %x), got %d bytes (sha256 %x)",
				len(want.Payload), sha256.Sum256(want.Payload), len(got.Payload), sha256.Sum256(got.Payload))
		} else {
			t.Errorf("payload differs: want %q, got %q", want.Payload, got.Payload)
		}
	}
}

// exchange has the peer send m to us, and us send it back.
func exchange(t *caseT, ctx context.Context, ours local, theirs *remote, m wsutil.Message) {
	t.Helper()
	require.NoError(t, theirs.send(ctx, m), "peer send")
	got, err := ours.Recv(ctx)
	require.NoError(t, err, "our recv")
	assertMessage(t, m, got)
	require.NoError(t, ours.Send(ctx, m), "our send")
	got, err = theirs.recv(ctx)
	require.NoError(t, err, "peer recv")
	assertMessage(t, m, got)
}

// closeFrames is the number of close frames our end wrote.
func closeFrames(ours local) int { return countOp(ours.Sent(), ws.OpClose) }

// --- cases -------------------------------------------------------------------

func testEcho(t *caseT, ctx context.Context, ours local, theirs *remote) {
	for _, tc := range []struct {
		name string
		m    wsutil.Message
	}{
		{"text-empty", text("")},
		{"text-ascii", text("Hello, sluice")},
		{"text-utf8", text("κόσμε · 日本語 · 🌍🚀 · ñ")},
		{"text-1MiB", text(bigText)},
		{"binary-empty", binary([]byte{})},
		{"binary-bytes", binary([]byte{0, 1, 2, 0x7f, 0x80, 0xfe, 0xff})},
		{"binary-1MiB", binary(bigBinary)},
	} {
		t.Run(tc.name, func(t *caseT) { exchange(t, ctx, ours, theirs, tc.m) })
	}
	// And the plainest close.
	require.NoError(t, ours.Close(ws.StatusNormalClosure, ""))
	got, err := theirs.closed(ctx)
	require.NoError(t, err)
	assert.Equal(t, ws.StatusNormalClosure, got.Code)
}

func testFragmentedByPeer(t *caseT, ctx context.Context, ours local, theirs *remote) {
	for _, tc := range []struct {
		name   string
		op     ws.OpCode
		frames [][]byte
	}{
		// "ό" (CF 8C) is split between two frames: UTF-8 is checked over
		// the message, not per frame (RFC 6455 §5.6).
		{"text", ws.OpText, [][]byte{[]byte("frag"), []byte("ment"), []byte("ed: κ\xcf"), []byte("\x8cσμε")}},
		{"binary-empty-middle", ws.OpBinary, [][]byte{{1, 2, 3}, {}, {4, 5}}},
	} {
		t.Run(tc.name, func(t *caseT) {
			want := wsutil.Message{OpCode: tc.op, Payload: bytes.Join(tc.frames, nil)}
			require.NoError(t, theirs.sendFrames(ctx, tc.op, tc.frames, true))
			got, err := ours.Recv(ctx)
			require.NoError(t, err, "our recv")
			assertMessage(t, want, got)
			require.NoError(t, ours.Send(ctx, got), "our send")
			got, err = theirs.recv(ctx)
			require.NoError(t, err, "peer recv")
			assertMessage(t, want, got)
		})
	}
}

func testFragmentedByUs(t *caseT, ctx context.Context, ours local, theirs *remote) {
	// 1000-byte frames cut through 2-, 3- and 4-byte characters.
	for _, m := range []wsutil.Message{text(bigText[:5000]), binary(bigBinary[:4096])} {
		require.NoError(t, ours.Send(ctx, m))
		got, err := theirs.recv(ctx)
		require.NoError(t, err, "peer recv")
		assertMessage(t, m, got)
	}
	assert.GreaterOrEqual(t, countOp(ours.Sent(), ws.OpContinuation), 4+4, "continuation frames we sent")
}

func testPingByUs(t *caseT, ctx context.Context, ours local, theirs *remote) {
	for range 3 {
		rtt, err := ours.Ping(ctx)
		require.NoError(t, err)
		assert.Positive(t, rtt)
	}
	exchange(t, ctx, ours, theirs, text("still open"))
}

func testPingByPeer(t *caseT, ctx context.Context, ours local, theirs *remote) {
	// Keep our end reading, as a server waiting for the next message does:
	// the pong must go out while it waits.
	type result struct {
		m   wsutil.Message
		err error
	}
	next := make(chan result, 1)
	go func() {
		m, err := ours.Recv(ctx)
		next <- result{m, err}
	}()
	payload := []byte("sluice ping ✓")
	pong, err := theirs.ping(ctx, payload, wstest.Remaining(t.T)-peerWaitMargin)
	assert.NoError(t, err, "peer ping")
	assert.Equal(t, payload, pong)

	after := text("after the ping")
	require.NoError(t, theirs.send(ctx, after))
	select {
	case r := <-next:
		require.NoError(t, r.err)
		assertMessage(t, after, r.m)
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	assert.Equal(t, 1, countOp(ours.Sent(), ws.OpPong), "pongs we sent")
}

func testSubprotocol(t *caseT, ctx context.Context, ours local, theirs *remote) {
	// The client prefers chat.v1; every server here prefers chat.v2.
	assert.Equal(t, "chat.v2", ours.Protocol(), "our subprotocol")
	assert.Equal(t, "chat.v2", theirs.protocol, "peer's subprotocol")
	exchange(t, ctx, ours, theirs, text("chat.v2 message"))
}

func testCloseByPeer(t *caseT, ctx context.Context, ours local, theirs *remote) {
	want := ws.CloseError{Code: 4001, Reason: "peer: bye κόσμε"}
	require.NoError(t, theirs.close(ctx, want.Code, want.Reason))
	stray, err := ours.Wait(ctx)
	assert.Zero(t, stray, "messages after the close")
	var ce ws.CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, want, ce, "our Err")

	// We echo the code and reason (RFC 6455 §5.5.1).
	got, err := theirs.closed(ctx)
	require.NoError(t, err)
	assert.Equal(t, want, got, "what the peer saw")
	assert.Equal(t, 1, closeFrames(ours), "close frames we sent")
}

func testCloseByUs(t *caseT, ctx context.Context, ours local, theirs *remote) {
	want := ws.CloseError{Code: 4002, Reason: "sluice: bye ✓"}
	require.NoError(t, ours.Close(want.Code, want.Reason), "a clean closing handshake")
	got, err := theirs.closed(ctx)
	require.NoError(t, err)
	assert.Equal(t, want, got, "what the peer saw")
	assert.Equal(t, 1, closeFrames(ours), "close frames we sent")
	var ended error
	switch l := ours.(type) {
	case *connLocal:
		ended = l.c.Err()
	case *pollLocal:
		ended = l.c.Err()
	}
	if ended != nil {
		// Err holds the peer's answer: most echo our code and reason,
		// WebSocket-Node answers 1000 (both are what RFC 6455 §5.5.1
		// allows).
		var ce ws.CloseError
		require.ErrorAs(t, ended, &ce)
		if ce != want {
			assert.Equal(t, ws.StatusNormalClosure, ce.Code, "the peer's answer: %v", ce)
		}
	}
}

func testAbnormalClose(t *caseT, ctx context.Context, ours local, theirs *remote) {
	require.NoError(t, theirs.kill(ctx))
	stray, err := ours.Wait(ctx)
	assert.Zero(t, stray)
	switch ours.(type) {
	case *connLocal, *pollLocal:
		require.ErrorIs(t, err, wsutil.ErrAbnormalClosure)
		assert.Equal(t, ws.StatusAbnormalClosure, ws.CloseStatus(err))
	default:
		// The helpers report the I/O error itself.
		require.Error(t, err)
		assert.Zero(t, ws.CloseStatus(err), "no close frame, no CloseError: %v", err)
		assert.True(t, errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET),
			"want EOF or a reset, got %v", err)
	}
	assert.Zero(t, closeFrames(ours), "close frames we sent")
}

// assertFailedUTF8 checks that we failed the connection with 1007 and the
// peer saw that code.
func assertFailedUTF8(t *caseT, ctx context.Context, ours local, theirs *remote) {
	t.Helper()
	_, err := ours.Wait(ctx)
	require.ErrorIs(t, err, wsutil.ErrInvalidUTF8)
	got, err := theirs.closed(ctx)
	require.NoError(t, err)
	assert.Equal(t, ws.StatusInvalidFramePayloadData, got.Code, "the peer sees 1007")
	assert.Equal(t, 1, closeFrames(ours), "close frames we sent")
}

func testInvalidUTF8(t *caseT, ctx context.Context, ours local, theirs *remote) {
	require.NoError(t, theirs.sendFrames(ctx, ws.OpText, [][]byte{invalidUTF8}, true))
	assertFailedUTF8(t, ctx, ours, theirs)
}

func testInvalidUTF8Fragment(t *caseT, ctx context.Context, ours local, theirs *remote) {
	// The message never ends: we must fail on the first bad byte, not
	// wait for the last frame.
	require.NoError(t, theirs.sendFrames(ctx, ws.OpText, [][]byte{[]byte("ok so far, "), invalidUTF8}, false))
	assertFailedUTF8(t, ctx, ours, theirs)
}

// TestCloseEchoAfterPeerHalfClose pins down a race that close-by-peer with
// npm websocket (WebSocket-Node) hits now and then: WebSocket-Node ends its
// half of TCP right after its close frame (WebSocketConnection's
// sendCloseFrame calls socket.end()), and the closing side must still get
// our echo (RFC 6455 §5.5.1: the receiver of a close frame MUST send one
// back). The peer here is a few lines of Go doing exactly what
// WebSocket-Node does, repeated so that the race shows every run.
func TestCloseEchoAfterPeerHalfClose(t *testing.T) {
	t.Parallel()
	const rounds = 30
	want := ws.CloseError{Code: 4001, Reason: "half-closed"}

	// closeAndHalfClose sends a close frame as side, ends our half of TCP,
	// and reports whether a close frame with want's code came back.
	closeAndHalfClose := func(t *testing.T, nc net.Conn, side ws.Side) bool {
		t.Helper()
		defer nc.Close()
		require.NoError(t, nc.SetDeadline(wstest.Deadline(t)))
		require.NoError(t, wsutil.WriteClose(nc, side, want.Code, want.Reason))
		require.NoError(t, nc.(*net.TCPConn).CloseWrite())
		rest, err := io.ReadAll(nc)
		require.NoError(t, err)
		r := bytes.NewReader(rest)
		for {
			f, err := ws.ReadFrame(r, 0)
			if err != nil {
				return false
			}
			if f.Header.OpCode == ws.OpClose {
				code, _, err := ws.ParseCloseBody(f.Payload)
				return err == nil && code == want.Code
			}
		}
	}

	t.Run("our-server", func(t *testing.T) {
		t.Parallel()
		s := newOurServer(t)
		for _, v := range serverVariants(false) {
			if v == variantHelpers {
				continue // it closes TCP itself after the handshake
			}
			t.Run(v.name, func(t *testing.T) {
				lost := 0
				for range rounds {
					ctx, cancel := context.WithCancel(wstest.Context(t, "a round"))
					path, ch := s.expect(v, wsutil.Config{CloseTimeout: wstest.Remaining(t)})
					nc, _, err := (&ws.Dialer{}).Dial(ctx, s.url(v, path))
					require.NoError(t, err)
					ours := <-ch
					require.NotNil(t, ours)
					if !closeAndHalfClose(t, nc, ws.ClientSide) {
						lost++
					}
					_, err = ours.Wait(ctx)
					assert.Equal(t, want, errorsAsClose(err), "our Err")
					cancel()
				}
				assert.Zero(t, lost, "close echoes lost out of %d", rounds)
			})
		}
	})

	t.Run("our-client", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		lost := 0
		for range rounds {
			ctx, cancel := context.WithCancel(wstest.Context(t, "a round"))
			echoed := make(chan bool, 1)
			go func() {
				nc, err := ln.Accept()
				if err != nil {
					echoed <- false
					return
				}
				if _, err := (&ws.Upgrader{}).Upgrade(nc); err != nil {
					nc.Close()
					echoed <- false
					return
				}
				echoed <- closeAndHalfClose(t, nc, ws.ServerSide)
			}()
			nc, hs, err := (&ws.Dialer{}).Dial(ctx, "ws://"+ln.Addr().String()+"/")
			require.NoError(t, err)
			ours := newConnLocal(&caseT{T: t}, &tapConn{Conn: nc}, ws.ClientSide, hs, wsutil.Config{})
			_, err = ours.Wait(ctx)
			assert.Equal(t, want, errorsAsClose(err), "our Err")
			if !<-echoed {
				lost++
			}
			cancel()
		}
		assert.Zero(t, lost, "close echoes lost out of %d", rounds)
	})
}

// errorsAsClose returns the CloseError in err's chain, or the zero value.
func errorsAsClose(err error) ws.CloseError {
	var ce ws.CloseError
	errors.As(err, &ce)
	return ce
}
