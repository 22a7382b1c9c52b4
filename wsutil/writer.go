package wsutil

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
	"sync"

	"github.com/sluice-ws/sluice/ws"
)

// DefaultWriteBufferSize is the buffer size of NewWriter.
const DefaultWriteBufferSize = 4096

// headroom is the space kept in front of the buffered payload for the frame
// header, so that header and payload leave in one Write.
const headroom = ws.MaxHeaderSize

// Writer writes one message at a time as WebSocket frames. Write buffers
// data; when the buffer (or FragmentSize) fills up, the buffered data goes
// out as a non-final frame, and Flush sends the rest as the final frame,
// ending the message. The next Write starts a new message with the same
// opcode. Large writes skip the buffer.
//
// On the client side every frame gets a fresh masking key (RFC 6455 §5.3)
// from math/rand/v2's generator: a ChaCha8 stream per thread, seeded by the
// runtime from the operating system's entropy source (the one crypto/rand
// reads) and unpredictable to the peer, at a few nanoseconds per key
// instead of a system call.
//
// Errors are sticky. A Writer is not safe for concurrent use, and nothing
// else may write to its destination while a message is half written.
type Writer struct {
	// FragmentSize, when positive, caps the payload of every frame; a
	// longer message goes out in fragments (WebSocket-Node's
	// fragmentOutgoingMessages and fragmentationThreshold). Otherwise
	// frames are as large as the buffer, or as a large Write.
	FragmentSize int
	// Extension, if set, encodes each message (permessage-deflate). Set
	// it to nil between messages to send a message as it is.
	Extension SendExtension

	side ws.Side
	dst  io.Writer
	op   ws.OpCode
	buf  []byte // headroom + payload
	n    int    // payload bytes in buf[headroom:]

	started bool           // a frame of this message has been sent
	began   bool           // the extension was asked about this message
	enc     MessageEncoder // encoder of this message, if any
	rsv     byte           // RSV bits for the first frame
	sink    encodedSink    // where enc writes
	err     error
}

// encodedSink receives the encoder's output.
type encodedSink struct{ w *Writer }

func (s *encodedSink) Write(p []byte) (int, error) { return s.w.writeRaw(p) }

// NewWriter returns a Writer of messages with opcode op (ws.OpText or
// ws.OpBinary) for the given side, with a DefaultWriteBufferSize buffer.
func NewWriter(dst io.Writer, side ws.Side, op ws.OpCode) *Writer {
	return NewWriterSize(dst, side, op, DefaultWriteBufferSize)
}

// NewWriterSize is NewWriter with a buffer for size bytes of payload
// (at least 64).
func NewWriterSize(dst io.Writer, side ws.Side, op ws.OpCode, size int) *Writer {
	w := &Writer{buf: make([]byte, headroom+max(size, 64))}
	w.Reset(dst, side, op)
	return w
}

// Reset discards any unflushed data and the error state and makes w write
// messages with opcode op to dst as side, keeping its buffer and
// configuration.
func (w *Writer) Reset(dst io.Writer, side ws.Side, op ws.OpCode) {
	*w = Writer{
		FragmentSize: w.FragmentSize,
		Extension:    w.Extension,
		side:         side,
		dst:          dst,
		op:           op,
		buf:          w.buf,
	}
	w.sink.w = w
}

// frameCap returns the payload size of a full frame.
func (w *Writer) frameCap() int {
	c := len(w.buf) - headroom
	if w.FragmentSize > 0 && w.FragmentSize < c {
		c = w.FragmentSize
	}
	return c
}

// Buffered returns the number of payload bytes waiting for the next frame.
func (w *Writer) Buffered() int { return w.n }

// Available returns how many bytes fit before the next frame goes out.
func (w *Writer) Available() int { return w.frameCap() - w.n }

// begin asks the extension, once per message, whether to encode it.
func (w *Writer) begin(size int) {
	if w.began {
		return
	}
	w.began = true
	if w.Extension != nil {
		w.enc, w.rsv = w.Extension.NextWriter(&w.sink, size)
	}
}

// Write adds p to the current message. It never sends the final frame:
// call Flush to end the message.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	w.begin(-1)
	if w.enc != nil {
		n, err := w.enc.Write(p)
		if err != nil && w.err == nil {
			w.err = err
		}
		return n, w.err
	}
	return w.writeRaw(p)
}

// writeRaw frames p, which is already encoded.
func (w *Writer) writeRaw(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	total := len(p)
	for len(p) > 0 {
		fc := w.frameCap()
		if w.n == fc {
			if err := w.flushFrame(false); err != nil {
				return total - len(p), err
			}
		}
		if w.n == 0 && len(p) > fc {
			// Send straight from p, keeping at most a frame's worth
			// buffered so that Flush can make it the final frame: whole
			// fragments when they fit the buffer, else all but a
			// buffer's worth, in fragments of at most FragmentSize.
			k := len(p) - fc
			switch {
			case w.FragmentSize == fc:
				k = fc
			case w.FragmentSize > 0:
				k = min(k, w.FragmentSize)
			}
			if err := w.writeFrame(p[:k], false); err != nil {
				return total - len(p), err
			}
			p = p[k:]
			continue
		}
		k := copy(w.buf[headroom+w.n:headroom+fc], p)
		w.n += k
		p = p[k:]
	}
	return total, nil
}

// header returns the header of the next frame of the current message.
func (w *Writer) header(length int, fin bool) ws.Header {
	h := ws.Header{Fin: fin, OpCode: w.op, Length: int64(length)}
	if w.started {
		h.OpCode = ws.OpContinuation
	} else {
		h.Rsv = w.rsv
	}
	if w.side == ws.ClientSide {
		h.Masked = true
		binary.LittleEndian.PutUint32(h.Mask[:], rand.Uint32())
	}
	return h
}

// flushFrame sends the buffered payload as one frame.
func (w *Writer) flushFrame(fin bool) error {
	h := w.header(w.n, fin)
	start := headroom - ws.HeaderSize(h)
	ws.AppendHeader(w.buf[start:start], h)
	payload := w.buf[headroom : headroom+w.n]
	if h.Masked {
		ws.Cipher(payload, h.Mask, 0)
	}
	w.started = true
	w.n = 0
	if _, err := w.dst.Write(w.buf[start : headroom+len(payload)]); err != nil {
		w.err = err
		return err
	}
	return nil
}

// writeFrame sends p as one frame without copying it into the buffer,
// which must be empty. A client masks p through the buffer, chunk by chunk.
func (w *Writer) writeFrame(p []byte, fin bool) error {
	h := w.header(len(p), fin)
	w.started = true
	if err := ws.WriteHeader(w.dst, h); err != nil {
		w.err = err
		return err
	}
	if !h.Masked {
		if _, err := w.dst.Write(p); err != nil {
			w.err = err
			return err
		}
		return nil
	}
	scratch := w.buf[headroom:]
	for off := 0; off < len(p); {
		k := copy(scratch, p[off:])
		ws.Cipher(scratch[:k], h.Mask, off)
		if _, err := w.dst.Write(scratch[:k]); err != nil {
			w.err = err
			return err
		}
		off += k
	}
	return nil
}

// Flush ends the current message: it sends the buffered data (and what an
// extension still holds) as the final frame. A message with no data at all
// goes out as one empty frame.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if w.enc != nil {
		err := w.enc.Finish()
		w.enc = nil
		if err != nil {
			w.err = err
			return err
		}
	}
	err := w.flushFrame(true)
	w.started, w.began, w.rsv = false, false, 0
	return err
}

// FlushFragment sends the data buffered so far as a non-final frame,
// without ending the message. With an extension, data the encoder still
// holds stays there until later.
func (w *Writer) FlushFragment() error {
	if w.err != nil {
		return w.err
	}
	w.begin(-1)
	return w.flushFrame(false)
}

// readChunkPool holds scratch buffers for ReadFrom through an extension.
var readChunkPool = sync.Pool{New: func() any { return new([DefaultWriteBufferSize]byte) }}

// ReadFrom streams src into the current message until src returns io.EOF,
// sending full frames as they fill up (the seeds' stream()). It does not
// end the message: call Flush afterwards.
func (w *Writer) ReadFrom(src io.Reader) (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	w.begin(-1)
	var total int64
	if w.enc != nil {
		chunk := readChunkPool.Get().(*[DefaultWriteBufferSize]byte)
		defer readChunkPool.Put(chunk)
		for {
			n, err := src.Read(chunk[:])
			if n > 0 {
				if _, werr := w.enc.Write(chunk[:n]); werr != nil {
					w.err = werr
					return total, werr
				}
				total += int64(n)
			}
			if err == io.EOF {
				return total, nil
			}
			if err != nil {
				return total, err
			}
		}
	}
	for {
		fc := w.frameCap()
		if w.n == fc {
			if err := w.flushFrame(false); err != nil {
				return total, err
			}
		}
		n, err := src.Read(w.buf[headroom+w.n : headroom+fc])
		w.n += n
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}
