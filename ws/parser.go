package ws

import "io"

// Parser is an incremental, non-blocking frame parser for callers that run
// their own read loop, such as an epoll or netpoll event loop with no
// goroutine per connection. Feed it whatever bytes arrived; it returns
// frame pieces as soon as they are complete enough to hand out and keeps
// the rest of its state (a partial header, the position in a payload)
// between calls, so a worker never waits for a half-arrived frame.
//
// The zero value is a server-side parser that allows no RSV bits and no
// payload limit. A Parser is not safe for concurrent use; it never
// allocates.
type Parser struct {
	// Side is the role of the receiving end; every header is checked with
	// CheckHeader(h, Side, Rsv).
	Side Side
	// Rsv is the set of RSV bits that negotiated extensions allow.
	Rsv byte
	// MaxPayload, when positive, fails frames longer than it with
	// ErrFrameTooBig as soon as their header is parsed.
	MaxPayload int64

	hdr    [MaxHeaderSize]byte // a header that arrived in pieces
	hn     int                 // bytes in hdr
	cur    Header              // header of the frame in progress
	off    int64               // payload bytes of cur already returned
	inside bool                // cur's header is parsed, payload pending
}

// Chunk is a piece of a frame returned by Parser.Parse.
type Chunk struct {
	// Header is the header of the frame the chunk belongs to.
	Header Header
	// Payload is the next run of payload bytes, already unmasked. It
	// aliases the slice given to Parse (which Parse unmasked in place) and
	// is valid as long as that slice is.
	Payload []byte
	// First is set on the first chunk of a frame, returned as soon as the
	// header is complete, with whatever payload followed it (maybe none).
	First bool
	// Final is set on the chunk that completes the frame's payload.
	Final bool
}

// Parse consumes bytes from p and returns the next chunk and how many bytes
// of p it used. When p runs out before a chunk is complete, Parse keeps
// what it consumed and returns io.ErrShortBuffer: wait for more bytes and
// call again with only the new ones. Any other error is a protocol
// violation (a *ProtocolError carrying the close code to send); the parser
// is then unusable until Reset.
//
// Parse unmasks payload bytes of p in place.
func (ps *Parser) Parse(p []byte) (c Chunk, n int, err error) {
	if !ps.inside {
		if n, err = ps.parseHeader(p); err != nil {
			return Chunk{}, n, err
		}
		p = p[n:]
		c.First = true
	} else if len(p) == 0 {
		return Chunk{}, 0, io.ErrShortBuffer
	}
	m := int(min(int64(len(p)), ps.cur.Length-ps.off))
	c.Header = ps.cur
	c.Payload = p[:m]
	if ps.cur.Masked {
		Cipher(c.Payload, ps.cur.Mask, int(ps.off))
	}
	ps.off += int64(m)
	if ps.off == ps.cur.Length {
		c.Final = true
		ps.inside = false
	}
	return c, n + m, nil
}

// parseHeader completes the header of the next frame from p, returning how
// many bytes of p it took.
func (ps *Parser) parseHeader(p []byte) (int, error) {
	var h Header
	var n int
	if ps.hn == 0 {
		var err error
		h, n, err = ParseHeader(p)
		if err == io.ErrShortBuffer {
			ps.hn = copy(ps.hdr[:], p) // len(p) < MaxHeaderSize here
			return len(p), err
		}
		if err != nil {
			return 0, err
		}
	} else {
		// Top up the saved bytes to a full header, then parse them.
		need := MinHeaderSize
		if ps.hn >= MinHeaderSize {
			need = headerSizeFrom(ps.hdr[1])
		}
		for ps.hn < need && n < len(p) {
			ps.hdr[ps.hn] = p[n]
			ps.hn++
			n++
			if ps.hn == MinHeaderSize {
				need = headerSizeFrom(ps.hdr[1])
			}
		}
		if ps.hn < need {
			return n, io.ErrShortBuffer
		}
		var err error
		if h, _, err = ParseHeader(ps.hdr[:ps.hn]); err != nil {
			return n, err
		}
		ps.hn = 0
	}
	if err := CheckHeader(h, ps.Side, ps.Rsv); err != nil {
		return n, err
	}
	if ps.MaxPayload > 0 && h.Length > ps.MaxPayload {
		return n, ErrFrameTooBig
	}
	ps.cur, ps.off, ps.inside = h, 0, true
	return n, nil
}

// Buffered returns how many bytes of an incomplete header the parser holds.
func (ps *Parser) Buffered() int { return ps.hn }

// Reset discards the parser's state, keeping its configuration.
func (ps *Parser) Reset() {
	ps.hn, ps.off, ps.inside, ps.cur = 0, 0, false, Header{}
}

// ParseFrame parses the whole frame at the start of p, for callers that
// collect bytes in a buffer of their own. It returns the frame, with its
// payload aliasing p and unmasked in place, and the number of bytes the
// frame took. When p holds only part of a frame it returns
// io.ErrShortBuffer and leaves p untouched. It checks no protocol rule;
// use CheckHeader on the result.
func ParseFrame(p []byte) (Frame, int, error) {
	h, n, err := ParseHeader(p)
	if err != nil {
		return Frame{}, 0, err
	}
	if h.Length > int64(len(p)-n) {
		return Frame{}, 0, io.ErrShortBuffer
	}
	end := n + int(h.Length)
	payload := p[n:end:end]
	if h.Masked {
		Cipher(payload, h.Mask, 0)
	}
	return Frame{Header: h, Payload: payload}, end, nil
}
