package wsflate

import "sync"

// window keeps the last size bytes of a stream of messages: the history
// that context takeover carries from one message to the next
// (RFC 7692 §7.2.3.2). It is all a connection keeps between messages; a
// pooled compressor or inflater is primed with it when the next message
// starts.
//
// The buffer grows with the data, up to size bytes, so that a connection
// that sends little keeps little. Once full it is a ring; bytes rotates it
// back into order, once per message.
type window struct {
	buf  []byte // len(buf) <= size
	size int
	pos  int // once len(buf) == size: index of the oldest byte
}

// minWindowAlloc is the first allocation of a window's buffer.
const minWindowAlloc = 256

// write appends p to the history, forgetting what falls out of the window.
func (w *window) write(p []byte) {
	if len(p) >= w.size {
		p = p[len(p)-w.size:]
		w.grow(w.size)
		w.buf = append(w.buf[:0], p...)
		w.pos = 0
		return
	}
	if n := len(w.buf); n < w.size {
		k := min(len(p), w.size-n)
		w.grow(n + k)
		w.buf = append(w.buf, p[:k]...)
		if p = p[k:]; len(p) == 0 {
			return
		}
	}
	k := copy(w.buf[w.pos:], p)
	if k < len(p) {
		w.pos = copy(w.buf, p[k:])
	} else if w.pos += k; w.pos == w.size {
		w.pos = 0
	}
}

// grow makes room for n bytes, doubling up to size.
func (w *window) grow(n int) {
	if n <= cap(w.buf) {
		return
	}
	c := min(w.size, max(n, 2*cap(w.buf), minWindowAlloc))
	b := make([]byte, len(w.buf), c)
	copy(b, w.buf)
	w.buf = b
}

// rotateScratch holds the scratch arrays that bytes rotates through.
var rotateScratch = sync.Pool{New: func() any { return new([1 << MaxWindowBits]byte) }}

// bytes returns the history in order, oldest first. The slice is valid
// until the next write.
func (w *window) bytes() []byte {
	if w.pos != 0 {
		s := rotateScratch.Get().(*[1 << MaxWindowBits]byte)
		head := s[:w.pos]
		copy(head, w.buf[:w.pos])
		copy(w.buf, w.buf[w.pos:])
		copy(w.buf[len(w.buf)-w.pos:], head)
		rotateScratch.Put(s)
		w.pos = 0
	}
	return w.buf
}
