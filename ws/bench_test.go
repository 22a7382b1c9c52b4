package ws

import (
	"bufio"
	"io"
	"strconv"
	"testing"
)

var benchSizes = []int{16, 1 << 10, 64 << 10, 1 << 20}

func sizeName(n int) string {
	switch {
	case n >= 1<<20:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

// BenchmarkCipher compares masking with the byte loop, the portable
// word loop, and copy of the same size: copy moves the same bytes through
// memory once and is the practical ceiling for a pass over the data.
func BenchmarkCipher(b *testing.B) {
	mask := [4]byte{1, 2, 3, 4}
	for _, n := range benchSizes {
		p := make([]byte, n)
		dst := make([]byte, n)
		impls := []struct {
			name string
			fn   func()
		}{
			{"Cipher", func() { Cipher(p, mask, 1) }},
			{"words", func() { cipherWords(p, mask, 1) }},
			{"bytes", func() { cipherBytes(p, mask, 1) }},
			{"copy", func() { copy(dst, p) }},
		}
		for _, impl := range impls {
			b.Run(impl.name+"/"+sizeName(n), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(n))
				for b.Loop() {
					impl.fn()
				}
			})
		}
	}
}

func BenchmarkHeader(b *testing.B) {
	h := Header{Fin: true, OpCode: OpBinary, Masked: true, Mask: [4]byte{1, 2, 3, 4}, Length: 1024}
	wire := AppendHeader(nil, h)
	buf := make([]byte, 0, MaxHeaderSize)
	b.Run("ParseHeader", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _, _ = ParseHeader(wire)
		}
	})
	b.Run("AppendHeader", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = AppendHeader(buf[:0], h)
		}
	})
	b.Run("ReadHeader/bufio", func(b *testing.B) {
		br := bufio.NewReader(&loopReaderB{b: wire})
		b.ReportAllocs()
		for b.Loop() {
			_, _ = ReadHeader(br)
		}
	})
	b.Run("ReadHeader/io.Reader", func(b *testing.B) {
		r := &loopReaderB{b: wire}
		b.ReportAllocs()
		for b.Loop() {
			_, _ = ReadHeader(r)
		}
	})
	b.Run("WriteHeader/bufio", func(b *testing.B) {
		bw := bufio.NewWriter(io.Discard)
		b.ReportAllocs()
		for b.Loop() {
			_ = WriteHeader(bw, h)
		}
	})
	b.Run("WriteHeader/io.Writer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = WriteHeader(io.Discard, h)
		}
	})
}

func BenchmarkParser(b *testing.B) {
	for _, n := range []int{16, 1 << 10, 64 << 10} {
		wire := AppendFrame(nil, NewBinaryFrame(make([]byte, n)).Masked([4]byte{1, 2, 3, 4}))
		work := make([]byte, len(wire))
		b.Run(sizeName(n), func(b *testing.B) {
			var ps Parser
			b.ReportAllocs()
			b.SetBytes(int64(len(wire)))
			for b.Loop() {
				copy(work, wire)
				for p := work; len(p) > 0; {
					_, k, _ := ps.Parse(p)
					p = p[k:]
				}
			}
		})
	}
}

func BenchmarkWriteFrame(b *testing.B) {
	for _, n := range []int{16, 1 << 10, 64 << 10} {
		f := NewBinaryFrame(make([]byte, n))
		for _, masked := range []bool{false, true} {
			name := "server/" + sizeName(n)
			if masked {
				f = f.Masked([4]byte{1, 2, 3, 4})
				name = "client/" + sizeName(n)
			}
			b.Run(name, func(b *testing.B) {
				bw := bufio.NewWriter(io.Discard)
				b.ReportAllocs()
				b.SetBytes(int64(n))
				for b.Loop() {
					_ = WriteFrame(bw, f)
				}
			})
		}
	}
}

// loopReaderB serves the same bytes forever (the test one lives behind a
// build tag).
type loopReaderB struct {
	b   []byte
	off int
}

func (r *loopReaderB) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], r.b[r.off:])
		r.off = (r.off + k) % len(r.b)
		n += k
	}
	return n, nil
}
