package ws

import (
	"errors"
	"net/http"
	"strconv"
)

// ProtocolError reports that the peer broke RFC 6455 (or a negotiated
// extension's rules). Code is the close code to answer with: 1002 for a
// framing violation, 1007 for invalid payload data, 1009 for a frame or
// message over the configured limit. Reason is safe to send as the close
// reason (ASCII, at most 123 bytes).
//
// The sentinels below are *ProtocolError values: compare with errors.Is, or
// use errors.As to read the code.
type ProtocolError struct {
	Code   StatusCode
	Reason string
}

// Error implements error.
func (e *ProtocolError) Error() string { return "ws: " + e.Reason }

// Frame-level protocol violations. They are preallocated so that returning
// one from a per-frame path costs nothing.
var (
	// ErrHeaderLengthMSB reports a 64-bit payload length with the most
	// significant bit set (RFC 6455 §5.2).
	ErrHeaderLengthMSB = &ProtocolError{StatusProtocolError, "frame length has the most significant bit set"}
	// ErrReservedBits reports RSV bits that no negotiated extension defines.
	ErrReservedBits = &ProtocolError{StatusProtocolError, "reserved bits set without a negotiated extension"}
	// ErrReservedOpCode reports an opcode that RFC 6455 reserves.
	ErrReservedOpCode = &ProtocolError{StatusProtocolError, "reserved opcode"}
	// ErrControlTooLong reports a control frame payload over 125 bytes.
	ErrControlTooLong = &ProtocolError{StatusProtocolError, "control frame payload over 125 bytes"}
	// ErrControlFragmented reports a control frame without FIN.
	ErrControlFragmented = &ProtocolError{StatusProtocolError, "fragmented control frame"}
	// ErrMaskRequired reports an unmasked frame sent by a client.
	ErrMaskRequired = &ProtocolError{StatusProtocolError, "unmasked frame from client"}
	// ErrMaskUnexpected reports a masked frame sent by a server.
	ErrMaskUnexpected = &ProtocolError{StatusProtocolError, "masked frame from server"}
	// ErrFrameTooBig reports a frame payload over the reader's limit.
	ErrFrameTooBig = &ProtocolError{StatusMessageTooBig, "frame too big"}
	// ErrCloseBodyShort reports a close frame with a 1-byte payload
	// (RFC 6455 §5.5.1: a body, if present, starts with a 2-byte code).
	ErrCloseBodyShort = &ProtocolError{StatusProtocolError, "close frame payload of 1 byte"}
	// ErrCloseCodeInvalid reports a close code that may not appear on the
	// wire (see StatusCode.ValidOnWire).
	ErrCloseCodeInvalid = &ProtocolError{StatusProtocolError, "invalid close code"}
	// ErrCloseReasonUTF8 reports a close reason that is not valid UTF-8.
	ErrCloseReasonUTF8 = &ProtocolError{StatusInvalidFramePayloadData, "close reason is not valid UTF-8"}
)

// CloseError reports how a connection was closed: the code and reason of
// the close frame the peer sent (StatusNoStatusRcvd when the frame had no
// body), or, with StatusAbnormalClosure, that the connection ended without
// one. Readers return it once the peer has closed the connection; use
// errors.As or CloseStatus to read it. It is comparable, so errors.Is
// matches an exact code and reason.
type CloseError struct {
	Code   StatusCode
	Reason string
}

// Error implements error.
func (e CloseError) Error() string {
	s := "ws: closed by peer: " + strconv.Itoa(int(e.Code))
	if e.Code.IsRegistered() {
		s += " " + e.Code.String()
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// CloseStatus returns the code of the CloseError in err's chain, or 0 when
// there is none.
func CloseStatus(err error) StatusCode {
	var ce CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}

// RejectError is a failed opening handshake on the server side, and the HTTP
// response that tells the client why. Hooks of Upgrader and HTTPUpgrader
// return one (see Reject) to refuse a connection with a status of their
// choice; any other error from a hook is answered with 400 Bad Request.
// Reason goes in the body and, like WebSocket-Node, in an
// X-WebSocket-Reject-Reason header; Header holds further headers.
type RejectError struct {
	Status int
	Reason string
	Header http.Header
}

// Reject returns a RejectError with the given HTTP status and reason.
func Reject(status int, reason string) *RejectError {
	return &RejectError{Status: status, Reason: reason}
}

// Error implements error.
func (e *RejectError) Error() string {
	s := "ws: handshake rejected: " + strconv.Itoa(e.Status) + " " + http.StatusText(e.Status)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Server handshake failures, each answered with the HTTP status it carries.
var (
	// ErrHandshakeMalformed reports a request that is not valid HTTP/1.x.
	ErrHandshakeMalformed = &RejectError{Status: http.StatusBadRequest, Reason: "malformed HTTP request"}
	// ErrHandshakeMethod reports a method other than GET (RFC 6455 §4.1).
	ErrHandshakeMethod = &RejectError{Status: http.StatusMethodNotAllowed, Reason: "method must be GET",
		Header: http.Header{"Allow": {"GET"}}}
	// ErrHandshakeHTTPVersion reports an HTTP version below 1.1.
	ErrHandshakeHTTPVersion = &RejectError{Status: http.StatusHTTPVersionNotSupported, Reason: "HTTP/1.1 or later required"}
	// ErrHandshakeHost reports a missing or repeated Host header.
	ErrHandshakeHost = &RejectError{Status: http.StatusBadRequest, Reason: "missing or repeated Host header"}
	// ErrHandshakeUpgrade reports an Upgrade header without the "websocket"
	// token.
	ErrHandshakeUpgrade = &RejectError{Status: http.StatusUpgradeRequired, Reason: `"Upgrade: websocket" header required`,
		Header: http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}}}
	// ErrHandshakeConnection reports a Connection header without the
	// "upgrade" token.
	ErrHandshakeConnection = &RejectError{Status: http.StatusBadRequest, Reason: `"Connection: upgrade" header required`}
	// ErrHandshakeKey reports a Sec-WebSocket-Key that is missing, repeated,
	// or not the base64 encoding of 16 bytes.
	ErrHandshakeKey = &RejectError{Status: http.StatusBadRequest, Reason: "invalid Sec-WebSocket-Key"}
	// ErrHandshakeVersion reports a Sec-WebSocket-Version other than 13; the
	// answer names the version this server speaks (RFC 6455 §4.4).
	ErrHandshakeVersion = &RejectError{Status: http.StatusUpgradeRequired, Reason: "unsupported Sec-WebSocket-Version",
		Header: http.Header{"Sec-Websocket-Version": {"13"}}}
	// ErrHandshakeHeaderTooLarge reports a request head over the size bound.
	ErrHandshakeHeaderTooLarge = &RejectError{Status: http.StatusRequestHeaderFieldsTooLarge, Reason: "request header too large"}
	// ErrHandshakeOrigin reports an Origin that the origin check refused.
	ErrHandshakeOrigin = &RejectError{Status: http.StatusForbidden, Reason: "origin not allowed"}
	// ErrHandshakeHeaderValue reports a WebSocket header whose value does not
	// parse (Sec-WebSocket-Protocol or Sec-WebSocket-Extensions).
	ErrHandshakeHeaderValue = &RejectError{Status: http.StatusBadRequest, Reason: "malformed header value"}
)

// HandshakeError is a client handshake that the server answered with a
// status other than 101 Switching Protocols (the seeds' connectFailed). It
// carries the status, the response headers and up to the first 1 KiB of the
// body so that callers can tell an authentication failure from a missing
// route.
type HandshakeError struct {
	StatusCode int
	Status     string
	Header     http.Header
	Body       []byte
}

// Error implements error.
func (e *HandshakeError) Error() string {
	return "ws: handshake failed: server answered " + e.Status
}

// Client handshake failures.
var (
	// ErrBadScheme reports a URL whose scheme is not ws, wss, http or https.
	ErrBadScheme = errors.New("ws: unsupported URL scheme")
	// ErrResponseMalformed reports a response that is not valid HTTP/1.x.
	ErrResponseMalformed = errors.New("ws: malformed handshake response")
	// ErrResponseUpgrade reports a 101 response without "Upgrade: websocket".
	ErrResponseUpgrade = errors.New(`ws: handshake response lacks "Upgrade: websocket"`)
	// ErrResponseConnection reports a 101 response without
	// "Connection: upgrade".
	ErrResponseConnection = errors.New(`ws: handshake response lacks "Connection: upgrade"`)
	// ErrResponseAccept reports a Sec-WebSocket-Accept that does not match
	// the key sent (RFC 6455 §4.1).
	ErrResponseAccept = errors.New("ws: handshake response has a wrong Sec-WebSocket-Accept")
	// ErrResponseProtocol reports a subprotocol the client did not offer.
	ErrResponseProtocol = errors.New("ws: server selected a subprotocol that was not offered")
	// ErrResponseExtension reports an extension the client did not offer.
	ErrResponseExtension = errors.New("ws: server accepted an extension that was not offered")
	// ErrResponseTooLarge reports a response head over the size bound.
	ErrResponseTooLarge = errors.New("ws: handshake response header too large")
	// ErrResponseHeaderValue reports a Sec-WebSocket-Extensions value in
	// the response that does not parse.
	ErrResponseHeaderValue = errors.New("ws: malformed header value in handshake response")
	// ErrBadURL reports a URL that is not a WebSocket URL: no host, an
	// opaque form, a fragment (RFC 6455 §3) or characters that cannot go in
	// a request line.
	ErrBadURL = errors.New("ws: invalid WebSocket URL")
	// ErrBadHeader reports a Dialer field that would make a malformed
	// request: a header the handshake owns in Dialer.Header, a control
	// character in a value, a subprotocol or extension name that is not a
	// token, or a repeated subprotocol.
	ErrBadHeader = errors.New("ws: invalid handshake request header")
	// ErrProxyScheme reports a proxy URL whose scheme is not http.
	ErrProxyScheme = errors.New("ws: unsupported proxy URL scheme")
	// ErrProxyRefused reports a proxy that answered CONNECT with a status
	// other than 2xx. The error also holds a *HandshakeError with the
	// proxy's status, headers and body: use errors.As to read them.
	ErrProxyRefused = errors.New("ws: proxy refused the CONNECT request")
)
