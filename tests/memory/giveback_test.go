package memory

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// liveHeap returns the live heap after two collections: buffers that sit
// in pools with nobody holding them are gone after the second.
func liveHeap() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// After a burst of large messages, a connection that stays open holds
// nothing of them: every buffer went back to its pool when its message
// was done, and the pools are empty after two garbage collections. The
// heap is back to where it was before the burst.
func TestMemoryGivenBack(t *testing.T) {
	ctx := wstest.Context(t, "the burst of large messages")
	sc, cc := wstest.TCPPair(t)
	before := liveHeap()
	server, err := wsutil.NewConn(sc, ws.ServerSide, ws.Handshake{}, wsutil.Config{
		MaxMessageSize: 32 << 20,
		OnMessage:      func(c *wsutil.Conn, m wsutil.Message) { _ = c.Send(ctx, m) },
	})
	require.NoError(t, err)
	client, err := wsutil.NewConn(cc, ws.ClientSide, ws.Handshake{}, wsutil.Config{MaxMessageSize: 32 << 20})
	require.NoError(t, err)
	defer client.Terminate()
	defer server.Terminate()
	idle := liveHeap() - before // two idle Conns

	for _, size := range []int{64 << 10, 1 << 20, 4 << 20, 16 << 20} {
		payload := bytes.Repeat([]byte{byte(size)}, size)
		for range 8 {
			require.NoError(t, client.Send(ctx, wsutil.Message{OpCode: ws.OpBinary, Payload: payload}))
			m, err := client.Receive(ctx)
			require.NoError(t, err)
			require.True(t, bytes.Equal(payload, m.Payload), "echo of %d bytes", size)
			m.Release()
		}
	}
	after := liveHeap() - before
	t.Logf("two idle Conns: %d bytes of heap before the burst, %d after 32 messages of up to 16 MiB", idle, after)
	assert.Less(t, after, idle+64<<10, "the burst left %d KiB behind", (after-idle)>>10)
}
