package wsflate_test

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/sluice-ws/sluice/wsutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wsflate meets wsutil through interfaces that wsutil declares; neither
// imports the other.
var (
	_ wsutil.RecvExtension = wsflate.Receiver(nil)
	_ wsutil.SendExtension = wsflate.Sender(nil)
	_ wsutil.Extension     = (*wsflate.Extension)(nil)
)

// TestWithWsutil sends messages through wsutil's Writer and reads them
// with its Reader, both ways, in small frames, with context takeover.
func TestWithWsutil(t *testing.T) {
	t.Parallel()
	client := &wsflate.Extension{ClientMaxWindowBits: wsflate.WindowBitsNoValue}
	server := &wsflate.Extension{ClientMaxWindowBits: 11, ServerMaxWindowBits: 12}
	c := handshake(t, client, server)
	msgs := [][]byte{text(5000, 1), text(5000, 1), []byte("tiny"), {}, text(100000, 2)}
	for _, dir := range []struct {
		name string
		side ws.Side
		send wsflate.Sender
		recv wsflate.Receiver
	}{
		{"server-to-client", ws.ServerSide, c.serverSend, c.clientRecv},
		{"client-to-server", ws.ClientSide, c.clientSend, c.serverRecv},
	} {
		t.Run(dir.name, func(t *testing.T) {
			var wire bytes.Buffer
			w := wsutil.NewWriterSize(&wire, dir.side, ws.OpText, 512)
			w.Extension = dir.send
			for _, m := range msgs {
				_, err := w.Write(m)
				require.NoError(t, err)
				require.NoError(t, w.Flush())
			}
			r := wsutil.NewReader(&wire, dir.side.Peer())
			r.Extension = dir.recv
			for i, m := range msgs {
				op, got, err := r.ReadMessage(nil)
				require.NoError(t, err, "message %d", i)
				assert.Equal(t, ws.OpText, op)
				assert.True(t, bytes.Equal(m, got), "message %d", i)
			}
		})
	}
}

// TestBombWithWsutil reads a 1 GiB deflate bomb through wsutil's Reader
// with a 1 MiB message limit: it stops after about 1 MiB of work.
func TestBombWithWsutil(t *testing.T) {
	t.Parallel()
	payload := bomb()
	var wire bytes.Buffer
	require.NoError(t, ws.WriteFrame(&wire, ws.Frame{
		Header:  ws.Header{Fin: true, Rsv: ws.Rsv1, OpCode: ws.OpBinary, Length: int64(len(payload))},
		Payload: payload,
	}))
	recv, _, err := (&wsflate.Extension{}).Bind(ws.ClientSide, []httphead.Option{wsflate.Params{}.Option()})
	require.NoError(t, err)
	src := &countingReader{r: &wire}
	r := wsutil.NewReader(src, ws.ClientSide)
	r.Extension = recv
	r.MaxMessageSize = 1 << 20
	start := time.Now()
	_, _, err = r.ReadMessage(nil)
	require.ErrorIs(t, err, wsutil.ErrMessageTooBig)
	assert.Less(t, time.Since(start), wstest.Slow(time.Second))
	assert.Less(t, src.n, 64<<10, "consumed %d of %d payload bytes", src.n, len(payload))
}

// TestSharedEncoding: a server that compresses without context takeover
// offers wsutil one encoding per level and window, so a broadcast
// (wsutil.Prepare) compresses once; with takeover it must not.
func TestSharedEncoding(t *testing.T) {
	t.Parallel()
	msg := text(3000, 7)
	client := &wsflate.Extension{}
	noTakeover := handshake(t, client, &wsflate.Extension{ServerNoContextTakeover: true})
	takeover := handshake(t, client, &wsflate.Extension{})

	se, ok := noTakeover.serverSend.(wsutil.SharedEncoder)
	require.True(t, ok, "the sender does not implement wsutil.SharedEncoder")
	key, ok := se.SharedKey()
	require.True(t, ok)
	payload, rsv, err := se.AppendShared(nil, msg)
	require.NoError(t, err)
	assert.Equal(t, ws.Rsv1, rsv)
	assert.Less(t, len(payload), len(msg)/2)
	// The client of that connection inflates it like any message.
	r := wsutil.NewReader(bytes.NewReader(ws.AppendFrame(nil, ws.Frame{
		Header:  ws.Header{Fin: true, Rsv: ws.Rsv1, OpCode: ws.OpText, Length: int64(len(payload))},
		Payload: payload,
	})), ws.ClientSide)
	r.Extension = noTakeover.clientRecv
	_, got, err := r.ReadMessage(nil)
	require.NoError(t, err)
	assert.Equal(t, msg, got)

	// Same settings, same key; other windows, other keys.
	other := handshake(t, client, &wsflate.Extension{ServerNoContextTakeover: true})
	k2, ok := other.serverSend.(wsutil.SharedEncoder).SharedKey()
	require.True(t, ok)
	assert.Equal(t, key, k2)
	small := handshake(t, client, &wsflate.Extension{ServerNoContextTakeover: true, ServerMaxWindowBits: 10})
	k3, ok := small.serverSend.(wsutil.SharedEncoder).SharedKey()
	require.True(t, ok)
	assert.NotEqual(t, key, k3)

	_, ok = takeover.serverSend.(wsutil.SharedEncoder).SharedKey()
	assert.False(t, ok, "a sender with context takeover cannot share")

	// Under the threshold nothing is compressed.
	out, rsv, err := se.AppendShared(nil, []byte("tiny"))
	require.NoError(t, err)
	assert.Zero(t, rsv)
	assert.Empty(t, out)
}

// TestFrameModeKeepsContext reads compressed messages with
// wsutil.Reader.NextFrame under context takeover: each arrives whole and
// decoded, and the next message, which refers back into it, still
// inflates.
func TestFrameModeKeepsContext(t *testing.T) {
	t.Parallel()
	c := handshake(t, &wsflate.Extension{}, &wsflate.Extension{})
	msg := text(600, 3)
	var wire bytes.Buffer
	w := wsutil.NewWriterSize(&wire, ws.ServerSide, ws.OpText, 256) // fragments
	w.Extension = c.serverSend
	for range 3 {
		_, err := w.Write(msg)
		require.NoError(t, err)
		require.NoError(t, w.Flush())
	}
	r := wsutil.NewReader(&wire, ws.ClientSide)
	r.Extension = c.clientRecv
	for i := range 3 {
		h, err := r.NextFrame()
		require.NoError(t, err, "message %d", i)
		assert.True(t, h.Fin)
		assert.Zero(t, h.Rsv)
		assert.Equal(t, ws.OpText, h.OpCode)
		got, err := io.ReadAll(r)
		require.NoError(t, err, "message %d", i)
		assert.Equal(t, msg, got, "message %d", i)
	}
}
