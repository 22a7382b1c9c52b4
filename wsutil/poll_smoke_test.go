//go:build linux

package wsutil

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/ws"
)

func TestPollSmoke(t *testing.T) {
	s := &PollServer{Handler: &PollHandler{OnMessage: func(c *PollConn, m Message) { _ = c.Send(context.Background(), m) }}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	defer func() { s.Close(); require.ErrorIs(t, <-errc, ErrServerClosed) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, hs, err := ws.Dial(ctx, "ws://"+ln.Addr().String()+"/")
	require.NoError(t, err)
	c, err := NewConn(nc, ws.ClientSide, hs, Config{})
	require.NoError(t, err)
	for _, n := range []int{0, 5, 125, 126, 70000, 1 << 20} {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i)
		}
		require.NoError(t, c.Send(ctx, Message{OpCode: ws.OpBinary, Payload: p}))
		m, err := c.Receive(ctx)
		require.NoError(t, err)
		require.True(t, bytes.Equal(p, m.Payload), "size %d", n)
	}
	require.NoError(t, c.Close(ws.StatusNormalClosure, "bye"))
}
