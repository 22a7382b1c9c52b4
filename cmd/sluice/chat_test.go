package main

import (
	"fmt"
	"log/slog"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// A member that stops reading is closed with 1008 once its queue is full,
// while the others go on receiving every message: a broadcast never waits
// for it.
func TestHubSlowMember(t *testing.T) {
	t.Parallel()
	const queue = 4
	cfg := chatConnConfig(serveConfig{chatMaxMessage: 1 << 10, chatQueue: queue}, nil)
	h := newHub(slog.New(slog.DiscardHandler))

	// net.Pipe has no buffer: a write blocks until the other end reads,
	// so a peer that never reads is as slow as a peer can be.
	member := func() (server *wsutil.Conn, peer net.Conn) {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		c, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Terminate() })
		h.join(c)
		return c, b
	}
	var fast []*wsutil.Conn
	for range 2 {
		_, peer := member()
		client, err := wsutil.NewConn(peer, ws.ClientSide, ws.Handshake{}, wsutil.Config{CloseTimeout: wstest.Remaining(t)})
		require.NoError(t, err)
		t.Cleanup(func() { _ = client.Terminate() })
		fast = append(fast, client)
	}
	slow, slowPeer := member()

	isMember := func(c *wsutil.Conn) bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		_, ok := h.members[c]
		return ok
	}
	// The slow member's writer holds what fits in its write buffer, its
	// queue the next messages; then it overflows. The fast members keep
	// up all along and get every message.
	const limit = 100
	i := 0
	for ; i < limit && isMember(slow); i++ {
		m := wsutil.Message{OpCode: ws.OpText, Payload: fmt.Appendf(nil, "msg %d", i)}
		sent := make(chan int, 1)
		go func() { sent <- h.broadcast(t.Context(), m) }()
		select {
		case <-sent:
		case <-wstest.After(t):
			require.FailNow(t, wstest.Expired(t, "the broadcast (blocked on the slow member?)").Error())
		}
		for _, c := range fast {
			assert.Equal(t, string(m.Payload), string(recv(t, c).Payload))
		}
	}
	require.Less(t, i, limit, "the slow member never overflowed")
	assert.Greater(t, i, queue, "not before its queue was full")
	h.mu.Lock()
	assert.Len(t, h.members, 2)
	h.mu.Unlock()

	slowPeer.Close() // lets its blocked write fail at once
	require.ErrorIs(t, waitDone(t, slow), wsutil.ErrQueueFull)
	assert.Equal(t, 2, h.broadcast(t.Context(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("after")}))
}
