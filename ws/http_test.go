package ws

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
)

// TestHTTPUpgraderInvalid runs the invalid requests that reach a handler
// through HTTPUpgrader: same rules, same answers as Upgrader.
func TestHTTPUpgraderInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range upInvalid {
		if tc.rawOnly {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(tc.req)))
			require.NoError(t, err)
			rec := httptest.NewRecorder()
			var u HTTPUpgrader
			conn, hs, err := u.Upgrade(rec, r)
			require.ErrorIs(t, err, tc.err)
			assert.Nil(t, conn)
			assert.Equal(t, Handshake{}, hs)

			var re *RejectError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tc.status, rec.Code)
			assert.Equal(t, re.Reason, rec.Header().Get("X-WebSocket-Reject-Reason"))
			assert.Equal(t, re.Reason, rec.Body.String())
			assert.Equal(t, "text/plain; charset=utf-8", rec.Header().Get("Content-Type"))
			if r.ProtoMajor == 1 {
				assert.Contains(t, rec.Header().Values("Connection"), "close")
			} else {
				assert.Empty(t, rec.Header().Values("Connection"), "HTTP/2 has no Connection field")
			}
			for k, vs := range re.Header {
				for _, v := range vs {
					assert.Contains(t, rec.Header().Values(k), v, "field %s", k)
				}
			}
		})
	}
}

func TestHTTPUpgraderHTTP2(t *testing.T) {
	t.Parallel()
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(upRequest())))
	require.NoError(t, err)
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
	rec := httptest.NewRecorder()
	var u HTTPUpgrader
	_, _, err = u.Upgrade(rec, r)
	require.ErrorIs(t, err, ErrHandshakeHTTPVersion)
	assert.Equal(t, http.StatusHTTPVersionNotSupported, rec.Code)
	assert.Empty(t, rec.Header().Values("Connection"), "HTTP/2 has no Connection field")
}

func TestHTTPUpgraderNotHijackable(t *testing.T) {
	t.Parallel()
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(upRequest())))
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	var u HTTPUpgrader
	conn, _, err := u.Upgrade(rec, r)
	require.ErrorIs(t, err, http.ErrNotSupported)
	assert.Nil(t, conn)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
}

// upServerResult is what an upgrading test handler saw.
type upServerResult struct {
	hs      Handshake
	payload string // of the first frame from the client
	err     error
}

// upServe starts a test server whose handler upgrades with u (through
// wrap, when set), reads one frame, Buffered first, and answers "hi".
func upServe(t *testing.T, u *HTTPUpgrader, wrap func(http.ResponseWriter) http.ResponseWriter,
	config func(*http.Server)) (*httptest.Server, <-chan upServerResult) {
	t.Helper()
	done := make(chan upServerResult, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Custom", "yes")
		if wrap != nil {
			w = wrap(w)
		}
		conn, hs, err := u.Upgrade(w, r)
		if err != nil {
			done <- upServerResult{err: err}
			return
		}
		defer conn.Close()
		res := upServerResult{hs: hs}
		res.hs.Buffered = slices.Clone(hs.Buffered)
		var f Frame
		f, res.err = ReadFrame(bufio.NewReader(io.MultiReader(bytes.NewReader(hs.Buffered), conn)), 1<<10)
		if res.err == nil {
			res.payload = string(f.Payload)
			res.err = WriteFrame(conn, NewTextFrame([]byte("hi")))
		}
		done <- res
	}))
	if config != nil {
		config(srv.Config)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, done
}

// upDial connects to srv, sends req in one write and reads the response.
func upDial(t *testing.T, srv *httptest.Server, req []byte) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", srv.Listener.Addr().String(), wstest.Remaining(t))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.SetDeadline(wstest.Deadline(t)))
	_, err = conn.Write(req)
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	return conn, br, resp
}

// upServerRequest is a valid request for srv, with edits (see upEdit).
func upServerRequest(srv *httptest.Server, edits ...string) []byte {
	host := srv.Listener.Addr().String()
	return upRequest(append([]string{"Host: " + host, "Origin: http://" + host}, edits...)...)
}

func TestHTTPUpgraderServer(t *testing.T) {
	t.Parallel()
	echo := func(o httphead.Option) (httphead.Option, bool) {
		return o, string(o.Name) == "x-foo"
	}
	var offered []string
	cases := []struct {
		name  string
		u     HTTPUpgrader
		edits []string
		proto string
		ext   string
	}{
		{name: "plain", u: HTTPUpgrader{}},
		{name: "protocol list", u: HTTPUpgrader{Protocols: []string{"b", "a"}},
			edits: []string{"Sec-WebSocket-Protocol: a", "+Sec-WebSocket-Protocol: b"}, proto: "b"},
		{name: "protocol hook", u: HTTPUpgrader{Protocol: func(p string) bool {
			offered = append(offered, p)
			return p == "b"
		}}, edits: []string{"Sec-WebSocket-Protocol: a, b, c"}, proto: "b"},
		{name: "extension", u: HTTPUpgrader{Extension: echo},
			edits: []string{"Sec-WebSocket-Extensions: x-bar, x-foo; a=1", "+Sec-WebSocket-Extensions: x-foo"}, ext: "x-foo; a=1"},
		{name: "any origin", u: HTTPUpgrader{CheckOrigin: AnyOrigin}, edits: []string{"Origin: https://elsewhere.example"}},
		{name: "timeout", u: HTTPUpgrader{Timeout: time.Second}},
		{name: "no timeout", u: HTTPUpgrader{Timeout: -1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, done := upServe(t, &tc.u, nil, nil)
			// The request and the first frame go in one write.
			conn, br, resp := upDial(t, srv, append(upServerRequest(srv, tc.edits...), upFrame...))
			assert.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
			assert.Equal(t, upAccept, resp.Header.Get("Sec-WebSocket-Accept"))
			assert.Equal(t, "websocket", resp.Header.Get("Upgrade"))
			assert.Equal(t, "yes", resp.Header.Get("X-Custom"), "fields set on w.Header() are sent")
			assert.Equal(t, tc.proto, resp.Header.Get("Sec-WebSocket-Protocol"))
			assert.Equal(t, tc.ext, resp.Header.Get("Sec-WebSocket-Extensions"))

			f, err := ReadFrame(br, 1<<10)
			require.NoError(t, err)
			assert.Equal(t, "hi", string(f.Payload))
			require.NoError(t, conn.Close())

			res := <-done
			require.NoError(t, res.err)
			assert.Equal(t, "Hello", res.payload)
			assert.Equal(t, upFrame, res.hs.Buffered, "the frame sent with the request is in Buffered")
			assert.Equal(t, tc.proto, res.hs.Protocol)
			assert.Equal(t, tc.ext, string(appendOptions(nil, res.hs.Extensions)))
		})
	}
	assert.Equal(t, []string{"a", "b"}, offered)
}

// upUnwrapper wraps a ResponseWriter, hiding its Hijack method, and
// unwraps like the middleware net/http's ResponseController knows.
type upUnwrapper struct{ http.ResponseWriter }

func (w upUnwrapper) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// upOpaque wraps a ResponseWriter and hides it.
type upOpaque struct{ http.ResponseWriter }

func TestHTTPUpgraderWrappedWriter(t *testing.T) {
	t.Parallel()
	t.Run("Unwrap", func(t *testing.T) {
		t.Parallel()
		var u HTTPUpgrader
		srv, done := upServe(t, &u, func(w http.ResponseWriter) http.ResponseWriter { return upUnwrapper{w} }, nil)
		_, _, resp := upDial(t, srv, append(upServerRequest(srv), upFrame...))
		assert.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
		res := <-done
		require.NoError(t, res.err)
		assert.Equal(t, "Hello", res.payload)
	})
	t.Run("opaque", func(t *testing.T) {
		t.Parallel()
		var u HTTPUpgrader
		srv, done := upServe(t, &u, func(w http.ResponseWriter) http.ResponseWriter { return upOpaque{w} }, nil)
		_, _, resp := upDial(t, srv, upServerRequest(srv))
		assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
		res := <-done
		require.ErrorIs(t, res.err, http.ErrNotSupported)
	})
}

func TestHTTPUpgraderRejectOverNetwork(t *testing.T) {
	t.Parallel()
	var u HTTPUpgrader
	srv, done := upServe(t, &u, nil, nil)
	_, _, resp := upDial(t, srv, upServerRequest(srv, "Sec-WebSocket-Version: 8"))
	assert.Equal(t, http.StatusUpgradeRequired, resp.StatusCode)
	assert.Equal(t, "13", resp.Header.Get("Sec-WebSocket-Version"))
	assert.Equal(t, ErrHandshakeVersion.Reason, resp.Header.Get("X-WebSocket-Reject-Reason"))
	assert.True(t, resp.Close)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, ErrHandshakeVersion.Reason, string(body))
	res := <-done
	require.ErrorIs(t, res.err, ErrHandshakeVersion)
}

// TestHTTPUpgraderServerTimeouts checks that the http.Server's read and
// write timeouts do not reach the upgraded connection: the deadlines they
// set on the connection are gone once Upgrade returns. It looks at the
// deadlines themselves rather than waiting for short ones to pass, which a
// loaded machine could reach before the 101 response is written.
func TestHTTPUpgraderServerTimeouts(t *testing.T) {
	t.Parallel()
	u := HTTPUpgrader{Timeout: -1} // no deadline of its own to overwrite the server's
	var conns deadlineConns
	done := make(chan upServerResult, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := u.Upgrade(w, r)
		if err != nil {
			done <- upServerResult{err: err}
			return
		}
		defer conn.Close()
		var res upServerResult
		f, err := ReadFrame(bufio.NewReader(conn), 1<<10)
		if res.err = err; err == nil {
			res.payload = string(f.Payload)
			res.err = WriteFrame(conn, NewTextFrame([]byte("hi")))
		}
		done <- res
	}))
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = time.Hour, time.Hour
	srv.Listener = &deadlineListener{Listener: srv.Listener, conns: &conns}
	srv.Start()
	t.Cleanup(srv.Close)
	conn, br, resp := upDial(t, srv, upServerRequest(srv))
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	_, err := conn.Write(upFrame)
	require.NoError(t, err)
	f, err := ReadFrame(br, 1<<10)
	require.NoError(t, err)
	assert.Equal(t, "hi", string(f.Payload))
	res := <-done
	require.NoError(t, res.err)
	assert.Equal(t, "Hello", res.payload)

	dc := conns.only(t)
	read, write, set := dc.deadlines()
	assert.True(t, set, "the http.Server set no deadline: the test proves nothing")
	assert.True(t, read.IsZero(), "read deadline left after Upgrade: %v", read)
	assert.True(t, write.IsZero(), "write deadline left after Upgrade: %v", write)
}

// deadlineListener wraps the connections it accepts in deadlineConn.
type deadlineListener struct {
	net.Listener
	conns *deadlineConns
}

func (l *deadlineListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	dc := &deadlineConn{Conn: c}
	l.conns.add(dc)
	return dc, nil
}

// deadlineConn remembers the deadlines last set on it.
type deadlineConn struct {
	net.Conn
	mu          sync.Mutex
	read, write time.Time
	set         bool
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.read, c.write, c.set = t, t, c.set || !t.IsZero()
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.read, c.set = t, c.set || !t.IsZero()
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.write, c.set = t, c.set || !t.IsZero()
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

func (c *deadlineConn) deadlines() (read, write time.Time, set bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.read, c.write, c.set
}

// deadlineConns collects the connections an http.Server serves.
type deadlineConns struct {
	mu    sync.Mutex
	conns []*deadlineConn
}

func (d *deadlineConns) add(c *deadlineConn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.conns = append(d.conns, c)
}

func (d *deadlineConns) only(t *testing.T) *deadlineConn {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	require.Len(t, d.conns, 1, "connections served")
	return d.conns[0]
}

// upHijackConn is the net.Conn an upHijacker hands out: it records
// writes and deadlines, and fails writes with writeErr when set.
type upHijackConn struct {
	net.Conn
	writeErr  error
	out       bytes.Buffer
	deadlines []time.Time
	closed    bool
}

func (c *upHijackConn) Write(p []byte) (int, error) {
	if c.writeErr != nil {
		return 0, c.writeErr
	}
	return c.out.Write(p)
}

func (c *upHijackConn) SetDeadline(t time.Time) error {
	c.deadlines = append(c.deadlines, t)
	return nil
}

func (c *upHijackConn) Close() error { c.closed = true; return nil }

// upHijacker is a ResponseWriter that hijacks to a given conn, with what
// the client sent after its request already buffered.
type upHijacker struct {
	*httptest.ResponseRecorder
	conn     net.Conn
	buffered string
}

func (h upHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	br := bufio.NewReader(strings.NewReader(h.buffered))
	if h.buffered != "" {
		if _, err := br.Peek(len(h.buffered)); err != nil {
			return nil, nil, err
		}
	}
	return h.conn, bufio.NewReadWriter(br, bufio.NewWriter(h.conn)), nil
}

func TestHTTPUpgraderHijackedConn(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		timeout   time.Duration
		deadlines int // set for the write, then cleared
	}{
		{"default timeout", 0, 2},
		{"timeout", time.Second, 2},
		{"no timeout", -1, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(upRequest())))
			require.NoError(t, err)
			hc := &upHijackConn{}
			u := HTTPUpgrader{Timeout: tc.timeout}
			conn, hs, err := u.Upgrade(upHijacker{httptest.NewRecorder(), hc, string(upFrame)}, r)
			require.NoError(t, err)
			assert.Same(t, hc, conn)
			assert.Equal(t, upGolden, hc.out.String())
			assert.Equal(t, upFrame, hs.Buffered)
			require.Len(t, hc.deadlines, tc.deadlines)
			assert.True(t, hc.deadlines[len(hc.deadlines)-1].IsZero(), "deadlines are cleared")
			assert.False(t, hc.closed)
		})
	}
}

func TestHTTPUpgraderWriteError(t *testing.T) {
	t.Parallel()
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(upRequest())))
	require.NoError(t, err)
	errBoom := errors.New("boom")
	hc := &upHijackConn{writeErr: errBoom}
	var u HTTPUpgrader
	conn, _, err := u.Upgrade(upHijacker{httptest.NewRecorder(), hc, ""}, r)
	require.ErrorIs(t, err, errBoom)
	assert.Nil(t, conn)
	assert.True(t, hc.closed, "the hijacked conn is closed on failure")
}
