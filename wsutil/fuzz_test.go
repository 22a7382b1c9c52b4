package wsutil

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/sluice-ws/sluice/ws"
)

type readResult struct {
	msgs []string
	err  error
}

func readAll(r *Reader) readResult {
	var res readResult
	for range 1000 {
		op, p, err := r.ReadMessage(nil)
		if err != nil {
			res.err = err
			return res
		}
		res.msgs = append(res.msgs, op.String()+":"+string(p))
	}
	return res
}

// FuzzReader feeds arbitrary bytes to Readers in both buffering modes, on
// both sides, one byte at a time and all at once: none may panic, and all
// must agree on the messages and the error.
func FuzzReader(f *testing.F) {
	s := ws.ServerSide
	f.Add(wire(frameFrom(s, ws.OpText, true, "hello")), false)
	f.Add(wire(frameFrom(s, ws.OpText, false, "κό"), frameFrom(s, ws.OpPing, true, "x"),
		frameFrom(s, ws.OpContinuation, true, "σμε")), false)
	f.Add(wire(frameFrom(s, ws.OpBinary, true, "\xff\x00")), false)
	f.Add(wire(frameFrom(s, ws.OpText, true, "\xed\xa0\x80")), false)
	f.Add(wire(frameFrom(s, ws.OpContinuation, true, "x")), false)
	f.Add(wire(frameFrom(s, ws.OpClose, true, "\x03\xe8bye")), false)
	f.Add(wire(ws.NewTextFrame([]byte("to client"))), true)
	f.Fuzz(func(t *testing.T, data []byte, client bool) {
		side := ws.ServerSide
		if client {
			side = ws.ClientSide
		}
		newReader := func(src io.Reader, size int) *Reader {
			r := NewReaderSize(src, side, size)
			r.MaxMessageSize = 1 << 16
			return r
		}
		want := readAll(newReader(bytes.NewReader(bytes.Clone(data)), 64))
		for _, r := range []*Reader{
			newReader(bytes.NewReader(bytes.Clone(data)), 0),
			newReader(iotest.OneByteReader(bytes.NewReader(bytes.Clone(data))), 64),
			newReader(iotest.OneByteReader(bytes.NewReader(bytes.Clone(data))), 0),
		} {
			got := readAll(r)
			if len(got.msgs) != len(want.msgs) {
				t.Fatalf("%d messages, want %d", len(got.msgs), len(want.msgs))
			}
			for i := range got.msgs {
				if got.msgs[i] != want.msgs[i] {
					t.Fatalf("message %d differs", i)
				}
			}
			if !sameErr(got.err, want.err) {
				t.Fatalf("error %v, want %v", got.err, want.err)
			}
		}
	})
}

// sameErr compares errors by identity or by value (CloseError).
func sameErr(a, b error) bool {
	if errors.Is(a, b) {
		return true
	}
	// A frame cut short ends differently depending on how much the
	// reader had in hand; both are "the stream ended early".
	short := func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) }
	return short(a) && short(b)
}
