package ws_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/ws"
)

// dialTestProxySeen is what the test proxy saw of a CONNECT request.
type dialTestProxySeen struct {
	method, target, auth string
}

// dialTestProxy starts an HTTP CONNECT proxy on 127.0.0.1. It records each
// request, answers refuse when that is not empty, and otherwise tunnels to
// route(target) (target itself when route is nil).
func dialTestProxy(t *testing.T, route func(target string) string, refuse string) (*dialTestServer, <-chan dialTestProxySeen) {
	t.Helper()
	return dialTestProxyTLS(t, nil, route, refuse)
}

// dialTestProxyTLS is dialTestProxy, serving TLS with tlsConf when it is
// not nil: an https proxy.
func dialTestProxyTLS(t *testing.T, tlsConf *tls.Config, route func(target string) string, refuse string) (*dialTestServer, <-chan dialTestProxySeen) {
	t.Helper()
	seen := make(chan dialTestProxySeen, 16)
	s := dialTestListen(t, tlsConf, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		select {
		case seen <- dialTestProxySeen{req.Method, req.RequestURI, req.Header.Get("Proxy-Authorization")}:
		default:
		}
		if req.Method != http.MethodConnect {
			_, _ = io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
			return
		}
		if refuse != "" {
			_, _ = io.WriteString(c, refuse)
			return
		}
		to := req.RequestURI
		if route != nil {
			to = route(to)
		}
		up, err := net.Dial("tcp", to)
		if err != nil {
			_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
			return
		}
		defer up.Close()
		if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
			return
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = io.Copy(up, br)
			up.Close() // the client left: tell the server
		}()
		_, _ = io.Copy(c, up)
		c.Close() // the server left: stop the other copy
		<-done
	})
	return s, seen
}

func dialTestBasic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestDialProxy(t *testing.T) {
	t.Parallel()
	srvConf, cliConf := dialTestTLSConfigs(t)
	plain, plainReqs := dialTestWS(t, nil, false, dialTestUpgrade)
	secure, secureReqs := dialTestWS(t, srvConf, false, dialTestUpgrade)
	_, securePort, err := net.SplitHostPort(secure.addr)
	require.NoError(t, err)
	secureName := "ws.example.com:" + securePort
	route := func(target string) string {
		if target == secureName {
			return secure.addr
		}
		return target
	}
	proxy, seen := dialTestProxy(t, route, "")
	tlsProxy, tlsSeen := dialTestProxyTLS(t, srvConf, route, "")
	_, tlsProxyPort, err := net.SplitHostPort(tlsProxy.addr)
	require.NoError(t, err)
	tlsProxyName := "proxy.example.com:" + tlsProxyPort // the name its certificate carries

	for _, tc := range []struct {
		name, url, proxyURL  string
		wantTarget, wantAuth string
		wantHost             string
		reqs                 <-chan *http.Request
		tls                  bool
		proxyAddr            string                   // dialled; proxy.addr when empty
		seen                 <-chan dialTestProxySeen // seen when nil
	}{
		{
			name: "ws", url: "ws://" + plain.addr + "/via", proxyURL: "http://" + proxy.addr,
			wantTarget: plain.addr, wantHost: plain.addr, reqs: plainReqs,
		},
		{
			name: "ws with proxy auth", url: "ws://" + plain.addr + "/via", proxyURL: "http://pu:p%3Ass@" + proxy.addr,
			wantTarget: plain.addr, wantAuth: dialTestBasic("pu", "p:ss"), wantHost: plain.addr, reqs: plainReqs,
		},
		{
			name: "wss", url: "wss://" + secureName + "/via", proxyURL: "http://pu:pw@" + proxy.addr,
			wantTarget: secureName, wantAuth: dialTestBasic("pu", "pw"), wantHost: secureName, reqs: secureReqs, tls: true,
		},
		{
			name: "ws through an https proxy", url: "ws://" + plain.addr + "/via", proxyURL: "https://pu:pw@" + tlsProxyName,
			wantTarget: plain.addr, wantAuth: dialTestBasic("pu", "pw"), wantHost: plain.addr, reqs: plainReqs,
			tls:       true, // to the proxy
			proxyAddr: tlsProxy.addr, seen: tlsSeen,
		},
		{
			name: "wss through an https proxy", url: "wss://" + secureName + "/via", proxyURL: "https://" + tlsProxyName,
			wantTarget: secureName, wantHost: secureName, reqs: secureReqs, tls: true,
			proxyAddr: tlsProxy.addr, seen: tlsSeen,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pu, err := url.Parse(tc.proxyURL)
			require.NoError(t, err)
			tr := &dialTestTracker{}
			proxyAddr, proxySeen := proxy.addr, seen
			if tc.proxyAddr != "" {
				proxyAddr, proxySeen = tc.proxyAddr, tc.seen
			}
			dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
				if addr == tlsProxyName {
					addr = tlsProxy.addr
				}
				return tr.dial(ctx, network, addr)
			}
			d := ws.Dialer{Proxy: http.ProxyURL(pu), TLSConfig: cliConf, NetDial: dial}
			conn, hs, err := d.Dial(dialTestContext(t), tc.url)
			require.NoError(t, err)
			defer conn.Close()
			assert.Equal(t, "hello", string(dialTestRead(t, conn, hs).Payload))
			_, isTLS := conn.(*tls.Conn)
			assert.Equal(t, tc.tls, isTLS)
			assert.Equal(t, []string{"tcp " + proxyAddr}, tr.addrs, "dials the proxy, not the server")
			got := dialTestRecv(t, proxySeen)
			assert.Equal(t, dialTestProxySeen{http.MethodConnect, tc.wantTarget, tc.wantAuth}, got)
			req := dialTestRecv(t, tc.reqs)
			assert.Equal(t, tc.wantHost, req.Host)
			assert.Equal(t, "/via", req.RequestURI)
			assert.Empty(t, req.Header.Get("Proxy-Authorization"), "proxy credentials leaked to the server")
		})
	}
}

func TestDialProxyRefused(t *testing.T) {
	t.Parallel()
	proxy, _ := dialTestProxy(t, nil, "HTTP/1.1 407 Proxy Authentication Required\r\n"+
		"Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 12\r\n\r\nlog in first")
	tr := &dialTestTracker{}
	d := ws.Dialer{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: proxy.addr}), NetDial: tr.dial}
	_, _, err := d.Dial(dialTestContext(t), "ws://ws.example.test/")
	require.ErrorIs(t, err, ws.ErrProxyRefused)
	var he *ws.HandshakeError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, http.StatusProxyAuthRequired, he.StatusCode)
	assert.Equal(t, "407 Proxy Authentication Required", he.Status)
	assert.Equal(t, `Basic realm="test"`, he.Header.Get("Proxy-Authenticate"))
	assert.Equal(t, "log in first", string(he.Body))
	tr.requireAllClosed(t)
}

func TestDialProxyMalformed(t *testing.T) {
	t.Parallel()
	proxy, _ := dialTestProxy(t, nil, "SOCKS?\r\n\r\n")
	tr := &dialTestTracker{}
	d := ws.Dialer{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: proxy.addr}), NetDial: tr.dial}
	_, _, err := d.Dial(dialTestContext(t), "ws://ws.example.test/")
	require.ErrorIs(t, err, ws.ErrResponseMalformed)
	tr.requireAllClosed(t)
}

// TestDialProxyEarlyBytes checks that bytes of the tunnel that arrive with
// the proxy's 200 reach the handshake.
func TestDialProxyEarlyBytes(t *testing.T) {
	t.Parallel()
	proxy, _ := dialTestProxy(t, nil, "HTTP/1.1 200 OK\r\n\r\n"+
		"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nearly")
	d := ws.Dialer{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: proxy.addr})}
	_, _, err := d.Dial(dialTestContext(t), "ws://ws.example.test/")
	var he *ws.HandshakeError
	require.ErrorAs(t, err, &he)
	assert.NotErrorIs(t, err, ws.ErrProxyRefused)
	assert.Equal(t, 403, he.StatusCode)
	assert.Equal(t, "early", string(he.Body))
}

func TestDialProxyFunc(t *testing.T) {
	t.Parallel()
	srv, _ := dialTestWS(t, nil, false, dialTestUpgrade)
	boom := errors.New("no proxy today")
	noDial := func(context.Context, string, string) (net.Conn, error) {
		t.Error("dialled")
		return nil, errors.New("unexpected dial")
	}
	for _, tc := range []struct {
		name  string
		proxy func(*http.Request) (*url.URL, error)
		dial  bool
		want  error
	}{
		{name: "nil means direct", proxy: func(*http.Request) (*url.URL, error) { return nil, nil }, dial: true},
		{name: "error", proxy: func(*http.Request) (*url.URL, error) { return nil, boom }, want: boom},
		{name: "socks5", want: ws.ErrProxyScheme, proxy: func(*http.Request) (*url.URL, error) {
			return &url.URL{Scheme: "socks5", Host: "127.0.0.1:1080"}, nil
		}},
		{name: "socks5h", want: ws.ErrProxyScheme, proxy: func(*http.Request) (*url.URL, error) {
			return &url.URL{Scheme: "socks5h", Host: "127.0.0.1:1080"}, nil
		}},
		{name: "no host", want: ws.ErrBadURL, proxy: func(*http.Request) (*url.URL, error) {
			return &url.URL{Scheme: "http"}, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := ws.Dialer{Proxy: tc.proxy}
			if !tc.dial {
				d.NetDial = noDial
			}
			conn, _, err := d.Dial(dialTestContext(t), "ws://"+srv.addr+"/")
			if tc.want == nil {
				require.NoError(t, err)
				conn.Close()
				return
			}
			require.ErrorIs(t, err, tc.want)
		})
	}
}

// TestDialProxyRequest checks what the Proxy function is asked: the URL as
// HTTP would see it, so that http.ProxyFromEnvironment picks the right
// variable.
func TestDialProxyRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, want string }{
		{"ws://ws.example.test/a?b=c", "http://ws.example.test/a?b=c"},
		{"wss://ws.example.test:8443/", "https://ws.example.test:8443/"},
		{"http://ws.example.test/", "http://ws.example.test/"},
		{"https://ws.example.test/", "https://ws.example.test/"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			t.Parallel()
			boom := errors.New("stop here")
			var got *http.Request
			d := ws.Dialer{Proxy: func(r *http.Request) (*url.URL, error) { got = r; return nil, boom }}
			ctx := dialTestContext(t)
			_, _, err := d.Dial(ctx, tc.url)
			require.ErrorIs(t, err, boom)
			require.NotNil(t, got)
			assert.Equal(t, tc.want, got.URL.String())
			assert.Equal(t, http.MethodGet, got.Method)
			assert.NotNil(t, got.Context().Done(), "the request carries Dial's context")
		})
	}
}

// dialTestEnvChild marks the child process of TestDialProxyFromEnvironment.
const dialTestEnvChild = "SLUICE_WS_DIAL_PROXY_ENV_CHILD"

// TestDialProxyFromEnvironment checks DefaultDialer and
// http.ProxyFromEnvironment with HTTP_PROXY and HTTPS_PROXY. Because
// net/http reads the environment once per process, the test runs itself in
// a child process where nothing has read it yet.
func TestDialProxyFromEnvironment(t *testing.T) {
	if os.Getenv(dialTestEnvChild) == "" {
		t.Parallel()
		ctx := dialTestContext(t)
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestDialProxyFromEnvironment$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), dialTestEnvChild+"=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "child:\n%s", out)
		assert.Contains(t, string(out), "--- PASS: TestDialProxyFromEnvironment", "child:\n%s", out)
		return
	}

	srvConf, cliConf := dialTestTLSConfigs(t)
	plain, plainReqs := dialTestWS(t, nil, false, dialTestUpgrade)
	secure, secureReqs := dialTestWS(t, srvConf, false, dialTestUpgrade)
	route := func(target string) string {
		switch target {
		case "ws.example.test:80":
			return plain.addr
		case "ws.example.com:443":
			return secure.addr
		}
		return "127.0.0.1:1" // nothing listens there
	}
	httpProxy, httpSeen := dialTestProxy(t, route, "")
	httpsProxy, httpsSeen := dialTestProxy(t, route, "")
	t.Setenv("HTTP_PROXY", "http://env:pw@"+httpProxy.addr)
	t.Setenv("HTTPS_PROXY", "http://"+httpsProxy.addr)
	for _, k := range []string{"http_proxy", "https_proxy", "NO_PROXY", "no_proxy", "REQUEST_METHOD"} {
		t.Setenv(k, "")
	}

	// ws through DefaultDialer: HTTP_PROXY, with its credentials.
	conn, hs, err := ws.Dial(dialTestContext(t), "ws://ws.example.test/env")
	require.NoError(t, err)
	assert.Equal(t, "hello", string(dialTestRead(t, conn, hs).Payload))
	conn.Close()
	assert.Equal(t, dialTestProxySeen{http.MethodConnect, "ws.example.test:80", dialTestBasic("env", "pw")}, dialTestRecv(t, httpSeen))
	assert.Equal(t, "ws.example.test", dialTestRecv(t, plainReqs).Host)

	// wss: HTTPS_PROXY.
	d := ws.Dialer{Proxy: http.ProxyFromEnvironment, TLSConfig: cliConf}
	conn, hs, err = d.Dial(dialTestContext(t), "wss://ws.example.com/env")
	require.NoError(t, err)
	assert.Equal(t, "hello", string(dialTestRead(t, conn, hs).Payload))
	conn.Close()
	assert.Equal(t, dialTestProxySeen{http.MethodConnect, "ws.example.com:443", ""}, dialTestRecv(t, httpsSeen))
	assert.Equal(t, "ws.example.com", dialTestRecv(t, secureReqs).Host)
}

// TestDialProxyTunnel checks that a proxy scheme Dial does not speak goes
// to ProxyTunnel, over a connection to the proxy, and that its failure
// closes that connection.
func TestDialProxyTunnel(t *testing.T) {
	t.Parallel()
	srv, reqs := dialTestWS(t, nil, false, dialTestUpgrade)
	boom := errors.New("tunnel refused")
	for _, tc := range []struct {
		name string
		err  error
	}{{name: "tunnel"}, {name: "refused", err: boom}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := &dialTestTracker{to: srv.addr} // the "proxy" is the server itself
			var gotProxy, gotAddr string
			d := ws.Dialer{
				Proxy:   http.ProxyURL(&url.URL{Scheme: "socks5h", User: url.UserPassword("u", "p"), Host: "proxy.example.test"}),
				NetDial: tr.dial,
				ProxyTunnel: func(ctx context.Context, conn net.Conn, proxy *url.URL, addr string) (net.Conn, error) {
					gotProxy, gotAddr = proxy.String(), addr
					if tc.err != nil {
						return nil, tc.err
					}
					return conn, nil
				},
			}
			conn, hs, err := d.Dial(dialTestContext(t), "ws://ws.example.test:8080/t")
			assert.Equal(t, "socks5h://u:p@proxy.example.test", gotProxy)
			assert.Equal(t, "ws.example.test:8080", gotAddr)
			assert.Equal(t, []string{"tcp proxy.example.test:1080"}, tr.addrs, "dials the proxy at the SOCKS port")
			if tc.err != nil {
				require.ErrorIs(t, err, boom)
				tr.requireAllClosed(t)
				return
			}
			require.NoError(t, err)
			defer conn.Close()
			assert.Equal(t, "hello", string(dialTestRead(t, conn, hs).Payload))
			assert.Equal(t, "ws.example.test:8080", dialTestRecv(t, reqs).Host)
		})
	}
}

// TestDialProxyHTTPSUntrusted checks that the certificate of an https
// proxy is verified.
func TestDialProxyHTTPSUntrusted(t *testing.T) {
	t.Parallel()
	srvConf, _ := dialTestTLSConfigs(t)
	proxy, _ := dialTestProxyTLS(t, srvConf, nil, "")
	tr := &dialTestTracker{}
	d := ws.Dialer{Proxy: http.ProxyURL(&url.URL{Scheme: "https", Host: proxy.addr}), NetDial: tr.dial}
	_, _, err := d.Dial(dialTestContext(t), "ws://ws.example.test/")
	var unknown x509.UnknownAuthorityError
	require.ErrorAs(t, err, &unknown)
	tr.requireAllClosed(t)
}
