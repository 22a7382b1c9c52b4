package wsflate

import (
	"bufio"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
)

// Compressors and decompressors are big (a klauspost flate.Writer holds
// about 1 MiB, a reader about 40 KiB), so connections borrow them from
// pools for the length of one message and return them on every path:
// Finish, an error, or the start of the next message. Only the history
// that context takeover needs stays with a connection (see window).

// validLevel reports whether l is a level Extension.Level accepts.
func validLevel(l int) bool { return l >= HuffmanOnly && l <= BestCompression }

// normLevel maps the documented aliases to klauspost levels: 0 to
// DefaultLevel and -1 to 5.
func normLevel(l int) int {
	switch l {
	case 0:
		return DefaultLevel
	case -1:
		return 5
	}
	return l
}

// A deflater is a pooled compressor and the writer it compresses into.
type deflater struct {
	fw   *flate.Writer
	tail tailWriter   // fw's destination: holds back the flush marker
	app  appendWriter // tail's destination for the message helpers

	// stash holds the start of a message of unknown size until the
	// sender knows how much history to prime fw with.
	stash  [stashSize]byte
	nstash int
}

// deflaterKey returns the index of the pool for a level (normalised) and a
// window: one pool per klauspost configuration. Below 32 KiB only the
// window-bounded encoder keeps matches within the window, whatever the
// level; Huffman-only coding has no matches at all.
func deflaterKey(level, bits int) int {
	switch {
	case level == HuffmanOnly:
		return 0
	case bits == MaxWindowBits:
		return level // 1 to 9
	}
	return BestCompression + 1 + bits - MinWindowBits // 10 to 16
}

var deflaterPools [BestCompression + 1 + MaxWindowBits - MinWindowBits]sync.Pool

// getDeflater returns a compressor for level and bits whose state is
// undefined: reset it with ResetDict before use.
func getDeflater(level, bits int) *deflater {
	key := deflaterKey(level, bits)
	if d, ok := deflaterPools[key].Get().(*deflater); ok {
		return d
	}
	d := new(deflater)
	var err error
	if key > BestCompression {
		d.fw, err = flate.NewWriterWindow(&d.tail, 1<<bits)
	} else {
		d.fw, err = flate.NewWriter(&d.tail, level)
	}
	if err != nil {
		panic("wsflate: " + err.Error()) // unreachable: level and bits are checked
	}
	return d
}

// putDeflater returns d to its pool, dropping the references it holds to a
// connection.
func putDeflater(d *deflater, level, bits int) {
	d.tail.dst = nil
	d.app.b = nil
	deflaterPools[deflaterKey(level, bits)].Put(d)
}

// flushMarker is the empty stored block that ends a sync flush; RFC 7692
// §7.2.1 removes it from every compressed message.
var flushMarker = [4]byte{0x00, 0x00, 0xff, 0xff}

// tailWriter passes bytes on to dst but holds back the last four, so that
// the flush marker at the end of a message can be dropped even when the
// compressed stream has gone out in several fragments.
type tailWriter struct {
	dst  io.Writer
	tail [4]byte
	n    int // bytes held in tail
}

func (t *tailWriter) reset(dst io.Writer) { t.dst, t.n = dst, 0 }

func (t *tailWriter) Write(p []byte) (int, error) {
	if t.n+len(p) <= len(t.tail) {
		t.n += copy(t.tail[t.n:], p)
		return len(p), nil
	}
	if len(p) >= len(t.tail) {
		// Everything held, and all of p but its last four bytes, goes.
		if t.n > 0 {
			if _, err := t.dst.Write(t.tail[:t.n]); err != nil {
				return 0, err
			}
		}
		k := len(p) - len(t.tail)
		if k > 0 {
			if _, err := t.dst.Write(p[:k]); err != nil {
				return 0, err
			}
		}
		t.n = copy(t.tail[:], p[k:])
		return len(p), nil
	}
	// Only some held bytes go: keep the last four of tail+p.
	out := t.n + len(p) - len(t.tail)
	if _, err := t.dst.Write(t.tail[:out]); err != nil {
		return 0, err
	}
	copy(t.tail[:], t.tail[out:t.n])
	copy(t.tail[t.n-out:], p)
	t.n = len(t.tail)
	return len(p), nil
}

// finish ends the message: it drops the flush marker, or, should the
// stream not end with one, passes the held bytes on (the peer then sees an
// empty stored block more, which is harmless).
func (t *tailWriter) finish() error {
	if t.n == len(t.tail) && t.tail == flushMarker {
		t.n = 0
		return nil
	}
	n := t.n
	t.n = 0
	if n == 0 {
		return nil
	}
	_, err := t.dst.Write(t.tail[:n])
	return err
}

// appendWriter appends what is written to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// readerBufferSize is the size of the buffer through which an inflater
// reads compressed data: *bufio.Reader is the source klauspost's inflater
// reads fastest.
const readerBufferSize = 4 << 10

// An inflater is a pooled decompressor with its input plumbing.
type inflater struct {
	fr  io.ReadCloser // a klauspost inflater; also a flate.Resetter
	br  *bufio.Reader // reads src
	src source
}

var inflaterPool sync.Pool

// getInflater returns an inflater reading the payload from r (or, when r
// is nil, from b), primed with dict.
func getInflater(r io.Reader, b []byte, dict []byte) *inflater {
	f, _ := inflaterPool.Get().(*inflater)
	if f == nil {
		f = new(inflater)
		f.br = bufio.NewReaderSize(&f.src, readerBufferSize)
		f.fr = flate.NewReader(f.br)
	}
	f.src = source{r: r, b: b}
	f.br.Reset(&f.src)
	_ = f.fr.(flate.Resetter).Reset(f.br, dict) // never fails
	return f
}

// putInflater returns f to the pool, dropping its references to a
// connection.
func putInflater(f *inflater) {
	f.src = source{}
	inflaterPool.Put(f)
}

// inflateTail follows every message's payload: the flush marker that the
// sender removed (RFC 7692 §7.2.2), then an empty stored block with BFINAL
// set, so that the inflater ends with io.EOF right where the message does.
// A payload with no bytes at all, which no RFC 7692 sender produces, is
// read as an empty message: emptyTail gives it the header byte of the
// empty block too.
var (
	inflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}
	emptyTail   = []byte{0x00, 0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}
)

// source yields a message's payload, from r or else b, followed by
// inflateTail.
type source struct {
	r     io.Reader
	b     []byte
	n     int64  // payload bytes yielded
	tail  []byte // what is left of the tail, once the payload has ended
	ntail int    // tail bytes yielded
	eof   bool   // the payload has ended
	err   error  // r's error other than io.EOF
}

func (s *source) Read(p []byte) (int, error) {
	if !s.eof {
		var n int
		if s.r != nil {
			var err error
			n, err = s.r.Read(p)
			switch err {
			case nil:
			case io.EOF:
				s.eof = true
			default:
				s.err = err
				s.n += int64(n)
				return n, err
			}
		} else {
			n = copy(p, s.b)
			s.b = s.b[n:]
			s.eof = len(s.b) == 0
		}
		s.n += int64(n)
		if s.eof {
			s.tail = inflateTail
			if s.n == 0 {
				s.tail = emptyTail
			}
		}
		if n > 0 || !s.eof {
			return n, nil
		}
	}
	if len(s.tail) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.tail)
	s.tail = s.tail[n:]
	s.ntail += n
	return n, nil
}

// yielded returns the bytes read from s so far, payload and tail.
func (s *source) yielded() int64 { return s.n + int64(s.ntail) }
