package ws

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gobwas/httphead"
)

// This file holds the client's reading of the server's answer to the
// opening handshake (RFC 6455 §4.1), and of a proxy's answer to CONNECT:
// the response head, the checks of a 101 response and the HandshakeError
// that describes any other.

const (
	// defaultMaxHeaderBytes bounds a response head when
	// Dialer.MaxHeaderBytes is not positive.
	defaultMaxHeaderBytes = 8 << 10
	// maxErrorBody is how much of the body of a refusal HandshakeError
	// keeps.
	maxErrorBody = 1 << 10
	// errorBodyWait bounds the wait for the body of a refusal, so that a
	// server that announces a body and never sends it cannot stall Dial.
	errorBodyWait = time.Second
)

// headBufs holds response buffers of the default size. Nothing returned to
// a caller aliases them: Buffered, extensions and errors are copies.
var headBufs = bufPool{size: defaultMaxHeaderBytes}

// getHeadBuf returns a buffer of d.MaxHeaderBytes for a response head;
// give it back with putHeadBuf.
func (d *Dialer) getHeadBuf() *[]byte {
	if d.MaxHeaderBytes <= 0 || d.MaxHeaderBytes == defaultMaxHeaderBytes {
		return headBufs.get()
	}
	b := make([]byte, d.MaxHeaderBytes)
	return &b
}

// putHeadBuf returns b to headBufs if it came from there.
func putHeadBuf(b *[]byte) { headBufs.put(b) }

// readResponse reads the server's answer to the handshake request sent
// with key from r and checks it (RFC 6455 §4.1, the client's steps after
// sending its handshake).
func (d *Dialer) readResponse(ctx context.Context, r io.Reader, key string) (Handshake, error) {
	bp := d.getHeadBuf()
	defer putHeadBuf(bp)
	resp, rest, err := readResponseHead(r, *bp)
	if err != nil {
		return Handshake{}, err
	}
	if resp.status != http.StatusSwitchingProtocols {
		return Handshake{}, newHandshakeError(ctx, &resp, r, rest)
	}
	hs, err := d.checkResponse(&resp, key)
	if err != nil {
		return Handshake{}, err
	}
	if len(rest) > 0 {
		hs.Buffered = bytes.Clone(rest)
	}
	return hs, nil
}

// checkResponse checks a 101 response, in the order of RFC 6455 §4.1, and
// returns the handshake it concludes.
func (d *Dialer) checkResponse(resp *respHead, key string) (Handshake, error) {
	if resp.minor < 1 {
		return Handshake{}, ErrResponseMalformed // HTTP/1.0 has no Upgrade
	}
	var (
		upgrade, connection bool
		accept, proto       []byte
		nAccept, nProto     int
		exts                []httphead.Option
	)
	for _, f := range resp.fields {
		switch handshakeField(f.k) {
		case fieldUpgrade:
			upgrade = upgrade || hasToken(f.v, "websocket")
		case fieldConnection:
			connection = connection || hasToken(f.v, "upgrade")
		case fieldAccept:
			accept, nAccept = f.v, nAccept+1
		case fieldProtocol:
			if len(f.v) > 0 {
				proto, nProto = f.v, nProto+1
			}
		case fieldExtensions:
			if len(f.v) == 0 {
				continue
			}
			var ok bool
			if exts, ok = parseOptions(f.v, exts); !ok {
				return Handshake{}, ErrResponseHeaderValue
			}
		}
	}
	switch {
	case !upgrade:
		return Handshake{}, ErrResponseUpgrade
	case !connection:
		return Handshake{}, ErrResponseConnection
	case nAccept != 1 || !CheckAccept([]byte(key), accept):
		return Handshake{}, ErrResponseAccept
	}
	// RFC 6455 §4.1: every extension in use must have been offered. The
	// parameters are the extension's business (OnExtensions).
	for _, e := range exts {
		if !slices.ContainsFunc(d.Extensions, func(o httphead.Option) bool { return bytes.Equal(o.Name, e.Name) }) {
			return Handshake{}, ErrResponseExtension
		}
	}
	// RFC 6455 §4.1: the subprotocol, if any, must be one offered; the
	// server selects one, so a list or a repeated header is wrong too.
	if nProto > 1 || nProto == 1 && !slices.Contains(d.Protocols, string(proto)) {
		return Handshake{}, ErrResponseProtocol
	}
	hs := Handshake{Protocol: string(proto), Extensions: cloneOptions(exts), Header: resp.header()}
	if d.OnExtensions != nil {
		if err := d.OnExtensions(hs.Extensions); err != nil {
			return Handshake{}, fmt.Errorf("ws: extensions refused: %w", err)
		}
	}
	return hs, nil
}

// newHandshakeError describes a response other than 101, with up to
// maxErrorBody bytes of its body: those that came with the head (rest),
// then more from r for at most errorBodyWait.
func newHandshakeError(ctx context.Context, resp *respHead, r io.Reader, rest []byte) *HandshakeError {
	he := &HandshakeError{
		StatusCode: resp.status,
		Status:     resp.statusString(),
		Header:     resp.header(),
	}
	he.Body = readErrorBody(ctx, r, he.StatusCode, he.Header, rest)
	return he
}

// readErrorBody reads what it can of a response body, best effort: errors
// end the body silently.
func readErrorBody(ctx context.Context, r io.Reader, status int, h http.Header, rest []byte) []byte {
	if status < 200 || status == http.StatusNoContent || status == http.StatusNotModified {
		return nil // RFC 9112 §6.3: no body
	}
	n := maxErrorBody
	te := h.Values("Transfer-Encoding")
	chunked := len(te) > 0 && strings.EqualFold(strings.TrimSpace(te[len(te)-1]), "chunked")
	if cl := h.Values("Content-Length"); !chunked && len(cl) > 0 {
		l, err := strconv.ParseInt(strings.TrimSpace(cl[0]), 10, 64)
		if err == nil && l >= 0 && !slices.ContainsFunc(cl, func(v string) bool { return v != cl[0] }) {
			n = int(min(l, int64(n)))
		}
	}
	if n == 0 {
		return nil
	}
	var src io.Reader = bytes.NewReader(rest)
	if ctx.Err() == nil {
		src = io.MultiReader(src, r)
		if dc, ok := r.(interface{ SetReadDeadline(time.Time) error }); ok {
			dl := time.Now().Add(errorBodyWait)
			if cd, ok := ctx.Deadline(); ok && cd.Before(dl) {
				dl = cd
			}
			_ = dc.SetReadDeadline(dl)
			defer func() { _ = dc.SetReadDeadline(time.Time{}) }()
		}
	}
	if chunked {
		src = httputil.NewChunkedReader(src)
	}
	body := make([]byte, n)
	m, _ := io.ReadFull(src, body)
	if m == 0 {
		return nil
	}
	return body[:m:m]
}

// respHead is a parsed response head. Its slices alias the read buffer.
type respHead struct {
	minor  int // HTTP/1.minor
	status int
	reason []byte
	fields []respField
}

// respField is a header line, name and value, trimmed.
type respField struct{ k, v []byte }

func (h *respHead) statusString() string {
	reason := string(h.reason)
	if reason == "" {
		reason = http.StatusText(h.status)
	}
	return strconv.Itoa(h.status) + " " + reason
}

// header returns the fields as an http.Header, with canonical keys.
func (h *respHead) header() http.Header {
	hdr := make(http.Header, len(h.fields))
	for _, f := range h.fields {
		k := textproto.CanonicalMIMEHeaderKey(string(f.k))
		hdr[k] = append(hdr[k], string(f.v))
	}
	return hdr
}

// readResponseHead reads from r, into buf, the head of the final response:
// interim 1xx responses other than 101 are skipped (RFC 9110 §15.2), and
// every head read counts against len(buf). It returns the parsed head and
// the bytes that arrived after it, both aliasing buf.
func readResponseHead(r io.Reader, buf []byte) (respHead, []byte, error) {
	var s headScanner
	n := 0
	for {
		var end int
		var err error
		// len(buf) is the bound, so buf never grows.
		if _, n, end, err = readHead(r, &s, buf, n, len(buf)); err != nil {
			switch err {
			case ErrResponseTooLarge:
				return respHead{}, nil, err
			case io.EOF:
				// A response is due: even none at all ends early.
				err = io.ErrUnexpectedEOF
			}
			return respHead{}, nil, fmt.Errorf("ws: read response head: %w", err)
		}
		resp, err := parseHead(buf[s.start:end])
		if err != nil {
			return respHead{}, nil, err
		}
		if resp.status < 200 && resp.status != http.StatusSwitchingProtocols {
			s = headScanner{start: end, pos: end}
			continue
		}
		return resp, buf[end:n], nil
	}
}

// parseHead parses a response head as headScanner delimits it. It rewrites
// obsolete line folding in place into spaces (RFC 9112 §5.2).
func parseHead(head []byte) (respHead, error) {
	var h respHead
	line, rest := cutLine(head)
	if !h.parseStatusLine(line) || len(rest) == 0 {
		return h, ErrResponseMalformed
	}
	// RFC 9112 §2.2: whitespace before the first field is refused.
	if c := rest[0]; c == ' ' || c == '\t' {
		return h, ErrResponseMalformed
	}
	for i := len(head) - len(rest); i < len(head)-1; i++ {
		if head[i] == '\n' && (head[i+1] == ' ' || head[i+1] == '\t') {
			head[i] = ' '
			if head[i-1] == '\r' {
				head[i-1] = ' '
			}
		}
	}
	h.fields = make([]respField, 0, 16)
	for {
		line, rest = cutLine(rest)
		if len(line) == 0 {
			return h, nil
		}
		// Leniently, whitespace before the colon is dropped, as a proxy
		// must do (RFC 9112 §5.1).
		k, v, ok := cutField(line)
		if k = trimFieldSpace(k); !ok || !isToken(k) || !validFieldValue(v) {
			return h, ErrResponseMalformed
		}
		h.fields = append(h.fields, respField{k, v})
	}
}

// parseStatusLine parses "HTTP/1.x SP 3DIGIT [SP reason]" (RFC 9112 §4).
// The reason may be missing altogether, as some servers send it.
func (h *respHead) parseStatusLine(line []byte) bool {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return false
	}
	major, minor, ok := parseHTTPVersion(line[:sp])
	if !ok || major != 1 {
		return false
	}
	code := line[sp+1:]
	if i := bytes.IndexByte(code, ' '); i >= 0 {
		code, h.reason = code[:i], code[i+1:]
	}
	if len(code) != 3 || !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) || code[0] == '0' {
		return false
	}
	if !validFieldValue(h.reason) {
		return false
	}
	h.minor = minor
	h.status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	return true
}
