package wsproxy

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"

	"golang.org/x/net/proxy"

	"github.com/sluice-ws/sluice/ws"
)

// SOCKS5 opens a tunnel to addr ("host:port") through the SOCKS5 proxy at
// the other end of conn, a fresh connection to it; its signature fits
// ws.Dialer.ProxyTunnel. The proxy URL's scheme is socks5 or socks5h (any
// other fails with ws.ErrProxyScheme); its userinfo, when present, is sent
// as username and password (RFC 1929). Host names are resolved by the
// proxy for both schemes, as net/http does, so that a name the client
// cannot resolve still works.
//
// ctx bounds the exchange with the proxy. On error the caller closes conn
// (ws.Dialer does). The returned connection is conn, with the tunnel open.
func SOCKS5(ctx context.Context, conn net.Conn, proxyURL *url.URL, addr string) (net.Conn, error) {
	switch strings.ToLower(proxyURL.Scheme) {
	case "socks5", "socks5h":
	default:
		return nil, fmt.Errorf("%w: %q", ws.ErrProxyScheme, proxyURL.Scheme)
	}
	var auth *proxy.Auth
	if u := proxyURL.User; u != nil {
		auth = &proxy.Auth{User: u.Username()}
		auth.Password, _ = u.Password()
	}
	d, err := proxy.SOCKS5("tcp", proxyURL.Host, auth, opened{conn})
	if err != nil {
		return nil, fmt.Errorf("wsproxy: socks5: %w", err)
	}
	c, err := d.(proxy.ContextDialer).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("wsproxy: socks5: %w", err)
	}
	return c, nil
}

// opened is the "dialer" that hands x/net/proxy the connection to the
// proxy that ws.Dialer already opened (through its NetDial).
type opened struct{ conn net.Conn }

func (o opened) Dial(string, string) (net.Conn, error) { return o.conn, nil }

func (o opened) DialContext(context.Context, string, string) (net.Conn, error) { return o.conn, nil }
