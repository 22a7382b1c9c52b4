package wsutil

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gobwas/httphead"
	"github.com/sluice-ws/sluice/ws"
)

// offerer is what an Extension in Config.Extension offers the client side
// of the handshake: wsflate.Extension is one. Dial offers it and checks
// the server's answer with it, so that compression is configured in one
// place, as on the server (see AcceptOptions).
type offerer = interface {
	Offer() httphead.Option
	CheckResponse(accepted []httphead.Option) error
}

// DialOptions configures Dial: the connection, the opening handshake and
// the Conn it returns. The zero value connects directly, or through the
// proxy that HTTP_PROXY, HTTPS_PROXY and NO_PROXY name, offers no
// subprotocol and no compression, follows no redirect, sends no cookie,
// gives up after ws.DefaultDialTimeout, and runs the Conn with NewConn's
// defaults (a client sends no keepalive pings unless Config.PingInterval
// says so).
type DialOptions struct {
	// Config configures the Conn. Config.Extension also drives the
	// handshake: with Extension: &wsflate.Extension{...} Dial offers
	// permessage-deflate, checks the server's answer against the offer
	// (RFC 7692 §7.1) and compresses when the server accepted.
	Config Config

	// Protocols are the subprotocols offered, in order of preference
	// (Node's protocols argument); DialResponse.Protocol tells which one
	// the server chose.
	Protocols []string
	// Header holds extra request fields (Node's headers option), such as
	// Authorization or User-Agent. The handshake's own fields are refused
	// with ws.ErrBadHeader: use Origin, Host and Protocols.
	Header http.Header
	// Origin, when not empty, is sent as the Origin field, as a browser
	// page would (Node's origin option).
	Origin string
	// Host, when not empty, replaces the URL's host in the Host field
	// only (Node's host option); see ws.Dialer.Host.
	Host string

	// TLSConfig configures TLS for wss URLs and https proxies: the roots
	// to trust (Node's ca), a client certificate (cert, key, pfx), cipher
	// suites and versions. Dial works on a clone. nil means the system
	// roots; InsecureSkipVerify turns verification off, and only a
	// program's explicit choice should set it (Node's
	// rejectUnauthorized: false).
	TLSConfig *tls.Config
	// NetDial opens the TCP connection (to the server or the proxy): a
	// net.Dialer's DialContext with its KeepAlive, LocalAddr or Resolver
	// (what Node's agent option configures). nil means a zero net.Dialer.
	NetDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Proxy returns the proxy for a request (see ws.Dialer.Proxy): http
	// and https proxies are spoken to with CONNECT, socks5 ones with
	// ProxyTunnel. nil means http.ProxyFromEnvironment; return a nil URL
	// to connect directly.
	Proxy func(*http.Request) (*url.URL, error)
	// ProxyTunnel speaks the proxy schemes other than http and https:
	// wsproxy.SOCKS5 for socks5:// and socks5h:// proxies.
	ProxyTunnel func(ctx context.Context, conn net.Conn, proxy *url.URL, addr string) (net.Conn, error)

	// Jar, when set, holds cookies: those it has for the URL go with the
	// handshake, and those the server sets (in its 101 response, or in a
	// redirect) are stored in it. net/http/cookiejar makes one.
	Jar http.CookieJar
	// MaxRedirects is how many redirects (301, 302, 303, 307, 308) Dial
	// follows; 0 follows none, and Dial returns the redirect as a
	// *ws.HandshakeError (Node's followRedirects and maxRedirects). A
	// redirect from wss to ws is never followed (ErrRedirectInsecure),
	// and credentials (the URL's userinfo, Authorization, Cookie and Host
	// from Header and Host) are not sent on once a redirect leaves the
	// first URL's host.
	MaxRedirects int

	// HandshakeTimeout bounds the whole of Dial: connecting, proxies, TLS,
	// the handshake and the redirects. 0 means ws.DefaultDialTimeout, a
	// negative value no bound beyond ctx's.
	HandshakeTimeout time.Duration
	// MaxHeaderBytes bounds a response head (see ws.Dialer).
	MaxHeaderBytes int
}

// DialResponse is the server's answer to a successful opening handshake.
type DialResponse struct {
	// URL is the URL connected to: the one given to Dial, or where the
	// redirects led.
	URL *url.URL
	// StatusCode is 101 (Switching Protocols).
	StatusCode int
	// Header holds the response's fields.
	Header http.Header
	// Protocol is the subprotocol the server chose, or "".
	Protocol string
	// Extensions are the extensions the server accepted, with their
	// parameters (the Conn's Extensions).
	Extensions []httphead.Option
}

// Dial connects to the WebSocket server at rawURL (ws, wss, or http and
// https as aliases) and returns the running Conn, on the client side, and
// the server's response. nil opts is the zero value.
//
// A server that refuses the handshake gives a *ws.HandshakeError with its
// status, fields and the start of its body (Node's unexpected-response,
// WebSocket-Node's connectFailed); a redirect that is not followed is
// one too. ctx bounds Dial, not the Conn: cancelling it later does not
// affect the connection. On error nothing is left open.
func Dial(ctx context.Context, rawURL string, opts *DialOptions) (*Conn, *DialResponse, error) {
	if opts == nil {
		opts = &DialOptions{}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// Leave out the URL, which may hold a password.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, nil, fmt.Errorf("%w: %w", ws.ErrBadURL, err)
	}
	timeout := opts.HandshakeTimeout
	if timeout == 0 {
		timeout = ws.DefaultDialTimeout
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	r := redirects{opts: opts, first: u, header: opts.Header, host: opts.Host}
	for {
		nc, hs, err := opts.dialer(opts.withCookies(r.header, u), r.host).Dial(ctx, u.String())
		if err != nil {
			var he *ws.HandshakeError
			if errors.As(err, &he) {
				opts.storeCookies(u, he.Header)
			}
			next, ferr := r.follow(u, err)
			if ferr != nil {
				return nil, nil, ferr
			}
			u = next
			continue
		}
		opts.storeCookies(u, hs.Header)
		resp := &DialResponse{
			URL:        u,
			StatusCode: http.StatusSwitchingProtocols,
			Header:     hs.Header,
			Protocol:   hs.Protocol,
			Extensions: hs.Extensions,
		}
		c, err := NewConn(nc, ws.ClientSide, hs, opts.Config)
		if err != nil {
			nc.Close()
			return nil, nil, err
		}
		return c, resp, nil
	}
}

// dialer returns the ws.Dialer of one attempt, with the request fields
// header and host.
func (o *DialOptions) dialer(header http.Header, host string) *ws.Dialer {
	d := &ws.Dialer{
		NetDial:        o.NetDial,
		TLSConfig:      o.TLSConfig,
		Header:         header,
		Origin:         o.Origin,
		Host:           host,
		Protocols:      o.Protocols,
		Proxy:          o.Proxy,
		ProxyTunnel:    o.ProxyTunnel,
		MaxHeaderBytes: o.MaxHeaderBytes,
	}
	if d.Proxy == nil {
		d.Proxy = http.ProxyFromEnvironment
	}
	if ext, ok := o.Config.Extension.(offerer); ok {
		d.Extensions = []httphead.Option{ext.Offer()}
		d.OnExtensions = ext.CheckResponse
	}
	return d
}

// httpURL returns u as a cookie jar sees it: with the scheme http for ws
// and https for wss, so that Secure cookies go over wss only.
func httpURL(u *url.URL) *url.URL {
	hu := *u
	switch strings.ToLower(u.Scheme) {
	case "ws":
		hu.Scheme = "http"
	case "wss":
		hu.Scheme = "https"
	}
	return &hu
}

// withCookies returns header with the Jar's cookies for u added to its
// Cookie field (one field, as RFC 6265 §5.4 asks), or header itself when
// there are none.
func (o *DialOptions) withCookies(header http.Header, u *url.URL) http.Header {
	if o.Jar == nil {
		return header
	}
	cookies := o.Jar.Cookies(httpURL(u))
	if len(cookies) == 0 {
		return header
	}
	parts := make([]string, 0, len(cookies)+1)
	if v := header.Get("Cookie"); v != "" {
		parts = append(parts, v)
	}
	for _, c := range cookies {
		parts = append(parts, c.String())
	}
	h := header.Clone()
	if h == nil {
		h = make(http.Header)
	}
	h.Set("Cookie", strings.Join(parts, "; "))
	return h
}

// storeCookies stores the cookies a response to u sets in the Jar.
func (o *DialOptions) storeCookies(u *url.URL, h http.Header) {
	if o.Jar == nil || len(h.Values("Set-Cookie")) == 0 {
		return
	}
	if cookies := (&http.Response{Header: h}).Cookies(); len(cookies) > 0 {
		o.Jar.SetCookies(httpURL(u), cookies)
	}
}
