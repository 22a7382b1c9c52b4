package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// A member that stops reading is closed with 1008 once what it holds back
// passes -chat-queue, while the others, which read, go on receiving every
// message: a broadcast never waits for it, and a member is judged by the
// bytes it holds back, not by a count of messages.
func TestChatSlowMember(t *testing.T) {
	t.Parallel()
	s := startServe(t, "-chat-queue", "8M")
	sender := dialConn(t, nil, s.url("/chat"), wsutil.Config{})
	fast := dialConn(t, nil, s.url("/chat"), wsutil.Config{})
	// The slow member: a handshake, then it never reads.
	slow, _, err := (&ws.Dialer{}).Dial(testCtx(t), s.url("/chat"))
	require.NoError(t, err)
	defer slow.Close()
	waitJoined(t, s, 3)

	// 32 MiB in all: far more than the slow member's socket buffers and
	// its queue hold. The queue is large enough that a member that reads
	// never falls 8 MiB behind, even on a busy machine.
	const count = 4096
	payload := bytes.Repeat([]byte("x"), 8<<10-8)
	go func() {
		for i := range count {
			m := wsutil.Message{OpCode: ws.OpText, Payload: append(fmt.Appendf(nil, "%08d", i), payload...)}
			if sender.Send(testCtx(t), m) != nil {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for _, c := range []*wsutil.Conn{sender, fast} {
		wg.Go(func() {
			for i := range count {
				m := recv(t, c)
				if !assert.Equal(t, fmt.Sprintf("%08d", i), string(m.Payload[:8]), "every message, in order") {
					return
				}
			}
		})
	}
	wg.Wait()
	// The slow member wakes up: after what its socket held, it reads the
	// 1008 close frame (the rest of the messages were never sent).
	assert.Equal(t, ws.StatusPolicyViolation, ws.CloseStatus(readClose(t, slow)))
	s.logs.waitFor(t, `level=WARN msg="chat: client too slow, closed with 1008"`)
}

// readClose reads frames from a raw connection until a close frame and
// returns it as an error (a ws.CloseError).
func readClose(t *testing.T, nc net.Conn) error {
	t.Helper()
	if d, ok := testCtx(t).Deadline(); ok {
		require.NoError(t, nc.SetReadDeadline(d))
	}
	br := bufio.NewReader(nc)
	for {
		f, err := ws.ReadFrame(br, 0)
		require.NoError(t, err, "no close frame")
		if f.Header.OpCode == ws.OpClose {
			code, reason, err := ws.ParseCloseBody(f.Payload)
			require.NoError(t, err)
			return ws.CloseError{Code: code, Reason: string(reason)}
		}
	}
}

// Nine members each sending a burst of small messages at once, all of them
// reading as fast as they can: nobody is closed, everybody gets every
// message. (With a send queue bounded by a count of messages, every member
// was closed after 1 to 14 messages.)
func TestChatBurstsKeepMembers(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	const members, burst = 9, 200
	cs := make([]*wsutil.Conn, members)
	for i := range cs {
		cs[i] = dialConn(t, nil, s.url("/chat"), wsutil.Config{})
	}
	waitJoined(t, s, members)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			for j := range burst {
				m := wsutil.Message{OpCode: ws.OpText, Payload: fmt.Appendf(nil, `{"from":%d,"n":%d,"text":"hello, room"}`, i, j)}
				if !assert.NoError(t, c.Send(testCtx(t), m)) {
					return
				}
			}
		})
		wg.Go(func() {
			for range members * burst {
				if _, err := c.Receive(testCtx(t)); !assert.NoError(t, err, "member %d", i) {
					return
				}
			}
		})
	}
	wg.Wait()
}
