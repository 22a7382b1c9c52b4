package ws

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// proxyFor asks d.Proxy how to reach u and returns the proxy's URL, or nil
// for a direct connection.
func (d *Dialer) proxyFor(ctx context.Context, u *url.URL, t target) (*url.URL, error) {
	if d.Proxy == nil {
		return nil, nil
	}
	// Present the URL as HTTP would see it: http.ProxyFromEnvironment picks
	// HTTPS_PROXY for https and HTTP_PROXY for http, and knows no ws.
	pu := *u
	pu.Scheme = "http"
	if t.secure {
		pu.Scheme = "https"
	}
	req := (&http.Request{
		Method:     http.MethodGet,
		URL:        &pu,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header),
		Host:       pu.Host,
	}).WithContext(ctx)
	p, err := d.Proxy(req)
	if err != nil {
		return nil, fmt.Errorf("ws: proxy: %w", err)
	}
	if p == nil {
		return nil, nil
	}
	if !connectProxy(p) && d.ProxyTunnel == nil {
		return nil, fmt.Errorf("%w: %q", ErrProxyScheme, p.Scheme)
	}
	if p.Hostname() == "" {
		return nil, fmt.Errorf("%w: proxy %q", ErrBadURL, p.Redacted())
	}
	return p, nil
}

// connectProxy reports whether Dial speaks to proxy p itself, with
// CONNECT: an http or https proxy.
func connectProxy(p *url.URL) bool {
	return strings.EqualFold(p.Scheme, "http") || strings.EqualFold(p.Scheme, "https")
}

// proxyAddr returns the host:port to dial for proxy p: its port, or the
// default of its scheme (80 for http, 443 for https, 1080 for SOCKS).
func proxyAddr(p *url.URL) string {
	port := p.Port()
	if port == "" {
		switch strings.ToLower(p.Scheme) {
		case "http":
			port = "80"
		case "https":
			port = "443"
		default:
			port = "1080"
		}
	}
	return net.JoinHostPort(p.Hostname(), port)
}

// tunnel opens the tunnel to addr through the proxy at the other end of
// conn: CONNECT for http and https proxies (over TLS to the proxy for
// https), ProxyTunnel for the rest. It returns the connection that
// carries the tunnel.
func (d *Dialer) tunnel(ctx context.Context, conn net.Conn, proxy *url.URL, addr string) (net.Conn, error) {
	if !connectProxy(proxy) {
		c, err := d.ProxyTunnel(ctx, conn, proxy, addr)
		if err == nil && c == nil {
			err = errors.New("ProxyTunnel returned neither a connection nor an error")
		}
		if err != nil {
			return nil, fmt.Errorf("ws: proxy: %w", err)
		}
		return c, nil
	}
	if strings.EqualFold(proxy.Scheme, "https") {
		tc := tls.Client(conn, d.tlsConfig(proxy.Hostname()))
		// The deadline Dial's context watch set on conn bounds it.
		if err := tc.Handshake(); err != nil {
			return nil, fmt.Errorf("ws: proxy: tls handshake: %w", err)
		}
		conn = tc
	}
	return d.connect(ctx, conn, proxy, addr)
}

// connect asks the proxy at the other end of conn for a tunnel to addr
// (RFC 9110 §9.3.6), with Basic Proxy-Authorization from the proxy URL's
// userinfo. It returns the connection that carries the tunnel: conn, or
// conn behind the bytes of the tunnel that arrived with the proxy's answer.
func (d *Dialer) connect(ctx context.Context, conn net.Conn, proxy *url.URL, addr string) (net.Conn, error) {
	req := make([]byte, 0, 128)
	req = append(req, "CONNECT "...)
	req = append(req, addr...)
	req = append(req, " HTTP/1.1\r\n"...)
	req = appendField(req, "Host", addr)
	if proxy.User != nil {
		pass, _ := proxy.User.Password()
		req = appendField(req, "Proxy-Authorization", "Basic "+basicAuth(proxy.User.Username(), pass))
	}
	req = append(req, "\r\n"...)
	if _, err := conn.Write(req); err != nil {
		return nil, fmt.Errorf("ws: write CONNECT request: %w", err)
	}

	bp := d.getHeadBuf()
	defer putHeadBuf(bp)
	resp, rest, err := readResponseHead(conn, *bp)
	if err != nil {
		return nil, fmt.Errorf("ws: proxy: %w", err)
	}
	if resp.status < 200 || resp.status > 299 {
		return nil, fmt.Errorf("%w: %w", ErrProxyRefused, newHandshakeError(ctx, &resp, conn, rest))
	}
	if len(rest) > 0 {
		return &prefixConn{Conn: conn, buf: bytes.Clone(rest)}, nil
	}
	return conn, nil
}

// prefixConn is a net.Conn whose first reads return buf.
type prefixConn struct {
	net.Conn
	buf []byte
}

// Read implements net.Conn.
func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.buf) > 0 {
		n := copy(p, c.buf)
		c.buf = c.buf[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
