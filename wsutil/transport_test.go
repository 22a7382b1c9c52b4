package wsutil

import (
	"context"
	"net"
	"testing"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// transports are the connections the Conn rules are checked over: the
// buffered in-memory pipe, net.Pipe (every write waits for a reader), and
// real TCP on 127.0.0.1.
var transports = []struct {
	name string
	pair func(t *testing.T) (net.Conn, net.Conn)
}{
	{"wstest.Pipe", func(*testing.T) (net.Conn, net.Conn) { return wstest.Pipe() }},
	{"net.Pipe", func(*testing.T) (net.Conn, net.Conn) { return net.Pipe() }},
	{"tcp", tcpPair},
}

// tcpPair returns a dialled end first, as the other transports' a side.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	server, client := wstest.TCPPair(t)
	return client, server
}

// TestConnRulesOverTransports runs the core rules of the channel API on
// both roles over every transport: echo in order, a close begun by either
// side with code and reason, a dropped connection, and a protocol error
// answered with its code.
func TestConnRulesOverTransports(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		for _, side := range []ws.Side{ws.ServerSide, ws.ClientSide} {
			name := tr.name + "/" + side.String()
			t.Run(name+"/echo and close", func(t *testing.T) {
				t.Parallel()
				a, b := tr.pair(t)
				us, err := NewConn(a, side, ws.Handshake{}, Config{})
				require.NoError(t, err)
				peer, err := NewConn(b, side.Peer(), ws.Handshake{}, Config{})
				require.NoError(t, err)
				go func() {
					for m := range peer.Inbound() {
						peer.Outbound() <- m
					}
					close(peer.Outbound())
				}()
				for i := range 50 {
					payload := make([]byte, i*997)
					require.NoError(t, us.Send(context.Background(), Message{OpCode: ws.OpBinary, Payload: payload}))
				}
				for i := range 50 {
					m := recv(t, us)
					require.Len(t, m.Payload, i*997)
				}
				require.NoError(t, us.Close(4321, "done here"))
				waitDone(t, peer)
				assert.Equal(t, ws.CloseError{Code: 4321, Reason: "done here"}, peer.Err())
				assert.Equal(t, ws.CloseError{Code: 4321, Reason: "done here"}, us.Err())
			})
			t.Run(name+"/dropped", func(t *testing.T) {
				t.Parallel()
				a, b := tr.pair(t)
				us, err := NewConn(a, side, ws.Handshake{}, Config{})
				require.NoError(t, err)
				require.NoError(t, b.Close())
				waitDone(t, us)
				require.ErrorIs(t, us.Err(), ErrAbnormalClosure)
			})
			t.Run(name+"/protocol error", func(t *testing.T) {
				t.Parallel()
				a, b := tr.pair(t)
				us, err := NewConn(a, side, ws.Handshake{}, Config{})
				require.NoError(t, err)
				p := newRawPeer(t, b, side.Peer())
				// A reserved opcode, masked or not as the peer would.
				go p.send(0x3, true, nil)
				assert.Equal(t, ws.StatusProtocolError, p.readClose())
				// As a real peer, close once the other end has.
				p.expectEOF()
				_ = b.Close()
				waitDone(t, us)
				require.ErrorIs(t, us.Err(), ws.ErrReservedOpCode)
				_ = b.Close()
			})
		}
	}
}
