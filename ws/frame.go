package ws

import (
	"bufio"
	"io"
	"sync"
)

// Frame is a frame header with its payload. Payload is always the plain,
// unmasked data: ReadFrame unmasks what it reads, and WriteFrame and
// AppendFrame mask a copy when Header.Masked is set, leaving Payload as it
// was. Header.Length must equal len(Payload) for WriteFrame and AppendFrame;
// the constructors set it.
type Frame struct {
	Header  Header
	Payload []byte
}

// NewFrame returns an unmasked frame with the given opcode, FIN bit and
// payload. The payload is not copied. To send it from a client, use Masked.
func NewFrame(op OpCode, fin bool, payload []byte) Frame {
	return Frame{
		Header:  Header{Fin: fin, OpCode: op, Length: int64(len(payload))},
		Payload: payload,
	}
}

// NewTextFrame returns a final text frame carrying p, which must be UTF-8.
func NewTextFrame(p []byte) Frame { return NewFrame(OpText, true, p) }

// NewBinaryFrame returns a final binary frame carrying p.
func NewBinaryFrame(p []byte) Frame { return NewFrame(OpBinary, true, p) }

// NewPingFrame returns a ping frame carrying p (at most 125 bytes).
func NewPingFrame(p []byte) Frame { return NewFrame(OpPing, true, p) }

// NewPongFrame returns a pong frame carrying p (at most 125 bytes).
func NewPongFrame(p []byte) Frame { return NewFrame(OpPong, true, p) }

// NewCloseFrame returns a close frame with the given code and reason. Code 0
// gives an empty body, as StatusNoStatusRcvd means "no code sent". A reason
// longer than the 123 bytes that fit is cut at the last whole UTF-8
// sequence that fits.
func NewCloseFrame(code StatusCode, reason string) Frame {
	return NewFrame(OpClose, true, AppendCloseBody(nil, code, reason))
}

// Masked returns a copy of f to be sent by a client, masked with mask. The
// payload is shared, not copied: masking happens as the frame is written.
func (f Frame) Masked(mask [4]byte) Frame {
	f.Header.Masked = true
	f.Header.Mask = mask
	return f
}

// ReadFrame reads one whole frame from r and unmasks its payload. It checks
// no protocol rule except the length: a frame longer than maxPayload fails
// with ErrFrameTooBig before any payload is read (maxPayload <= 0 means no
// limit). Whatever the limit, memory grows with the bytes that actually
// arrive, never with the length a header claims, so a lying header cannot
// exhaust memory by itself.
//
// At a clean end of stream before the frame starts ReadFrame returns
// io.EOF; a frame cut short gives io.ErrUnexpectedEOF. The payload is newly
// allocated and belongs to the caller. For zero-allocation reading use
// ReadHeader and read the payload into your own buffer, or wsutil.Reader.
func ReadFrame(r io.Reader, maxPayload int64) (Frame, error) {
	h, err := ReadHeader(r)
	if err != nil {
		return Frame{}, err
	}
	if maxPayload > 0 && h.Length > maxPayload {
		return Frame{Header: h}, ErrFrameTooBig
	}
	p, err := readPayload(r, h.Length)
	if err != nil {
		return Frame{Header: h}, err
	}
	if h.Masked {
		Cipher(p, h.Mask, 0)
	}
	return Frame{Header: h, Payload: p}, nil
}

// readChunk bounds the first allocation of readPayload.
const readChunk = 64 << 10

// readPayload reads exactly n bytes. It allocates at most readChunk up
// front and grows as data arrives.
func readPayload(r io.Reader, n int64) ([]byte, error) {
	if n <= readChunk {
		p := make([]byte, n)
		if _, err := io.ReadFull(r, p); err != nil {
			return nil, eofErr(1, err)
		}
		return p, nil
	}
	p := make([]byte, 0, readChunk)
	for int64(len(p)) < n {
		if len(p) == cap(p) {
			p = append(p, 0)[:len(p)]
		}
		want := min(int64(cap(p)), n) - int64(len(p))
		k, err := io.ReadFull(r, p[len(p):len(p)+int(want)])
		p = p[:len(p)+k]
		if err != nil {
			return nil, eofErr(1, err)
		}
	}
	return p, nil
}

// WriteFrame writes f to w: the header, then the payload, masked on the way
// out when f.Header.Masked is set. f.Payload itself is never modified.
//
// WriteFrame does not allocate in the steady state. With a *bufio.Writer it
// encodes and masks straight into the writer's buffer. With any other
// io.Writer, such as a bare net.Conn, a frame of up to 4 KiB, header
// included, goes out in a single Write call: each call may be a syscall
// and, on a TCP connection, a segment of its own.
func WriteFrame(w io.Writer, f Frame) error {
	bw, ok := w.(*bufio.Writer)
	if !ok {
		return writeFrameChunks(w, f)
	}
	if err := WriteHeader(bw, f.Header); err != nil {
		return err
	}
	if !f.Header.Masked {
		_, err := bw.Write(f.Payload)
		return err
	}
	p, mask := f.Payload, f.Header.Mask
	for off := 0; off < len(p); {
		if bw.Available() == 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
		b := bw.AvailableBuffer()
		b = append(b, p[off:off+min(cap(b), len(p)-off)]...)
		Cipher(b, mask, off)
		if _, err := bw.Write(b); err != nil {
			return err
		}
		off += len(b)
	}
	return nil
}

// maskChunk is the size of the pooled buffers through which WriteFrame
// writes to writers other than *bufio.Writer.
const maskChunk = 4 << 10

var maskPool = sync.Pool{New: func() any { return new([maskChunk]byte) }}

// writeFrameChunks writes f through a pooled buffer: the header with as
// much of the payload as fits after it, masked when f is, then the rest of
// a masked payload chunk by chunk. An unmasked payload that does not fit
// goes out in a second Write as it is, rather than copied.
func writeFrameChunks(w io.Writer, f Frame) error {
	buf := maskPool.Get().(*[maskChunk]byte)
	defer maskPool.Put(buf)
	hs := len(AppendHeader(buf[:0], f.Header))
	p, mask := f.Payload, f.Header.Mask
	if !f.Header.Masked && hs+len(p) > maskChunk {
		if _, err := w.Write(buf[:hs]); err != nil {
			return err
		}
		_, err := w.Write(p)
		return err
	}
	n := copy(buf[hs:], p)
	if f.Header.Masked {
		Cipher(buf[hs:hs+n], mask, 0)
	}
	if _, err := w.Write(buf[:hs+n]); err != nil {
		return err
	}
	for off := n; off < len(p); off += n {
		n = copy(buf[:], p[off:])
		Cipher(buf[:n], mask, off)
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
	}
	return nil
}

// AppendFrame appends the wire bytes of f to dst, masking the payload copy
// when f.Header.Masked is set, and returns the extended slice.
//
// The result is a compiled frame: write the same bytes to any number of
// connections instead of encoding the frame for each one, as a broadcast
// does. Frames sent by a server are unmasked, so one compiled frame suits
// every client. A client must not reuse a masked frame: each frame it sends
// needs a fresh, unpredictable key (RFC 6455 §5.3).
func AppendFrame(dst []byte, f Frame) []byte {
	dst = AppendHeader(dst, f.Header)
	n := len(dst)
	dst = append(dst, f.Payload...)
	if f.Header.Masked {
		Cipher(dst[n:], f.Header.Mask, 0)
	}
	return dst
}

// Compiled frames that servers send often. They are unmasked, so only a
// server may write them. Never modify them.
var (
	// CompiledPing is an empty ping frame.
	CompiledPing = AppendFrame(nil, NewPingFrame(nil))
	// CompiledPong is an empty pong frame.
	CompiledPong = AppendFrame(nil, NewPongFrame(nil))
	// CompiledCloseNormal is a close frame with code 1000 and no reason.
	CompiledCloseNormal = AppendFrame(nil, NewCloseFrame(StatusNormalClosure, ""))
	// CompiledCloseGoingAway is a close frame with code 1001 and no reason.
	CompiledCloseGoingAway = AppendFrame(nil, NewCloseFrame(StatusGoingAway, ""))
)
