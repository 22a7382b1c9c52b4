//go:build !race

package ws

import (
	"bufio"
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
)

// loopReader serves the same bytes forever, without allocating.
type loopReader struct {
	b   []byte
	off int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], r.b[r.off:])
		r.off = (r.off + k) % len(r.b)
		n += k
	}
	return n, nil
}

// TestZeroAllocs proves the hot paths of this package allocate nothing in
// the steady state. The race detector makes sync.Pool drop items on
// purpose, so this file is excluded under -race.
func TestZeroAllocs(t *testing.T) {
	masked := Header{Fin: true, OpCode: OpBinary, Masked: true, Mask: [4]byte{1, 2, 3, 4}, Length: 70000}
	wire := AppendHeader(nil, masked)
	small := AppendFrame(nil, NewTextFrame([]byte("hello")).Masked([4]byte{5, 6, 7, 8}))
	payload := make([]byte, 4096)
	frame := NewBinaryFrame(payload).Masked([4]byte{9, 9, 9, 9})
	buf := make([]byte, 0, 64)

	br := bufio.NewReader(&loopReader{b: wire})
	plain := &loopReader{b: wire}
	bw := bufio.NewWriter(io.Discard)
	ps := Parser{}
	stream := bytes.Repeat(small, 16)
	work := make([]byte, len(stream))

	cases := map[string]func(){
		"ParseHeader":          func() { _, _, _ = ParseHeader(wire) },
		"AppendHeader":         func() { buf = AppendHeader(buf[:0], masked) },
		"ReadHeader/bufio":     func() { _, _ = ReadHeader(br) },
		"ReadHeader/io.Reader": func() { _, _ = ReadHeader(plain) },
		"WriteHeader/bufio":    func() { _ = WriteHeader(bw, masked) },
		"WriteHeader/io.Writer": func() {
			_ = WriteHeader(io.Discard, masked)
		},
		"WriteFrame/masked/bufio":     func() { _ = WriteFrame(bw, frame) },
		"WriteFrame/masked/io.Writer": func() { _ = WriteFrame(io.Discard, frame) },
		"Cipher":                      func() { Cipher(payload, [4]byte{1, 2, 3, 4}, 1) },
		"Parser.Parse": func() {
			copy(work, stream)
			for p := work; len(p) > 0; {
				_, n, _ := ps.Parse(p)
				p = p[n:]
			}
		},
		"ParseFrame": func() {
			copy(work, small)
			_, _, _ = ParseFrame(work)
		},
		"ParseCloseBody": func() { _, _, _ = ParseCloseBody([]byte{0x03, 0xe8, 'o', 'k'}) },
		"AppendAccept":   func() { buf = AppendAccept(buf[:0], []byte("dGhlIHNhbXBsZSBub25jZQ==")) },
		"CheckAccept": func() {
			_ = CheckAccept([]byte("dGhlIHNhbXBsZSBub25jZQ=="), []byte("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
		},
	}
	for name, fn := range cases {
		assert.Zero(t, testing.AllocsPerRun(200, fn), name)
	}
}
