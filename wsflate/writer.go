package wsflate

import (
	"io"

	"github.com/sluice-ws/sluice/ws"
)

// Priming a compressor with history costs about as much as compressing
// the history, so a sender primes with only as much as the message can
// use (see primeSize). These bound it.
const (
	// primeMin is the smallest message worth priming for: klauspost's
	// fast encoders (levels 1 to 6 and the window-bounded one) code a
	// flush of fewer than 128 bytes without LZ77 matches.
	primeMin = 128
	// primeFloor is the least history a message is primed with. Small
	// messages find most of their matches in the last few: priming 1 KiB
	// JSON messages with 4 KiB gives 1% more output than with 32 KiB, at
	// an eighth of the cost.
	primeFloor = 4 << 10
	// stashSize is how much of a message of unknown size a sender holds
	// back, in the borrowed deflater, before it must prime: a window's
	// worth, past which the size no longer matters (see primeSize). The
	// compressor would buffer as much before coding a block anyway.
	stashSize = 1 << MaxWindowBits
)

// primeSize returns how many bytes of history to prime a compressor with
// for a message of n bytes (at least n when !exact): as many as the
// message has, so that it can refer to a message like it sent just
// before, and no fewer than primeFloor. A message as long as the window
// cannot reach back to the one before it, so it gets primeFloor; a
// message under primeMin gets nothing when the encoder would ignore it.
func (s *sender) primeSize(n int, exact bool) int {
	switch {
	case exact && n < primeMin && s.fastEncoder():
		return 0
	case n >= 1<<s.bits:
		return primeFloor
	}
	return max(primeFloor, n)
}

// fastEncoder reports whether s compresses with one of klauspost's fast
// encoders, which code a flush under primeMin bytes without matches.
func (s *sender) fastEncoder() bool {
	return s.level != HuffmanOnly && (s.level < 7 || s.bits < MaxWindowBits)
}

// sender compresses the messages of one connection (a Sender).
type sender struct {
	level     int // normalised
	bits      int
	takeover  bool
	keep      bool // keep cur between messages (KeepCompressor)
	threshold int

	hist    window    // the last messages sent, with context takeover unless keep
	cur     *deflater // borrowed for the open message, or kept
	open    bool      // a message has started and not finished
	pending bool      // cur is not reset yet: data goes to cur.stash

	enc encoder
}

func newSender(level, bits int, takeover, keep bool, threshold int) *sender {
	s := &sender{
		level:     level,
		bits:      bits,
		takeover:  takeover,
		keep:      keep && takeover,
		threshold: threshold,
	}
	s.hist.size = 1 << bits
	s.enc.s = s
	return s
}

// NextWriter starts a message whose compressed bytes go to dst. It returns
// (nil, 0) when size, the message length if known or -1, is under the
// threshold: the message then goes out uncompressed, and with context
// takeover it stays out of the history, as the peer does not inflate it
// either (RFC 7692 §6.1). Otherwise it returns the message's encoder and
// ws.Rsv1, the bit to set on the first frame. The encoder holds back the
// last bytes it has compressed until Finish, which drops the flush marker
// (RFC 7692 §7.2.1), so the frames written before Finish may end anywhere.
// Starting a message abandons one that was not finished.
func (s *sender) NextWriter(dst io.Writer, size int) (MessageEncoder, byte) {
	if s.open {
		s.abort()
	}
	if size >= 0 && size < s.threshold {
		return nil, 0
	}
	s.open = true
	if s.cur == nil {
		s.cur = getDeflater(s.level, s.bits)
		s.cur.nstash = 0
		s.pending = true
	}
	s.cur.tail.reset(dst)
	if s.pending && (size >= 0 || !s.primes()) {
		_ = s.start(size, true) // nothing stashed yet: cannot fail
	}
	return &s.enc, ws.Rsv1
}

// primes reports whether cur is primed with history before this message,
// so that it pays to learn the message's size first.
func (s *sender) primes() bool {
	return s.takeover && !s.keep && len(s.hist.buf) > 0
}

// start resets cur for a message of n bytes (at least n when !exact),
// primed with the end of the history, and compresses the stashed bytes.
func (s *sender) start(n int, exact bool) error {
	s.pending = false
	var dict []byte
	if s.primes() {
		dict = s.hist.bytes()
		dict = dict[len(dict)-min(len(dict), s.primeSize(n, exact)):]
	}
	s.cur.fw.ResetDict(&s.cur.tail, dict)
	k := s.cur.nstash
	if k == 0 {
		return nil
	}
	s.cur.nstash = 0
	s.record(s.cur.stash[:k])
	_, err := s.cur.fw.Write(s.cur.stash[:k])
	return err
}

// record adds message data to the history once the compressor has been
// primed with what came before it.
func (s *sender) record(p []byte) {
	if s.takeover && !s.keep {
		s.hist.write(p)
	}
}

// abort drops the state of a message that was not finished. The
// connection cannot send anything else anyway: the peer is in the middle
// of a message.
func (s *sender) abort() {
	s.open = false
	s.release()
	s.hist.buf, s.hist.pos = s.hist.buf[:0], 0
}

// release returns cur to its pool.
func (s *sender) release() {
	if s.cur != nil {
		putDeflater(s.cur, s.level, s.bits)
		s.cur = nil
	}
}

// encoder is the MessageEncoder of a sender.
type encoder struct{ s *sender }

// Write compresses p. Compressed bytes reach dst as the compressor's
// blocks fill up, and all of them by Finish.
func (e *encoder) Write(p []byte) (int, error) {
	s := e.s
	if !s.open {
		return 0, io.ErrClosedPipe
	}
	if s.pending {
		d := s.cur
		if d.nstash+len(p) <= len(d.stash) {
			d.nstash += copy(d.stash[d.nstash:], p)
			return len(p), nil
		}
		if err := s.start(d.nstash+len(p), false); err != nil {
			return 0, err
		}
	}
	s.record(p)
	return s.cur.fw.Write(p)
}

// Finish compresses what is left, flushes the compressor and writes the
// end of the compressed message to dst, without the flush marker
// (RFC 7692 §7.2.1); an empty message comes out as the single byte 0x00
// (§7.2.3.6). The borrowed compressor goes back to its pool whatever
// happens, unless KeepCompressor keeps it.
func (e *encoder) Finish() error {
	s := e.s
	if !s.open {
		return io.ErrClosedPipe
	}
	s.open = false
	var err error
	if s.pending {
		err = s.start(s.cur.nstash, true)
	}
	if err == nil {
		err = s.cur.fw.Flush()
	}
	if err == nil {
		err = s.cur.tail.finish()
	}
	if !s.keep || err != nil {
		s.release()
	}
	if s.takeover && !s.keep {
		s.hist.bytes() // put the ring in order for the next priming
	}
	return err
}

// AppendCompress compresses msg as one message without context takeover
// and appends the payload to send with RSV1 set to dst: the DEFLATE
// stream without its flush marker (RFC 7692 §7.2.1). level is as in
// Extension.Level and bits bounds the window, 8 to 15 (0 means 15); use
// the window the peer allows (server_max_window_bits for a server). The
// payload may be sent in one frame or split into fragments anywhere. It
// fails only with ErrLevel or ErrWindowBits.
//
// AppendCompress does not allocate when dst has room for the result.
func AppendCompress(dst, msg []byte, level, bits int) ([]byte, error) {
	if !validLevel(level) {
		return dst, ErrLevel
	}
	if !validBits(bits) {
		return dst, ErrWindowBits
	}
	level, bits = normLevel(level), bitsOr15(bits)
	d := getDeflater(level, bits)
	d.app.b = dst
	d.tail.reset(&d.app)
	d.fw.ResetDict(&d.tail, nil)
	_, _ = d.fw.Write(msg) // appendWriter never fails
	_ = d.fw.Flush()
	_ = d.tail.finish()
	dst = d.app.b
	putDeflater(d, level, bits)
	return dst, nil
}

// maxServerHeader is the size of an unmasked frame header with a 64-bit
// length.
const maxServerHeader = ws.MaxHeaderSize - 4

// AppendFrame compresses msg as AppendCompress does and appends one final,
// unmasked frame with opcode op (ws.OpText or ws.OpBinary) and RSV1 set:
// a compiled frame that a server may write as it is to any number of
// connections, as a broadcast does, compressing once instead of once per
// connection.
//
// The frame suits every connection on which this side compresses without
// context takeover (the server answered server_no_context_takeover) with a
// window of at least 2^bits bytes. On a connection with context takeover
// it would leave the peer's history different from the one the
// connection's own compressor assumes, and break the next message. A
// client must not use it: its frames are masked.
//
// It fails with ErrLevel, ErrWindowBits or, for another opcode, ErrOpCode.
func AppendFrame(dst []byte, op ws.OpCode, msg []byte, level, bits int) ([]byte, error) {
	if op != ws.OpText && op != ws.OpBinary {
		return dst, ErrOpCode
	}
	start := len(dst)
	// Compress behind room for the longest header, then move the payload
	// down against the header it needs.
	dst = append(dst, make([]byte, maxServerHeader)...)
	dst, err := AppendCompress(dst, msg, level, bits)
	if err != nil {
		return dst[:start], err
	}
	payload := dst[start+maxServerHeader:]
	h := ws.Header{Fin: true, Rsv: ws.Rsv1, OpCode: op, Length: int64(len(payload))}
	hs := len(ws.AppendHeader(dst[start:start], h))
	copy(dst[start+hs:], payload)
	return dst[:start+hs+len(payload)], nil
}

// SharedKey reports whether the sender compresses without context
// takeover, and if so a key for its level and window: two senders with the
// same key compress every message into the same bytes. It lets a broadcast
// compress a message once for many connections (wsutil.Prepare).
func (s *sender) SharedKey() (uint64, bool) {
	if s.takeover {
		return 0, false
	}
	return uint64(s.level-HuffmanOnly)<<8 | uint64(s.bits), true
}

// AppendShared appends msg compressed without context, as a message to be
// sent with RSV1 by any sender with the same SharedKey, and returns
// ws.Rsv1; a message under the threshold is left alone (rsv 0, nothing
// appended).
func (s *sender) AppendShared(dst, msg []byte) ([]byte, byte, error) {
	if len(msg) < s.threshold {
		return dst, 0, nil
	}
	out, err := AppendCompress(dst, msg, s.level, s.bits)
	return out, ws.Rsv1, err
}
