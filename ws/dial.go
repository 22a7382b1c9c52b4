package ws

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/httphead"
)

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

// Dialer opens WebSocket connections: it connects (through a proxy and TLS
// when asked) and runs the client side of the opening handshake
// (RFC 6455 §4.1).
//
// The zero value is a usable Dialer that connects directly, without a
// proxy; DefaultDialer honours the proxy environment variables. A Dialer
// may be used by several goroutines at once; do not change its fields while
// a Dial or Upgrade is in progress.
type Dialer struct {
	// NetDial opens the transport connection. It is called with the
	// context of Dial, the network "tcp" and the "host:port" address of the
	// server, or of the proxy when there is one. nil means
	// (&net.Dialer{}).DialContext.
	//
	// NetDial is also the way to reach a server at another address than
	// its URL names (an IP address, a test listener): the Host header, TLS
	// server name and certificate check still follow the URL.
	NetDial func(ctx context.Context, network, addr string) (net.Conn, error)

	// TLSConfig configures TLS for wss URLs. Dial works on a clone and never
	// modifies it. When its ServerName is empty the clone gets the URL's
	// host name; the clone's NextProtos is always ["http/1.1"], the only
	// ALPN protocol a WebSocket handshake can use. nil means the zero
	// tls.Config (system roots).
	TLSConfig *tls.Config

	// Header holds extra request headers. It may not hold the headers the
	// handshake owns (Host, Upgrade, Connection, Origin and the
	// Sec-WebSocket-* family; use the Host, Origin, Protocols and
	// Extensions fields): Dial fails with ErrBadHeader instead of letting
	// them collide. An Authorization header here takes precedence over
	// the URL's userinfo.
	Header http.Header

	// Origin, when not empty, is sent as the Origin header. Browsers always
	// send one (RFC 6455 §4.1, §10.2); other clients may.
	Origin string

	// Host, when not empty, replaces the URL's host in the Host header.
	// It changes nothing else: the address dialled, the TLS server name
	// (SNI) and the name the certificate must carry still come from the
	// URL, as with net/http's Request.Host. Set TLSConfig.ServerName to
	// change those.
	Host string

	// Protocols are the subprotocols offered in Sec-WebSocket-Protocol, in
	// order of preference. They must be unique tokens (RFC 6455 §4.1).
	Protocols []string

	// Extensions are the extensions offered in Sec-WebSocket-Extensions, in
	// order of preference. The same extension may appear several times
	// with different parameters (RFC 7692 §5).
	Extensions []httphead.Option

	// OnExtensions, when set, is called with the extensions the server
	// accepted (possibly none), after every other check has passed, so
	// that the extension's owner can validate the parameters (RFC 6455
	// §9.1, RFC 7692 §7.1.1). A non-nil error fails the handshake and is
	// returned wrapped. accepted is Handshake.Extensions: do not modify it.
	OnExtensions func(accepted []httphead.Option) error

	// Timeout, when positive, bounds the whole of Dial: connecting, the
	// proxy tunnel, TLS and the handshake (for Upgrade: the handshake).
	// 0 means no bound beyond the context's.
	Timeout time.Duration

	// Proxy returns the HTTP proxy to tunnel through with CONNECT, or nil
	// for a direct connection; http.ProxyFromEnvironment fits. The request
	// it gets has the URL of the server with the scheme http for ws and
	// https for wss, so that HTTP_PROXY and HTTPS_PROXY apply as for HTTP.
	// nil means no proxy.
	Proxy func(*http.Request) (*url.URL, error)

	// MaxHeaderBytes bounds the size of the response head, and of the
	// proxy's answer to CONNECT. A head that does not fit fails with
	// ErrResponseTooLarge. 0 or less means 8 KiB.
	MaxHeaderBytes int
}

// DefaultDialer is the Dialer that Dial uses. It takes its proxy from the
// environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY).
var DefaultDialer = &Dialer{Proxy: http.ProxyFromEnvironment}

// Dial connects to the WebSocket server at urlstr with DefaultDialer. See
// Dialer.Dial.
func Dial(ctx context.Context, urlstr string) (net.Conn, Handshake, error) {
	return DefaultDialer.Dial(ctx, urlstr)
}

// Dial connects to the WebSocket server at urlstr and runs the opening
// handshake (RFC 6455 §4.1). urlstr has the scheme ws or wss, or http or
// https as aliases of those; the port defaults to 80 and 443, and a
// fragment is refused (RFC 6455 §3). Userinfo in the URL is sent as Basic
// authorization.
//
// On success the connection is ready for frames: the client side masks
// what it writes (RFC 6455 §5.3). Read hs.Buffered before reading from the
// connection: it holds the start of the server's frames when they arrived
// with the response. The connection has no deadline set.
//
// ctx bounds everything Dial does: cancelling it, or reaching its deadline
// or Timeout, interrupts a blocked connect, proxy, TLS or handshake step,
// and Dial then returns an error that matches context.Canceled or
// context.DeadlineExceeded with errors.Is. On every error Dial closes the
// connection it opened. A server that answers with another status than 101 gives a
// *HandshakeError; a response that breaks RFC 6455 gives one of the
// ErrResponse* errors.
func (d *Dialer) Dial(ctx context.Context, urlstr string) (net.Conn, Handshake, error) {
	u, err := url.Parse(urlstr)
	if err != nil {
		// Leave out the URL, which may hold a password.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, Handshake{}, fmt.Errorf("%w: %w", ErrBadURL, err)
	}
	t, err := targetOf(u)
	if err != nil {
		return nil, Handshake{}, err
	}
	key := GenerateKey()
	req, err := d.appendRequest(make([]byte, 0, 512), u, key)
	if err != nil {
		return nil, Handshake{}, err
	}
	if d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	if err := ctx.Err(); err != nil {
		return nil, Handshake{}, fmt.Errorf("ws: dial: %w", err)
	}
	proxy, err := d.proxyFor(ctx, u, t)
	if err != nil {
		return nil, Handshake{}, err
	}
	addr := t.addr
	if proxy != nil {
		addr = proxyAddr(proxy)
	}
	dial := d.NetDial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	raw, err := dial(ctx, "tcp", addr)
	if err == nil && raw == nil {
		return nil, Handshake{}, fmt.Errorf("ws: dial: NetDial returned neither a connection nor an error")
	}
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, Handshake{}, fmt.Errorf("ws: dial: %w", err)
	}

	w := watchContext(ctx, raw, "dial")
	conn, hs, err := d.open(ctx, raw, t, proxy, req, key)
	if err = w.stop(err); err != nil {
		raw.Close()
		return nil, Handshake{}, err
	}
	return conn, hs, nil
}

// open runs, over the fresh connection raw, the proxy tunnel, TLS and the
// handshake. The caller closes raw when it fails.
func (d *Dialer) open(ctx context.Context, raw net.Conn, t target, proxy *url.URL, req []byte, key string) (net.Conn, Handshake, error) {
	conn := raw
	if proxy != nil {
		c, err := d.connect(ctx, conn, proxy, t.addr)
		if err != nil {
			return nil, Handshake{}, err
		}
		conn = c
	}
	if t.secure {
		tc := tls.Client(conn, d.tlsConfig(t.hostname))
		if err := tc.Handshake(); err != nil {
			return nil, Handshake{}, fmt.Errorf("ws: tls handshake: %w", err)
		}
		conn = tc
	}
	hs, err := d.handshake(ctx, conn, req, key)
	return conn, hs, err
}

// Upgrade runs the client side of the opening handshake over conn, a
// connection the caller opened (and secured with TLS if needed). u gives
// the request target, the Host header and any Basic authorization; its
// scheme must be ws, wss, http or https, but Upgrade dials nothing and
// ignores Proxy, NetDial and TLSConfig.
//
// When ctx can be done, or Timeout is set, Upgrade interrupts blocked I/O
// through conn's deadlines; any deadline it sets is cleared before it
// returns. It never closes conn: on error the caller should, since the
// connection is then in an unknown state. The results are as for Dial.
func (d *Dialer) Upgrade(ctx context.Context, conn net.Conn, u *url.URL) (Handshake, error) {
	if _, err := targetOf(u); err != nil {
		return Handshake{}, err
	}
	key := GenerateKey()
	req, err := d.appendRequest(make([]byte, 0, 512), u, key)
	if err != nil {
		return Handshake{}, err
	}
	if d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	if err := ctx.Err(); err != nil {
		return Handshake{}, fmt.Errorf("ws: handshake: %w", err)
	}
	w := watchContext(ctx, conn, "handshake")
	hs, err := d.handshake(ctx, conn, req, key)
	if err = w.stop(err); err != nil {
		return Handshake{}, err
	}
	return hs, nil
}

// handshake sends req and reads and checks the server's answer.
func (d *Dialer) handshake(ctx context.Context, conn net.Conn, req []byte, key string) (Handshake, error) {
	if _, err := conn.Write(req); err != nil {
		return Handshake{}, fmt.Errorf("ws: write handshake request: %w", err)
	}
	return d.readResponse(ctx, conn, key)
}

// target is where a WebSocket URL points.
type target struct {
	secure   bool   // wss or https
	hostname string // host without port or brackets: the TLS server name
	addr     string // host:port to dial
}

// targetOf checks that u is a WebSocket URL (RFC 6455 §3) and returns where
// it points.
func targetOf(u *url.URL) (target, error) {
	var t target
	port := "80"
	switch strings.ToLower(u.Scheme) {
	case "ws", "http":
	case "wss", "https":
		t.secure, port = true, "443"
	default:
		return t, fmt.Errorf("%w: %q", ErrBadScheme, u.Scheme)
	}
	// RFC 6455 §3: fragment identifiers MUST NOT be used in WebSocket
	// URIs; "#" must be escaped as %23.
	if u.Opaque != "" || u.Fragment != "" || u.Hostname() == "" {
		return t, fmt.Errorf("%w: %q", ErrBadURL, u.Redacted())
	}
	if p := u.Port(); p != "" {
		port = p
	}
	t.hostname = u.Hostname()
	t.addr = net.JoinHostPort(t.hostname, port)
	return t, nil
}

// reservedHeaders are the request headers the handshake writes itself;
// Dialer.Header may not hold them.
var reservedHeaders = map[string]bool{
	"Host":                     true,
	"Upgrade":                  true,
	"Connection":               true,
	"Origin":                   true,
	"Sec-Websocket-Key":        true,
	"Sec-Websocket-Version":    true,
	"Sec-Websocket-Accept":     true,
	"Sec-Websocket-Protocol":   true,
	"Sec-Websocket-Extensions": true,
}

// appendRequest appends to dst the handshake request for u with key
// (RFC 6455 §4.1). It fails with ErrBadURL or ErrBadHeader when a part of
// the request would be malformed, before anything is sent.
func (d *Dialer) appendRequest(dst []byte, u *url.URL, key string) ([]byte, error) {
	path := u.RequestURI()
	if !validText(path, false) {
		return nil, fmt.Errorf("%w: request target %q", ErrBadURL, path)
	}
	host := u.Host
	if d.Host != "" {
		host = d.Host
	}
	if !validText(host, false) {
		return nil, fmt.Errorf("%w: Host %q", ErrBadHeader, host)
	}
	dst = append(dst, "GET "...)
	dst = append(dst, path...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "...)
	dst = append(dst, key...)
	dst = append(dst, "\r\nSec-WebSocket-Version: 13\r\n"...)
	if d.Origin != "" {
		if !validText(d.Origin, true) {
			return nil, fmt.Errorf("%w: Origin %q", ErrBadHeader, d.Origin)
		}
		dst = appendField(dst, "Origin", d.Origin)
	}
	if len(d.Protocols) > 0 {
		dst = append(dst, "Sec-WebSocket-Protocol: "...)
		for i, p := range d.Protocols {
			// RFC 6455 §4.1: the elements MUST be unique tokens.
			if !isToken(p) || slices.Contains(d.Protocols[:i], p) {
				return nil, fmt.Errorf("%w: subprotocol %q", ErrBadHeader, p)
			}
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = append(dst, p...)
		}
		dst = append(dst, "\r\n"...)
	}
	if len(d.Extensions) > 0 {
		for _, e := range d.Extensions {
			if err := checkOffer(e); err != nil {
				return nil, err
			}
		}
		dst = append(dst, "Sec-WebSocket-Extensions: "...)
		w := appendWriter{dst}
		_, _ = httphead.WriteOptions(&w, d.Extensions) // appendWriter never fails
		dst = append(w.b, "\r\n"...)
	}
	if u.User != nil && len(d.Header.Values("Authorization")) == 0 {
		pass, _ := u.User.Password()
		dst = appendField(dst, "Authorization", "Basic "+basicAuth(u.User.Username(), pass))
	}
	if len(d.Header) == 0 {
		return append(dst, "\r\n"...), nil
	}
	// Sorted, so that the request is the same from one dial to the next.
	for _, k := range slices.Sorted(maps.Keys(d.Header)) {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		if reservedHeaders[ck] || !isToken(k) {
			return nil, fmt.Errorf("%w: %q", ErrBadHeader, k)
		}
		for _, v := range d.Header[k] {
			if !validText(v, true) {
				return nil, fmt.Errorf("%w: value of %q", ErrBadHeader, k)
			}
			dst = appendField(dst, k, v)
		}
	}
	return append(dst, "\r\n"...), nil
}

// checkOffer checks that an offered extension is made of tokens and of
// parameter values without control characters, so that WriteOptions
// cannot emit a malformed or injected header.
func checkOffer(e httphead.Option) error {
	ok := isToken(string(e.Name))
	e.Parameters.ForEach(func(k, v []byte) bool {
		ok = ok && isToken(string(k)) && validText(string(v), true)
		return ok
	})
	if !ok {
		return fmt.Errorf("%w: extension %q", ErrBadHeader, e.Name)
	}
	return nil
}

// appendWriter is an io.Writer that appends to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func appendField(dst []byte, k, v string) []byte {
	dst = append(dst, k...)
	dst = append(dst, ": "...)
	dst = append(dst, v...)
	return append(dst, "\r\n"...)
}

func basicAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// isToken reports whether s is a non-empty RFC 7230 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if !httphead.OctetTypes[s[i]].IsToken() {
			return false
		}
	}
	return true
}

// validText reports whether s holds no control characters; spaces and tabs
// are allowed only when spaces is set. It keeps CR and LF, and with them
// header injection, out of the request.
func validText(s string, spaces bool) bool {
	for i := range len(s) {
		c := s[i]
		if c == 0x7f || c < 0x20 && c != '\t' || !spaces && (c == ' ' || c == '\t') {
			return false
		}
	}
	return true
}

// tlsConfig returns the TLS configuration for a wss connection to
// hostname: a clone of d.TLSConfig, never the caller's value.
func (d *Dialer) tlsConfig(hostname string) *tls.Config {
	var cfg *tls.Config
	if d.TLSConfig != nil {
		cfg = d.TLSConfig.Clone()
	} else {
		cfg = new(tls.Config)
	}
	if cfg.ServerName == "" {
		cfg.ServerName = hostname
	}
	// The handshake is HTTP/1.1 (RFC 6455 §4.1); a server that picked h2
	// through ALPN would not understand it.
	cfg.NextProtos = []string{"http/1.1"}
	return cfg
}

// aLongTimeAgo is a deadline in the past: setting it interrupts blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// ctxWatch makes blocked I/O on conn return when ctx is done, by moving
// conn's deadline into the past from a context.AfterFunc.
type ctxWatch struct {
	ctx   context.Context
	op    string // names the operation in the errors of stop
	conn  net.Conn
	stopf func() bool
	fired chan struct{}
}

// watchContext starts watching ctx for conn. When ctx can never be done it
// does nothing and leaves conn's deadline alone.
func watchContext(ctx context.Context, conn net.Conn, op string) ctxWatch {
	w := ctxWatch{ctx: ctx, conn: conn, op: op}
	if ctx.Done() == nil {
		return w
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	fired := make(chan struct{})
	w.fired = fired
	w.stopf = context.AfterFunc(ctx, func() {
		_ = conn.SetDeadline(aLongTimeAgo)
		close(fired)
	})
	return w
}

// stop ends the watch and clears conn's deadline. When err is a timeout
// that ctx caused, it returns ctx's error instead, so that callers see
// context.Canceled or context.DeadlineExceeded rather than an I/O timeout.
func (w ctxWatch) stop(err error) error {
	if w.stopf == nil {
		return err
	}
	if !w.stopf() {
		<-w.fired // the AfterFunc ran or is running: let it finish first
	}
	_ = w.conn.SetDeadline(time.Time{})
	if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	if w.ctx.Err() == nil {
		// The connection may notice the context's deadline a moment
		// before the context does; Done is then about to close.
		if dl, ok := w.ctx.Deadline(); ok && !time.Now().Before(dl) {
			<-w.ctx.Done()
		}
	}
	if cerr := w.ctx.Err(); cerr != nil {
		return fmt.Errorf("ws: %s: %w", w.op, cerr)
	}
	return err
}

// headBufPool holds response buffers of the default size. Nothing returned
// to a caller aliases them: Buffered, extensions and errors are copies.
var headBufPool = sync.Pool{New: func() any {
	b := make([]byte, defaultMaxHeaderBytes)
	return &b
}}

func (d *Dialer) getHeadBuf() *[]byte {
	if d.MaxHeaderBytes <= 0 || d.MaxHeaderBytes == defaultMaxHeaderBytes {
		return headBufPool.Get().(*[]byte)
	}
	b := make([]byte, d.MaxHeaderBytes)
	return &b
}

func putHeadBuf(b *[]byte) {
	if len(*b) == defaultMaxHeaderBytes {
		headBufPool.Put(b)
	}
}

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
		switch {
		case fieldIs(f.k, "Upgrade"):
			tabsToSpaces(f.v)
			upgrade = upgrade || hasToken(f.v, "websocket")
		case fieldIs(f.k, "Connection"):
			tabsToSpaces(f.v)
			connection = connection || hasToken(f.v, "upgrade")
		case fieldIs(f.k, "Sec-WebSocket-Accept"):
			accept, nAccept = f.v, nAccept+1
		case fieldIs(f.k, "Sec-WebSocket-Protocol"):
			if len(f.v) > 0 {
				proto, nProto = f.v, nProto+1
			}
		case fieldIs(f.k, "Sec-WebSocket-Extensions"):
			if len(f.v) == 0 {
				continue
			}
			tabsToSpaces(f.v)
			var ok bool
			if exts, ok = httphead.ParseOptions(f.v, exts); !ok {
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
	hs := Handshake{Protocol: string(proto), Extensions: cloneOptions(exts)}
	if d.OnExtensions != nil {
		if err := d.OnExtensions(hs.Extensions); err != nil {
			return Handshake{}, fmt.Errorf("ws: extensions refused: %w", err)
		}
	}
	return hs, nil
}

// tabsToSpaces turns HTABs in b into spaces, in place. Both are
// whitespace in token lists (RFC 9110 §5.6.3), but httphead's lexer knows
// only the space: its octet table leaves out HTAB.
func tabsToSpaces(b []byte) {
	for i, c := range b {
		if c == '\t' {
			b[i] = ' '
		}
	}
}

// cloneOptions deep-copies opts into one allocation, so that they outlive
// the buffer they were parsed from.
func cloneOptions(opts []httphead.Option) []httphead.Option {
	if len(opts) == 0 {
		return nil
	}
	n := 0
	for _, o := range opts {
		n += o.Size()
	}
	mem := make([]byte, n)
	out := make([]httphead.Option, len(opts))
	for i, o := range opts {
		s := o.Size()
		out[i] = o.Copy(mem[:s:s])
		mem = mem[s:]
	}
	return out
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

// fieldIs reports whether the header name k is name, without regard to
// ASCII case.
func fieldIs(k []byte, name string) bool {
	if len(k) != len(name) {
		return false
	}
	for i := range len(k) {
		a, b := k[i], name[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// readResponseHead reads from r, into buf, the head of the final response:
// interim 1xx responses other than 101 are skipped (RFC 9110 §15.2), and
// every head read counts against len(buf). It returns the parsed head and
// the bytes that arrived after it, both aliasing buf.
func readResponseHead(r io.Reader, buf []byte) (respHead, []byte, error) {
	start, n := 0, 0
	for {
		end, m, err := readHead(r, buf, start, n)
		if err != nil {
			return respHead{}, nil, err
		}
		n = m
		resp, err := parseHead(buf[start:end])
		if err != nil {
			return respHead{}, nil, err
		}
		if resp.status < 200 && resp.status != http.StatusSwitchingProtocols {
			start = end
			continue
		}
		return resp, buf[end:n], nil
	}
}

// readHead reads from r into buf, which holds n bytes, until buf[start:]
// holds a complete head. It returns the index just past the head and the
// number of bytes in buf.
func readHead(r io.Reader, buf []byte, start, n int) (end, m int, err error) {
	from, empty := 0, 0
	for {
		if e := headEnd(buf[start:n], from); e >= 0 {
			return start + e, n, nil
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, 0, fmt.Errorf("ws: read response head: %w", err)
		}
		if n == len(buf) {
			return 0, 0, ErrResponseTooLarge
		}
		from = max(0, n-start-2) // a terminator may straddle two reads
		var k int
		k, err = r.Read(buf[n:])
		n += k
		if k > 0 {
			empty = 0
		} else if empty++; empty > 100 && err == nil {
			err = io.ErrNoProgress
		}
	}
}

// headEnd returns the length of the head at the start of b, up to and
// including the empty line that ends it, or -1 when b holds no complete
// head. Lines end in CRLF or, leniently, LF (RFC 9112 §2.2). The search
// starts at from, which must not be past the start of an unfinished
// terminator.
func headEnd(b []byte, from int) int {
	for i := from; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		if i < len(b) && b[i] == '\n' {
			return i + 1
		}
		if i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
			return i + 2
		}
	}
	return -1
}

// parseHead parses a response head as headEnd delimits it. It rewrites
// obsolete line folding in place into spaces (RFC 9112 §5.2).
func parseHead(head []byte) (respHead, error) {
	var h respHead
	first := bytes.IndexByte(head, '\n')
	if first < 0 || !h.parseStatusLine(trimCR(head[:first])) {
		return h, ErrResponseMalformed
	}
	// RFC 9112 §2.2: whitespace before the first field is refused.
	if c := head[first+1]; c == ' ' || c == '\t' {
		return h, ErrResponseMalformed
	}
	for i := first + 1; i < len(head)-1; i++ {
		if head[i] == '\n' && (head[i+1] == ' ' || head[i+1] == '\t') {
			head[i] = ' '
			if head[i-1] == '\r' {
				head[i-1] = ' '
			}
		}
	}
	h.fields = make([]respField, 0, 16)
	for rest := head[first+1:]; ; {
		nl := bytes.IndexByte(rest, '\n')
		line := trimCR(rest[:nl])
		rest = rest[nl+1:]
		if len(line) == 0 {
			return h, nil
		}
		k, v, ok := httphead.ParseHeaderLine(line)
		if !ok || len(k) == 0 || !validText(string(v), true) {
			return h, ErrResponseMalformed
		}
		h.fields = append(h.fields, respField{k, v})
	}
}

// parseStatusLine parses "HTTP/1.x SP 3DIGIT [SP reason]". The reason may
// be missing altogether, as some servers send it.
func (h *respHead) parseStatusLine(line []byte) bool {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return false
	}
	major, minor, ok := httphead.ParseVersion(line[:sp])
	if !ok || major != 1 {
		return false
	}
	code := line[sp+1:]
	if i := bytes.IndexByte(code, ' '); i >= 0 {
		code, h.reason = code[:i], code[i+1:]
	}
	// Not httphead.IntFromASCII: it takes ':' to '?' for digits.
	status := 0
	for _, c := range code {
		if c < '0' || c > '9' {
			return false
		}
		status = status*10 + int(c-'0')
	}
	if len(code) != 3 || status < 100 || !validText(string(h.reason), true) {
		return false
	}
	h.minor, h.status = minor, status
	return true
}

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}
