package ws_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
)

// dialTestContext bounds a network test of this file: it ends with the
// test or at the run's deadline (wstest.Deadline), which only a hang
// reaches.
func dialTestContext(t *testing.T) context.Context {
	return wstest.Context(t, "a dial of "+t.Name())
}

// dialTestServer is a TCP listener on 127.0.0.1 whose connections a handler
// serves, one goroutine each. Cleanup closes the listener and every
// connection, then waits for the goroutines.
type dialTestServer struct {
	addr     string
	accepted chan struct{} // a value per accepted connection, if there is room
	mu       sync.Mutex
	conns    []net.Conn // guarded by mu
	closed   bool       // guarded by mu
	wg       sync.WaitGroup
}

func dialTestListen(t *testing.T, tlsConf *tls.Config, handle func(net.Conn)) *dialTestServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	s := &dialTestServer{addr: ln.Addr().String(), accepted: make(chan struct{}, 64)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				c.Close()
				return
			}
			s.conns = append(s.conns, c)
			s.wg.Add(1)
			s.mu.Unlock()
			select {
			case s.accepted <- struct{}{}:
			default:
			}
			go func() {
				defer s.wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		s.closed = true
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// dialTestWS starts a WebSocket server stand-in: it reads one request per
// connection, records it, writes respond(req) ("" writes nothing and leaves
// the client waiting), then reads until the client closes, or closes at
// once when closeAfter is set.
func dialTestWS(t *testing.T, tlsConf *tls.Config, closeAfter bool, respond func(*http.Request) string) (*dialTestServer, <-chan *http.Request) {
	t.Helper()
	reqs := make(chan *http.Request, 16)
	s := dialTestListen(t, tlsConf, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		select {
		case reqs <- req:
		default:
		}
		if resp := respond(req); resp != "" {
			if _, err := io.WriteString(c, resp); err != nil {
				return
			}
		}
		if !closeAfter {
			_, _ = io.Copy(io.Discard, br)
		}
	})
	return s, reqs
}

// dialTest101 is a valid answer to req, with extra header lines
// ("Name: value\r\n" each).
func dialTest101(req *http.Request, extra ...string) string {
	accept := ws.AppendAccept(nil, []byte(req.Header.Get("Sec-WebSocket-Key")))
	return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + string(accept) + "\r\n" + strings.Join(extra, "") + "\r\n"
}

// dialTestHello is the frame the servers send after the handshake.
var dialTestHello = ws.AppendFrame(nil, ws.NewTextFrame([]byte("hello")))

// dialTestUpgrade answers with 101 and then the hello frame, in two writes.
func dialTestUpgrade(req *http.Request) string {
	return dialTest101(req) + string(dialTestHello)
}

// dialTestRead reads the first frame the server sent after the handshake.
func dialTestRead(t *testing.T, conn net.Conn, hs ws.Handshake) ws.Frame {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(wstest.Deadline(t)))
	f, err := ws.ReadFrame(io.MultiReader(bytes.NewReader(hs.Buffered), conn), 1<<10)
	require.NoError(t, err)
	return f
}

// dialTestRecv receives from c within the test's bound.
func dialTestRecv[T any](t *testing.T, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-wstest.After(t):
		require.FailNow(t, wstest.Expired(t, "a value on the channel").Error())
		var zero T
		return zero
	}
}

// dialTestTLS is a self-signed certificate for 127.0.0.1, ws.example.com, proxy.example.com
// and ws.example.test, and a pool that trusts it.
var dialTestTLS = sync.OnceValue(func() (c struct {
	cert  tls.Certificate
	roots *x509.CertPool
	err   error
}) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		c.err = err
		return c
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sluice test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"ws.example.com", "ws.example.test", "proxy.example.com"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		c.err = err
		return c
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		c.err = err
		return c
	}
	c.cert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	c.roots = x509.NewCertPool()
	c.roots.AddCert(leaf)
	return c
})

// dialTestTLSConfigs returns the server's and the client's TLS
// configurations.
func dialTestTLSConfigs(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	c := dialTestTLS()
	require.NoError(t, c.err)
	return &tls.Config{Certificates: []tls.Certificate{c.cert}, NextProtos: []string{"http/1.1"}},
		&tls.Config{RootCAs: c.roots}
}

// dialTestConn records what the Dialer does to a connection.
type dialTestConn struct {
	net.Conn
	closed    atomic.Bool
	mu        sync.Mutex
	deadlines []time.Time // guarded by mu
}

func (c *dialTestConn) Close() error {
	c.closed.Store(true)
	return c.Conn.Close()
}

func (c *dialTestConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadlines = append(c.deadlines, t)
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

// lastDeadline returns the last deadline set and whether any was.
func (c *dialTestConn) lastDeadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.deadlines) == 0 {
		return time.Time{}, false
	}
	return c.deadlines[len(c.deadlines)-1], true
}

// dialTestTracker is a NetDial that records the connections it opens.
type dialTestTracker struct {
	mu    sync.Mutex
	addrs []string
	conns []*dialTestConn
	to    string // when set, every dial goes here instead
}

func (tr *dialTestTracker) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	tr.mu.Lock()
	tr.addrs = append(tr.addrs, network+" "+addr)
	to := tr.to
	tr.mu.Unlock()
	if to == "" {
		to = addr
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, to)
	if err != nil {
		return nil, err
	}
	tc := &dialTestConn{Conn: c}
	tr.mu.Lock()
	tr.conns = append(tr.conns, tc)
	tr.mu.Unlock()
	return tc, nil
}

// requireAllClosed fails unless every connection opened was closed.
func (tr *dialTestTracker) requireAllClosed(t *testing.T) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	require.NotEmpty(t, tr.conns, "no connection was opened")
	for i, c := range tr.conns {
		assert.True(t, c.closed.Load(), "connection %d left open", i)
	}
}

func TestDialPlain(t *testing.T) {
	t.Parallel()
	srv, reqs := dialTestWS(t, nil, false, dialTestUpgrade)
	ctx := dialTestContext(t)

	var d ws.Dialer
	conn, hs, err := d.Dial(ctx, "ws://"+srv.addr+"/chat/room%201?x=1&y=%20")
	require.NoError(t, err)
	defer conn.Close()
	assert.Equal(t, "", hs.Protocol)
	assert.Nil(t, hs.Extensions)
	f := dialTestRead(t, conn, hs)
	assert.Equal(t, ws.OpText, f.Header.OpCode)
	assert.Equal(t, "hello", string(f.Payload))

	req := dialTestRecv(t, reqs)
	assert.Equal(t, http.MethodGet, req.Method)
	assert.Equal(t, "/chat/room%201?x=1&y=%20", req.RequestURI)
	assert.Equal(t, "HTTP/1.1", req.Proto)
	assert.Equal(t, srv.addr, req.Host)
	assert.Equal(t, "websocket", req.Header.Get("Upgrade"))
	assert.Equal(t, "Upgrade", req.Header.Get("Connection"))
	assert.Equal(t, "13", req.Header.Get("Sec-WebSocket-Version"))
	key, err := base64.StdEncoding.DecodeString(req.Header.Get("Sec-WebSocket-Key"))
	require.NoError(t, err)
	assert.Len(t, key, 16)
	for _, h := range []string{"Origin", "Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions", "Authorization"} {
		assert.Empty(t, req.Header.Values(h), h)
	}
}

// TestDialResponseHeader checks that the fields of the 101 response reach
// Handshake.Header, repeated ones and folded ones included.
func TestDialResponseHeader(t *testing.T) {
	t.Parallel()
	srv, _ := dialTestWS(t, nil, false, func(req *http.Request) string {
		return dialTest101(req, "Set-Cookie: a=1\r\n", "set-cookie: b=2; Path=/\r\n", "X-Folded: one,\r\n two\r\n") + string(dialTestHello)
	})
	conn, hs, err := (&ws.Dialer{}).Dial(dialTestContext(t), "ws://"+srv.addr+"/")
	require.NoError(t, err)
	defer conn.Close()
	assert.Equal(t, []string{"a=1", "b=2; Path=/"}, hs.Header.Values("Set-Cookie"))
	assert.Equal(t, "one,   two", hs.Header.Get("X-Folded"), "each byte of the fold becomes a space")
	assert.Equal(t, "websocket", hs.Header.Get("Upgrade"))
}

func TestDialSchemes(t *testing.T) {
	t.Parallel()
	srv, reqs := dialTestWS(t, nil, false, dialTestUpgrade)
	for _, scheme := range []string{"ws", "http", "WS", "Http"} {
		t.Run(scheme, func(t *testing.T) {
			conn, hs, err := (&ws.Dialer{}).Dial(dialTestContext(t), scheme+"://"+srv.addr)
			require.NoError(t, err)
			defer conn.Close()
			assert.Equal(t, "hello", string(dialTestRead(t, conn, hs).Payload))
			assert.Equal(t, "/", dialTestRecv(t, reqs).RequestURI)
		})
	}
}

func TestDialPackageFunc(t *testing.T) {
	t.Parallel()
	srv, _ := dialTestWS(t, nil, false, dialTestUpgrade)
	// DefaultDialer takes its proxy from the environment, which never
	// applies to 127.0.0.1.
	conn, hs, err := ws.Dial(dialTestContext(t), "ws://"+srv.addr)
	require.NoError(t, err)
	defer conn.Close()
	assert.Equal(t, "hello", string(dialTestRead(t, conn, hs).Payload))
}

func TestDialDefaultPorts(t *testing.T) {
	t.Parallel()
	srv, _ := dialTestWS(t, nil, false, dialTestUpgrade)
	for _, tc := range []struct{ url, addr string }{
		{"ws://ws.example.test/", "tcp ws.example.test:80"},
		{"http://ws.example.test/", "tcp ws.example.test:80"},
		{"ws://ws.example.test:8080/", "tcp ws.example.test:8080"},
		{"ws://[::1]/", "tcp [::1]:80"},
		{"wss://ws.example.test/", "tcp ws.example.test:443"},
		{"https://ws.example.test:8443/", "tcp ws.example.test:8443"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			t.Parallel()
			tr := &dialTestTracker{to: srv.addr}
			d := ws.Dialer{NetDial: tr.dial}
			conn, _, err := d.Dial(dialTestContext(t), tc.url)
			if err == nil {
				conn.Close()
			}
			// The wss cases fail at TLS (the server speaks plain TCP); the
			// address dialled is what matters.
			assert.Equal(t, []string{tc.addr}, tr.addrs)
		})
	}
}

func TestDialTLS(t *testing.T) {
	t.Parallel()
	srvConf, cliConf := dialTestTLSConfigs(t)
	srv, reqs := dialTestWS(t, srvConf, false, dialTestUpgrade)
	_, port, err := net.SplitHostPort(srv.addr)
	require.NoError(t, err)

	for _, tc := range []struct {
		name, url, host, wantHost string
		netDial                   bool
	}{
		{name: "wss", url: "wss://" + srv.addr + "/tls", wantHost: srv.addr},
		{name: "https alias", url: "https://" + srv.addr + "/tls", wantHost: srv.addr},
		// The server name defaults to the URL's host, reached through NetDial.
		{name: "server name from URL", url: "wss://ws.example.com:" + port + "/tls", wantHost: "ws.example.com:" + port, netDial: true},
		// Host changes the header only: SNI and verification still use the URL.
		{name: "host override", url: "wss://ws.example.com:" + port + "/tls", host: "other.example.org", wantHost: "other.example.org", netDial: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := cliConf.Clone()
			d := ws.Dialer{TLSConfig: conf, Host: tc.host}
			if tc.netDial {
				d.NetDial = (&dialTestTracker{to: srv.addr}).dial
			}
			conn, hs, err := d.Dial(dialTestContext(t), tc.url)
			require.NoError(t, err)
			defer conn.Close()
			tc2, ok := conn.(*tls.Conn)
			require.True(t, ok, "wss gives a *tls.Conn, got %T", conn)
			assert.Equal(t, "http/1.1", tc2.ConnectionState().NegotiatedProtocol)
			assert.Equal(t, "hello", string(dialTestRead(t, conn, hs).Payload))
			req := dialTestRecv(t, reqs)
			assert.Equal(t, tc.wantHost, req.Host)
			assert.Equal(t, "/tls", req.RequestURI)
			// The caller's configuration is left alone.
			assert.Empty(t, conf.ServerName)
			assert.Nil(t, conf.NextProtos)
		})
	}
}

func TestDialTLSUntrusted(t *testing.T) {
	t.Parallel()
	srvConf, _ := dialTestTLSConfigs(t)
	srv, _ := dialTestWS(t, srvConf, false, dialTestUpgrade)
	tr := &dialTestTracker{}
	_, _, err := (&ws.Dialer{NetDial: tr.dial}).Dial(dialTestContext(t), "wss://"+srv.addr)
	var uerr x509.UnknownAuthorityError
	require.ErrorAs(t, err, &uerr)
	tr.requireAllClosed(t)
}

func TestDialNetDial(t *testing.T) {
	t.Parallel()
	srv, reqs := dialTestWS(t, nil, false, dialTestUpgrade)
	tr := &dialTestTracker{to: srv.addr}
	d := ws.Dialer{NetDial: tr.dial}
	conn, hs, err := d.Dial(dialTestContext(t), "ws://ws.example.test/chat")
	require.NoError(t, err)
	defer conn.Close()
	assert.Equal(t, "hello", string(dialTestRead(t, conn, hs).Payload))
	assert.Equal(t, []string{"tcp ws.example.test:80"}, tr.addrs)
	assert.Equal(t, "ws.example.test", dialTestRecv(t, reqs).Host)

	// The connection has no deadline left.
	require.Len(t, tr.conns, 1)
	last, ok := tr.conns[0].lastDeadline()
	require.True(t, ok, "the context's deadline was set")
	assert.True(t, last.IsZero(), "deadline left: %v", last)
}

func TestDialNetDialFails(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	d := ws.Dialer{NetDial: func(context.Context, string, string) (net.Conn, error) { return nil, boom }}
	_, _, err := d.Dial(dialTestContext(t), "ws://ws.example.test/")
	require.ErrorIs(t, err, boom)

	d.NetDial = func(context.Context, string, string) (net.Conn, error) { return nil, nil }
	_, _, err = d.Dial(dialTestContext(t), "ws://ws.example.test/")
	require.Error(t, err)
}

func TestDialRequestHeaders(t *testing.T) {
	t.Parallel()
	srv, reqs := dialTestWS(t, nil, false, func(req *http.Request) string {
		return dialTest101(req,
			"Sec-WebSocket-Protocol: chat.v2\r\n",
			"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n")
	})
	var seen []httphead.Option
	d := ws.Dialer{
		Origin: "https://app.example.com",
		Host:   "api.example.com",
		Header: http.Header{
			"X-Token":    {"a", "b"},
			"User-Agent": {"sluice-test"},
		},
		Protocols: []string{"chat.v1", "chat.v2"},
		Extensions: []httphead.Option{
			httphead.NewOption("permessage-deflate", map[string]string{"client_max_window_bits": ""}),
			httphead.NewOption("permessage-deflate", nil),
			httphead.NewOption("x-test", map[string]string{"q": "a b"}),
		},
		OnExtensions: func(accepted []httphead.Option) error {
			seen = accepted
			return nil
		},
	}
	conn, hs, err := d.Dial(dialTestContext(t), "ws://user:p%40ss@"+srv.addr+"/")
	require.NoError(t, err)
	defer conn.Close()

	assert.Equal(t, "chat.v2", hs.Protocol)
	require.Len(t, hs.Extensions, 1)
	assert.Equal(t, "permessage-deflate", string(hs.Extensions[0].Name))
	_, ok := hs.Extensions[0].Parameters.Get("server_no_context_takeover")
	assert.True(t, ok)
	assert.Equal(t, hs.Extensions, seen)

	req := dialTestRecv(t, reqs)
	assert.Equal(t, "api.example.com", req.Host)
	assert.Equal(t, "https://app.example.com", req.Header.Get("Origin"))
	assert.Equal(t, []string{"a", "b"}, req.Header.Values("X-Token"))
	assert.Equal(t, "sluice-test", req.Header.Get("User-Agent"))
	assert.Equal(t, "chat.v1, chat.v2", req.Header.Get("Sec-WebSocket-Protocol"))
	assert.Equal(t, `permessage-deflate;client_max_window_bits,permessage-deflate,x-test;q="a b"`,
		req.Header.Get("Sec-WebSocket-Extensions"))
	user, pass, ok := req.BasicAuth()
	require.True(t, ok)
	assert.Equal(t, "user", user)
	assert.Equal(t, "p@ss", pass)
}

func TestDialAuthorizationHeaderWins(t *testing.T) {
	t.Parallel()
	srv, reqs := dialTestWS(t, nil, false, dialTestUpgrade)
	d := ws.Dialer{Header: http.Header{"Authorization": {"Bearer t0ken"}}}
	conn, _, err := d.Dial(dialTestContext(t), "ws://user:pass@"+srv.addr+"/")
	require.NoError(t, err)
	conn.Close()
	assert.Equal(t, []string{"Bearer t0ken"}, dialTestRecv(t, reqs).Header.Values("Authorization"))
}

func TestDialBadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		d    ws.Dialer
		url  string
		want error
	}{
		{"scheme ftp", ws.Dialer{}, "ftp://example.com/", ws.ErrBadScheme},
		{"no scheme", ws.Dialer{}, "example.com/chat", ws.ErrBadScheme},
		{"unparsable", ws.Dialer{}, "ws://exa mple.com/", ws.ErrBadURL},
		{"no host", ws.Dialer{}, "ws:///chat", ws.ErrBadURL},
		{"opaque", ws.Dialer{}, "ws:chat", ws.ErrBadURL},
		{"fragment", ws.Dialer{}, "ws://example.com/#frag", ws.ErrBadURL},
		{"Header Upgrade", ws.Dialer{Header: http.Header{"Upgrade": {"h2c"}}}, "", ws.ErrBadHeader},
		{"Header Connection", ws.Dialer{Header: http.Header{"Connection": {"close"}}}, "", ws.ErrBadHeader},
		{"Header Host", ws.Dialer{Header: http.Header{"Host": {"x"}}}, "", ws.ErrBadHeader},
		{"Header Origin", ws.Dialer{Header: http.Header{"Origin": {"x"}}}, "", ws.ErrBadHeader},
		{"Header key", ws.Dialer{Header: http.Header{"sec-websocket-key": {"x"}}}, "", ws.ErrBadHeader},
		{"Header version", ws.Dialer{Header: http.Header{"Sec-WebSocket-Version": {"8"}}}, "", ws.ErrBadHeader},
		{"Header protocol", ws.Dialer{Header: http.Header{"Sec-Websocket-Protocol": {"chat"}}}, "", ws.ErrBadHeader},
		{"Header extensions", ws.Dialer{Header: http.Header{"Sec-Websocket-Extensions": {"x"}}}, "", ws.ErrBadHeader},
		{"Header CRLF value", ws.Dialer{Header: http.Header{"X-A": {"a\r\nX-Injected: 1"}}}, "", ws.ErrBadHeader},
		{"Header bad name", ws.Dialer{Header: http.Header{"X A": {"a"}}}, "", ws.ErrBadHeader},
		{"Origin CRLF", ws.Dialer{Origin: "https://a\r\nX: y"}, "", ws.ErrBadHeader},
		{"Host space", ws.Dialer{Host: "a b"}, "", ws.ErrBadHeader},
		{"protocol not token", ws.Dialer{Protocols: []string{"chat v1"}}, "", ws.ErrBadHeader},
		{"protocol empty", ws.Dialer{Protocols: []string{""}}, "", ws.ErrBadHeader},
		{"protocol repeated", ws.Dialer{Protocols: []string{"a", "b", "a"}}, "", ws.ErrBadHeader},
		{"extension name", ws.Dialer{Extensions: []httphead.Option{{Name: []byte("a,b")}}}, "", ws.ErrBadHeader},
		{"extension param CR", ws.Dialer{Extensions: []httphead.Option{
			httphead.NewOption("x", map[string]string{"p": "a\rb"})}}, "", ws.ErrBadHeader},
		{"extension param name", ws.Dialer{Extensions: []httphead.Option{
			httphead.NewOption("x", map[string]string{"p q": "1"})}}, "", ws.ErrBadHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := tc.d
			d.NetDial = func(context.Context, string, string) (net.Conn, error) {
				t.Error("dialled despite a bad configuration")
				return nil, errors.New("unexpected dial")
			}
			rawURL := tc.url
			if rawURL == "" {
				rawURL = "ws://example.com/"
			}
			_, _, err := d.Dial(dialTestContext(t), rawURL)
			require.ErrorIs(t, err, tc.want)

			// Upgrade checks the same, before writing anything.
			if u, perr := url.Parse(rawURL); perr == nil {
				c1, c2 := net.Pipe()
				defer c1.Close()
				defer c2.Close()
				_, err = d.Upgrade(dialTestContext(t), c1, u)
				require.ErrorIs(t, err, tc.want)
			}
		})
	}
}

func TestDialBadResponse(t *testing.T) {
	t.Parallel()
	errOnExt := errors.New("bad parameters")
	valid := func(extra ...string) func(*http.Request) string {
		return func(req *http.Request) string { return dialTest101(req, extra...) }
	}
	fixed := func(s string) func(*http.Request) string {
		return func(*http.Request) string { return s }
	}
	for _, tc := range []struct {
		name       string
		respond    func(*http.Request) string
		closeAfter bool
		d          ws.Dialer
		want       error
	}{
		{name: "wrong accept", want: ws.ErrResponseAccept, respond: fixed(
			"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")},
		{name: "missing accept", want: ws.ErrResponseAccept, respond: fixed(
			"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")},
		{name: "accept twice", want: ws.ErrResponseAccept, respond: func(req *http.Request) string {
			return dialTest101(req, "Sec-WebSocket-Accept: "+string(ws.AppendAccept(nil, []byte(req.Header.Get("Sec-WebSocket-Key"))))+"\r\n")
		}},
		{name: "missing upgrade", want: ws.ErrResponseUpgrade, respond: func(req *http.Request) string {
			return strings.Replace(dialTest101(req), "Upgrade: websocket\r\n", "", 1)
		}},
		{name: "upgrade h2c", want: ws.ErrResponseUpgrade, respond: func(req *http.Request) string {
			return strings.Replace(dialTest101(req), "Upgrade: websocket", "Upgrade: h2c", 1)
		}},
		{name: "missing connection", want: ws.ErrResponseConnection, respond: func(req *http.Request) string {
			return strings.Replace(dialTest101(req), "Connection: Upgrade\r\n", "", 1)
		}},
		{name: "connection keep-alive", want: ws.ErrResponseConnection, respond: func(req *http.Request) string {
			return strings.Replace(dialTest101(req), "Connection: Upgrade", "Connection: keep-alive", 1)
		}},
		{name: "protocol not offered", want: ws.ErrResponseProtocol, d: ws.Dialer{Protocols: []string{"a"}},
			respond: valid("Sec-WebSocket-Protocol: b\r\n")},
		{name: "protocol none offered", want: ws.ErrResponseProtocol,
			respond: valid("Sec-WebSocket-Protocol: a\r\n")},
		{name: "protocol list", want: ws.ErrResponseProtocol, d: ws.Dialer{Protocols: []string{"a", "b"}},
			respond: valid("Sec-WebSocket-Protocol: a, b\r\n")},
		{name: "protocol twice", want: ws.ErrResponseProtocol, d: ws.Dialer{Protocols: []string{"a", "b"}},
			respond: valid("Sec-WebSocket-Protocol: a\r\n", "Sec-WebSocket-Protocol: b\r\n")},
		{name: "protocol other case", want: ws.ErrResponseProtocol, d: ws.Dialer{Protocols: []string{"chat"}},
			respond: valid("Sec-WebSocket-Protocol: Chat\r\n")},
		{name: "extension not offered", want: ws.ErrResponseExtension,
			d:       ws.Dialer{Extensions: []httphead.Option{httphead.NewOption("permessage-deflate", nil)}},
			respond: valid("Sec-WebSocket-Extensions: permessage-deflate, x-webkit-deflate-frame\r\n")},
		{name: "extension none offered", want: ws.ErrResponseExtension,
			respond: valid("Sec-WebSocket-Extensions: permessage-deflate\r\n")},
		{name: "extension malformed", want: ws.ErrResponseHeaderValue,
			d:       ws.Dialer{Extensions: []httphead.Option{httphead.NewOption("permessage-deflate", nil)}},
			respond: valid("Sec-WebSocket-Extensions: permessage-deflate; ;=\r\n")},
		{name: "OnExtensions error", want: errOnExt,
			d: ws.Dialer{
				Extensions:   []httphead.Option{httphead.NewOption("permessage-deflate", nil)},
				OnExtensions: func([]httphead.Option) error { return errOnExt },
			},
			respond: valid("Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7\r\n")},
		{name: "head too large", want: ws.ErrResponseTooLarge, d: ws.Dialer{MaxHeaderBytes: 256},
			respond: valid("X-Padding: " + strings.Repeat("x", 300) + "\r\n")},
		{name: "head over default 8 KiB", want: ws.ErrResponseTooLarge,
			respond: valid("X-Padding: " + strings.Repeat("x", 8<<10) + "\r\n")},
		{name: "interim responses count", want: ws.ErrResponseTooLarge, d: ws.Dialer{MaxHeaderBytes: 256},
			respond: fixed(strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 20))},
		{name: "garbage status line", want: ws.ErrResponseMalformed, respond: fixed("SSH-2.0-OpenSSH_9.6\r\n\r\n")},
		{name: "HTTP/2.0", want: ws.ErrResponseMalformed, respond: func(req *http.Request) string {
			return strings.Replace(dialTest101(req), "HTTP/1.1", "HTTP/2.0", 1)
		}},
		{name: "HTTP/1.0 101", want: ws.ErrResponseMalformed, respond: func(req *http.Request) string {
			return strings.Replace(dialTest101(req), "HTTP/1.1", "HTTP/1.0", 1)
		}},
		{name: "status 4 digits", want: ws.ErrResponseMalformed, respond: func(req *http.Request) string {
			return strings.Replace(dialTest101(req), " 101 ", " 0101 ", 1)
		}},
		{name: "status letters", want: ws.ErrResponseMalformed, respond: fixed("HTTP/1.1 1x1 Switching\r\n\r\n")},
		// httphead.IntFromASCII reads "09;" as 101.
		{name: "status punctuation", want: ws.ErrResponseMalformed, respond: func(req *http.Request) string {
			return strings.Replace(dialTest101(req), " 101 ", " 09; ", 1)
		}},
		// httphead.ParseVersion reads "HTTP/1.:" as HTTP/1.10.
		{name: "version punctuation", want: ws.ErrResponseMalformed, respond: func(req *http.Request) string {
			return strings.Replace(dialTest101(req), "HTTP/1.1", "HTTP/1.:", 1)
		}},
		{name: "line without colon", want: ws.ErrResponseMalformed, respond: valid("Oops\r\n")},
		{name: "space before first field", want: ws.ErrResponseMalformed, respond: func(req *http.Request) string {
			return strings.Replace(dialTest101(req), "\r\nUpgrade", "\r\n Upgrade", 1)
		}},
		{name: "control in value", want: ws.ErrResponseMalformed, respond: valid("X-A: a\x00b\r\n")},
		{name: "bare CR in value", want: ws.ErrResponseMalformed, respond: valid("X-A: a\rb\r\n")},
		{name: "empty name", want: ws.ErrResponseMalformed, respond: valid(": x\r\n")},
		{name: "closed before head", want: io.ErrUnexpectedEOF, closeAfter: true,
			respond: fixed("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n")},
		{name: "closed silently", want: io.ErrUnexpectedEOF, closeAfter: true, respond: fixed("")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := dialTestWS(t, nil, tc.closeAfter, tc.respond)
			tr := &dialTestTracker{}
			d := tc.d
			d.NetDial = tr.dial
			conn, hs, err := d.Dial(dialTestContext(t), "ws://"+srv.addr+"/")
			require.ErrorIs(t, err, tc.want)
			assert.Nil(t, conn)
			assert.Equal(t, ws.Handshake{}, hs)
			var he *ws.HandshakeError
			assert.False(t, errors.As(err, &he), "a 101 failure is no HandshakeError")
			tr.requireAllClosed(t)
		})
	}
}

func TestDialLenientResponse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		d       ws.Dialer
		respond func(*http.Request) string
		proto   string
	}{
		{name: "bare LF", respond: func(req *http.Request) string {
			return strings.ReplaceAll(dialTest101(req), "\r\n", "\n") + string(dialTestHello)
		}},
		{name: "no reason phrase", respond: func(req *http.Request) string {
			return strings.Replace(dialTest101(req), "101 Switching Protocols", "101", 1) + string(dialTestHello)
		}},
		{name: "case of names and tokens", respond: func(req *http.Request) string {
			s := strings.Replace(dialTest101(req), "Upgrade: websocket", "uPgRaDe: WebSocket", 1)
			s = strings.Replace(s, "Connection: Upgrade", "CONNECTION: upgrade", 1)
			return strings.Replace(s, "Sec-WebSocket-Accept", "sec-websocket-accept", 1) + string(dialTestHello)
		}},
		{name: "token lists", respond: func(req *http.Request) string {
			s := strings.Replace(dialTest101(req), "Connection: Upgrade", "Connection: keep-alive, Upgrade", 1)
			return strings.Replace(s, "Upgrade: websocket", "Upgrade: foo, websocket", 1) + string(dialTestHello)
		}},
		{name: "split Connection", respond: func(req *http.Request) string {
			s := strings.Replace(dialTest101(req), "Connection: Upgrade", "Connection: keep-alive\r\nConnection: Upgrade", 1)
			return s + string(dialTestHello)
		}},
		{name: "obsolete line folding", respond: func(req *http.Request) string {
			s := strings.Replace(dialTest101(req), "Connection: Upgrade", "Connection: keep-alive,\r\n\tUpgrade", 1)
			return s + string(dialTestHello)
		}},
		{name: "tabs as whitespace", d: ws.Dialer{Protocols: []string{"a", "b"}}, proto: "b",
			respond: func(req *http.Request) string {
				s := strings.Replace(dialTest101(req), "Connection: Upgrade", "Connection: keep-alive,\tUpgrade", 1)
				s = strings.Replace(s, "Upgrade: websocket", "Upgrade:\twebsocket\t", 1)
				return strings.Replace(s, "\r\n\r\n", "\r\nSec-WebSocket-Protocol:\tb\t\r\n\r\n", 1) + string(dialTestHello)
			}},
		{name: "interim responses", respond: func(req *http.Request) string {
			return "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" +
				dialTest101(req) + string(dialTestHello)
		}},
		{name: "protocol chosen", d: ws.Dialer{Protocols: []string{"a", "b"}}, proto: "b",
			respond: func(req *http.Request) string {
				return dialTest101(req, "Sec-WebSocket-Protocol: b\r\n") + string(dialTestHello)
			}},
		{name: "empty protocol header", d: ws.Dialer{Protocols: []string{"a"}},
			respond: func(req *http.Request) string {
				return dialTest101(req, "Sec-WebSocket-Protocol:\r\n", "Sec-WebSocket-Extensions: \r\n") + string(dialTestHello)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := dialTestWS(t, nil, false, tc.respond)
			conn, hs, err := tc.d.Dial(dialTestContext(t), "ws://"+srv.addr+"/")
			require.NoError(t, err)
			defer conn.Close()
			assert.Equal(t, tc.proto, hs.Protocol)
			assert.Equal(t, "hello", string(dialTestRead(t, conn, hs).Payload))
		})
	}
}

func TestDialHandshakeError(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("0123456789abcdef", 128) // 2 KiB
	for _, tc := range []struct {
		name       string
		resp       string
		closeAfter bool
		status     int
		statusText string
		header     http.Header
		body       string
	}{
		{
			name:   "403 with Content-Length",
			resp:   "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nX-Reason: no token\r\nContent-Length: 13\r\n\r\naccess denied",
			status: 403, statusText: "403 Forbidden", body: "access denied",
			header: http.Header{"Content-Type": {"text/plain"}, "X-Reason": {"no token"}, "Content-Length": {"13"}},
		},
		{
			name:   "426 without reason phrase",
			resp:   "HTTP/1.1 426\r\nsec-websocket-version: 13\r\nContent-Length: 0\r\n\r\n",
			status: 426, statusText: "426 Upgrade Required",
			header: http.Header{"Sec-Websocket-Version": {"13"}, "Content-Length": {"0"}},
		},
		{
			name:   "body capped at 1 KiB",
			resp:   "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2048\r\n\r\n" + long,
			status: 500, statusText: "500 Internal Server Error", body: long[:1024],
			header: http.Header{"Content-Length": {"2048"}},
		},
		{
			name:   "chunked",
			resp:   "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
			status: 404, statusText: "404 Not Found", body: "hello world",
			header: http.Header{"Transfer-Encoding": {"chunked"}},
		},
		{
			name:   "until close",
			resp:   "HTTP/1.0 400 Bad Request\r\n\r\nbad request",
			status: 400, statusText: "400 Bad Request", body: "bad request", closeAfter: true,
			header: http.Header{},
		},
		{
			name:   "no body for 204",
			resp:   "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n",
			status: 204, statusText: "204 No Content",
			header: http.Header{"X-A": {"1"}},
		},
		{
			name:   "200",
			resp:   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
			status: 200, statusText: "200 OK", body: "ok",
			header: http.Header{"Content-Length": {"2"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := dialTestWS(t, nil, tc.closeAfter, func(*http.Request) string { return tc.resp })
			tr := &dialTestTracker{}
			_, _, err := (&ws.Dialer{NetDial: tr.dial}).Dial(dialTestContext(t), "ws://"+srv.addr+"/")
			var he *ws.HandshakeError
			require.ErrorAs(t, err, &he)
			assert.Equal(t, tc.status, he.StatusCode)
			assert.Equal(t, tc.statusText, he.Status)
			assert.Equal(t, tc.header, he.Header)
			if tc.body == "" {
				assert.Nil(t, he.Body)
			} else {
				assert.Equal(t, tc.body, string(he.Body))
			}
			tr.requireAllClosed(t)
		})
	}
}

// TestDialHandshakeErrorStalledBody checks that a body announced and never
// sent does not hold Dial for longer than the remaining deadline.
func TestDialHandshakeErrorStalledBody(t *testing.T) {
	t.Parallel()
	srv, _ := dialTestWS(t, nil, false, func(*http.Request) string {
		return "HTTP/1.1 401 Unauthorized\r\nContent-Length: 100\r\n\r\npartial"
	})
	// The head must arrive within Timeout; the stalled body must not
	// hold Dial beyond it.
	d := ws.Dialer{Timeout: wstest.Slow(300 * time.Millisecond)}
	start := time.Now()
	_, _, err := d.Dial(dialTestContext(t), "ws://"+srv.addr+"/")
	var he *ws.HandshakeError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, 401, he.StatusCode)
	assert.Equal(t, "partial", string(he.Body))
	assert.Less(t, time.Since(start), d.Timeout+wstest.Slow(3*time.Second))
}

// TestDialBuffered checks that frames that arrive in the same read as the
// response head are handed over, not lost.
func TestDialBuffered(t *testing.T) {
	t.Parallel()
	second := ws.AppendFrame(nil, ws.NewBinaryFrame([]byte{1, 2, 3}))
	srv, _ := dialTestWS(t, nil, false, func(req *http.Request) string {
		return dialTest101(req) + string(dialTestHello) + string(second) // one write
	})
	conn, hs, err := (&ws.Dialer{}).Dial(dialTestContext(t), "ws://"+srv.addr+"/")
	require.NoError(t, err)
	defer conn.Close()
	require.NotNil(t, hs.Buffered)
	assert.Equal(t, append(bytes.Clone(dialTestHello), second...), hs.Buffered)
	r := bytes.NewReader(hs.Buffered)
	f, err := ws.ReadFrame(r, 1<<10)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(f.Payload))
	f, err = ws.ReadFrame(r, 1<<10)
	require.NoError(t, err)
	assert.Equal(t, []byte{1, 2, 3}, f.Payload)
}

func TestDialNothingBuffered(t *testing.T) {
	t.Parallel()
	srv, _ := dialTestWS(t, nil, false, func(req *http.Request) string { return dialTest101(req) })
	conn, hs, err := (&ws.Dialer{}).Dial(dialTestContext(t), "ws://"+srv.addr+"/")
	require.NoError(t, err)
	defer conn.Close()
	assert.Nil(t, hs.Buffered)
}

func TestDialerUpgrade(t *testing.T) {
	t.Parallel()
	srv, reqs := dialTestWS(t, nil, false, func(req *http.Request) string {
		return dialTest101(req, "Sec-WebSocket-Protocol: chat\r\n") + string(dialTestHello)
	})
	ctx := dialTestContext(t)
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", srv.addr)
	require.NoError(t, err)
	conn := &dialTestConn{Conn: raw}
	defer conn.Close()

	d := ws.Dialer{Protocols: []string{"chat"}, Origin: "http://example.com"}
	u := &url.URL{Scheme: "ws", Host: "example.com", Path: "/up grade", RawQuery: "q=1"}
	hs, err := d.Upgrade(ctx, conn, u)
	require.NoError(t, err)
	assert.Equal(t, "chat", hs.Protocol)
	assert.Equal(t, "hello", string(dialTestRead(t, conn, hs).Payload))
	assert.False(t, conn.closed.Load())
	last, ok := conn.lastDeadline()
	require.True(t, ok)
	assert.True(t, last.IsZero(), "deadline left: %v", last)

	req := dialTestRecv(t, reqs)
	assert.Equal(t, "/up%20grade?q=1", req.RequestURI)
	assert.Equal(t, "example.com", req.Host)
	assert.Equal(t, "http://example.com", req.Header.Get("Origin"))
}

func TestDialerUpgradeNoContextDeadline(t *testing.T) {
	t.Parallel()
	c1, c2 := net.Pipe()
	defer c2.Close()
	conn := &dialTestConn{Conn: c1}
	defer conn.Close()
	done := make(chan error, 1)
	go func() {
		req, err := http.ReadRequest(bufio.NewReader(c2))
		if err == nil {
			_, err = io.WriteString(c2, dialTest101(req))
		}
		done <- err
	}()
	// A context that can never be done: Upgrade leaves the deadlines alone.
	hs, err := (&ws.Dialer{}).Upgrade(context.Background(), conn, &url.URL{Scheme: "ws", Host: "pipe"})
	require.NoError(t, err)
	require.NoError(t, dialTestRecv(t, done))
	assert.Nil(t, hs.Buffered)
	_, set := conn.lastDeadline()
	assert.False(t, set)
}

func TestDialerUpgradeFailureKeepsConn(t *testing.T) {
	t.Parallel()
	srv, _ := dialTestWS(t, nil, false, func(*http.Request) string {
		return "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno"
	})
	ctx := dialTestContext(t)
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", srv.addr)
	require.NoError(t, err)
	conn := &dialTestConn{Conn: raw}
	defer conn.Close()
	_, err = (&ws.Dialer{}).Upgrade(ctx, conn, &url.URL{Scheme: "ws", Host: "example.com"})
	var he *ws.HandshakeError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, "no", string(he.Body))
	assert.False(t, conn.closed.Load(), "Upgrade closed the caller's connection")
}

// TestDialCancel cancels the context while Dial is blocked at each stage
// and checks that Dial returns the context's error at once.
func TestDialCancel(t *testing.T) {
	t.Parallel()
	// silent reads what the client sends and never answers.
	silent := func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) (d ws.Dialer, url string, blocked <-chan struct{})
	}{
		{"connect", func(t *testing.T) (ws.Dialer, string, <-chan struct{}) {
			blocked := make(chan struct{})
			return ws.Dialer{NetDial: func(ctx context.Context, _, _ string) (net.Conn, error) {
				close(blocked)
				<-ctx.Done()
				return nil, ctx.Err()
			}}, "ws://ws.example.test/", blocked
		}},
		{"handshake", func(t *testing.T) (ws.Dialer, string, <-chan struct{}) {
			blocked := make(chan struct{})
			srv, _ := dialTestWS(t, nil, false, func(*http.Request) string { close(blocked); return "" })
			return ws.Dialer{}, "ws://" + srv.addr + "/", blocked
		}},
		{"tls", func(t *testing.T) (ws.Dialer, string, <-chan struct{}) {
			_, cliConf := dialTestTLSConfigs(t)
			srv := dialTestListen(t, nil, silent)
			return ws.Dialer{TLSConfig: cliConf}, "wss://" + srv.addr + "/", srv.accepted
		}},
		{"proxy", func(t *testing.T) (ws.Dialer, string, <-chan struct{}) {
			srv := dialTestListen(t, nil, silent)
			pu := &url.URL{Scheme: "http", Host: srv.addr}
			return ws.Dialer{Proxy: http.ProxyURL(pu)}, "ws://ws.example.test/", srv.accepted
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, rawURL, blocked := tc.setup(t)
			tr := &dialTestTracker{}
			if d.NetDial == nil {
				d.NetDial = tr.dial
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				conn, _, err := d.Dial(ctx, rawURL)
				if conn != nil {
					conn.Close()
				}
				done <- err
			}()
			dialTestRecv(t, blocked)
			cancel()
			start := time.Now()
			err := dialTestRecv(t, done)
			require.ErrorIs(t, err, context.Canceled)
			assert.Less(t, time.Since(start), wstest.Slow(2*time.Second), "cancelling stops the dial at once")
			if len(tr.conns) > 0 {
				tr.requireAllClosed(t)
			}
		})
	}
}

func TestDialTimeout(t *testing.T) {
	t.Parallel()
	srv, _ := dialTestWS(t, nil, false, func(*http.Request) string { return "" })
	for _, tc := range []struct {
		name string
		d    ws.Dialer
		ctx  func(t *testing.T) context.Context
	}{
		{"Dialer.Timeout", ws.Dialer{Timeout: 150 * time.Millisecond}, dialTestContext},
		{"context deadline", ws.Dialer{}, func(t *testing.T) context.Context {
			ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
			t.Cleanup(cancel)
			return ctx
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := &dialTestTracker{}
			d := tc.d
			d.NetDial = tr.dial
			start := time.Now()
			_, _, err := d.Dial(tc.ctx(t), "ws://"+srv.addr+"/")
			elapsed := time.Since(start)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.GreaterOrEqual(t, elapsed, 150*time.Millisecond)
			assert.Less(t, elapsed, wstest.Slow(3*time.Second), "the timeout stops the dial")
			tr.requireAllClosed(t)
		})
	}
}

func TestDialerUpgradeTimeout(t *testing.T) {
	t.Parallel()
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	go func() { _, _ = io.Copy(io.Discard, c2) }() // reads the request, never answers
	_, err := (&ws.Dialer{Timeout: 100 * time.Millisecond}).Upgrade(context.Background(), c1, &url.URL{Scheme: "ws", Host: "pipe"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestDialCanceledBefore(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	d := ws.Dialer{NetDial: func(context.Context, string, string) (net.Conn, error) {
		t.Error("dialled with a cancelled context")
		return nil, errors.New("unexpected dial")
	}}
	_, _, err := d.Dial(ctx, "ws://ws.example.test/")
	require.ErrorIs(t, err, context.Canceled)
}

// TestDialNoGoroutineLeak runs successful, refused and cancelled dials and
// checks that nothing outlives them. It is not parallel, so that no other
// test's goroutines are running.
func TestDialNoGoroutineLeak(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	t.Run("dials", func(t *testing.T) {
		srv, _ := dialTestWS(t, nil, false, dialTestUpgrade)
		refused, _ := dialTestWS(t, nil, false, func(*http.Request) string {
			return "HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nx"
		})
		stalled, _ := dialTestWS(t, nil, false, func(*http.Request) string { return "" })
		ctx := dialTestContext(t)

		conn, hs, err := (&ws.Dialer{}).Dial(ctx, "ws://"+srv.addr+"/")
		require.NoError(t, err)
		assert.Equal(t, "hello", string(dialTestRead(t, conn, hs).Payload))
		require.NoError(t, conn.Close())

		_, _, err = (&ws.Dialer{}).Dial(ctx, "ws://"+refused.addr+"/")
		var he *ws.HandshakeError
		require.ErrorAs(t, err, &he)

		_, _, err = (&ws.Dialer{Timeout: 50 * time.Millisecond}).Dial(ctx, "ws://"+stalled.addr+"/")
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

// dialBenchConn answers each handshake request written to it with a 101
// response, from memory.
type dialBenchConn struct {
	net.Conn // nil: only Read and Write are used
	resp     []byte
	off      int
}

func (c *dialBenchConn) Write(p []byte) (int, error) {
	const name = "Sec-WebSocket-Key: "
	i := bytes.Index(p, []byte(name))
	key := p[i+len(name) : i+len(name)+ws.KeySize]
	c.resp = append(c.resp[:0], "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n"+
		"Sec-WebSocket-Accept: "...)
	c.resp = ws.AppendAccept(c.resp, key)
	c.resp = append(c.resp, "\r\n\r\n"...)
	c.off = 0
	return len(p), nil
}

func (c *dialBenchConn) Read(p []byte) (int, error) {
	if c.off == len(c.resp) {
		return 0, io.EOF
	}
	n := copy(p, c.resp[c.off:])
	c.off += n
	return n, nil
}

// BenchmarkDialerUpgrade measures the client handshake without the
// network: building the request, reading and checking the response.
func BenchmarkDialerUpgrade(b *testing.B) {
	d := ws.Dialer{
		Protocols:  []string{"chat"},
		Extensions: []httphead.Option{httphead.NewOption("permessage-deflate", map[string]string{"client_max_window_bits": ""})},
	}
	u := &url.URL{Scheme: "ws", Host: "example.com", Path: "/chat"}
	conn := &dialBenchConn{}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		hs, err := d.Upgrade(ctx, conn, u)
		if err != nil || hs.Protocol != "chat" {
			b.Fatal(hs, err)
		}
	}
}

// TestDefaultDialerTimeout: the package-level Dial does not wait forever
// on a server that accepts and never answers.
func TestDefaultDialerTimeout(t *testing.T) {
	assert.Equal(t, ws.DefaultDialTimeout, ws.DefaultDialer.Timeout)
	assert.Positive(t, ws.DefaultDialer.Timeout)
}
