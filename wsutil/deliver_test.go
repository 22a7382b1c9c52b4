package wsutil

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
)

// An application that stops reading Inbound for a while does not stop
// the Conn from answering pings: the messages wait for it, within
// InboundBytes, and the reader goes on reading.
func TestDeliverPingsAnsweredWhileAppPaused(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a, b := wstest.Pipe()
		defer b.Close()
		c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{InboundSize: 2})
		require.NoError(t, err)
		defer c.Terminate()
		p := newRawPeer(t, b, ws.ClientSide)
		for i := range 10 { // more than Inbound holds: nobody reads it
			p.send(ws.OpText, true, fmt.Append(nil, i))
		}
		p.send(ws.OpPing, true, []byte("still there?"))
		f := p.read()
		assert.Equal(t, ws.OpPong, f.Header.OpCode)
		assert.Equal(t, "still there?", string(f.Payload))
		// Every message is still delivered, in order.
		for i := range 10 {
			assert.Equal(t, fmt.Sprint(i), string(recv(t, c).Payload))
		}
	})
}

// The closing handshake completes while the application reads nothing:
// the answer leaves at the latest after CloseTimeout, and the messages the
// application never took are dropped and counted once the connection is
// over.
func TestDeliverCloseCompletesWhileAppPaused(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a, b := wstest.Pipe()
		defer b.Close()
		c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{InboundSize: 1, CloseTimeout: time.Second})
		require.NoError(t, err)
		p := newRawPeer(t, b, ws.ClientSide)
		for i := range 5 {
			p.send(ws.OpBinary, true, fmt.Append(nil, i))
		}
		p.send(ws.OpClose, true, ws.AppendCloseBody(nil, ws.StatusGoingAway, "bye"))
		start := time.Now()
		assert.Equal(t, ws.StatusGoingAway, p.readClose())
		assert.Equal(t, time.Second, time.Since(start), "answered after CloseTimeout")
		<-c.Done()
		assert.True(t, IsCleanClose(c.Err()), "%v", c.Err())
	})
}

// Beyond InboundBytes the reader stops reading the socket: what the
// application holds stays bounded in bytes, not in messages.
func TestDeliverStopsReadingAtInboundBytes(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a, b := wstest.Pipe()
		defer b.Close()
		const limit = 64 << 10
		c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{InboundBytes: limit})
		require.NoError(t, err)
		defer c.Terminate()
		p := newRawPeer(t, b, ws.ClientSide)
		payload := bytes.Repeat([]byte{7}, 8<<10)
		for range 64 { // 512 KiB
			p.send(ws.OpBinary, true, payload)
		}
		synctest.Wait() // the reader has stopped
		c.mu.Lock()
		held := c.inq.bytes
		c.mu.Unlock()
		assert.LessOrEqual(t, held, int64(limit+8<<10+2*messageOverhead), "held for the application")
		assert.Less(t, c.Stats().BytesIn, int64(64*(8<<10)), "the reader kept reading")
		for range 64 {
			assert.Len(t, recv(t, c).Payload, 8<<10)
		}
	})
}

// A message with no opcode goes out as binary, through Send and Outbound;
// a control opcode is refused by Send and reported on Done by Outbound.
func TestSendWithoutOpCodeIsBinary(t *testing.T) {
	t.Parallel()
	s, c := connPair(t, Config{}, Config{})
	ctx := context.Background()
	require.NoError(t, c.Send(ctx, Message{Payload: []byte("via Send")}))
	c.Outbound() <- Message{Payload: []byte("via Outbound")}
	for _, want := range []string{"via Send", "via Outbound"} {
		m := recv(t, s)
		assert.Equal(t, ws.OpBinary, m.OpCode)
		assert.Equal(t, want, string(m.Payload))
	}
	assert.ErrorIs(t, c.Send(ctx, Message{OpCode: ws.OpPing}), ErrOpCode)
	done := make(chan error, 1)
	c.Outbound() <- Message{OpCode: ws.OpClose, Done: done}
	assert.ErrorIs(t, <-done, ErrOpCode)
	assert.Equal(t, int64(1), c.Stats().Dropped)
}

func TestIsCleanClose(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"normal", ws.CloseError{Code: ws.StatusNormalClosure}, true},
		{"going away", ws.CloseError{Code: ws.StatusGoingAway, Reason: "restart"}, true},
		{"empty close", ws.CloseError{Code: ws.StatusNoStatusRcvd}, true},
		{"wrapped", fmt.Errorf("chat: %w", ws.CloseError{Code: ws.StatusNormalClosure}), true},
		{"policy", ws.CloseError{Code: ws.StatusPolicyViolation}, false},
		{"abnormal", ErrAbnormalClosure, false},
		{"protocol", ErrInvalidUTF8, false},
		{"nil", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, IsCleanClose(tc.err))
		})
	}
}

// SetReadLimit changes the message limit from the next message on: a
// server raises it once a client has authenticated.
func TestSetReadLimit(t *testing.T) {
	t.Parallel()
	a, b := wstest.Pipe()
	defer b.Close()
	c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, Config{MaxMessageSize: 100})
	require.NoError(t, err)
	defer c.Terminate()
	p := newRawPeer(t, b, ws.ClientSide)
	p.send(ws.OpBinary, true, make([]byte, 100))
	assert.Len(t, recv(t, c).Payload, 100)
	c.SetReadLimit(1000)
	p.send(ws.OpBinary, true, make([]byte, 1000))
	assert.Len(t, recv(t, c).Payload, 1000)
	c.SetReadLimit(10)
	p.send(ws.OpBinary, true, make([]byte, 11))
	assert.Equal(t, ws.StatusMessageTooBig, p.readClose())
}

// Under OverflowClose a queue over OutboundBytes counts as full only at
// twice that while its writer has written within the last second: a peer
// that reads is not judged slow for a burst; one that stopped reading is
// at OutboundBytes.
func TestOverflowJudgesByProgress(t *testing.T) {
	t.Parallel()
	fill := func(t *testing.T, c *Conn) int64 {
		t.Helper()
		for {
			err := c.Send(context.Background(), Message{OpCode: ws.OpBinary, Payload: make([]byte, 100)})
			if err != nil {
				require.ErrorIs(t, err, ErrQueueFull)
				return c.Buffered()
			}
		}
	}
	const limit = 2000
	cfg := Config{OutboundBytes: limit, Overflow: OverflowClose, CloseTimeout: time.Second}
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe() // b never reads: the first write blocks
		defer b.Close()
		c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, cfg)
		require.NoError(t, err)
		defer c.Terminate()
		held := fill(t, c)
		assert.Greater(t, held+int64(messageOverhead)*(held/100), int64(limit), "a fresh writer may go past OutboundBytes")
	})
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		c, err := NewConn(a, ws.ServerSide, ws.Handshake{}, cfg)
		require.NoError(t, err)
		defer c.Terminate()
		require.NoError(t, c.Send(context.Background(), Message{OpCode: ws.OpBinary, Payload: make([]byte, 100)}))
		time.Sleep(2 * slowAfter) // the writer is stuck on a peer that does not read
		held := fill(t, c)
		assert.LessOrEqual(t, held+int64(messageOverhead)*(held/100), int64(limit), "a stuck writer is held to OutboundBytes")
	})
}
