package ws

import (
	"bufio"
	"encoding/binary"
	"io"
	"sync"
)

// Header sizes: 2 fixed bytes, up to 8 bytes of extended length and a 4-byte
// masking key (RFC 6455 §5.2).
const (
	MinHeaderSize = 2
	MaxHeaderSize = 14
)

// The RSV bits of Header.Rsv. RFC 7692 (permessage-deflate) uses Rsv1.
const (
	Rsv1 byte = 1 << 2
	Rsv2 byte = 1 << 1
	Rsv3 byte = 1 << 0
)

// MaxControlPayload is the largest payload a control frame may carry
// (RFC 6455 §5.5).
const MaxControlPayload = 125

// Header is a frame header (RFC 6455 §5.2).
//
// Rsv holds the three reserved bits as Rsv1|Rsv2|Rsv3. Mask is meaningful
// only when Masked is set. Length is the payload length; it is never
// negative in a header returned by this package.
type Header struct {
	Fin    bool
	Rsv    byte
	OpCode OpCode
	Masked bool
	Mask   [4]byte
	Length int64
}

// HeaderSize returns the number of bytes h occupies on the wire.
func HeaderSize(h Header) int {
	n := 2
	switch {
	case h.Length > 0xffff:
		n += 8
	case h.Length > 125:
		n += 2
	}
	if h.Masked {
		n += 4
	}
	return n
}

// headerSizeFrom returns the size of the header whose first two bytes are
// b0 and b1.
func headerSizeFrom(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// ParseHeader parses the frame header at the start of p and returns it with
// the number of bytes it took. When p holds only part of a header it returns
// io.ErrShortBuffer and n == 0, so that a caller fed by an event loop can wait
// for more bytes. It checks only what the encoding itself forbids (a 64-bit
// length with the top bit set); use CheckHeader for the protocol rules.
//
// ParseHeader never allocates.
func ParseHeader(p []byte) (h Header, n int, err error) {
	if len(p) < MinHeaderSize {
		return h, 0, io.ErrShortBuffer
	}
	b0, b1 := p[0], p[1]
	n = headerSizeFrom(b1)
	if len(p) < n {
		return h, 0, io.ErrShortBuffer
	}
	h.Fin = b0&0x80 != 0
	h.Rsv = (b0 >> 4) & 0x7
	h.OpCode = OpCode(b0 & 0xf)
	h.Masked = b1&0x80 != 0
	i := 2
	switch l := b1 & 0x7f; l {
	case 126:
		h.Length = int64(binary.BigEndian.Uint16(p[2:4]))
		i = 4
	case 127:
		u := binary.BigEndian.Uint64(p[2:10])
		if u>>63 != 0 {
			return Header{}, 0, ErrHeaderLengthMSB
		}
		h.Length = int64(u)
		i = 10
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		copy(h.Mask[:], p[i:i+4])
	}
	return h, n, nil
}

// AppendHeader appends the wire encoding of h to dst and returns the
// extended slice. It uses the shortest length encoding, as RFC 6455 §5.2
// requires. Bits of h.Rsv above Rsv1 and of h.OpCode above 0xF are ignored.
// A negative Length is encoded as 0.
//
// AppendHeader does not allocate when cap(dst)-len(dst) >= MaxHeaderSize.
func AppendHeader(dst []byte, h Header) []byte {
	b0 := byte(h.OpCode&0xf) | (h.Rsv&0x7)<<4
	if h.Fin {
		b0 |= 0x80
	}
	var b1 byte
	if h.Masked {
		b1 = 0x80
	}
	l := h.Length
	switch {
	case l < 0:
		dst = append(dst, b0, b1)
	case l <= 125:
		dst = append(dst, b0, b1|byte(l))
	case l <= 0xffff:
		dst = append(dst, b0, b1|126, byte(l>>8), byte(l))
	default:
		dst = append(dst, b0, b1|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(l))
	}
	if h.Masked {
		dst = append(dst, h.Mask[0], h.Mask[1], h.Mask[2], h.Mask[3])
	}
	return dst
}

// scratchPool holds header-sized scratch arrays for readers and writers that
// are not *bufio.Reader or *bufio.Writer. A slice handed to an arbitrary
// io.Reader escapes to the heap; taking it from a pool keeps the steady state
// free of allocations.
var scratchPool = sync.Pool{New: func() any { return new([MaxHeaderSize]byte) }}

// ReadHeader reads one frame header from r. It reads exactly the header's
// bytes and nothing of the payload. At a clean end of stream, before any
// header byte, it returns io.EOF; in the middle of a header,
// io.ErrUnexpectedEOF.
//
// With a *bufio.Reader that buffers at least MaxHeaderSize bytes (any
// bufio.Reader does: its minimum size is 16) ReadHeader parses in place
// and does not allocate. With any other io.Reader it reads into a pooled
// scratch array: no allocation in the steady state, but up to three Read
// calls per header, so wrap a net.Conn in a bufio.Reader.
func ReadHeader(r io.Reader) (Header, error) {
	if br, ok := r.(*bufio.Reader); ok {
		return readHeaderBufio(br)
	}
	b := scratchPool.Get().(*[MaxHeaderSize]byte)
	h, err := readHeaderInto(r, b)
	scratchPool.Put(b)
	return h, err
}

func readHeaderBufio(br *bufio.Reader) (Header, error) {
	if br.Buffered() >= MaxHeaderSize {
		// The common case: the whole header is buffered; parse in one go.
		p, _ := br.Peek(MaxHeaderSize)
		h, n, err := ParseHeader(p)
		if err != nil {
			return Header{}, err
		}
		_, _ = br.Discard(n)
		return h, nil
	}
	p, err := br.Peek(MinHeaderSize)
	if err != nil {
		return Header{}, eofErr(len(p), err)
	}
	n := headerSizeFrom(p[1])
	if p, err = br.Peek(n); err != nil {
		return Header{}, eofErr(len(p), err)
	}
	h, _, err := ParseHeader(p)
	if err != nil {
		return Header{}, err
	}
	_, _ = br.Discard(n) // cannot fail: n bytes are buffered
	return h, nil
}

func readHeaderInto(r io.Reader, b *[MaxHeaderSize]byte) (Header, error) {
	if k, err := io.ReadFull(r, b[:MinHeaderSize]); err != nil {
		return Header{}, eofErr(k, err)
	}
	n := headerSizeFrom(b[1])
	if n > MinHeaderSize {
		if _, err := io.ReadFull(r, b[MinHeaderSize:n]); err != nil {
			return Header{}, eofErr(1, err)
		}
	}
	h, _, err := ParseHeader(b[:n])
	return h, err
}

// eofErr turns an end of stream after read bytes into io.ErrUnexpectedEOF.
func eofErr(read int, err error) error {
	if read > 0 && err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// WriteHeader writes the wire encoding of h to w.
//
// With a *bufio.Writer it encodes straight into the writer's buffer and does
// not allocate. With any other io.Writer it encodes into a pooled scratch
// array and makes one Write call: no allocation in the steady state.
func WriteHeader(w io.Writer, h Header) error {
	if bw, ok := w.(*bufio.Writer); ok && bw.Available() >= MaxHeaderSize {
		_, err := bw.Write(AppendHeader(bw.AvailableBuffer(), h))
		return err
	}
	b := scratchPool.Get().(*[MaxHeaderSize]byte)
	_, err := w.Write(AppendHeader(b[:0], h))
	scratchPool.Put(b)
	return err
}
