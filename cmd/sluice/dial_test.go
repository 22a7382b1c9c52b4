package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/sluice-ws/sluice/wsutil"
)

// wsServer serves WebSocket connections to handle, which runs for as long
// as it likes; the connection is dropped after it returns. It returns the
// ws:// URL of the server.
func wsServer(t *testing.T, handle func(c *wsutil.Conn, r *http.Request)) string {
	t.Helper()
	var (
		mu    sync.Mutex
		conns []*wsutil.Conn
		wg    sync.WaitGroup
	)
	u := &ws.HTTPUpgrader{Protocol: func(string) bool { return true }, CheckOrigin: ws.AnyOrigin}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		nc, hs, err := u.Upgrade(w, r)
		if err != nil {
			return
		}
		c, err := wsutil.NewConn(nc, ws.ServerSide, hs, wsutil.Config{CloseTimeout: wstest.Remaining(t)})
		if !assert.NoError(t, err) {
			nc.Close()
			return
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		// Close, not Terminate: after the peer's close it sends the
		// answer, after the handler's replies.
		defer c.Close(ws.StatusNormalClosure, "")
		handle(c, r)
	}))
	t.Cleanup(func() {
		srv.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Terminate()
		}
		mu.Unlock()
		wg.Wait() // net/http forgets hijacked connections: wait for ours
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// dialRun is "sluice dial" running in-process through run, with stdin a
// pipe and stdout and stderr captured.
type dialRun struct {
	stdin          *io.PipeWriter
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	errc           chan error
}

func startDial(t *testing.T, args ...string) *dialRun {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	d := &dialRun{stdin: pw, stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, errc: make(chan error, 1)}
	go func() { d.errc <- run(ctx, append([]string{"dial"}, args...), pr, d.stdout, d.stderr) }()
	t.Cleanup(func() {
		cancel()
		pw.Close() // ends the stdin reader
		_ = d.wait(t)
	})
	return d
}

// send types a line on dial's stdin.
func (d *dialRun) send(t *testing.T, line string) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := io.WriteString(d.stdin, line+"\n")
		done <- err
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-wstest.After(t):
		d.stdin.CloseWithError(io.ErrClosedPipe)
		require.FailNow(t, wstest.Expired(t, "dial to read stdin").Error())
	}
}

// wait waits for run to return.
func (d *dialRun) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-d.errc:
		d.errc <- err
		return err
	case <-wstest.After(t):
		require.FailNow(t, wstest.Expired(t, "dial to return").Error(), "stderr:\n%s", d.stderr.String())
		return nil
	}
}

func TestDialEcho(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	d := startDial(t, s.url("/echo"))
	d.stderr.waitFor(t, `connected to ws://`+s.addr+`/echo\n`)

	d.send(t, "hello, sluice ✓")
	d.stdout.waitFor(t, `(?m)^hello, sluice ✓$`)
	d.send(t, "//slash") // a leading / is doubled to send it
	d.stdout.waitFor(t, `(?m)^/slash$`)
	d.send(t, "/ping")
	d.stderr.waitFor(t, `ping: rtt=\d\S*s\n`)
	d.send(t, "/bogus")
	d.stderr.waitFor(t, `unknown command /bogus`)
	d.send(t, "/close 1005")
	d.stderr.waitFor(t, `/close: "1005" is not a close code`)

	require.NoError(t, d.stdin.Close()) // end of input closes with 1000
	require.NoError(t, d.wait(t))
	assert.Equal(t, "hello, sluice ✓\n/slash\n", d.stdout.String(), "stdout holds only messages")
	assert.Contains(t, d.stderr.String(), `closed: code=1000 reason=""`)
}

// Many lines sent as fast as they can be read while the echoes pour in:
// the session must keep reading while its send queue is full. With
// -compress the lines shrink to little on the wire, but go through
// context takeover both ways, many messages in a row.
func TestDialEchoFlood(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	tests := []struct {
		name string
		args []string
		n    int
	}{
		// 8 MiB each way: more than the socket buffers and queues
		// together hold, so both ends must keep reading while they
		// write.
		{"plain", nil, 2048},
		// Fewer: compressing and inflating with context takeover is
		// slow under -race.
		{"compressed", []string{"-compress"}, 512},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := slices.Concat(tc.args, []string{"-timeout", "0", strings.TrimPrefix(s.url("/echo"), "ws://")}) // no scheme: ws:// assumed
			d := startDial(t, args...)
			d.stderr.waitFor(t, `connected to ws://`)
			n := tc.n
			line := strings.Repeat("x", 4095)
			var lines strings.Builder
			for i := range n {
				fmt.Fprintf(&lines, "%04d%s\n", i, line[4:])
			}
			want := lines.String()
			errc := make(chan error, 1)
			go func() {
				_, err := io.WriteString(d.stdin, want)
				errc <- err
			}()
			d.stdout.waitLen(t, len(want))
			require.NoError(t, <-errc)
			assert.True(t, want == d.stdout.String(), "every line echoed once, in order")
			d.send(t, "/quit")
			require.NoError(t, d.wait(t))
		})
	}
}

// /close sends the code and reason typed; the server sees them, echoes
// them, and dial exits cleanly.
func TestDialClose(t *testing.T) {
	t.Parallel()
	seen := make(chan error, 1)
	url := wsServer(t, func(c *wsutil.Conn, _ *http.Request) {
		for range c.Inbound() {
		}
		seen <- c.Err()
	})
	d := startDial(t, url)
	d.stderr.waitFor(t, `connected`)
	d.send(t, "/close 4000 bye now")
	require.NoError(t, d.wait(t))
	select {
	case err := <-seen:
		assert.Equal(t, ws.CloseError{Code: 4000, Reason: "bye now"}, err)
	case <-wstest.After(t):
		require.FailNow(t, wstest.Expired(t, "the server to see the close").Error())
	}
	assert.Contains(t, d.stderr.String(), `closed: code=4000 reason="bye now"`)
}

// An interrupt (ctx cancelled) closes with 1001 going away.
func TestDialInterrupt(t *testing.T) {
	t.Parallel()
	seen := make(chan error, 1)
	url := wsServer(t, func(c *wsutil.Conn, _ *http.Request) {
		for range c.Inbound() {
		}
		seen <- c.Err()
	})
	d := startDial(t, url)
	d.stderr.waitFor(t, `connected`)
	d.cancel()
	require.NoError(t, d.wait(t))
	select {
	case err := <-seen:
		assert.Equal(t, ws.StatusGoingAway, ws.CloseStatus(err))
	case <-wstest.After(t):
		require.FailNow(t, wstest.Expired(t, "the server to see the close").Error())
	}
}

// When the server ends the connection, dial prints how and exits cleanly
// only for a normal closure.
func TestDialServerCloses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		close  func(c *wsutil.Conn)
		stderr string
		clean  bool
	}{
		{"normal", func(c *wsutil.Conn) { _ = c.Close(ws.StatusNormalClosure, "done") }, `closed: code=1000 reason="done"`, true},
		{"no status", func(c *wsutil.Conn) { _ = c.Close(0, "") }, `closed: code=1005 reason=""`, true},
		{"going away", func(c *wsutil.Conn) { _ = c.Close(ws.StatusGoingAway, "restart") }, `closed: code=1001 reason="restart"`, false},
		{"error code", func(c *wsutil.Conn) { _ = c.Close(ws.StatusInternalError, "oops") }, `closed: code=1011 reason="oops"`, false},
		{"dropped", func(c *wsutil.Conn) { _ = c.Terminate() }, `connection lost: `, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := wsServer(t, func(c *wsutil.Conn, _ *http.Request) {
				m, ok := <-c.Inbound() // close once the client spoke
				if ok && string(m.Payload) == "go" {
					tc.close(c)
				}
			})
			d := startDial(t, url)
			d.stderr.waitFor(t, `connected`)
			d.send(t, "go")
			err := d.wait(t)
			if tc.clean {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, errUncleanClose)
			}
			assert.Contains(t, d.stderr.String(), tc.stderr)
		})
	}
}

// Text is printed as it is, binary as a hex summary.
func TestDialOutput(t *testing.T) {
	t.Parallel()
	long := make([]byte, 40)
	for i := range long {
		long[i] = byte(i)
	}
	url := wsServer(t, func(c *wsutil.Conn, _ *http.Request) {
		for _, m := range []wsutil.Message{
			{OpCode: ws.OpText, Payload: []byte("plain text")},
			{OpCode: ws.OpText, Payload: []byte("two\nlines")},
			{OpCode: ws.OpBinary, Payload: []byte{1, 2, 0xfe}},
			{OpCode: ws.OpBinary, Payload: long},
		} {
			c.Outbound() <- m
		}
		_ = c.Close(ws.StatusNormalClosure, "")
	})
	d := startDial(t, url)
	require.NoError(t, d.wait(t))
	assert.Equal(t, "plain text\ntwo\nlines\n<binary 3 bytes: 0102fe>\n"+
		"<binary 40 bytes: 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f…>\n", d.stdout.String())
}

// -H, -origin and -subprotocol shape the request.
func TestDialRequest(t *testing.T) {
	t.Parallel()
	got := make(chan http.Header, 1)
	url := wsServer(t, func(c *wsutil.Conn, r *http.Request) {
		got <- r.Header.Clone()
		for range c.Inbound() {
		}
	})
	d := startDial(t, "-H", "X-Token: abc", "-H", "X-Token: def", "-origin", "https://app.example.com",
		"-subprotocol", "v2.sluice", "-subprotocol", "v1.sluice", url)
	d.stderr.waitFor(t, `connected to ws://\S+ \(subprotocol "v2.sluice"\)`)
	var h http.Header
	select {
	case h = <-got:
	case <-wstest.After(t):
		require.FailNow(t, wstest.Expired(t, "the request").Error())
	}
	assert.Equal(t, []string{"abc", "def"}, h.Values("X-Token"))
	assert.Equal(t, "https://app.example.com", h.Get("Origin"))
	assert.Equal(t, "v2.sluice, v1.sluice", strings.Join(h.Values("Sec-Websocket-Protocol"), ", "))
	require.NoError(t, d.stdin.Close())
	require.NoError(t, d.wait(t))
}

func TestDialErrors(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := "ws://" + ln.Addr().String() + "/"
	require.NoError(t, ln.Close())

	tests := []struct {
		name string
		args []string
		want error
	}{
		{"no URL", nil, errUsage},
		{"two URLs", []string{"ws://a", "ws://b"}, errUsage},
		{"bad header flag", []string{"-H", "no colon", "ws://a"}, errUsage},
		{"negative timeout", []string{"-timeout", "-1s", "ws://a"}, errUsage},
		{"bad scheme", []string{"ftp://example.com/"}, ws.ErrBadScheme},
		{"bad URL", []string{"ws://[::1/x"}, ws.ErrBadURL},
		{"refused", []string{refused}, syscall.ECONNREFUSED},
		{"handshake header", []string{"-H", "Sec-WebSocket-Key: x", s.url("/echo")}, ws.ErrBadHeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := run(testCtx(t), append([]string{"dial"}, tc.args...), strings.NewReader(""), io.Discard, io.Discard)
			require.ErrorIs(t, err, tc.want)
		})
	}

	t.Run("forbidden origin", func(t *testing.T) {
		t.Parallel()
		err := run(testCtx(t), []string{"dial", "-origin", "https://evil.test", s.url("/chat")},
			strings.NewReader(""), io.Discard, io.Discard)
		var he *ws.HandshakeError
		require.ErrorAs(t, err, &he)
		assert.Equal(t, http.StatusForbidden, he.StatusCode)
	})
}

func TestParseClose(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   string
		code   ws.StatusCode
		reason string
		ok     bool
	}{
		{"default", "", ws.StatusNormalClosure, "", true},
		{"code", "1001", ws.StatusGoingAway, "", true},
		{"code and reason", " 4000  see you later ", 4000, "see you later", true},
		{"not a number", "soon", 0, "", false},
		{"not sendable", "1006", 0, "", false},
		{"out of range", "70000", 0, "", false},
		{"reason too long", "1000 " + strings.Repeat("x", 124), 0, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, reason, err := parseClose(tc.args)
			if !tc.ok {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.code, code)
			assert.Equal(t, tc.reason, reason)
		})
	}
}

// dial -compress negotiates permessage-deflate with serve, says so, and
// compresses what it sends: the server receives far fewer bytes than the
// lines hold.
func TestDialCompress(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	d := startDial(t, "-compress", s.url("/echo"))
	d.stderr.waitFor(t, `connected to ws://`+s.addr+`/echo\nextension: permessage-deflate\n`)
	s.logs.waitFor(t, `msg=connected path=/echo .*extensions=permessage-deflate\n`)

	long := strings.Repeat("compress me, sluice ✓ ", 3000) // 72 KB
	d.send(t, "short")
	d.send(t, long)
	d.send(t, "//slash")
	want := "short\n" + long + "\n/slash\n"
	d.stdout.waitLen(t, len(want))
	assert.Equal(t, want, d.stdout.String())

	require.NoError(t, d.stdin.Close())
	require.NoError(t, d.wait(t))
	assert.Contains(t, d.stderr.String(), `closed: code=1000 reason=""`)
	in, err := strconv.Atoi(s.logs.waitFor(t, `msg=disconnected path=/echo .*messages_in=3 .*bytes_in=(\d+)`)[1])
	require.NoError(t, err)
	assert.Less(t, in, len(long)/10, "the long line arrived compressed")
}

// Without -compress nothing is offered; with it, a server that declines
// is reported and the session goes on uncompressed.
func TestDialCompressDeclined(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		status string
	}{
		{"not offered", nil, ""},
		{"declined", []string{"-compress"}, "extension: none (the server declined permessage-deflate)\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			offers := make(chan []string, 1)
			url := wsServer(t, func(c *wsutil.Conn, r *http.Request) {
				offers <- r.Header.Values("Sec-Websocket-Extensions")
				for m := range c.Inbound() {
					c.Outbound() <- m
				}
			})
			d := startDial(t, append(tc.args, url)...)
			d.stderr.waitFor(t, `connected to ws://\S+\n`)
			d.send(t, "hello")
			d.stdout.waitFor(t, `(?m)^hello$`)
			require.NoError(t, d.stdin.Close())
			require.NoError(t, d.wait(t))
			assert.Regexp(t, `^connected to ws://\S+\n`+regexp.QuoteMeta(tc.status)+`closed: `, d.stderr.String())
			got := <-offers
			if tc.args == nil {
				assert.Empty(t, got)
			} else {
				require.Len(t, got, 1)
				ps, err := wsflate.ParseExtensions([]byte(got[0]))
				require.NoError(t, err)
				assert.Equal(t, []wsflate.Params{{ClientMaxWindowBits: wsflate.WindowBitsNoValue}}, ps)
			}
		})
	}
}

// dialEnvChild marks the child process of TestDialSOCKS5FromEnvironment.
const dialEnvChild = "SLUICE_DIAL_SOCKS_ENV_CHILD"

// dial takes its proxy from the environment, a SOCKS5 one included, with
// the credentials of its URL. net/http reads the environment once per
// process, so the test runs in a child process.
func TestDialSOCKS5FromEnvironment(t *testing.T) {
	if os.Getenv(dialEnvChild) == "" {
		t.Parallel()
		cmd := exec.CommandContext(testCtx(t), os.Args[0], "-test.run=^TestDialSOCKS5FromEnvironment$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), dialEnvChild+"=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "child:\n%s", out)
		assert.Contains(t, string(out), "--- PASS: TestDialSOCKS5FromEnvironment", "child:\n%s", out)
		return
	}
	s := startServe(t)
	socks := wstest.StartSOCKS5Proxy(t, "me", "pw", func(string) string { return s.addr })
	t.Setenv("HTTP_PROXY", "socks5://me:pw@"+socks.Addr)
	for _, k := range []string{"http_proxy", "NO_PROXY", "no_proxy", "REQUEST_METHOD"} {
		t.Setenv(k, "")
	}
	d := startDial(t, "ws://chat.example.test/echo")
	d.stderr.waitFor(t, `connected to ws://chat.example.test/echo\n`)
	d.send(t, "through socks")
	d.stdout.waitFor(t, `(?m)^through socks$`)
	require.NoError(t, d.stdin.Close())
	require.NoError(t, d.wait(t))
	assert.Equal(t, []wstest.ProxyRequest{{Target: "chat.example.test:80", Auth: "me:pw"}}, socks.Requests())
}
