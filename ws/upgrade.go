package ws

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gobwas/httphead"
)

// Defaults of Upgrader.
const (
	// DefaultMaxHeaderBytes bounds the request head when
	// Upgrader.MaxHeaderBytes is 0.
	DefaultMaxHeaderBytes = 8 << 10
	// DefaultHandshakeTimeout bounds the handshake when
	// Upgrader.Timeout or HTTPUpgrader.Timeout is 0.
	DefaultHandshakeTimeout = 10 * time.Second
)

// Upgrader is the server side of the WebSocket opening handshake
// (RFC 6455 §4.2) on a raw connection: it reads and parses the HTTP request
// itself, without net/http, and writes the response. Use HTTPUpgrader
// instead inside a net/http handler.
//
// The zero value is ready to use: it accepts version 13 handshakes from the
// same origin (or without an Origin field), negotiates no subprotocol and no
// extension, and bounds the request head by DefaultMaxHeaderBytes and the
// handshake by DefaultHandshakeTimeout.
//
// An Upgrader is not modified by Upgrade and may be used by many goroutines
// at once, as long as its hooks may.
//
// # Hooks
//
// The hooks run only for requests that pass the checks of RFC 6455 §4.2.1,
// in this order: OnRequest, OnHost, OnHeader (once per field line, in order),
// CheckOrigin, Protocol and Extension (as offers are met), OnBeforeUpgrade.
// Byte slices passed to a hook alias the request buffer: they are valid only
// until the hook returns and must not be modified. A hook that returns an
// error ends the handshake: a *RejectError (see Reject) is answered with its
// status, reason and fields; any other error with 400 Bad Request and a
// generic reason, since its text may say more than a client should learn.
type Upgrader struct {
	// MaxHeaderBytes bounds the request head: request line, fields and
	// the blank line after them. A longer head is answered with 431
	// Request Header Fields Too Large. 0 means DefaultMaxHeaderBytes.
	MaxHeaderBytes int

	// Timeout bounds the whole handshake, read and write, when the
	// connection has a SetDeadline method (any net.Conn has). 0 means
	// DefaultHandshakeTimeout; a negative value means no bound. The
	// deadline is cleared before Upgrade returns.
	Timeout time.Duration

	// Protocols lists the supported subprotocols in the server's order
	// of preference: the first of them that the client offered is chosen
	// (RFC 6455 §4.2.2). Names compare case-sensitively. Ignored when
	// Protocol is set.
	Protocols []string

	// Protocol, when set, chooses the subprotocol: it is called for each
	// offered subprotocol in the client's order, and the first for which
	// it returns true is chosen.
	Protocol func(offered []byte) bool

	// Extension, when set, is called for each offered extension, in the
	// client's order, with its parameters. It returns the option to
	// answer (usually the offer's name with the parameters the server
	// agrees to) and true to accept it. Once an extension name is
	// accepted, later offers of that name, the client's fallbacks
	// (RFC 7692 §5), are not passed. An accepted option whose name or
	// parameter names are not tokens, or whose values hold control
	// characters, is dropped. The offer aliases the request; the
	// answer may alias the offer, as Upgrade copies it.
	Extension func(offer httphead.Option) (accept httphead.Option, ok bool)

	// OnRequest is called with the request-target of the request line.
	OnRequest func(uri []byte) error

	// OnHost is called with the value of the Host field.
	OnHost func(host []byte) error

	// OnHeader is called for every field line, the WebSocket ones
	// included, with the name as sent and the value without surrounding
	// whitespace.
	OnHeader func(key, value []byte) error

	// CheckOrigin is called with the values of the Origin and Host
	// fields when the request has an Origin field (browsers always send
	// one; RFC 6455 §10.2). nil means SameOrigin. See also AnyOrigin and
	// AllowOrigins.
	CheckOrigin func(origin, host []byte) error

	// OnBeforeUpgrade is the last hook. The fields it returns are added
	// to the 101 response.
	OnBeforeUpgrade func() (http.Header, error)

	// DeferResponse leaves the 101 response unwritten: Upgrade returns it
	// in Handshake.Response for the caller to write before anything
	// else. A server that registers a connection before its client can
	// know the handshake succeeded uses it (wsutil.AcceptConn). A
	// rejection is written all the same.
	DeferResponse bool
}

// upgradeBufSize is the size of the pooled buffers Upgrade reads into: room
// for a browser's request head with cookies, and for the response after
// it.
const upgradeBufSize = 4 << 10

// upgradeBufs holds the buffers Upgrade reads into, and those into which
// HTTPUpgrader copies the field values it checks and writes the 101
// response. Buffers grown for a larger head are not put back.
var upgradeBufs = bufPool{size: upgradeBufSize}

// deadlineSetter is the part of net.Conn that Upgrade uses for Timeout.
type deadlineSetter interface {
	SetDeadline(t time.Time) error
}

// Upgrade performs the server side of the opening handshake on conn: it
// reads the request, checks it, negotiates, and writes the answer in one
// Write call. On success it returns the negotiated Handshake; bytes the
// client sent after its request (the first frames) are in hs.Buffered,
// which is nil when there are none. Upgrade reads nothing beyond what one
// Read call returns once the head is complete.
//
// When the request is refused, Upgrade writes the rejection response (see
// UpgradeBuffer) and returns the *RejectError, or the hook's error as it
// was returned. A read or write failure is returned wrapped, "ws: upgrade:
// " followed by the cause, which a timeout keeps recognisable
// (errors.Is(err, os.ErrDeadlineExceeded)). The caller should close conn
// after any error.
//
// Without a subprotocol or extension negotiated and with hooks that do not
// allocate, Upgrade does not allocate.
func (u *Upgrader) Upgrade(conn io.ReadWriter) (Handshake, error) {
	if t := handshakeTimeout(u.Timeout); t > 0 {
		if d, ok := conn.(deadlineSetter); ok {
			_ = d.SetDeadline(time.Now().Add(t)) // a dead conn fails the read below
			defer d.SetDeadline(time.Time{})
		}
	}

	bp := upgradeBufs.get()
	defer upgradeBufs.put(bp)
	s := headScanner{request: true}
	buf, n, end, err := readHead(conn, &s, *bp, 0, u.maxHeaderBytes())
	var resp []byte
	var hs Handshake
	switch {
	case err == ErrHandshakeHeaderTooLarge || err == ErrHandshakeMalformed:
		resp = appendReject(buf[n:n], err)
	case err != nil:
		return Handshake{}, fmt.Errorf("ws: upgrade: %w", err)
	default:
		// The response goes after the request, so hs.Buffered survives
		// its writing.
		resp, hs, err = u.upgrade(buf[n:n], buf[:n], s.start, end)
	}
	if hs.Buffered != nil {
		hs.Buffered = bytes.Clone(hs.Buffered)
	}
	if err == nil && u.DeferResponse {
		hs.Response = bytes.Clone(resp)
		return hs, nil
	}
	if _, werr := conn.Write(resp); werr != nil && err == nil {
		return Handshake{}, fmt.Errorf("ws: upgrade: %w", werr)
	}
	return hs, err
}

// UpgradeBuffer is the non-blocking form of Upgrade, for event loops that
// read on their own: req holds the bytes received so far from the client.
//
// While req does not yet hold a complete request head, UpgradeBuffer
// returns dst and io.ErrShortBuffer: read more and call again with all the
// bytes (no hook has run yet). Once req reaches MaxHeaderBytes without a
// complete head, the error is ErrHandshakeHeaderTooLarge.
//
// Otherwise UpgradeBuffer appends the HTTP response to dst and returns it:
// write it to the client. On success that is the 101 response and err is
// nil; hs.Buffered aliases the bytes of req after the head (nil when there
// are none), while hs.Protocol and hs.Extensions are copies. On failure it
// is the rejection (status line, Content-Type, Content-Length,
// X-WebSocket-Reject-Reason, "Connection: close", the RejectError's fields,
// and the reason as body) and err is the *RejectError, or the hook's error
// as it was returned; close the connection after writing it.
//
// dst must not overlap req. Timeout does not apply: bounding the wait is up
// to the caller's loop.
func (u *Upgrader) UpgradeBuffer(dst, req []byte) (resp []byte, hs Handshake, err error) {
	s := headScanner{request: true}
	end, err := s.scan(req, u.maxHeaderBytes())
	switch {
	case err == io.ErrShortBuffer:
		return dst, Handshake{}, err
	case err != nil:
		return appendReject(dst, err), Handshake{}, err
	}
	return u.upgrade(dst, req, s.start, end)
}

// upgrade answers the complete request head req[start:end].
func (u *Upgrader) upgrade(dst, req []byte, start, end int) ([]byte, Handshake, error) {
	head := req[start:end]
	var r handshakeRequest
	uri := parseRequestHead(head, &r)
	if err := r.check(); err != nil {
		return appendReject(dst, err), Handshake{}, err
	}
	if err := u.runHooks(head, uri, &r); err != nil {
		return appendReject(dst, err), Handshake{}, err
	}

	n := negotiator{
		protocols: u.Protocols,
		pickBytes: u.Protocol,
		extension: u.Extension,
		best:      len(u.Protocols),
	}
	if r.negotiations > 0 && (n.wantsProtocol() || n.extension != nil) {
		for rest := headerLines(head); ; {
			name, value, next, ok := nextField(rest)
			if !ok {
				break
			}
			switch handshakeField(name) {
			case fieldProtocol:
				n.offerProtocols(value)
			case fieldExtensions:
				n.offerExtensions(value)
			}
			rest = next
		}
	}

	var h http.Header
	if u.OnBeforeUpgrade != nil {
		var err error
		if h, err = u.OnBeforeUpgrade(); err != nil {
			return appendReject(dst, err), Handshake{}, err
		}
	}

	hs := Handshake{Protocol: n.protocol, Extensions: n.extensions()}
	if end < len(req) {
		hs.Buffered = req[end:]
	}
	return appendSwitching(dst, r.key, hs.Protocol, hs.Extensions, h), hs, nil
}

// runHooks calls the request hooks and the origin check, in the order the
// Upgrader documents.
func (u *Upgrader) runHooks(head, uri []byte, r *handshakeRequest) error {
	if u.OnRequest != nil {
		if err := u.OnRequest(uri); err != nil {
			return err
		}
	}
	if u.OnHost != nil {
		if err := u.OnHost(r.host); err != nil {
			return err
		}
	}
	if u.OnHeader != nil {
		for rest := headerLines(head); ; {
			name, value, next, ok := nextField(rest)
			if !ok {
				break
			}
			if err := u.OnHeader(name, value); err != nil {
				return err
			}
			rest = next
		}
	}
	return r.checkOrigin(u.CheckOrigin)
}

func (u *Upgrader) maxHeaderBytes() int {
	if u.MaxHeaderBytes > 0 {
		return u.MaxHeaderBytes
	}
	return DefaultMaxHeaderBytes
}

// handshakeTimeout returns the bound of a handshake whose Timeout field is
// t: DefaultHandshakeTimeout for 0, none (t itself) when t is negative.
func handshakeTimeout(t time.Duration) time.Duration {
	if t == 0 {
		return DefaultHandshakeTimeout
	}
	return t
}

// parseRequestHead parses a complete head, as headScanner delimits it, into r
// and returns the request-target. It sets r.malformed when the request line or
// a field line is not valid HTTP/1.1 (RFC 9112 §3, §5).
func parseRequestHead(head []byte, r *handshakeRequest) (uri []byte) {
	line, rest := cutLine(head)
	method, uri, major, minor, ok := parseRequestLine(line)
	if !ok {
		r.malformed = true
		return nil
	}
	r.get = string(method) == http.MethodGet
	r.major, r.minor = major, minor
	for {
		if line, rest = cutLine(rest); len(line) == 0 {
			return uri
		}
		name, value, ok := splitField(line)
		if !ok {
			r.malformed = true
			return nil
		}
		r.addField(handshakeField(name), value)
	}
}

// parseRequestLine splits a request line, method SP request-target SP
// HTTP-version (RFC 9112 §3), and checks that the method is a token, the
// target holds neither whitespace nor control characters and the version
// is well-formed (see parseHTTPVersion).
func parseRequestLine(line []byte) (method, target []byte, major, minor int, ok bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return nil, nil, 0, 0, false
	}
	method, rest := line[:sp], line[sp+1:]
	if sp = bytes.IndexByte(rest, ' '); sp < 0 {
		return nil, nil, 0, 0, false
	}
	target = rest[:sp]
	major, minor, ok = parseHTTPVersion(rest[sp+1:])
	if !ok || !isToken(method) || len(target) == 0 || !isVisible(target) {
		return nil, nil, 0, 0, false
	}
	return method, target, major, minor, true
}

// headerLines returns the field lines of a head and the blank line after
// them.
func headerLines(head []byte) []byte {
	_, rest := cutLine(head)
	return rest
}

// nextField cuts the next field line, already validated by
// parseRequestHead, off b. ok is false at the blank line ending the head.
func nextField(b []byte) (name, value, rest []byte, ok bool) {
	line, rest := cutLine(b)
	if len(line) == 0 {
		return nil, nil, nil, false
	}
	name, value, _ = cutField(line)
	return name, value, rest, true
}

// splitField splits and checks a field line (RFC 9112 §5). It refuses an
// obs-fold continuation line and whitespace before the colon, both of
// which a server must reject with 400 (§5.1, §5.2), a name that is not a
// token, and a value with control characters other than HTAB.
func splitField(line []byte) (name, value []byte, ok bool) {
	if len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
		return nil, nil, false
	}
	name, value, ok = cutField(line)
	if !ok || !isToken(name) || !validFieldValue(value) {
		return nil, nil, false
	}
	return name, value, true
}
