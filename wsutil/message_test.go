package wsutil

import (
	"bufio"
	"io"
	"strings"
	"testing"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMessageHelpersRoundTrip(t *testing.T) {
	t.Parallel()
	client, server := wstest.Pipe()
	defer client.Close()
	defer server.Close()
	msgs := []struct {
		op ws.OpCode
		p  string
	}{
		{ws.OpText, "hello"},
		{ws.OpBinary, "\x00\x01\x02"},
		{ws.OpText, strings.Repeat("κόσμε", 5000)},
		{ws.OpBinary, ""},
	}
	for _, m := range msgs {
		require.NoError(t, WriteMessage(client, ws.ClientSide, m.op, []byte(m.p)))
	}
	// A ping before the next message is answered by ReadMessage.
	require.NoError(t, WriteMessage(client, ws.ClientSide, ws.OpPing, []byte("are you there")))
	require.NoError(t, WriteMessage(client, ws.ClientSide, ws.OpText, []byte("after ping")))
	require.NoError(t, WriteClose(client, ws.ClientSide, ws.StatusNormalClosure, "done"))

	br := bufio.NewReadWriter(bufio.NewReader(server), bufio.NewWriter(server))
	for _, m := range msgs {
		op, p, err := ReadMessage(br, ws.ServerSide, nil)
		require.NoError(t, err)
		assert.Equal(t, m.op, op)
		assert.Equal(t, m.p, string(p))
	}
	_, p, err := ReadMessage(br, ws.ServerSide, nil)
	require.NoError(t, err)
	assert.Equal(t, "after ping", string(p))
	_, _, err = ReadMessage(br, ws.ServerSide, nil)
	var ce ws.CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, ws.CloseError{Code: ws.StatusNormalClosure, Reason: "done"}, ce)
	require.NoError(t, br.Flush())

	// The client sees the pong, then the close echo.
	_, _, err = ReadMessage(client, ws.ClientSide, nil)
	// A pong is not a message; the echo ends the stream.
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, ws.StatusNormalClosure, ce.Code)
}

func TestWriteMessageRejects(t *testing.T) {
	t.Parallel()
	var sb strings.Builder
	cases := []struct {
		name string
		op   ws.OpCode
		n    int
	}{
		{"continuation", ws.OpContinuation, 1},
		{"reserved", 3, 1},
		{"reserved control", 0xb, 1},
		{"long ping", ws.OpPing, 126},
	}
	for _, tc := range cases {
		require.ErrorIs(t, WriteMessage(&sb, ws.ServerSide, tc.op, make([]byte, tc.n)), ErrOpCode, tc.name)
	}
	assert.Zero(t, sb.Len())
}

// TestCloseHandshakeHelpers: the side that closes first with
// CloseHandshake sends exactly one close frame and gets the answer; the
// other side answers through ReadMessage, flushed out of its bufio buffer.
func TestCloseHandshakeHelpers(t *testing.T) {
	t.Parallel()
	a, b := wstest.Pipe()
	defer a.Close()
	defer b.Close()
	done := make(chan error, 1)
	go func() {
		rw := bufio.NewReadWriter(bufio.NewReader(b), bufio.NewWriter(b))
		_, _, err := ReadMessage(rw, ws.ServerSide, nil)
		done <- err
	}()
	crw := bufio.NewReadWriter(bufio.NewReader(a), bufio.NewWriter(a))
	err := CloseHandshake(crw, ws.ClientSide, 4002, "bye")
	var ce ws.CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, ws.CloseError{Code: 4002, Reason: "bye"}, ce)
	require.ErrorAs(t, <-done, &ce)
	assert.Equal(t, ws.StatusCode(4002), ce.Code)
	// Exactly one close frame went from the client to the server.
	require.NoError(t, a.Close())
	rest, _ := io.ReadAll(b)
	assert.Empty(t, rest, "the client sent more after its close")
}

// TestReadMessageFlushesPong: a pong written by ReadMessage does not wait
// in a bufio buffer while ReadMessage waits for the next message.
func TestReadMessageFlushesPong(t *testing.T) {
	t.Parallel()
	a, b := wstest.Pipe()
	defer a.Close()
	defer b.Close()
	go func() {
		rw := bufio.NewReadWriter(bufio.NewReader(b), bufio.NewWriter(b))
		_, _, _ = ReadMessage(rw, ws.ServerSide, nil)
	}()
	require.NoError(t, WriteMessage(a, ws.ClientSide, ws.OpPing, []byte("beat")))
	require.NoError(t, a.SetReadDeadline(wstest.RunDeadline()))
	f, err := ws.ReadFrame(a, 0)
	require.NoError(t, err)
	assert.Equal(t, ws.OpPong, f.Header.OpCode)
	assert.Equal(t, "beat", string(f.Payload))
}
