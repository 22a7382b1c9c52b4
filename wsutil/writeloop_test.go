package wsutil

import (
	"bytes"
	"io"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
)

// pageAligned returns n bytes that start at the beginning of a page, as
// the payloads in large buffers from Go's heap or from bufpool do.
func pageAligned(n int) []byte {
	b := make([]byte, n+aliasPage)
	addr := int(uintptr(unsafe.Pointer(&b[0])))
	off := (aliasPage - addr%aliasPage) % aliasPage
	return b[off : off+n]
}

func TestAliasedCopy(t *testing.T) {
	p := pageAligned(64 << 10)
	tests := []struct {
		name string
		pos  int
		p    []byte
		want int
	}{
		{"at the start of the write", 0, p, 0},
		{"after a 4-byte header", 4, p, 4},
		{"after a 14-byte header", 14, p, 14},
		{"last distance of the window", aliasWindow - 1, p, aliasWindow - 1},
		{"first distance past the window", aliasWindow, p, 0},
		{"source after its destination", 4, p[64:], 0},
		{"a page further on", aliasPage + 4, p, 4},
		{"empty", 4, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, aliasedCopy(tc.pos, tc.p))
		})
	}
}

// TestRefRealignsAliasedPayload checks that a large payload that would
// land in the kernel's slow copy window goes out as a copy outside it,
// and that one outside the window is written from where it is.
func TestRefRealignsAliasedPayload(t *testing.T) {
	payload := pageAligned(64 << 10)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	w := &frameWriter{c: &Conn{side: ws.ServerSide}}
	defer w.drop()
	h := ws.Header{Fin: true, OpCode: ws.OpBinary, Length: int64(len(payload))}
	w.header(h)
	pos := ws.HeaderSize(h) // 10 bytes
	require.Equal(t, pos, aliasedCopy(pos, payload), "precondition: the payload sits in the window")

	w.bytes(payload)
	require.Len(t, w.vecs, 2, "the header, then the payload")
	moved := w.vecs[1]
	assert.NotSame(t, &payload[0], &moved[0], "an aliased payload is copied")
	assert.Zero(t, aliasedCopy(len(w.vecs[0]), moved), "the copy lies outside the window")
	assert.True(t, bytes.Equal(payload, moved), "the copy holds the payload")
	assert.Len(t, w.moved, 1, "the flush gives the copy back")

	// The same payload one cache line further into the write: no copy.
	w.drop()
	w.bytes(make([]byte, 60))
	w.header(h)
	w.bytes(payload)
	last := w.vecs[len(w.vecs)-1]
	assert.Same(t, &payload[0], &last[0], "a payload outside the window is written from where it is")
	assert.Empty(t, w.moved)
}

// TestDroppedBatchWritesNothing checks that a batch abandoned after an
// error leaves nothing behind in the frameWriter, which goes back to a
// pool shared by every connection.
func TestDroppedBatchWritesNothing(t *testing.T) {
	srv, cli := wstest.Pipe()
	defer cli.Close()
	c, err := NewConn(srv, ws.ServerSide, ws.Handshake{}, Config{})
	require.NoError(t, err)
	defer c.Terminate()
	w := &frameWriter{c: c}
	payload := pageAligned(16 << 10)
	w.header(ws.Header{Fin: true, OpCode: ws.OpBinary, Length: int64(len(payload))})
	w.bytes(payload)
	w.drop()
	assert.Empty(t, w.vecs)
	assert.Empty(t, w.moved)

	w.frame(ws.OpText, []byte("next"))
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, 6)
		_, _ = io.ReadFull(cli, b)
		got <- b
	}()
	require.NoError(t, w.flush())
	select {
	case b := <-got:
		assert.Equal(t, []byte{0x81, 4, 'n', 'e', 'x', 't'}, b, "only the frame batched after the drop")
	case <-wstest.After(t):
		t.Fatal("the frame after the drop was not written")
	}
	w.drop()
}

// TestOnMessageHandsLargeRepliesOver checks who writes what OnMessage
// sends: a small reply waits for the reader, which batches the replies to
// a burst into one write before it next waits; a large one goes at once
// to a writing goroutine, so that the reader goes on reading while it is
// written.
func TestOnMessageHandsLargeRepliesOver(t *testing.T) {
	srv, cli := wstest.Pipe()
	defer cli.Close()
	go func() { _, _ = io.Copy(io.Discard, cli) }()
	writers := make(chan writerState, 1)
	c, err := NewConn(srv, ws.ServerSide, ws.Handshake{}, Config{
		OnMessage: func(c *Conn, m Message) {
			assert.NoError(t, c.Send(t.Context(), m))
			c.mu.Lock()
			writers <- c.q.writer
			c.mu.Unlock()
		},
	})
	require.NoError(t, err)
	defer c.Terminate()

	for _, tc := range []struct {
		size int
		want writerState
	}{
		{16, writerOwed},
		{owedBytes, writerGoroutine},
	} {
		_ = cli.SetWriteDeadline(wstest.Deadline(t))
		frame := ws.NewBinaryFrame(make([]byte, tc.size)).Masked([4]byte{1, 2, 3, 4})
		require.NoError(t, ws.WriteFrame(cli, frame))
		select {
		case got := <-writers:
			assert.Equal(t, tc.want, got, "writer after a %d-byte reply", tc.size)
		case <-wstest.After(t):
			t.Fatalf("the %d-byte message did not reach OnMessage", tc.size)
		}
	}
}

// TestOnlyTheFirstPayloadIsRealigned checks that in a batch of aliased
// payloads only the one at the start of the write is copied, and that the
// frames arrive whole and in order.
func TestOnlyTheFirstPayloadIsRealigned(t *testing.T) {
	srv, cli := wstest.Pipe()
	defer cli.Close()
	c, err := NewConn(srv, ws.ServerSide, ws.Handshake{}, Config{})
	require.NoError(t, err)
	defer c.Terminate()
	const frames = 3
	payload := pageAligned(64 << 10)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	got := make(chan [][]byte, 1)
	go func() {
		var ps [][]byte
		for range frames {
			f, err := ws.ReadFrame(cli, 1<<20)
			if err != nil {
				break
			}
			ps = append(ps, f.Payload)
		}
		got <- ps
	}()

	w := &frameWriter{c: c}
	defer w.drop()
	h := ws.Header{Fin: true, OpCode: ws.OpBinary, Length: int64(len(payload))}
	for i := range frames {
		w.header(h)
		w.bytes(payload)
		if i > 0 {
			// 64 KiB and a header further on each time: 20, then 30
			// bytes past a page.
			pos := 0
			for _, v := range w.vecs[:len(w.vecs)-1] {
				pos += len(v)
			}
			require.NotZero(t, aliasedCopy(pos, payload), "precondition: frame %d is aliased", i)
		}
	}
	assert.Len(t, w.moved, 1, "one copy: the payload at the start of the write")
	require.NoError(t, w.flush())
	select {
	case ps := <-got:
		require.Len(t, ps, frames)
		for i, p := range ps {
			assert.True(t, bytes.Equal(payload, p), "frame %d holds the payload", i)
		}
	case <-wstest.After(t):
		t.Fatal("the frames were not written")
	}
}
