//go:build linux

package wsutil

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/ws"
)

// TestPollCloseHandshakes: each way a PollConn ends (the peer closes, we
// close, Drop, Terminate, the peer vanishes) and what the client and Err see.
func TestPollCloseHandshakes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
		// act does something to the connection, from its first message
		// on the loop (c) or from the client (p).
		act  func(c *PollConn)
		peer func(p *pollPeer) ws.CloseError
		want func(t *testing.T, err error)
	}{
		{"peer-closes", Config{}, nil, func(p *pollPeer) ws.CloseError {
			p.send(ws.OpClose, true, ws.AppendCloseBody(nil, 4001, "bye ✓"))
			got := p.readClose()
			p.expectEOF() // a server closes TCP first
			return got
		}, func(t *testing.T, err error) {
			assert.Equal(t, ws.CloseError{Code: 4001, Reason: "bye ✓"}, err)
		}},
		{"peer-closes-empty", Config{}, nil, func(p *pollPeer) ws.CloseError {
			p.send(ws.OpClose, true, nil)
			f := p.read()
			require.Equal(p.t, ws.OpClose, f.Header.OpCode)
			assert.Empty(p.t, f.Payload, "an empty close is answered empty")
			p.expectEOF()
			return ws.CloseError{}
		}, func(t *testing.T, err error) {
			assert.Equal(t, ws.CloseError{Code: ws.StatusNoStatusRcvd}, err)
		}},
		{"server-closes", Config{}, func(c *PollConn) {
			assert.NoError(t, c.Close(4002, "server bye"))
			assert.ErrorIs(t, c.Close(4002, "again"), net.ErrClosed)
			assert.ErrorIs(t, c.Send(context.Background(), Message{OpCode: ws.OpText}), net.ErrClosed)
		}, func(p *pollPeer) ws.CloseError {
			got := p.readClose()
			p.send(ws.OpClose, true, ws.AppendCloseBody(nil, got.Code, got.Reason))
			p.expectEOF()
			return got
		}, func(t *testing.T, err error) {
			assert.Equal(t, ws.CloseError{Code: 4002, Reason: "server bye"}, err)
		}},
		{"server-closes-peer-silent", Config{CloseTimeout: 50 * time.Millisecond}, func(c *PollConn) {
			assert.NoError(t, c.Close(4003, ""))
		}, func(p *pollPeer) ws.CloseError {
			got := p.readClose()
			p.expectEOF()
			return got
		}, func(t *testing.T, err error) {
			require.ErrorIs(t, err, ErrAbnormalClosure)
			require.ErrorIs(t, err, ErrCloseTimeout)
		}},
		{"drop", Config{}, func(c *PollConn) {
			assert.NoError(t, c.Drop(4004, "dropped"))
			assert.ErrorIs(t, c.Drop(4004, "again"), net.ErrClosed)
		}, func(p *pollPeer) ws.CloseError {
			got := p.readClose()
			p.expectEOF()
			return got
		}, func(t *testing.T, err error) {
			require.ErrorIs(t, err, ErrAbnormalClosure)
			require.ErrorIs(t, err, net.ErrClosed)
		}},
		{"terminate", Config{}, func(c *PollConn) {
			assert.NoError(t, c.Terminate())
			assert.ErrorIs(t, c.Terminate(), net.ErrClosed)
		}, func(p *pollPeer) ws.CloseError {
			p.expectEOF()
			return ws.CloseError{}
		}, func(t *testing.T, err error) {
			require.ErrorIs(t, err, ErrAbnormalClosure)
			require.ErrorIs(t, err, net.ErrClosed)
		}},
		{"peer-vanishes", Config{}, nil, func(p *pollPeer) ws.CloseError {
			p.nc.Close()
			return ws.CloseError{}
		}, func(t *testing.T, err error) {
			require.ErrorIs(t, err, ErrAbnormalClosure)
			assert.Equal(t, ws.StatusAbnormalClosure, ws.CloseStatus(err))
		}},
		{"close-code-not-sendable", Config{}, func(c *PollConn) {
			assert.Error(t, c.Close(ws.StatusAbnormalClosure, ""))
			assert.NoError(t, c.Close(ws.StatusNormalClosure, ""))
		}, func(p *pollPeer) ws.CloseError {
			got := p.readClose()
			p.send(ws.OpClose, true, ws.AppendCloseBody(nil, got.Code, ""))
			p.expectEOF()
			return got
		}, func(t *testing.T, err error) {
			assert.Equal(t, ws.CloseError{Code: ws.StatusNormalClosure}, err)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			done := make(chan *PollConn, 1)
			h := echoHandler(tc.cfg, done)
			if tc.act != nil {
				h.OnMessage = func(c *PollConn, m Message) { tc.act(c) }
			}
			_, addr := startPoll(t, h)
			p := dialPeer(t, addr)
			if tc.act != nil {
				p.send(ws.OpText, true, []byte("go"))
			}
			got := tc.peer(p)
			c := ended(t, done)
			if got.Code != 0 && tc.act != nil {
				assert.NotEqual(t, ws.StatusAbnormalClosure, got.Code, "what the client saw")
			}
			tc.want(t, c.Err())
			assert.Equal(t, StateClosed, c.State())
			select {
			case <-c.Done():
			default:
				t.Error("Done is not closed")
			}
		})
	}
}
