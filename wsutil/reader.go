package wsutil

import (
	"io"
	"slices"

	"github.com/sluice-ws/sluice/internal/bufpool"
	"github.com/sluice-ws/sluice/ws"
)

// DefaultMaxMessageSize is the message size limit of a Reader whose
// MaxMessageSize is 0.
const DefaultMaxMessageSize = 16 << 20

// DefaultReadBufferSize is the buffer size of NewReader.
const DefaultReadBufferSize = 4096

// Reader reads WebSocket messages from a stream of frames. It reassembles
// fragmented messages, hands control frames that arrive between fragments
// to OnControl, validates the UTF-8 of text messages as the bytes arrive
// (failing on the first invalid byte, RFC 6455 §8.1), enforces the frame
// and message size limits, and rejects frames that break the fragmentation
// rules of RFC 6455 §5.4. Every violation is returned as a *ws.ProtocolError
// that carries the close code to send; a close frame from the peer ends
// the stream with a ws.CloseError.
//
// There are two ways to read. NextMessage starts a message and Read then
// returns its data across all its fragments, ending with io.EOF.
// NextFrame starts one data frame and Read returns that frame's payload,
// ending with io.EOF at the frame's end (WebSocket-Node's
// assembleFragments: false). ReadMessage reads a whole message into a
// buffer you supply.
//
// A Reader built by NewReader buffers its source so that one read system
// call can bring in many frames. A zero Reader (or NewReaderSize with size
// 0) reads exactly the bytes of each frame and nothing more, which one-call
// helpers such as ReadMessage use on connections they do not own.
//
// Errors are sticky: once a Reader has returned an error other than io.EOF
// at a message end, every later call returns it. A Reader is not safe for
// concurrent use.
type Reader struct {
	// MaxFrameSize, when positive, fails a frame whose payload is longer
	// with ws.ErrFrameTooBig (close 1009) as soon as its header arrives.
	MaxFrameSize int64
	// MaxMessageSize bounds the size of a message after decoding: 0 means
	// DefaultMaxMessageSize, a negative value means no limit. A message
	// over it fails with ErrMessageTooBig (close 1009): for an unencoded
	// message as soon as a frame header shows it will not fit, for a
	// compressed one as soon as the inflated bytes pass the limit.
	MaxMessageSize int64
	// SkipUTF8 turns off the UTF-8 check of text messages.
	SkipUTF8 bool
	// OnControl, if set, is called with every control frame (ping, pong,
	// close) and its unmasked payload, which is valid only during the
	// call. A non-nil error stops the Reader and is returned. Whatever
	// OnControl does, a close frame then ends the stream: the Reader
	// returns ws.CloseError with the peer's code and reason, or the
	// *ws.ProtocolError of an invalid close body. ControlHandler.Handle is
	// the usual OnControl.
	OnControl func(h ws.Header, payload []byte) error
	// Extension, if set, decodes messages whose first frame carries its
	// RSV bits (permessage-deflate); NextFrame hands such a message out
	// whole.
	Extension RecvExtension

	side ws.Side
	src  io.Reader
	buf  []byte // read buffer; nil: read exact frames from src
	r, w int    // buf[r:w] holds unread bytes
	rerr error  // error from src, returned once buf is drained

	frame ws.Header // header of the data frame being read
	left  int64     // payload bytes of frame not yet read
	off   int64     // payload bytes of frame already read (unmask offset)

	active    bool  // a message or frame has been started and not ended
	frameMode bool  // Read stops at frame ends (NextFrame)
	inMessage bool  // a message is open: continuations are expected
	text      bool  // the open message is text
	size      int64 // bytes of the open message so far (decoded)
	raw       int64 // bytes of the open message on the wire
	dec       io.Reader
	utf8      UTF8Validator
	src2      rawSource // the decoder's view of the raw payload
	rawErr    error     // last error readRaw gave the decoder
	err       error     // sticky error

	ctl [ws.MaxControlPayload]byte

	// A lean Reader (a Conn's) holds no buffer while idle: between
	// messages, with nothing buffered, it waits for bytes with small, and
	// borrows a buffer of lean bytes (big) once a message is arriving.
	lean  int
	big   *bufpool.Buf
	small [smallRead]byte
	// wait, if set, is called before every blocking read of the source,
	// with whether a message is in progress (a Conn arms deadlines there).
	wait func(mid bool)
}

// smallRead is what a lean Reader reads into while idle: a frame header,
// and the whole of a small message.
const smallRead = 64

// rawSource gives an extension decoder the raw payload of the current
// message across its fragments.
type rawSource struct{ r *Reader }

func (s *rawSource) Read(p []byte) (int, error) {
	n, err := s.r.readRaw(p)
	if err != nil && err != io.EOF {
		// Decoders may wrap what their source returns (compress/flate
		// does); keep the original for Read to report.
		s.r.rawErr = err
	}
	return n, err
}

// NewReader returns a Reader for the given side that reads frames from src
// through a buffer of DefaultReadBufferSize bytes.
func NewReader(src io.Reader, side ws.Side) *Reader {
	return NewReaderSize(src, side, DefaultReadBufferSize)
}

// NewReaderSize returns a Reader whose buffer has at least size bytes, or,
// with size 0, no buffer at all: it then reads exactly the bytes of each
// frame from src, so that other code can go on reading src after it. A
// buffer smaller than ws.MaxHeaderSize is rounded up.
func NewReaderSize(src io.Reader, side ws.Side, size int) *Reader {
	r := &Reader{}
	if size > 0 {
		r.buf = make([]byte, max(size, ws.MaxHeaderSize))
	}
	r.Reset(src, side)
	return r
}

// Reset discards the Reader's state and makes it read from src as the given
// side, keeping its buffer and configuration.
func (r *Reader) Reset(src io.Reader, side ws.Side) {
	r.releaseBuffer()
	*r = Reader{
		MaxFrameSize:   r.MaxFrameSize,
		MaxMessageSize: r.MaxMessageSize,
		SkipUTF8:       r.SkipUTF8,
		OnControl:      r.OnControl,
		Extension:      r.Extension,
		side:           side,
		src:            src,
		buf:            r.buf,
		lean:           r.lean,
		wait:           r.wait,
	}
	r.src2.r = r
	if r.lean > 0 {
		r.buf = r.small[:]
	}
}

// releaseBuffer gives back the buffer a lean Reader borrowed.
func (r *Reader) releaseBuffer() {
	if r.big != nil {
		r.big.Release()
		r.big = nil
		r.buf = r.small[:]
		r.r, r.w = 0, 0
	}
}

// idle reports whether a lean Reader is between messages with nothing
// buffered: the next read of its source would wait for the peer.
func (r *Reader) idle() bool {
	return r.lean > 0 && !r.active && !r.inMessage && r.r == r.w && r.rerr == nil && r.err == nil
}

// fed gives an idle lean Reader the result of a read of its source into
// buf (r.small, or its borrowed buffer), made by its owner.
func (r *Reader) fed(buf []byte, n int, err error) {
	r.buf, r.r, r.w = buf, 0, n
	if err != nil {
		r.rerr = err
	}
}

// pickBuffer makes a lean Reader wait with its small buffer when it is
// idle, and read into a borrowed one while a message arrives.
func (r *Reader) pickBuffer(mid bool) {
	idle := !mid && r.r == r.w
	switch {
	case idle && r.big != nil:
		r.releaseBuffer()
	case !idle && r.big == nil:
		r.big = bufpool.Get(r.lean)
		b := r.big.B[:cap(r.big.B)]
		n := copy(b, r.buf[r.r:r.w])
		r.buf, r.r, r.w = b, 0, n
	}
}

// Buffered returns the number of bytes read from the source but not yet
// consumed.
func (r *Reader) Buffered() int { return r.w - r.r }

// preload puts bytes that arrived before the Reader took over the source
// (ws.Handshake.Buffered) in front of everything it reads. It grows the
// buffer when needed.
func (r *Reader) preload(p []byte) {
	if len(p) == 0 {
		return
	}
	switch {
	case r.lean > 0:
		r.releaseBuffer()
		r.big = bufpool.Get(max(len(p), r.lean))
		r.buf = r.big.B[:cap(r.big.B)]
	case r.buf == nil || len(r.buf) < len(p):
		r.buf = make([]byte, max(len(p), DefaultReadBufferSize))
	}
	r.r, r.w = 0, copy(r.buf, p)
}

func (r *Reader) maxMessage() int64 {
	switch {
	case r.MaxMessageSize == 0:
		return DefaultMaxMessageSize
	case r.MaxMessageSize < 0:
		return 1<<63 - 1
	}
	return r.MaxMessageSize
}

// fail records a sticky error and returns it.
func (r *Reader) fail(err error) error {
	r.err = err
	r.active = false
	return err
}

// fill reads once from the source into the free end of the buffer, after
// moving unread bytes to the front. It returns the error of the source
// only when nothing was read.
func (r *Reader) fill() error {
	if r.rerr != nil {
		return r.rerr
	}
	mid := r.active || r.inMessage
	if r.lean > 0 {
		r.pickBuffer(mid)
	}
	if r.r > 0 {
		r.w = copy(r.buf, r.buf[r.r:r.w])
		r.r = 0
	}
	if r.wait != nil {
		r.wait(mid)
	}
	for range 100 {
		n, err := r.src.Read(r.buf[r.w:])
		r.w += n
		if err != nil {
			r.rerr = err
		}
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	r.rerr = io.ErrNoProgress
	return r.rerr
}

// readHeader reads the next frame header.
func (r *Reader) readHeader() (ws.Header, error) {
	if r.buf == nil {
		return ws.ReadHeader(r.src)
	}
	for {
		h, n, err := ws.ParseHeader(r.buf[r.r:r.w])
		if err == nil {
			r.r += n
			return h, nil
		}
		if err != io.ErrShortBuffer {
			return h, err
		}
		if err := r.fill(); err != nil {
			if err == io.EOF && r.w > r.r {
				err = io.ErrUnexpectedEOF
			}
			return ws.Header{}, err
		}
	}
}

// readPayload reads up to len(p) bytes of the current frame's payload (at
// most r.left) and unmasks them. It returns what is available without
// blocking when the buffer holds some, so that a slow frame is checked as it
// arrives.
func (r *Reader) readPayload(p []byte) (int, error) {
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	var n int
	switch {
	case len(p) == 0:
		return 0, nil
	case r.w > r.r:
		n = copy(p, r.buf[r.r:r.w])
		r.r += n
	case r.buf != nil && len(p) < len(r.buf):
		if err := r.fill(); err != nil {
			return 0, unexpected(err)
		}
		n = copy(p, r.buf[r.r:r.w])
		r.r += n
	default:
		// Large read or no buffer: straight into p.
		if r.wait != nil {
			r.wait(r.active || r.inMessage)
		}
		var err error
		for n == 0 && err == nil {
			n, err = r.src.Read(p)
		}
		if n == 0 {
			return 0, unexpected(err)
		}
	}
	if r.frame.Masked {
		ws.Cipher(p[:n], r.frame.Mask, int(r.off))
	}
	r.off += int64(n)
	r.left -= int64(n)
	return n, nil
}

// unexpected turns a clean end of stream inside a frame into
// io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// nextDataFrame reads frame headers until a data frame, handling control
// frames on the way, and checks it against the fragmentation state.
func (r *Reader) nextDataFrame() (ws.Header, error) {
	for {
		h, err := r.readHeader()
		if err != nil {
			return h, err
		}
		var rsv byte
		if r.Extension != nil && (h.OpCode == ws.OpText || h.OpCode == ws.OpBinary) {
			rsv = r.Extension.Rsv() // RFC 7692 §6.1: first frames only
		}
		if err := ws.CheckHeader(h, r.side, rsv); err != nil {
			return h, err
		}
		if h.OpCode.IsControl() {
			if err := r.control(h); err != nil {
				return h, err
			}
			continue
		}
		switch {
		case h.OpCode == ws.OpContinuation && !r.inMessage:
			return h, ErrUnexpectedContinuation
		case h.OpCode != ws.OpContinuation && r.inMessage:
			return h, ErrUnexpectedDataFrame
		case r.MaxFrameSize > 0 && h.Length > r.MaxFrameSize:
			return h, ws.ErrFrameTooBig
		}
		if h.OpCode != ws.OpContinuation {
			r.text = h.OpCode == ws.OpText
			r.size, r.raw, r.dec = 0, 0, nil
			r.utf8.Reset()
		}
		r.raw += h.Length
		// Without a decoder (no extension, or frame mode, which hands
		// out frames as they are) the wire size is the message size:
		// refuse a frame that cannot fit before reading its payload.
		if (r.frameMode || !r.encoded(h)) && r.raw > r.maxMessage() {
			return h, ErrMessageTooBig
		}
		r.frame, r.left, r.off = h, h.Length, 0
		r.inMessage = !h.Fin
		return h, nil
	}
}

// encoded reports whether the message that h belongs to is decoded by the
// extension.
func (r *Reader) encoded(h ws.Header) bool {
	if h.OpCode == ws.OpContinuation {
		return r.dec != nil
	}
	return r.Extension != nil && h.Rsv&r.Extension.Rsv() != 0
}

// control reads the payload of control frame h and acts on it.
func (r *Reader) control(h ws.Header) error {
	p := r.ctl[:h.Length]
	saved := r.frame
	savedLeft, savedOff := r.left, r.off
	r.frame, r.left, r.off = h, h.Length, 0
	for r.left > 0 {
		if _, err := r.readPayload(p[r.off:]); err != nil {
			return err
		}
	}
	r.frame, r.left, r.off = saved, savedLeft, savedOff
	if r.OnControl != nil {
		if err := r.OnControl(h, p); err != nil {
			return err
		}
	}
	if h.OpCode != ws.OpClose {
		return nil
	}
	code, reason, err := ws.ParseCloseBody(p)
	if err != nil {
		return err
	}
	return ws.CloseError{Code: code, Reason: string(reason)}
}

// NextMessage skips what is left of the current message and starts the
// next one, handling the control frames before it. It returns the opcode
// of the new message: ws.OpText or ws.OpBinary.
func (r *Reader) NextMessage() (ws.OpCode, error) {
	if err := r.skip(true); err != nil {
		return 0, err
	}
	r.frameMode = false
	h, err := r.nextDataFrame()
	if err != nil {
		return 0, r.fail(err)
	}
	if r.encoded(h) {
		if r.dec, err = r.Extension.NextReader(h, &r.src2); err != nil {
			return 0, r.fail(err)
		}
	}
	r.active, r.frameMode = true, false
	return h.OpCode, nil
}

// NextFrame skips what is left of the current frame and starts the next
// data frame, handling the control frames before it. It returns the
// frame's header: its opcode is ws.OpContinuation for every frame of a
// message but the first, and Fin marks the last. Read then returns the
// frame's payload, unmasked. UTF-8 is still checked across the frames of a
// text message. A message compressed by the Extension is the exception:
// its frames split the compressed stream, not the data, so NextFrame
// returns it whole, decoded, as one frame with Fin set and no RSV bits
// (its Length is that of the first frame on the wire).
func (r *Reader) NextFrame() (ws.Header, error) {
	if err := r.skip(false); err != nil {
		return ws.Header{}, err
	}
	r.frameMode = true
	h, err := r.nextDataFrame()
	if err != nil {
		return h, r.fail(err)
	}
	if r.encoded(h) {
		// The frames of a compressed message split the compressed
		// stream, not the data, and the next message may refer back
		// into this one (context takeover): decode it whole and hand
		// it out as one final frame.
		if r.dec, err = r.Extension.NextReader(h, &r.src2); err != nil {
			return h, r.fail(err)
		}
		r.active, r.frameMode = true, false
		h.Fin, h.Rsv = true, 0
		return h, nil
	}
	r.active = true
	return h, nil
}

// skip discards the rest of the current frame, or with message set the
// rest of the current message, checking it like Read does.
func (r *Reader) skip(message bool) error {
	if r.err != nil {
		return r.err
	}
	// The control frame scratch space doubles as a sink: control frames
	// met on the way are handled before payload lands in it.
	scratch := r.ctl[:]
	for r.active || (message && r.inMessage) {
		if !r.active {
			// Frame mode stopped between fragments: read on to the
			// end of the message.
			r.active, r.frameMode = true, false
		}
		_, err := r.Read(scratch)
		if err != nil && err != io.EOF {
			return err
		}
	}
	return nil
}

// readRaw reads the raw payload of the open message across its fragments,
// or of the current frame in frame mode, returning io.EOF at its end.
func (r *Reader) readRaw(p []byte) (int, error) {
	for r.left == 0 {
		if r.frame.Fin || r.frameMode {
			return 0, io.EOF
		}
		if _, err := r.nextDataFrame(); err != nil {
			// The stream may not end between fragments.
			return 0, unexpected(err)
		}
	}
	return r.readPayload(p)
}

// Read reads data of the message started by NextMessage, or of the frame
// started by NextFrame. It returns io.EOF at the end of that message or
// frame; call NextMessage or NextFrame to go on. Text is checked for UTF-8
// validity as it is read.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if !r.active {
		if r.inMessage || r.frame.Fin {
			return 0, io.EOF
		}
		return 0, ErrNoMessage
	}
	var n int
	var err error
	if r.dec != nil && !r.frameMode {
		n, err = r.dec.Read(p)
		if err != nil && err != io.EOF && r.rawErr != nil {
			err = r.rawErr
		}
		if err == io.EOF && (r.left != 0 || r.inMessage) {
			// The decoder ended before the message did.
			err = ErrTrailingData
		}
	} else {
		n, err = r.readRaw(p)
	}
	if n > 0 {
		r.size += int64(n)
		if r.size > r.maxMessage() && !r.frameMode {
			return 0, r.fail(ErrMessageTooBig)
		}
		if r.text && !r.SkipUTF8 && !r.utf8.Write(p[:n]) {
			return 0, r.fail(ErrInvalidUTF8)
		}
	}
	switch {
	case err == io.EOF:
		r.active = false
		if r.text && !r.SkipUTF8 && !r.inMessage && !r.utf8.Valid() {
			return 0, r.fail(ErrInvalidUTF8)
		}
		if !r.frameMode && r.dec != nil {
			r.dec = nil
		}
		return n, io.EOF
	case err != nil:
		return n, r.fail(err)
	}
	return n, nil
}

// maxUntrustedGrowth is how far a buffer grows on a frame header's word
// alone: past it, a buffer at most doubles, so memory follows the bytes
// that arrive and a lying header cannot claim more.
const maxUntrustedGrowth = 64 << 10

// growSize returns by how much to grow a full buffer of capacity c that
// holds n bytes of a message, to make room for more of it: left more bytes
// of the current frame (the header says), or an unknown amount when
// decoding. It grows by what is left, but never by more than
// maxUntrustedGrowth or c, whichever is larger, and never far past limit.
func growSize(n, c int, left int64, decoding bool, limit int64) int {
	grow := left
	if decoding || grow == 0 {
		grow = max(512, int64(c))
	}
	grow = min(grow, max(maxUntrustedGrowth, int64(c)))
	if room := limit - int64(n); grow > room {
		grow = room + 1
	}
	return int(grow)
}

// growPayload makes room in p, which is full, for more of a message (see
// growSize).
func growPayload(p []byte, left int64, decoding bool, limit int64) []byte {
	return slices.Grow(p, growSize(len(p), cap(p), left, decoding, limit))
}

// needsRoom reports whether a full buffer must grow before the next Read:
// an unencoded message whose payload is all read needs no room, the next
// Read only reports its end.
func (r *Reader) needsRoom() bool {
	if r.frameMode {
		return r.left > 0
	}
	return r.dec != nil || r.left > 0 || !r.frame.Fin
}

// ReadMessage reads the next whole message, after skipping what is left of
// the current one. It appends the payload to dst[:0], growing it as needed,
// and returns the message's opcode and payload. Given a dst with enough
// capacity it does not allocate.
func (r *Reader) ReadMessage(dst []byte) (ws.OpCode, []byte, error) {
	op, err := r.NextMessage()
	if err != nil {
		return 0, dst[:0], err
	}
	p := dst[:0]
	for {
		if len(p) == cap(p) && r.needsRoom() {
			p = growPayload(p, r.left, r.dec != nil, r.maxMessage())
		}
		n, err := r.Read(p[len(p):cap(p)])
		p = p[:len(p)+n]
		if err == io.EOF {
			return op, p, nil
		}
		if err != nil {
			return op, p, err
		}
	}
}
