package wsflate

import (
	"io"

	"github.com/sluice-ws/sluice/ws"
)

// maxTrailer bounds the payload bytes accepted after a DEFLATE block with
// BFINAL set. RFC 7692 §7.2.3.4 leaves the header bits of an empty stored
// block there, in one byte; anything longer is data the inflater would
// silently drop.
const maxTrailer = 16

// recvWindow returns the history a receiver keeps for a peer window of
// 2^bits bytes. For 8 it keeps 512 bytes: zlib has no 256-byte window for
// raw DEFLATE and compresses with 512 bytes when asked for 8, so peers
// built on it (browsers, Node's ws, Python) break the bound by that much;
// accepting their streams costs 256 bytes per connection.
func recvWindow(bits int) int { return 1 << max(bits, MinWindowBits+1) }

// receiver inflates the messages of one connection (a Receiver).
type receiver struct {
	takeover bool
	hist     window    // the peer's last messages, with context takeover
	cur      *inflater // borrowed for the message being read
	msg      messageReader
}

func newReceiver(takeover bool, bits int) *receiver {
	r := &receiver{takeover: takeover}
	r.hist.size = recvWindow(bits)
	r.msg.r = r
	return r
}

// Rsv returns ws.Rsv1, the bit of compressed messages (RFC 7692 §6).
func (r *receiver) Rsv() byte { return ws.Rsv1 }

// NextReader returns the reader of the inflated data of the message whose
// first frame header is h and whose raw payload, across its fragments,
// src yields; src itself when h lacks RSV1. The reader returns at most
// len(p) bytes per Read, inflating no more than one 32 KiB window ahead,
// so that a limit on the message size stops a decompression bomb after
// little work. Corrupt data fails with ErrCorrupt or ErrTrailingData;
// errors of src are returned as they are. Starting a message abandons the
// previous one.
func (r *receiver) NextReader(h ws.Header, src io.Reader) (io.Reader, error) {
	r.release()
	if h.Rsv&ws.Rsv1 == 0 {
		return src, nil
	}
	var dict []byte
	if r.takeover {
		dict = r.hist.bytes()
	}
	r.cur = getInflater(src, nil, dict)
	r.msg.err = nil
	return &r.msg, nil
}

// release returns the borrowed inflater, if any, to its pool.
func (r *receiver) release() {
	if r.cur != nil {
		putInflater(r.cur)
		r.cur = nil
	}
}

// messageReader reads one message for a receiver.
type messageReader struct {
	r   *receiver
	err error // sticky: the message has ended, with io.EOF or an error
}

func (m *messageReader) Read(p []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	r := m.r
	n, err := r.cur.fr.Read(p)
	if r.takeover && n > 0 {
		r.hist.write(p[:n])
	}
	if err == nil {
		return n, nil
	}
	if err == io.EOF {
		err = r.cur.end()
	} else {
		err = r.cur.fail(err)
	}
	r.release()
	m.err = err
	if err == io.EOF && r.takeover {
		r.hist.bytes() // put the ring in order while it is warm
	}
	return n, err
}

// end checks what follows the DEFLATE stream once the inflater has
// stopped. Normally that is the end of the payload, and the inflater
// stopped in inflateTail. When the payload had its own final block
// (RFC 7692 §7.2.3.4) the rest of the payload is read and dropped, up to
// maxTrailer bytes. It returns io.EOF, or the error that ends the message.
func (f *inflater) end() error {
	consumed := f.src.yielded() - int64(f.br.Buffered())
	for !f.src.eof {
		if f.src.n-consumed > maxTrailer {
			return ErrTrailingData
		}
		if _, err := f.br.Discard(f.br.Buffered() + 1); err != nil && err != io.EOF {
			return f.fail(err)
		}
	}
	if f.src.n-consumed > maxTrailer {
		return ErrTrailingData
	}
	return io.EOF
}

// fail maps an error of the inflater: an error of the payload's source is
// returned as it is, anything else means corrupt data.
func (f *inflater) fail(err error) error {
	if f.src.err != nil {
		return f.src.err
	}
	if err == io.EOF {
		return io.EOF
	}
	return ErrCorrupt
}

// AppendDecompress inflates payload, the concatenated payloads of the
// frames of one message received with RSV1 set, and appends the result to
// dst. The message must not refer to earlier ones: the peer compressed it
// without context takeover, or it is the first of its connection (the
// Receiver of Bind handles the rest). It stops with ErrMessageTooBig as soon as the message
// would exceed limit bytes, having inflated at most one 32 KiB window
// more; limit <= 0 means no limit. Corrupt data fails with ErrCorrupt or
// ErrTrailingData. On error dst holds the data inflated so far.
//
// AppendDecompress does not allocate when dst has room for the result.
func AppendDecompress(dst, payload []byte, limit int) ([]byte, error) {
	f := getInflater(nil, payload, nil)
	defer putInflater(f)
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		room := cap(dst) - len(dst)
		if limit > 0 {
			// One byte over the limit is enough to know.
			room = min(room, limit-(len(dst)-start)+1)
		}
		n, err := f.fr.Read(dst[len(dst) : len(dst)+room])
		dst = dst[:len(dst)+n]
		if limit > 0 && len(dst)-start > limit {
			return dst[:start+limit], ErrMessageTooBig
		}
		switch {
		case err == io.EOF:
			if err = f.end(); err == io.EOF {
				return dst, nil
			}
			return dst, err
		case err != nil:
			return dst, f.fail(err)
		}
	}
}
