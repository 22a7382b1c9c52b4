package wsutil

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/gobwas/httphead"
	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sharedXor is xorExt that can also encode once for many connections, and
// counts how often it does.
type sharedXor struct {
	xorExt
	stateless bool
	encodes   *atomic.Int32
}

func (s sharedXor) SharedKey() (uint64, bool) { return 42, s.stateless }

func (s sharedXor) AppendShared(dst, msg []byte) ([]byte, byte, error) {
	s.encodes.Add(1)
	for _, b := range msg {
		dst = append(dst, b^0xff)
	}
	return dst, ws.Rsv1, nil
}

// xorBinder binds the toy extension to every connection.
type xorBinder struct{ send SendExtension }

func (b xorBinder) Bind(ws.Side, []httphead.Option) (RecvExtension, SendExtension, error) {
	return xorExt{}, b.send, nil
}

func TestPreparedBroadcast(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		ext       func(*atomic.Int32) Extension
		side      ws.Side
		wantShare bool
		rsv       byte
	}{
		{"plain", func(*atomic.Int32) Extension { return nil }, ws.ServerSide, true, 0},
		{"stateless extension", func(n *atomic.Int32) Extension {
			return xorBinder{sharedXor{stateless: true, encodes: n}}
		}, ws.ServerSide, true, ws.Rsv1},
		{"extension with state", func(n *atomic.Int32) Extension {
			return xorBinder{sharedXor{stateless: false, encodes: n}}
		}, ws.ServerSide, false, ws.Rsv1},
		{"client", func(*atomic.Int32) Extension { return nil }, ws.ClientSide, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var encodes atomic.Int32
			m := Prepare(ws.OpText, []byte("to everyone"))
			const conns = 4
			var peers []*rawPeer
			for range conns {
				a, b := wstest.Pipe()
				c, err := NewConn(a, tc.side, ws.Handshake{}, Config{Extension: tc.ext(&encodes)})
				require.NoError(t, err)
				t.Cleanup(func() { _ = c.Terminate() })
				require.NoError(t, c.Send(context.Background(), m))
				peers = append(peers, newRawPeer(t, b, tc.side.Peer()))
			}
			for i, p := range peers {
				f := p.read()
				assert.Equal(t, ws.OpText, f.Header.OpCode)
				assert.Equal(t, tc.rsv, f.Header.Rsv)
				assert.Equal(t, tc.side == ws.ClientSide, f.Header.Masked)
				got := f.Payload
				if tc.rsv != 0 {
					for j := range got {
						got[j] ^= 0xff
					}
				}
				assert.Equal(t, "to everyone", string(got), "peer %d", i)
			}
			if tc.wantShare && tc.rsv != 0 {
				assert.Equal(t, int32(1), encodes.Load(), "encoded more than once")
			}
			if !tc.wantShare {
				assert.Zero(t, encodes.Load(), "shared encoding used where it must not be")
			}
			m.prep.mu.Lock()
			defer m.prep.mu.Unlock()
			if tc.wantShare && tc.rsv == 0 {
				assert.NotNil(t, m.prep.plain, "plain frame not compiled once")
			}
			if tc.side == ws.ClientSide {
				assert.Nil(t, m.prep.plain)
				assert.Empty(t, m.prep.shared)
			}
		})
	}
}

// TestPreparedThreshold: an encoder that declines (rsv 0) makes the
// prepared frame plain.
func TestPreparedThreshold(t *testing.T) {
	t.Parallel()
	m := Prepare(ws.OpBinary, []byte{1, 2, 3})
	frame, ok, err := m.prep.frame(m, decliner{})
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, ws.AppendFrame(nil, ws.NewBinaryFrame([]byte{1, 2, 3})), frame)
}

type decliner struct{ xorExt }

func (decliner) SharedKey() (uint64, bool)                        { return 1, true }
func (decliner) AppendShared(dst, _ []byte) ([]byte, byte, error) { return dst, 0, nil }
