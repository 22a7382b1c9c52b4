//go:build !race

package wsutil

import (
	"bufio"
	"bytes"
	"io"
	"testing"

	"github.com/sluice-ws/sluice/ws"
	"github.com/stretchr/testify/assert"
)

// loop serves the same bytes forever.
type loop struct {
	b   []byte
	off int
}

func (l *loop) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], l.b[l.off:])
		l.off = (l.off + k) % len(l.b)
		n += k
	}
	return n, nil
}

// TestZeroAllocs proves the per-message paths of this package allocate
// nothing when the caller supplies buffers. sync.Pool drops items under
// the race detector on purpose, so this file is excluded there.
func TestZeroAllocs(t *testing.T) {
	text := bytes.Repeat([]byte("κόσμε "), 100)
	var stream []byte
	stream = ws.AppendFrame(stream, ws.NewFrame(ws.OpText, false, text[:300]).Masked([4]byte{1, 2, 3, 4}))
	stream = ws.AppendFrame(stream, ws.NewPingFrame([]byte("ping")).Masked([4]byte{5, 6, 7, 8}))
	stream = ws.AppendFrame(stream, ws.NewFrame(ws.OpContinuation, true, text[300:]).Masked([4]byte{9, 9, 9, 9}))
	dst := make([]byte, 0, 2048)

	buffered := NewReader(&loop{b: stream}, ws.ServerSide)
	ch := &ControlHandler{Dst: io.Discard, Side: ws.ServerSide}
	buffered.OnControl = ch.Handle
	exact := NewReaderSize(bufio.NewReader(&loop{b: stream}), ws.ServerSide, 0)
	exact.OnControl = ch.Handle
	rw := bufio.NewReadWriter(bufio.NewReader(&loop{b: stream}), bufio.NewWriter(io.Discard))
	server := NewWriter(io.Discard, ws.ServerSide, ws.OpText)
	client := NewWriter(io.Discard, ws.ClientSide, ws.OpText)
	ping := []byte("ping")

	var err error
	reads := map[string]func(){
		"Reader.ReadMessage/buffered": func() { _, dst, err = buffered.ReadMessage(dst) },
		"Reader.ReadMessage/exact":    func() { _, dst, err = exact.ReadMessage(dst) },
		"ReadMessage":                 func() { _, dst, err = ReadMessage(rw, ws.ServerSide, dst) },
	}
	for name, fn := range reads {
		assert.Zero(t, testing.AllocsPerRun(200, fn), name)
		assert.NoError(t, err, name)
		assert.Equal(t, text, dst, name)
	}
	cases := map[string]func(){
		"Writer/server": func() {
			_, _ = server.Write(text)
			_ = server.Flush()
		},
		"Writer/client": func() {
			_, _ = client.Write(text)
			_ = client.Flush()
		},
		"WriteMessage/server": func() { _ = WriteMessage(io.Discard, ws.ServerSide, ws.OpText, text) },
		"WriteMessage/client": func() { _ = WriteMessage(io.Discard, ws.ClientSide, ws.OpText, text) },
		"ControlHandler ping": func() { _ = ch.Handle(ws.Header{Fin: true, OpCode: ws.OpPing, Length: 4}, ping) },
	}
	for name, fn := range cases {
		assert.Zero(t, testing.AllocsPerRun(200, fn), name)
	}
}
