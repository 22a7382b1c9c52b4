package ws

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gobwas/httphead"
)

// HTTPUpgrader is the server side of the WebSocket opening handshake
// (RFC 6455 §4.2) inside a net/http handler. It applies the same checks and
// negotiation as Upgrader to the request net/http has parsed, then hijacks
// the connection.
//
// Only HTTP/1.1 can be upgraded this way. Requests that arrive over HTTP/2
// (where WebSocket needs the extended CONNECT of RFC 8441, which this
// package does not implement) are refused with ErrHandshakeHTTPVersion,
// 505 HTTP Version Not Supported; a client that tried HTTP/2 first should
// retry over HTTP/1.1.
//
// The zero value is ready to use, with the defaults of Upgrader. An
// HTTPUpgrader is not modified by Upgrade and may be used by many
// goroutines at once, as long as its hooks may.
type HTTPUpgrader struct {
	// Timeout bounds the writing of the 101 response on the hijacked
	// connection. 0 means DefaultHandshakeTimeout; a negative value means
	// no bound.
	Timeout time.Duration

	// Protocols lists the supported subprotocols in the server's order
	// of preference, as in Upgrader. Ignored when Protocol is set.
	Protocols []string

	// Protocol, when set, chooses the subprotocol: it is called for each
	// offered subprotocol in the client's order, and the first for which
	// it returns true is chosen.
	Protocol func(offered string) bool

	// Extension accepts offered extensions, as in Upgrader. The offer is
	// valid only until the hook returns.
	Extension func(offer httphead.Option) (accept httphead.Option, ok bool)

	// CheckOrigin is called with the values of the Origin field and of
	// r.Host when the request has an Origin field. nil means SameOrigin.
	// The slices are valid only until the hook returns.
	CheckOrigin func(origin, host []byte) error

	// DeferResponse leaves the 101 response unwritten: Upgrade returns it
	// in Handshake.Response for the caller to write before anything else
	// (as Upgrader.DeferResponse). Timeout then does not apply.
	DeferResponse bool
}

// httpHandshakeFields are the fields HTTPUpgrader checks, by canonical
// name, besides Host, which net/http moves to Request.Host.
var httpHandshakeFields = [...]struct {
	name string
	kind int
}{
	{"Upgrade", fieldUpgrade},
	{"Connection", fieldConnection},
	{"Sec-Websocket-Key", fieldKey},
	{"Sec-Websocket-Version", fieldVersion},
	{"Origin", fieldOrigin},
	{"Sec-Websocket-Protocol", fieldProtocol},
	{"Sec-Websocket-Extensions", fieldExtensions},
}

// Upgrade checks r as an opening handshake, hijacks the connection and
// writes the 101 response, with the fields already set on w.Header() added
// to it. It returns the connection, with no deadline set, and the
// negotiated Handshake; whatever the client sent after its request and
// net/http had already read (the first frames, say) is in hs.Buffered:
// read it before reading from the connection.
//
// On failure before the hijack, Upgrade answers through w: the rejection
// with its status, X-WebSocket-Reject-Reason field and reason as body, or
// 500 when w cannot be hijacked (errors.Is(err, http.ErrNotSupported)). It
// returns the *RejectError, or the hijack error wrapped. After the hijack
// it closes the connection on error.
func (u *HTTPUpgrader) Upgrade(w http.ResponseWriter, r *http.Request) (net.Conn, Handshake, error) {
	// The checks take []byte and net/http holds strings: the values are
	// copied into a pooled buffer, which the 101 response then follows,
	// rather than converted (and allocated) one by one. They are valid
	// until Upgrade returns, longer than the hooks may keep them.
	bp := upgradeBufs.get()
	defer upgradeBufs.put(bp)
	buf := (*bp)[:0]
	var v []byte

	var req handshakeRequest
	req.get = r.Method == http.MethodGet
	req.major, req.minor = r.ProtoMajor, r.ProtoMinor
	if r.Host != "" {
		buf, req.host = appendValue(buf, r.Host)
		req.hosts = 1
	}
	for _, f := range httpHandshakeFields {
		for _, s := range r.Header[f.name] {
			buf, v = appendValue(buf, s)
			req.addField(f.kind, trimFieldSpace(v))
		}
	}
	err := req.check()
	if err == nil {
		err = req.checkOrigin(u.CheckOrigin)
	}
	if err != nil {
		RejectHTTP(w, r, err)
		return nil, Handshake{}, err
	}

	n := negotiator{
		protocols:  u.Protocols,
		pickString: u.Protocol,
		extension:  u.Extension,
		best:       len(u.Protocols),
	}
	if n.wantsProtocol() {
		for _, s := range r.Header["Sec-Websocket-Protocol"] {
			buf, v = appendValue(buf, s)
			n.offerProtocols(v)
		}
	}
	if n.extension != nil {
		for _, s := range r.Header["Sec-Websocket-Extensions"] {
			buf, v = appendValue(buf, s)
			n.offerExtensions(v)
		}
	}
	hs := Handshake{Protocol: n.protocol, Extensions: n.extensions()}

	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return nil, Handshake{}, fmt.Errorf("ws: upgrade: %w", err)
	}
	if k := brw.Reader.Buffered(); k > 0 {
		p, _ := brw.Reader.Peek(k) // cannot fail: k bytes are buffered
		hs.Buffered = bytes.Clone(p)
	}

	resp := appendSwitching(buf[len(buf):], req.key, hs.Protocol, hs.Extensions, w.Header())
	if u.DeferResponse {
		hs.Response = bytes.Clone(resp)
		// Drops the deadlines the http.Server may have set.
		if err := conn.SetDeadline(time.Time{}); err != nil {
			conn.Close()
			return nil, Handshake{}, fmt.Errorf("ws: upgrade: %w", err)
		}
		return conn, hs, nil
	}
	if t := handshakeTimeout(u.Timeout); t > 0 {
		_ = conn.SetDeadline(time.Now().Add(t))
	}
	_, err = conn.Write(resp)
	if err == nil {
		// Also drops the deadlines the http.Server may have set.
		err = conn.SetDeadline(time.Time{})
	}
	if err != nil {
		conn.Close()
		return nil, Handshake{}, fmt.Errorf("ws: upgrade: %w", err)
	}
	return conn, hs, nil
}

// appendValue appends s to buf and returns buf and the copy of s in it.
// The copy is capped, so that appending to it cannot overwrite what
// follows, and it stays valid when a later append moves buf.
func appendValue(buf []byte, s string) ([]byte, []byte) {
	buf = append(buf, s...)
	return buf, buf[len(buf)-len(s) : len(buf) : len(buf)]
}

// RejectHTTP answers a refused handshake through w, as HTTPUpgrader.Upgrade
// does: err's status when it is a *RejectError (400 Bad Request for any
// other error), its fields, an X-WebSocket-Reject-Reason field and the
// reason as body, and "Connection: close" on HTTP/1. Use it for checks of
// your own before Upgrade.
func RejectHTTP(w http.ResponseWriter, r *http.Request, err error) {
	status, reason, fields := rejection(err)
	h := w.Header()
	for k, vs := range fields {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-WebSocket-Reject-Reason", string(appendFieldValue(nil, reason)))
	if r.ProtoMajor == 1 {
		// HTTP/2 forbids connection-specific fields (RFC 9113 §8.2.2).
		h.Add("Connection", "close")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, reason)
}
