package ws

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"

	"github.com/gobwas/httphead"
)

// This file holds what Upgrader and HTTPUpgrader share: the checks of
// RFC 6455 §4.2.1, subprotocol and extension negotiation (§4.2.2), and the
// HTTP responses, 101 or rejection. Upgrader feeds it header lines it parsed
// itself; HTTPUpgrader feeds it the fields net/http parsed. One set of rules
// serves both.

// handshakeRequest is what the server checks of an opening handshake
// request, whichever parser read it. Its byte slices alias the request.
type handshakeRequest struct {
	get          bool // method is GET
	major, minor int  // HTTP version
	hosts        int  // Host fields seen
	host         []byte
	upgrade      bool // an Upgrade field lists "websocket"
	connection   bool // a Connection field lists "upgrade"
	keys         int
	key          []byte
	versions     int
	version13    bool // the (last) Sec-WebSocket-Version is "13"
	origins      int
	origin       []byte
	badValue     bool // a Sec-WebSocket-Protocol or -Extensions field does not parse
	malformed    bool // the request is not well-formed HTTP/1.1
	negotiations int  // Sec-WebSocket-Protocol and -Extensions fields seen
}

// addField records one header field. value is the field value without
// surrounding whitespace.
func (r *handshakeRequest) addField(kind int, value []byte) {
	switch kind {
	case fieldHost:
		r.hosts++
		r.host = value
	case fieldUpgrade:
		// Upgrade lists protocols, which may carry a version
		// ("HTTP/2.0, websocket"), so it is not a plain token list.
		r.upgrade = r.upgrade || hasListElement(value, "websocket")
	case fieldConnection:
		r.connection = r.connection || hasToken(value, "upgrade")
	case fieldKey:
		r.keys++
		r.key = value
	case fieldVersion:
		r.versions++
		// Compared as bytes, not read as a number: "13" only, not "013"
		// nor anything httphead.IntFromASCII would take for 13 ("0=").
		r.version13 = string(value) == "13"
	case fieldOrigin:
		r.origins++
		r.origin = value
	case fieldProtocol:
		r.negotiations++
		r.badValue = r.badValue || !validProtocolList(value)
	case fieldExtensions:
		r.negotiations++
		r.badValue = r.badValue || !validExtensionList(value)
	}
}

// check applies the rules of RFC 6455 §4.2.1 in a fixed order and returns
// the first one broken, as a *RejectError sentinel, or nil.
func (r *handshakeRequest) check() error {
	switch {
	case r.malformed:
		return ErrHandshakeMalformed
	case r.major != 1 || r.minor < 1:
		// The version comes first: it decides how to read the rest.
		return ErrHandshakeHTTPVersion
	case !r.get:
		return ErrHandshakeMethod
	case r.hosts != 1:
		return ErrHandshakeHost
	case !r.upgrade:
		return ErrHandshakeUpgrade
	case !r.connection:
		return ErrHandshakeConnection
	case r.versions != 1 || !r.version13:
		// §4.4: answer a version we do not speak with the one we do,
		// before judging a key whose format may differ.
		return ErrHandshakeVersion
	case r.keys != 1 || !validKey(r.key):
		return ErrHandshakeKey
	case r.origins > 1:
		return ErrHandshakeMalformed
	case r.badValue:
		return ErrHandshakeHeaderValue
	}
	return nil
}

// checkOrigin runs the origin check, SameOrigin when check is nil, when
// the request has an Origin field (RFC 6455 §10.2).
func (r *handshakeRequest) checkOrigin(check func(origin, host []byte) error) error {
	if r.origins != 1 {
		return nil
	}
	if check == nil {
		check = SameOrigin
	}
	return check(r.origin, r.host)
}

// validProtocolList reports whether v is a Sec-WebSocket-Protocol value: a
// list of tokens (RFC 6455 §4.1). An empty value counts as an empty list.
func validProtocolList(v []byte) bool {
	return len(v) == 0 || scanTokens(v, func([]byte) bool { return true })
}

// validExtensionList reports whether v is a Sec-WebSocket-Extensions value
// (RFC 6455 §9.1). An empty value counts as an empty list.
func validExtensionList(v []byte) bool {
	return len(v) == 0 || scanOptions(v, func(int, []byte, []byte, []byte) httphead.Control {
		return httphead.ControlContinue
	})
}

// negotiator picks the subprotocol and the extensions from the offers of a
// request (RFC 6455 §4.2.2, items 4 and 5 of /subprotocol/ and
// /extensions/).
type negotiator struct {
	protocols  []string                                      // server preference order
	pickBytes  func([]byte) bool                             // Upgrader.Protocol
	pickString func(string) bool                             // HTTPUpgrader.Protocol
	extension  func(httphead.Option) (httphead.Option, bool) // accept hook
	best       int                                           // index in protocols of the best offer so far; starts at len(protocols)
	protocol   string                                        // chosen subprotocol
	picked     bool                                          // a subprotocol is chosen for good
	exts       []httphead.Option                             // accepted, aliasing the request until finish
}

// wantsProtocol reports whether the server takes part in subprotocol
// negotiation.
func (n *negotiator) wantsProtocol() bool {
	return n.pickBytes != nil || n.pickString != nil || len(n.protocols) > 0
}

// offerProtocols considers the subprotocols of one Sec-WebSocket-Protocol
// field, which the caller has validated. The field may be one of several;
// offers keep the client's order across fields.
func (n *negotiator) offerProtocols(v []byte) {
	if n.picked || !n.wantsProtocol() {
		return
	}
	scanTokens(v, func(tok []byte) bool {
		switch {
		case n.pickBytes != nil:
			if n.pickBytes(tok) {
				n.protocol, n.picked = string(tok), true
			}
		case n.pickString != nil:
			if s := string(tok); n.pickString(s) {
				n.protocol, n.picked = s, true
			}
		default:
			// Subprotocol names compare case-sensitively; taking the
			// server's own string costs no allocation.
			for i, p := range n.protocols[:n.best] {
				if p == string(tok) {
					n.best, n.protocol = i, p
					n.picked = i == 0
					break
				}
			}
		}
		return !n.picked
	})
}

// offerExtensions passes the offers of one Sec-WebSocket-Extensions field,
// which the caller has validated, to the extension hook in order.
func (n *negotiator) offerExtensions(v []byte) {
	if n.extension == nil {
		return
	}
	var cur httphead.Option
	index, has := -1, false
	scanOptions(v, func(i int, name, attr, val []byte) httphead.Control {
		if i != index {
			if has {
				n.offer(cur)
			}
			cur = httphead.Option{Name: name}
			index, has = i, true
		}
		if attr != nil {
			cur.Parameters.Set(attr, val)
		}
		return httphead.ControlContinue
	})
	if has {
		n.offer(cur)
	}
}

// offer asks the extension hook about one offer, unless an extension of the
// same name is already accepted: a client lists alternatives for one
// extension in preference order (RFC 7692 §5).
func (n *negotiator) offer(o httphead.Option) {
	for i := range n.exts {
		if bytes.Equal(n.exts[i].Name, o.Name) {
			return
		}
	}
	if a, ok := n.extension(o); ok && writableOption(a) {
		n.exts = append(n.exts, a)
	}
}

// extensions returns copies of the accepted extensions, in one allocation
// for all their bytes, so that they outlive the request buffer.
func (n *negotiator) extensions() []httphead.Option {
	return cloneOptions(n.exts)
}

// appendSwitching appends the 101 response of RFC 6455 §4.2.2 item 5:
// the accept value for key, the chosen subprotocol and extensions when
// there are any, then the fields of h.
func appendSwitching(dst, key []byte, protocol string, exts []httphead.Option, h http.Header) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\n"+
		"Upgrade: websocket\r\n"+
		"Connection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: "...)
	dst = AppendAccept(dst, key)
	dst = append(dst, "\r\n"...)
	if protocol != "" {
		dst = appendField(dst, "Sec-WebSocket-Protocol", protocol)
	}
	if len(exts) > 0 {
		dst = append(dst, "Sec-WebSocket-Extensions: "...)
		dst = appendOptions(dst, exts)
		dst = append(dst, "\r\n"...)
	}
	dst = appendHeaderFields(dst, h)
	return append(dst, "\r\n"...)
}

// rejection returns the HTTP answer to a failed handshake: the
// *RejectError in err's chain or, for any other error, 400 Bad Request. A
// hook's own error text is not sent: it may say more than a client should
// learn.
func rejection(err error) (status int, reason string, h http.Header) {
	re, ok := err.(*RejectError)
	if !ok {
		if re = asRejectError(err); re == nil {
			return http.StatusBadRequest, http.StatusText(http.StatusBadRequest), nil
		}
	}
	status = re.Status
	if status < 300 || status > 599 {
		// A 1xx or 2xx "rejection" would tell the client that the
		// handshake went through; net/http panics on codes out of range.
		status = http.StatusInternalServerError
	}
	reason = re.Reason
	if reason == "" {
		reason = http.StatusText(status)
	}
	if reason == "" {
		reason = "WebSocket handshake rejected"
	}
	return status, reason, re.Header
}

// asRejectError returns the *RejectError in err's chain, or nil. It is
// apart from rejection so that its target escapes only on this path.
func asRejectError(err error) *RejectError {
	var re *RejectError
	if errors.As(err, &re) {
		return re
	}
	return nil
}

// appendReject appends the HTTP response that answers a handshake failing
// with err (see rejection): the reason in the body and in an
// X-WebSocket-Reject-Reason field, "Connection: close", and the
// RejectError's own fields.
func appendReject(dst []byte, err error) []byte {
	status, reason, h := rejection(err)
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, http.StatusText(status)...)
	dst = append(dst, "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(reason)), 10)
	dst = append(dst, "\r\n"...)
	dst = appendField(dst, "X-WebSocket-Reject-Reason", reason)
	dst = append(dst, "Connection: close\r\n"...)
	dst = appendHeaderFields(dst, h)
	dst = append(dst, "\r\n"...)
	return append(dst, reason...)
}
