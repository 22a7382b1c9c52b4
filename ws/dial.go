package ws

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gobwas/httphead"
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

	// Proxy returns the proxy to tunnel through, or nil for a direct
	// connection; http.ProxyFromEnvironment fits. The request it gets has
	// the URL of the server with the scheme http for ws and https for wss,
	// so that HTTP_PROXY, HTTPS_PROXY and NO_PROXY apply as for HTTP. An
	// http:// proxy is asked for a tunnel with CONNECT; an https:// proxy
	// too, over TLS to the proxy (checked against TLSConfig, with the
	// proxy's host name). Any other scheme (socks5, socks5h) needs
	// ProxyTunnel. Credentials in the proxy URL's userinfo go to the
	// proxy, never to the server. nil means no proxy.
	Proxy func(*http.Request) (*url.URL, error)

	// ProxyTunnel opens the tunnel to addr ("host:port" of the server)
	// over conn, a fresh connection to a proxy whose scheme Dial does not
	// speak itself: package wsproxy's SOCKS5 speaks socks5 and socks5h. It
	// returns the connection that carries the tunnel. ctx is Dial's; conn
	// is closed by Dial when ProxyTunnel fails. nil means only http and
	// https proxies are used, and another scheme fails with
	// ErrProxyScheme.
	ProxyTunnel func(ctx context.Context, conn net.Conn, proxy *url.URL, addr string) (net.Conn, error)

	// MaxHeaderBytes bounds the size of the response head, and of the
	// proxy's answer to CONNECT. A head that does not fit fails with
	// ErrResponseTooLarge. 0 or less means 8 KiB.
	MaxHeaderBytes int
}

// DefaultDialer is the Dialer that Dial uses. It takes its proxy from the
// environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) and gives up on a dial
// and handshake that take longer than DefaultDialTimeout, so that a
// server that accepts and never answers cannot hold a caller whose
// context has no deadline.
var DefaultDialer = &Dialer{Proxy: http.ProxyFromEnvironment, Timeout: DefaultDialTimeout}

// DefaultDialTimeout bounds DefaultDialer's dial and handshake.
const DefaultDialTimeout = 45 * time.Second

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
		c, err := d.tunnel(ctx, conn, proxy, t.addr)
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

// appendRequest appends to dst the handshake request for u with key
// (RFC 6455 §4.1). It fails with ErrBadURL or ErrBadHeader when a part of
// the request would be malformed, before anything is sent.
func (d *Dialer) appendRequest(dst []byte, u *url.URL, key string) ([]byte, error) {
	path := u.RequestURI()
	if !isVisible(path) {
		return nil, fmt.Errorf("%w: request target %q", ErrBadURL, path)
	}
	host := u.Host
	if d.Host != "" {
		host = d.Host
	}
	if !isVisible(host) {
		return nil, fmt.Errorf("%w: Host %q", ErrBadHeader, host)
	}
	dst = append(dst, "GET "...)
	dst = append(dst, path...)
	dst = append(dst, " HTTP/1.1\r\n"...)
	dst = appendField(dst, "Host", host)
	dst = append(dst, "Upgrade: websocket\r\nConnection: Upgrade\r\n"...)
	dst = appendField(dst, "Sec-WebSocket-Key", key)
	dst = append(dst, "Sec-WebSocket-Version: 13\r\n"...)
	if d.Origin != "" {
		if !validFieldValue(d.Origin) {
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
			if !writableOption(e) {
				return nil, fmt.Errorf("%w: extension %q", ErrBadHeader, e.Name)
			}
		}
		// The offer is written compactly ("a;p,b"), the server's answer
		// with spaces ("a; p, b"): one writer, two separators.
		dst = append(dst, "Sec-WebSocket-Extensions: "...)
		dst = appendOptionList(dst, d.Extensions, ",", ";")
		dst = append(dst, "\r\n"...)
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
		// The handshake's own fields go in the fields of Dialer meant for
		// them, or nowhere: they would collide.
		if handshakeField(k) != fieldOther || !isToken(k) {
			return nil, fmt.Errorf("%w: %q", ErrBadHeader, k)
		}
		for _, v := range d.Header[k] {
			if !validFieldValue(v) {
				return nil, fmt.Errorf("%w: value of %q", ErrBadHeader, k)
			}
			dst = appendField(dst, k, v)
		}
	}
	return append(dst, "\r\n"...), nil
}

func basicAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// tlsConfig returns the TLS configuration for a wss connection, or an
// https proxy, at hostname: a clone of d.TLSConfig, never the caller's
// value.
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
