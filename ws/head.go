package ws

import (
	"bytes"
	"io"
	"sync"
)

// This file finds and reads the head of an HTTP/1.1 message (RFC 9112
// §2.1): the start line, the field lines and the empty line after them.
// Upgrader reads requests with it and Dialer reads responses (and a proxy's
// answer to CONNECT); the two differ only where headScanner.request says.

// maxEmptyReads bounds the (0, nil) reads readHead tolerates in a row, as
// bufio does, before it fails with io.ErrNoProgress.
const maxEmptyReads = 100

// headScanner finds the end of a message head in a buffer that may grow
// between calls. Its offsets count from the start of the buffer.
type headScanner struct {
	request bool // the head is a request's: see scan
	start   int  // offset of the start line
	pos     int  // offset of the next line to look at
	started bool // the start line is found
}

// scan looks in p for the empty line that ends the head, resuming where the
// previous call stopped and looking at no more than limit bytes. It returns
// the offset just past that line, or io.ErrShortBuffer when p holds only
// part of the head. When p holds limit bytes or more without a complete
// head, the error is ErrHandshakeHeaderTooLarge for a request and
// ErrResponseTooLarge for a response.
//
// Lines end in CRLF. RFC 9112 §2.2 lets a recipient take a bare LF for a
// line end: for a response scan does, to be lenient with servers; for a
// request it fails with ErrHandshakeMalformed instead, since a WebSocket
// client has no excuse and a strict reading leaves no room for
// disagreement with a proxy in front. Empty lines before a request line
// are skipped (§2.2); a response's first line is its status line, even
// when empty.
func (s *headScanner) scan(p []byte, limit int) (int, error) {
	w := p
	if len(w) > limit {
		w = w[:limit]
	}
	for {
		i := bytes.IndexByte(w[s.pos:], '\n')
		if i < 0 {
			if len(p) >= limit {
				if s.request {
					return 0, ErrHandshakeHeaderTooLarge
				}
				return 0, ErrResponseTooLarge
			}
			return 0, io.ErrShortBuffer
		}
		lf := s.pos + i
		cr := i > 0 && w[lf-1] == '\r'
		if s.request && !cr {
			return 0, ErrHandshakeMalformed
		}
		empty := i == 0 || cr && i == 1
		s.pos = lf + 1
		switch {
		case !empty || !s.started && !s.request:
			s.started = true
		case !s.started:
			s.start = s.pos
		default:
			return s.pos, nil
		}
	}
}

// readHead reads from r into buf, which holds n bytes already, until s
// finds the end of a head in the first limit bytes. When buf is full it
// moves to a buffer twice as large, of at most limit bytes; a buf of limit
// bytes or more never grows. It returns the buffer, the number of bytes in
// it and the offset just past the head.
//
// The error is one of s.scan's, or a read error: io.EOF when r ends before
// n is above 0, io.ErrUnexpectedEOF when it ends later, io.ErrNoProgress
// after maxEmptyReads empty reads in a row, or what r returned. Bytes that
// came with a read error are scanned first: a head they complete wins.
func readHead(r io.Reader, s *headScanner, buf []byte, n, limit int) ([]byte, int, int, error) {
	end, err := s.scan(buf[:n], limit)
	for empty := 0; err == io.ErrShortBuffer; {
		if n == len(buf) {
			// n < limit: scan fails a full limit.
			nb := make([]byte, min(2*len(buf), limit))
			copy(nb, buf)
			buf = nb
		}
		m, rerr := r.Read(buf[n:])
		n += m
		if m > 0 {
			empty = 0
			if end, err = s.scan(buf[:n], limit); err != io.ErrShortBuffer {
				break
			}
		}
		switch {
		case rerr == io.EOF && n > 0:
			return buf, n, 0, io.ErrUnexpectedEOF
		case rerr != nil:
			return buf, n, 0, rerr
		case m == 0:
			if empty++; empty >= maxEmptyReads {
				return buf, n, 0, io.ErrNoProgress
			}
		}
	}
	return buf, n, end, err
}

// cutLine cuts the first line off b: it returns the line without its line
// end, CRLF or LF, and what follows. Both are nil when b holds no LF.
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, nil
	}
	line, rest = b[:i], b[i+1:]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, rest
}

// bufPool is a sync.Pool of *[]byte of one length. A buffer of another
// length (one that grew, or was made for another bound) is not put back,
// so that the pool never holds an oversized buffer.
type bufPool struct {
	size int
	pool sync.Pool
}

// get returns a buffer of p.size bytes, from the pool when it has one.
func (p *bufPool) get() *[]byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, p.size)
	return &b
}

// put returns b to the pool if it has the pool's length.
func (p *bufPool) put(b *[]byte) {
	if len(*b) == p.size {
		p.pool.Put(b)
	}
}
