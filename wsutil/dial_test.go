package wsutil_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/sluice-ws/sluice/wsproxy"
	"github.com/sluice-ws/sluice/wsutil"
)

// seenRequests records the handshake requests a test server got.
type seenRequests struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (s *seenRequests) add(r *http.Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r)
	s.mu.Unlock()
}

func (s *seenRequests) all() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.reqs...)
}

// dialTestServer starts a server on 127.0.0.1 (over TLS with secure)
// whose WebSocket endpoints echo, with the routes of mux besides.
func dialTestServer(t *testing.T, secure bool, mux *http.ServeMux, seen *seenRequests) *httptest.Server {
	s := echoServer()
	s.Protocols = []string{"chat"}
	s.Config.Extension = &wsflate.Extension{}
	s.Header = http.Header{"Set-Cookie": {"session=abc; Path=/"}, "X-Server": {"sluice"}}
	if mux == nil {
		mux = http.NewServeMux()
	}
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen != nil {
			seen.add(r)
		}
		s.ServeHTTP(w, r)
	}))
	srv := httptest.NewUnstartedServer(mux)
	if secure {
		srv.TLS, _ = wstest.TLSConfigs()
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

// echoOnce sends text on c and returns what comes back.
func echoOnce(t *testing.T, c *wsutil.Conn, text string) string {
	t.Helper()
	require.NoError(t, c.Send(testContext(t), wsutil.Message{OpCode: ws.OpText, Payload: []byte(text)}))
	return string(receive(t, c).Payload)
}

// Dial returns a running Conn and the response: status, fields, the
// chosen subprotocol and the compression that Config.Extension offered
// and now runs.
func TestDial(t *testing.T) {
	t.Parallel()
	srv := dialTestServer(t, false, nil, nil)
	c, resp, err := wsutil.Dial(testContext(t), wsURL(srv)+"/x?y=1", &wsutil.DialOptions{
		Protocols: []string{"other", "chat"},
		Config:    wsutil.Config{Extension: &wsflate.Extension{}},
	})
	require.NoError(t, err)
	defer c.Terminate()
	assert.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	assert.Equal(t, "/x", resp.URL.Path)
	assert.Equal(t, "sluice", resp.Header.Get("X-Server"))
	assert.Equal(t, "chat", resp.Protocol)
	assert.Equal(t, "chat", c.Protocol())
	require.Len(t, resp.Extensions, 1)
	assert.Equal(t, "permessage-deflate", string(resp.Extensions[0].Name))
	long := strings.Repeat("compressible ", 100)
	assert.Equal(t, long, echoOnce(t, c, long))
	assert.Less(t, c.Stats().BytesOut, int64(len(long)), "sent compressed")
	assert.NoError(t, c.Close(ws.StatusNormalClosure, ""))
}

// A refused handshake is a *ws.HandshakeError with the status, fields and
// a bounded body; nothing is left open.
func TestDialRefused(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/denied", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Www-Authenticate", "Token")
		http.Error(w, strings.Repeat("no entry ", 1000), http.StatusUnauthorized)
	})
	srv := dialTestServer(t, false, mux, nil)
	_, _, err := wsutil.Dial(testContext(t), wsURL(srv)+"/denied", nil)
	var he *ws.HandshakeError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, http.StatusUnauthorized, he.StatusCode)
	assert.Equal(t, "Token", he.Header.Get("Www-Authenticate"))
	assert.True(t, strings.HasPrefix(string(he.Body), "no entry no entry"))
	assert.LessOrEqual(t, len(he.Body), 1024, "the body is bounded")
}

// Dial goes through http://, https:// (TLS to the proxy) and socks5://
// proxies, with the credentials of the proxy URL, to ws and wss servers.
func TestDialProxies(t *testing.T) {
	t.Parallel()
	plain := dialTestServer(t, false, nil, nil)
	secure := dialTestServer(t, true, nil, nil)
	serverTLS, clientTLS := wstest.TLSConfigs()
	route := func(target string) string {
		switch target {
		case "ws.example.test:80":
			return plain.Listener.Addr().String()
		case "wss.example.test:443":
			return secure.Listener.Addr().String()
		}
		return "127.0.0.1:1"
	}
	httpProxy := wstest.StartConnectProxy(t, nil, route)
	httpsProxy := wstest.StartConnectProxy(t, serverTLS, route)
	socks := wstest.StartSOCKS5Proxy(t, "sock", "s3cret", route)
	// The https proxy's certificate names proxy.example.test; NetDial takes
	// that name to it.
	_, httpsPort, err := net.SplitHostPort(httpsProxy.Addr)
	require.NoError(t, err)
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == "proxy.example.test:"+httpsPort {
			addr = httpsProxy.Addr
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	for _, tc := range []struct {
		name, url, proxy string
		p                *wstest.Proxy
		want             wstest.ProxyRequest
	}{
		{"http proxy", "ws://ws.example.test/", "http://u:p@" + httpProxy.Addr, httpProxy,
			wstest.ProxyRequest{Target: "ws.example.test:80", Auth: wstest.BasicAuth("u", "p")}},
		{"https proxy, ws", "ws://ws.example.test/", "https://u:p@proxy.example.test:" + httpsPort, httpsProxy,
			wstest.ProxyRequest{Target: "ws.example.test:80", Auth: wstest.BasicAuth("u", "p")}},
		{"https proxy, wss", "wss://wss.example.test/", "https://proxy.example.test:" + httpsPort, httpsProxy,
			wstest.ProxyRequest{Target: "wss.example.test:443"}},
		{"socks5 proxy, wss", "wss://wss.example.test/", "socks5h://sock:s3cret@" + socks.Addr, socks,
			wstest.ProxyRequest{Target: "wss.example.test:443", Auth: "sock:s3cret"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pu, err := url.Parse(tc.proxy)
			require.NoError(t, err)
			c, _, err := wsutil.Dial(testContext(t), tc.url, &wsutil.DialOptions{
				Proxy:       http.ProxyURL(pu),
				ProxyTunnel: wsproxy.SOCKS5,
				TLSConfig:   clientTLS,
				NetDial:     dial,
			})
			require.NoError(t, err)
			defer c.Terminate()
			assert.Equal(t, "via "+tc.name, echoOnce(t, c, "via "+tc.name))
			reqs := tc.p.Requests()
			require.NotEmpty(t, reqs)
			assert.Equal(t, tc.want, reqs[len(reqs)-1])
		})
	}
}

// Cookies the server sets in its 101 response go in the Jar, and the
// Jar's cookies go with the next handshake.
func TestDialCookies(t *testing.T) {
	t.Parallel()
	var seen seenRequests
	srv := dialTestServer(t, false, nil, &seen)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	opts := &wsutil.DialOptions{Jar: jar, Header: http.Header{"Cookie": {"mine=1"}}}
	for range 2 {
		c, _, err := wsutil.Dial(testContext(t), wsURL(srv)+"/", opts)
		require.NoError(t, err)
		require.NoError(t, c.Close(ws.StatusNormalClosure, ""))
	}
	reqs := seen.all()
	require.Len(t, reqs, 2)
	assert.Equal(t, []string{"mine=1"}, reqs[0].Header.Values("Cookie"), "the jar was empty")
	assert.Equal(t, []string{"mine=1; session=abc"}, reqs[1].Header.Values("Cookie"), "one Cookie field")
	u, _ := url.Parse(srv.URL)
	require.Len(t, jar.Cookies(u), 1)
	assert.Equal(t, "abc", jar.Cookies(u)[0].Value)
}

// Redirects are followed only when asked, within MaxRedirects, never from
// wss to ws, and credentials stay with the first host.
func TestDialRedirects(t *testing.T) {
	t.Parallel()
	var otherSeen seenRequests
	other := dialTestServer(t, false, nil, &otherSeen)
	secureMux := http.NewServeMux()
	secureMux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, wsURL(other)+"/", http.StatusFound)
	})
	secure := dialTestServer(t, true, secureMux, nil)
	_, clientTLS := wstest.TLSConfigs()

	var seen seenRequests
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "moved", Value: "yes"})
		http.Redirect(w, r, "/new", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		seen.add(r)
		http.Redirect(w, r, other.URL+"/there", http.StatusFound) // http:// means ws://
	})
	srv := dialTestServer(t, false, mux, &seen)

	t.Run("not asked", func(t *testing.T) {
		_, _, err := wsutil.Dial(testContext(t), wsURL(srv)+"/old", nil)
		var he *ws.HandshakeError
		require.ErrorAs(t, err, &he)
		assert.Equal(t, http.StatusMovedPermanently, he.StatusCode)
		assert.Equal(t, "/new", he.Header.Get("Location"))
	})
	t.Run("followed", func(t *testing.T) {
		jar, err := cookiejar.New(nil)
		require.NoError(t, err)
		c, resp, err := wsutil.Dial(testContext(t), wsURL(srv)+"/old", &wsutil.DialOptions{MaxRedirects: 1, Jar: jar})
		require.NoError(t, err)
		defer c.Terminate()
		assert.Equal(t, "/new", resp.URL.Path)
		assert.Equal(t, "here", echoOnce(t, c, "here"))
		reqs := seen.all()
		assert.Equal(t, "/new", reqs[len(reqs)-1].URL.Path)
		assert.Contains(t, reqs[len(reqs)-1].Header.Get("Cookie"), "moved=yes", "the redirect's cookie is sent on")
	})
	t.Run("too many", func(t *testing.T) {
		_, _, err := wsutil.Dial(testContext(t), wsURL(srv)+"/loop", &wsutil.DialOptions{MaxRedirects: 3})
		require.ErrorIs(t, err, wsutil.ErrTooManyRedirects)
		var he *ws.HandshakeError
		require.ErrorAs(t, err, &he)
		assert.Equal(t, http.StatusTemporaryRedirect, he.StatusCode)
	})
	t.Run("never from wss to ws", func(t *testing.T) {
		u := "wss" + strings.TrimPrefix(secure.URL, "https") + "/down"
		_, _, err := wsutil.Dial(testContext(t), u, &wsutil.DialOptions{MaxRedirects: 5, TLSConfig: clientTLS})
		require.ErrorIs(t, err, wsutil.ErrRedirectInsecure)
		assert.Empty(t, otherSeen.all(), "nothing was sent in clear")
	})
	t.Run("credentials stay with the host", func(t *testing.T) {
		u := strings.Replace(wsURL(srv), "ws://", "ws://user:pw@", 1) + "/away"
		c, resp, err := wsutil.Dial(testContext(t), u, &wsutil.DialOptions{
			MaxRedirects: 1,
			Header:       http.Header{"X-Kept": {"1"}, "Cookie": {"secret=1"}},
		})
		require.NoError(t, err)
		defer c.Terminate()
		assert.Equal(t, "/there", resp.URL.Path)
		assert.Nil(t, resp.URL.User)
		reqs := otherSeen.all()
		require.NotEmpty(t, reqs)
		last := reqs[len(reqs)-1]
		assert.Empty(t, last.Header.Get("Authorization"))
		assert.Empty(t, last.Header.Get("Cookie"))
		assert.Equal(t, "1", last.Header.Get("X-Kept"))
		first := seen.all()
		assert.Equal(t, wstest.BasicAuth("user", "pw"), first[len(first)-1].Header.Get("Authorization"), "sent to the first host")
	})
}

// dialEnvChild marks the child process of TestDialProxyFromEnvironment.
const dialEnvChild = "SLUICE_WSUTIL_DIAL_ENV_CHILD"

// Without a Proxy, Dial takes HTTP_PROXY, HTTPS_PROXY and NO_PROXY from
// the environment; HTTPS_PROXY may name a SOCKS5 proxy. net/http reads the
// environment once per process, so the test runs in a child process.
func TestDialProxyFromEnvironment(t *testing.T) {
	if os.Getenv(dialEnvChild) == "" {
		t.Parallel()
		cmd := exec.CommandContext(testContext(t), os.Args[0], "-test.run=^TestDialProxyFromEnvironment$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), dialEnvChild+"=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "child:\n%s", out)
		assert.Contains(t, string(out), "--- PASS: TestDialProxyFromEnvironment", "child:\n%s", out)
		return
	}
	plain := dialTestServer(t, false, nil, nil)
	secure := dialTestServer(t, true, nil, nil)
	_, clientTLS := wstest.TLSConfigs()
	route := func(target string) string {
		if strings.HasPrefix(target, "wss.") {
			return secure.Listener.Addr().String()
		}
		return plain.Listener.Addr().String()
	}
	httpProxy := wstest.StartConnectProxy(t, nil, route)
	socks := wstest.StartSOCKS5Proxy(t, "", "", route)
	t.Setenv("HTTP_PROXY", "http://env:pw@"+httpProxy.Addr)
	t.Setenv("HTTPS_PROXY", "socks5://"+socks.Addr)
	t.Setenv("NO_PROXY", "direct.example.test")
	for _, k := range []string{"http_proxy", "https_proxy", "no_proxy", "REQUEST_METHOD"} {
		t.Setenv(k, "")
	}
	opts := &wsutil.DialOptions{TLSConfig: clientTLS, ProxyTunnel: wsproxy.SOCKS5}
	for _, u := range []string{"ws://ws.example.test/", "wss://wss.example.test/"} {
		c, _, err := wsutil.Dial(testContext(t), u, opts)
		require.NoError(t, err, u)
		assert.Equal(t, u, echoOnce(t, c, u))
		require.NoError(t, c.Close(ws.StatusNormalClosure, ""))
	}
	assert.Equal(t, []wstest.ProxyRequest{{Target: "ws.example.test:80", Auth: wstest.BasicAuth("env", "pw")}}, httpProxy.Requests())
	assert.Equal(t, []wstest.ProxyRequest{{Target: "wss.example.test:443"}}, socks.Requests())
	// NO_PROXY: dialled directly, where nothing answers for that name.
	_, _, err := wsutil.Dial(testContext(t), "ws://direct.example.test/", &wsutil.DialOptions{
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			assert.Equal(t, "direct.example.test:80", addr)
			return nil, errors.New("dialled directly")
		},
	})
	require.ErrorContains(t, err, "dialled directly")
}

// TLS: the server's certificate is verified unless the program says
// otherwise; roots and a client certificate come from TLSConfig.
func TestDialTLSOptions(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := wstest.TLSConfigs()
	srv := dialTestServer(t, true, nil, nil)
	mtls := httptest.NewUnstartedServer(srv.Config.Handler)
	mtls.TLS = serverTLS.Clone()
	mtls.TLS.ClientAuth = tls.RequireAnyClientCert
	mtls.StartTLS()
	t.Cleanup(mtls.Close)
	wss := func(s *httptest.Server) string { return "wss" + strings.TrimPrefix(s.URL, "https") }
	withCert := clientTLS.Clone()
	withCert.Certificates = serverTLS.Certificates // any certificate will do for this server

	_, _, err := wsutil.Dial(testContext(t), wss(srv), nil)
	var unknown x509.UnknownAuthorityError
	require.ErrorAs(t, err, &unknown, "verified against the system roots by default")
	for _, tc := range []struct {
		name string
		srv  *httptest.Server
		conf *tls.Config
	}{
		{"roots", srv, clientTLS},
		{"skip verification when asked", srv, &tls.Config{InsecureSkipVerify: true}},
		{"client certificate", mtls, withCert},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := wsutil.Dial(testContext(t), wss(tc.srv), &wsutil.DialOptions{TLSConfig: tc.conf})
			require.NoError(t, err)
			defer c.Terminate()
			assert.Equal(t, "tls", echoOnce(t, c, "tls"))
		})
	}
	_, _, err = wsutil.Dial(testContext(t), wss(mtls), &wsutil.DialOptions{TLSConfig: clientTLS})
	require.Error(t, err, "the server requires a client certificate")
}
