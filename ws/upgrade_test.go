package ws

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/gobwas/httphead"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
)

// The key and accept value of RFC 6455 §1.3.
const (
	upKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	upAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
	upLine   = "GET /chat HTTP/1.1"
)

// upGolden is the whole answer to upRequest() with a zero Upgrader.
const upGolden = "HTTP/1.1 101 Switching Protocols\r\n" +
	"Upgrade: websocket\r\n" +
	"Connection: Upgrade\r\n" +
	"Sec-WebSocket-Accept: " + upAccept + "\r\n" +
	"\r\n"

// upFields are the field lines of a valid handshake request.
func upFields() []string {
	return []string{
		"Host: server.example.com",
		"Upgrade: websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Key: " + upKey,
		"Origin: http://server.example.com",
		"Sec-WebSocket-Version: 13",
	}
}

// upHead builds a request head from a request line and field lines.
func upHead(line string, fields ...string) []byte {
	var b bytes.Buffer
	b.WriteString(line + "\r\n")
	for _, f := range fields {
		b.WriteString(f + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// upFieldName returns the name of a field line.
func upFieldName(f string) string {
	name, _, _ := strings.Cut(f, ":")
	return name
}

// upEdit edits field lines: "-Name" removes every field of that name,
// "+Name: v" appends a line, and "Name: v" replaces the fields of that name
// (in place of the first) or appends it.
func upEdit(fields []string, edits ...string) []string {
	out := slices.Clone(fields)
	for _, e := range edits {
		switch {
		case strings.HasPrefix(e, "-"):
			out = slices.DeleteFunc(out, func(f string) bool { return strings.EqualFold(upFieldName(f), e[1:]) })
		case strings.HasPrefix(e, "+"):
			out = append(out, e[1:])
		default:
			name := upFieldName(e)
			i := slices.IndexFunc(out, func(f string) bool { return strings.EqualFold(upFieldName(f), name) })
			if i < 0 {
				out = append(out, e)
				continue
			}
			out[i] = e
			rest := slices.DeleteFunc(out[i+1:], func(f string) bool { return strings.EqualFold(upFieldName(f), name) })
			out = out[:i+1+len(rest)]
		}
	}
	return out
}

// upRequest is the valid request with edits applied (see upEdit).
func upRequest(edits ...string) []byte {
	return upHead(upLine, upEdit(upFields(), edits...)...)
}

// upConn is a reusable in-memory connection: reads come from a
// bytes.Reader, at most chunk bytes at a time when chunk > 0, and writes
// are kept in a reused buffer. It counts SetDeadline calls and remembers
// the last deadline. It does not allocate once out has grown.
type upConn struct {
	r         bytes.Reader
	out       []byte
	chunk     int
	writes    int
	deadlines int
	deadline  time.Time
}

func (c *upConn) reset(req []byte) {
	c.r.Reset(req)
	c.out = c.out[:0]
	c.writes, c.deadlines = 0, 0
}

func (c *upConn) Read(p []byte) (int, error) {
	if c.chunk > 0 && len(p) > c.chunk {
		p = p[:c.chunk]
	}
	return c.r.Read(p)
}

func (c *upConn) Write(p []byte) (int, error) {
	c.out = append(c.out, p...)
	c.writes++
	return len(p), nil
}

func (c *upConn) SetDeadline(t time.Time) error {
	c.deadlines++
	c.deadline = t
	return nil
}

// upParse parses an HTTP response and its body.
func upParse(t *testing.T, resp []byte) (*http.Response, string) {
	t.Helper()
	r, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(resp)), nil)
	require.NoError(t, err, "response:\n%s", resp)
	body, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	return r, string(body)
}

// upCheckReject checks that resp is the rejection that err calls for.
func upCheckReject(t *testing.T, resp []byte, status int, err error) {
	t.Helper()
	var re *RejectError
	require.ErrorAs(t, err, &re)
	r, body := upParse(t, resp)
	assert.Equal(t, status, r.StatusCode)
	assert.Equal(t, re.Reason, r.Header.Get("X-WebSocket-Reject-Reason"))
	assert.Equal(t, re.Reason, body)
	assert.Equal(t, int64(len(re.Reason)), r.ContentLength)
	assert.Equal(t, "text/plain; charset=utf-8", r.Header.Get("Content-Type"))
	// ReadResponse turns "Connection: close" into r.Close and drops the
	// Connection field, so look at the raw fields as well.
	assert.True(t, r.Close, "Connection: close")
	assert.Contains(t, string(resp), "\r\nConnection: close\r\n")
	for k, vs := range re.Header {
		for _, v := range vs {
			assert.Contains(t, string(resp), "\r\n"+k+": "+v+"\r\n")
		}
	}
}

// upInvalid are requests that fail the handshake, with the answer due.
var upInvalid = []struct {
	name    string
	req     []byte
	max     int // MaxHeaderBytes
	err     error
	status  int
	rawOnly bool // net/http refuses or normalises it before a handler runs
}{
	{name: "method POST", req: upHead("POST /chat HTTP/1.1", upFields()...), err: ErrHandshakeMethod, status: 405},
	{name: "method lower-case get", req: upHead("get /chat HTTP/1.1", upFields()...), err: ErrHandshakeMethod, status: 405},
	{name: "HTTP/1.0", req: upHead("GET /chat HTTP/1.0", upFields()...), err: ErrHandshakeHTTPVersion, status: 505},
	{name: "HTTP/2.0", req: upHead("GET /chat HTTP/2.0", upFields()...), err: ErrHandshakeHTTPVersion, status: 505},
	{name: "HTTP/1.0 POST", req: upHead("POST /chat HTTP/1.0", upFields()...), err: ErrHandshakeHTTPVersion, status: 505},
	{name: "HTTP/2 preface", req: []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), err: ErrHandshakeHTTPVersion, status: 505, rawOnly: true},
	{name: "no Host", req: upRequest("-Host"), err: ErrHandshakeHost, status: 400, rawOnly: true},
	{name: "two Host", req: upRequest("+Host: other.example.com"), err: ErrHandshakeHost, status: 400, rawOnly: true},
	{name: "no Upgrade", req: upRequest("-Upgrade"), err: ErrHandshakeUpgrade, status: 426},
	{name: "Upgrade h2c", req: upRequest("Upgrade: h2c"), err: ErrHandshakeUpgrade, status: 426},
	{name: "Upgrade websockets", req: upRequest("Upgrade: websockets"), err: ErrHandshakeUpgrade, status: 426},
	{name: "no Connection", req: upRequest("-Connection"), err: ErrHandshakeConnection, status: 400},
	{name: "Connection keep-alive", req: upRequest("Connection: keep-alive"), err: ErrHandshakeConnection, status: 400},
	{name: "Connection upgraded", req: upRequest("Connection: upgraded"), err: ErrHandshakeConnection, status: 400},
	{name: "no version", req: upRequest("-Sec-WebSocket-Version"), err: ErrHandshakeVersion, status: 426},
	{name: "version 8", req: upRequest("Sec-WebSocket-Version: 8"), err: ErrHandshakeVersion, status: 426},
	{name: "version 13 twice", req: upRequest("+Sec-WebSocket-Version: 13"), err: ErrHandshakeVersion, status: 426},
	{name: "version list", req: upRequest("Sec-WebSocket-Version: 13, 8"), err: ErrHandshakeVersion, status: 426},
	{name: "version with punctuation", req: upRequest("Sec-WebSocket-Version: 1;"), err: ErrHandshakeVersion, status: 426},
	// httphead.IntFromASCII reads "0=" and "=" as 13.
	{name: "version 0=", req: upRequest("Sec-WebSocket-Version: 0="), err: ErrHandshakeVersion, status: 426},
	{name: "version =", req: upRequest("Sec-WebSocket-Version: ="), err: ErrHandshakeVersion, status: 426},
	{name: "version 013", req: upRequest("Sec-WebSocket-Version: 013"), err: ErrHandshakeVersion, status: 426},
	{name: "no key", req: upRequest("-Sec-WebSocket-Key"), err: ErrHandshakeKey, status: 400},
	{name: "empty key", req: upRequest("Sec-WebSocket-Key:"), err: ErrHandshakeKey, status: 400},
	{name: "short key", req: upRequest("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ="), err: ErrHandshakeKey, status: 400},
	{name: "key of 18 bytes", req: upRequest("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAA"), err: ErrHandshakeKey, status: 400},
	{name: "key not base64", req: upRequest("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ!=="), err: ErrHandshakeKey, status: 400},
	{name: "two keys", req: upRequest("+Sec-WebSocket-Key: " + upKey), err: ErrHandshakeKey, status: 400},
	{name: "protocol not a token list", req: upRequest("Sec-WebSocket-Protocol: chat;v=1"), err: ErrHandshakeHeaderValue, status: 400},
	{name: "protocol quoted", req: upRequest(`Sec-WebSocket-Protocol: "chat"`), err: ErrHandshakeHeaderValue, status: 400},
	{name: "protocol bad on second line", req: upRequest("Sec-WebSocket-Protocol: chat", "+Sec-WebSocket-Protocol: a/b"), err: ErrHandshakeHeaderValue, status: 400},
	{name: "extension bad parameters", req: upRequest("Sec-WebSocket-Extensions: permessage-deflate;;"), err: ErrHandshakeHeaderValue, status: 400},
	{name: "extension bare value", req: upRequest("Sec-WebSocket-Extensions: a=b"), err: ErrHandshakeHeaderValue, status: 400},
	{name: "extension open quote", req: upRequest(`Sec-WebSocket-Extensions: x; p="a`), err: ErrHandshakeHeaderValue, status: 400},
	{name: "cross origin", req: upRequest("Origin: http://evil.example.com"), err: ErrHandshakeOrigin, status: 403},
	{name: "null origin", req: upRequest("Origin: null"), err: ErrHandshakeOrigin, status: 403},
	{name: "two origins", req: upRequest("+Origin: http://server.example.com"), err: ErrHandshakeMalformed, status: 400, rawOnly: true},
	{name: "request line without target", req: upHead("GET HTTP/1.1", upFields()...), err: ErrHandshakeMalformed, status: 400, rawOnly: true},
	{name: "request line double space", req: upHead("GET  /chat HTTP/1.1", upFields()...), err: ErrHandshakeMalformed, status: 400, rawOnly: true},
	{name: "request line trailing word", req: upHead("GET /chat HTTP/1.1 x", upFields()...), err: ErrHandshakeMalformed, status: 400, rawOnly: true},
	{name: "request line bad version", req: upHead("GET /chat HTTP/1.1x", upFields()...), err: ErrHandshakeMalformed, status: 400, rawOnly: true},
	{name: "request line long version", req: upHead("GET /chat HTTP/01.1", upFields()...), err: ErrHandshakeMalformed, status: 400, rawOnly: true},
	// httphead.ParseVersion reads these as HTTP/1.11, 1.10 and 11.1.
	{name: "request line minor version ;", req: upHead("GET /chat HTTP/1.;", upFields()...), err: ErrHandshakeMalformed, status: 400, rawOnly: true},
	{name: "request line minor version :", req: upHead("GET /chat HTTP/1.:", upFields()...), err: ErrHandshakeMalformed, status: 400, rawOnly: true},
	{name: "request line major version ;", req: upHead("GET /chat HTTP/;.1", upFields()...), err: ErrHandshakeMalformed, status: 400, rawOnly: true},
	{name: "request line not HTTP", req: upHead("GET /chat FTP/1.1", upFields()...), err: ErrHandshakeMalformed, status: 400, rawOnly: true},
	{name: "control in target", req: upHead("GET /ch\x01at HTTP/1.1", upFields()...), err: ErrHandshakeMalformed, status: 400, rawOnly: true},
	{name: "method not a token", req: upHead("G(T /chat HTTP/1.1", upFields()...), err: ErrHandshakeMalformed, status: 400, rawOnly: true},
	{name: "field without colon", req: upRequest("+X-Broken"), err: ErrHandshakeMalformed, status: 400, rawOnly: true},
	{name: "field with empty name", req: upRequest("+: value"), err: ErrHandshakeMalformed, status: 400, rawOnly: true},
	{name: "space before colon", req: upRequest("Host : server.example.com"), err: ErrHandshakeMalformed, status: 400, rawOnly: true},
	{name: "name not a token", req: upRequest("+X(y): 1"), err: ErrHandshakeMalformed, status: 400, rawOnly: true},
	{name: "obs-fold", req: upRequest("+X-Long: a", "+ continued"), err: ErrHandshakeMalformed, status: 400, rawOnly: true},
	{name: "obs-fold with tab", req: upRequest("+X-Long: a", "+\tcontinued"), err: ErrHandshakeMalformed, status: 400, rawOnly: true},
	{name: "control in value", req: upRequest("+X-Ctl: a\x00b"), err: ErrHandshakeMalformed, status: 400, rawOnly: true},
	{name: "bare CR in value", req: upRequest("+X-Ctl: a\rb"), err: ErrHandshakeMalformed, status: 400, rawOnly: true},
	{name: "bare LF line end", req: []byte("GET /chat HTTP/1.1\nHost: a\r\n\r\n"), err: ErrHandshakeMalformed, status: 400, rawOnly: true},
	{name: "bare LF head end", req: []byte("GET /chat HTTP/1.1\r\nHost: a\r\n\n"), err: ErrHandshakeMalformed, status: 400, rawOnly: true},
	{name: "head over the bound", req: upRequest("+Cookie: " + strings.Repeat("a", 200)), max: 200, err: ErrHandshakeHeaderTooLarge, status: 431, rawOnly: true},
	{name: "incomplete head at the bound", req: upRequest()[:100], max: 100, err: ErrHandshakeHeaderTooLarge, status: 431, rawOnly: true},
	{name: "default bound", req: upRequest("+Cookie: " + strings.Repeat("a", DefaultMaxHeaderBytes)), err: ErrHandshakeHeaderTooLarge, status: 431, rawOnly: true},
}

func TestUpgradeBufferInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range upInvalid {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := Upgrader{MaxHeaderBytes: tc.max}
			dst := []byte("prefix")
			resp, hs, err := u.UpgradeBuffer(dst, tc.req)
			require.ErrorIs(t, err, tc.err)
			assert.Equal(t, Handshake{}, hs)
			require.True(t, bytes.HasPrefix(resp, []byte("prefix")), "dst is appended to")
			upCheckReject(t, resp[len("prefix"):], tc.status, err)
		})
	}
}

func TestUpgradeInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range upInvalid {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := Upgrader{MaxHeaderBytes: tc.max}
			var conn upConn
			conn.reset(tc.req)
			hs, err := u.Upgrade(&conn)
			require.ErrorIs(t, err, tc.err)
			assert.Equal(t, Handshake{}, hs)
			assert.Equal(t, 1, conn.writes, "one Write call")
			upCheckReject(t, conn.out, tc.status, err)
		})
	}
}

// TestUpgradeVersionAnswer pins the field RFC 6455 §4.4 requires.
func TestUpgradeVersionAnswer(t *testing.T) {
	t.Parallel()
	var u Upgrader
	resp, _, err := u.UpgradeBuffer(nil, upRequest("Sec-WebSocket-Version: 8"))
	require.ErrorIs(t, err, ErrHandshakeVersion)
	r, _ := upParse(t, resp)
	assert.Equal(t, http.StatusUpgradeRequired, r.StatusCode)
	assert.Equal(t, []string{"13"}, r.Header.Values("Sec-WebSocket-Version"))
}

func TestUpgradeGolden(t *testing.T) {
	t.Parallel()
	var u Upgrader
	resp, hs, err := u.UpgradeBuffer(nil, upRequest())
	require.NoError(t, err)
	assert.Equal(t, upGolden, string(resp))
	assert.Equal(t, Handshake{}, hs)

	var conn upConn
	conn.reset(upRequest())
	hs, err = u.Upgrade(&conn)
	require.NoError(t, err)
	assert.Equal(t, upGolden, string(conn.out))
	assert.Equal(t, 1, conn.writes)
	assert.Equal(t, Handshake{}, hs)
	assert.Nil(t, hs.Buffered)
}

func TestUpgradeAccepts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		req  []byte
	}{
		{"RFC example fields", upRequest()},
		{"lower-case names", upHead(upLine, "host: server.example.com", "upgrade: websocket",
			"connection: Upgrade", "sec-websocket-key: "+upKey, "sec-websocket-version: 13")},
		{"upper-case names", upHead(upLine, "HOST: server.example.com", "UPGRADE: websocket",
			"CONNECTION: Upgrade", "SEC-WEBSOCKET-KEY: "+upKey, "SEC-WEBSOCKET-VERSION: 13")},
		{"value case", upRequest("Upgrade: WebSocket", "Connection: UPGRADE")},
		{"Upgrade list", upRequest("Upgrade: HTTP/2.0, websocket")},
		{"Upgrade over two lines", upRequest("Upgrade: h2c", "+Upgrade: websocket")},
		{"Connection list", upRequest("Connection: keep-alive, Upgrade")},
		{"Connection list without spaces", upRequest("Connection: keep-alive,upgrade")},
		// RFC 9110 §5.6.1: OWS = *( SP / HTAB ).
		{"Connection list with a tab", upRequest("Connection: keep-alive,\tUpgrade")},
		{"tabs in negotiation lists", upRequest("Sec-WebSocket-Protocol: a,\tb", "Sec-WebSocket-Extensions: x;\tp=1,\ty")},
		{"Connection over two lines", upRequest("Connection: keep-alive", "+Connection: Upgrade")},
		{"no Origin", upRequest("-Origin")},
		{"Origin with default port", upRequest("Origin: http://server.example.com:80")},
		{"Origin case", upRequest("Origin: HTTP://Server.Example.COM")},
		{"whitespace around values", upRequest("Sec-WebSocket-Key: \t " + upKey + " \t")},
		{"empty protocol list", upRequest("Sec-WebSocket-Protocol:")},
		{"empty extension list", upRequest("Sec-WebSocket-Extensions:")},
		{"unknown fields", upRequest("+Cookie: a=b; c=d", "+User-Agent: test/1.0", "+X-Empty:")},
		{"empty lines before the request line", append([]byte("\r\n\r\n"), upRequest()...)},
		{"HTTP/1.2", upHead("GET /chat HTTP/1.2", upFields()...)},
		{"absolute target", upHead("GET ws://server.example.com/chat?x=1 HTTP/1.1", upFields()...)},
		{"obs-text in value", upRequest("+X-Name: caf\xc3\xa9")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var u Upgrader
			resp, hs, err := u.UpgradeBuffer(nil, tc.req)
			require.NoError(t, err)
			assert.Equal(t, upGolden, string(resp))
			assert.Equal(t, Handshake{}, hs)
		})
	}
}

// upResponse upgrades req with u and returns the parsed 101 response.
func upResponse(t *testing.T, u *Upgrader, req []byte) (*http.Response, Handshake) {
	t.Helper()
	resp, hs, err := u.UpgradeBuffer(nil, req)
	require.NoError(t, err)
	r, _ := upParse(t, resp)
	require.Equal(t, http.StatusSwitchingProtocols, r.StatusCode)
	assert.Equal(t, upAccept, r.Header.Get("Sec-WebSocket-Accept"))
	return r, hs
}

func TestUpgradeProtocol(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		u       Upgrader
		offered []string // Sec-WebSocket-Protocol lines
		want    string
		calls   []string // Protocol hook calls
	}{
		{name: "server preference", u: Upgrader{Protocols: []string{"b", "a"}}, offered: []string{"a, b"}, want: "b"},
		{name: "first supported", u: Upgrader{Protocols: []string{"x", "a", "b"}}, offered: []string{"b, a"}, want: "a"},
		{name: "over several lines", u: Upgrader{Protocols: []string{"c", "b"}}, offered: []string{"a", "b", "c, d"}, want: "c"},
		{name: "no match", u: Upgrader{Protocols: []string{"x"}}, offered: []string{"a, b"}, want: ""},
		{name: "none offered", u: Upgrader{Protocols: []string{"x"}}, want: ""},
		{name: "case-sensitive", u: Upgrader{Protocols: []string{"Chat"}}, offered: []string{"chat"}, want: ""},
		{name: "not configured", offered: []string{"chat"}, want: ""},
		{name: "hook first true wins", offered: []string{"a, b", "c"}, want: "b", calls: []string{"a", "b"}},
		{name: "hook over Protocols", u: Upgrader{Protocols: []string{"a"}}, offered: []string{"a, b"}, want: "b", calls: []string{"a", "b"}},
		{name: "hook refuses all", offered: []string{"a", "c"}, want: "", calls: []string{"a", "c"}},
		{name: "tab as whitespace", u: Upgrader{Protocols: []string{"b"}}, offered: []string{"a,\tb\t,\tc"}, want: "b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := tc.u
			var calls []string
			if tc.calls != nil {
				u.Protocol = func(p []byte) bool {
					calls = append(calls, string(p))
					return string(p) == "b"
				}
			}
			var edits []string
			for _, o := range tc.offered {
				edits = append(edits, "+Sec-WebSocket-Protocol: "+o)
			}
			r, hs := upResponse(t, &u, upRequest(edits...))
			assert.Equal(t, tc.want, hs.Protocol)
			if tc.want == "" {
				assert.Empty(t, r.Header.Values("Sec-WebSocket-Protocol"), "no field without a choice")
			} else {
				assert.Equal(t, []string{tc.want}, r.Header.Values("Sec-WebSocket-Protocol"))
			}
			assert.Equal(t, tc.calls, calls)
		})
	}
}

// upEcho accepts offers named in names, echoing their parameters, and
// records every offer it sees.
func upEcho(seen *[]string, names ...string) func(httphead.Option) (httphead.Option, bool) {
	return func(o httphead.Option) (httphead.Option, bool) {
		*seen = append(*seen, upOptionString(o))
		return o, slices.Contains(names, string(o.Name))
	}
}

// upOptionString writes o as in a Sec-WebSocket-Extensions field.
func upOptionString(o httphead.Option) string {
	return string(appendOptions(nil, []httphead.Option{o}))
}

func TestUpgradeExtensions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		accept  []string
		offered []string // Sec-WebSocket-Extensions lines
		seen    []string
		want    string // the response field, "" for none
	}{
		{
			name:    "dedupe by name",
			accept:  []string{"permessage-deflate", "x-foo"},
			offered: []string{"permessage-deflate; client_max_window_bits; server_no_context_takeover, permessage-deflate, x-foo; a=1"},
			seen:    []string{"permessage-deflate; client_max_window_bits; server_no_context_takeover", "x-foo; a=1"},
			want:    "permessage-deflate; client_max_window_bits; server_no_context_takeover, x-foo; a=1",
		},
		{
			name:    "fallback passed when the first is refused",
			accept:  []string{"x-foo"},
			offered: []string{"x-bar; a=1, x-bar, x-foo"},
			seen:    []string{"x-bar; a=1", "x-bar", "x-foo"},
			want:    "x-foo",
		},
		{
			name:    "over several lines",
			accept:  []string{"a", "b"},
			offered: []string{"a; p=1", "a; p=2, b", "b; q"},
			seen:    []string{"a; p=1", "b"},
			want:    "a; p=1, b",
		},
		{
			name:    "quoted parameter",
			accept:  []string{"x"},
			offered: []string{`x; p="a b"; q="15"`},
			seen:    []string{`x; p="a b"; q=15`},
			want:    `x; p="a b"; q=15`,
		},
		{
			// RFC 9110 §5.6.1: HTAB is whitespace between elements, and
			// data inside a quoted-string.
			name:    "tabs",
			accept:  []string{"x", "y"},
			offered: []string{"x;\tp=1,\ty\t;\tq=\"a\tb\""},
			seen:    []string{"x; p=1", "y; q=\"a\tb\""},
			want:    "x; p=1, y; q=\"a\tb\"",
		},
		{
			name:    "none accepted",
			offered: []string{"a, b"},
			seen:    []string{"a", "b"},
		},
		{
			name: "none offered",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var seen []string
			u := Upgrader{Extension: upEcho(&seen, tc.accept...)}
			var edits []string
			for _, o := range tc.offered {
				edits = append(edits, "+Sec-WebSocket-Extensions: "+o)
			}
			req := upRequest(edits...)
			r, hs := upResponse(t, &u, req)
			assert.Equal(t, tc.seen, seen)
			if tc.want == "" {
				assert.Empty(t, r.Header.Values("Sec-WebSocket-Extensions"))
				assert.Nil(t, hs.Extensions)
				return
			}
			assert.Equal(t, []string{tc.want}, r.Header.Values("Sec-WebSocket-Extensions"))
			// hs.Extensions are copies: wiping the request leaves them be.
			clear(req)
			assert.Equal(t, tc.want, string(appendOptions(nil, hs.Extensions)))
		})
	}
}

func TestUpgradeExtensionAnswerSanitised(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		accept httphead.Option
		want   string // the response field, "" for none
	}{
		{"valid", httphead.NewOption("x", map[string]string{"p": "1"}), "x; p=1"},
		{"value quoted", httphead.NewOption("x", map[string]string{"p": `a"b\c`}), `x; p="a\"b\\c"`},
		{"CRLF in value", httphead.NewOption("x", map[string]string{"p": "1\r\nX-Evil: 1"}), ""},
		{"name not a token", httphead.NewOption("x y", nil), ""},
		{"empty name", httphead.Option{}, ""},
		{"parameter name not a token", httphead.NewOption("x", map[string]string{"a=b": "1"}), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := Upgrader{Extension: func(httphead.Option) (httphead.Option, bool) { return tc.accept, true }}
			r, hs := upResponse(t, &u, upRequest("Sec-WebSocket-Extensions: x"))
			assert.Empty(t, r.Header.Values("X-Evil"))
			if tc.want == "" {
				assert.Empty(t, r.Header.Values("Sec-WebSocket-Extensions"))
				assert.Nil(t, hs.Extensions)
				return
			}
			assert.Equal(t, []string{tc.want}, r.Header.Values("Sec-WebSocket-Extensions"))
			require.Len(t, hs.Extensions, 1)
		})
	}
}

func TestUpgradeHookArguments(t *testing.T) {
	t.Parallel()
	var order, fields []string
	var uri, host, origin, originHost string
	u := Upgrader{
		Protocols: []string{"chat"},
		OnRequest: func(b []byte) error {
			order = append(order, "OnRequest")
			uri = string(b)
			return nil
		},
		OnHost: func(b []byte) error {
			order = append(order, "OnHost")
			host = string(b)
			return nil
		},
		OnHeader: func(k, v []byte) error {
			if len(fields) == 0 {
				order = append(order, "OnHeader")
			}
			fields = append(fields, string(k)+"="+string(v))
			return nil
		},
		CheckOrigin: func(o, h []byte) error {
			order = append(order, "CheckOrigin")
			origin, originHost = string(o), string(h)
			return nil
		},
		Extension: func(o httphead.Option) (httphead.Option, bool) {
			order = append(order, "Extension")
			return o, true
		},
		OnBeforeUpgrade: func() (http.Header, error) {
			order = append(order, "OnBeforeUpgrade")
			return http.Header{"X-Session": {"42"}, "Set-Cookie": {"a=1", "b=2"}}, nil
		},
	}
	req := upHead("GET /chat?room=1 HTTP/1.1",
		"Host: server.example.com:8080",
		"upgrade:websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Key: "+upKey,
		"Origin: https://app.example.com",
		"Sec-WebSocket-Version: 13",
		"Sec-WebSocket-Protocol: chat",
		"Sec-WebSocket-Extensions: x-foo",
		"X-Empty:  ",
	)
	r, hs := upResponse(t, &u, req)
	assert.Equal(t, []string{"OnRequest", "OnHost", "OnHeader", "CheckOrigin", "Extension", "OnBeforeUpgrade"}, order)
	assert.Equal(t, "/chat?room=1", uri)
	assert.Equal(t, "server.example.com:8080", host)
	assert.Equal(t, []string{
		"Host=server.example.com:8080",
		"upgrade=websocket",
		"Connection=Upgrade",
		"Sec-WebSocket-Key=" + upKey,
		"Origin=https://app.example.com",
		"Sec-WebSocket-Version=13",
		"Sec-WebSocket-Protocol=chat",
		"Sec-WebSocket-Extensions=x-foo",
		"X-Empty=",
	}, fields)
	assert.Equal(t, "https://app.example.com", origin)
	assert.Equal(t, "server.example.com:8080", originHost)
	assert.Equal(t, "chat", hs.Protocol)
	assert.Equal(t, "42", r.Header.Get("X-Session"))
	assert.Equal(t, []string{"a=1", "b=2"}, r.Header.Values("Set-Cookie"))
	assert.Equal(t, "x-foo", r.Header.Get("Sec-WebSocket-Extensions"))
}

// errUpHook is a hook error that is not a *RejectError.
var errUpHook = errors.New("hook says no")

func TestUpgradeHookRejects(t *testing.T) {
	t.Parallel()
	custom := &RejectError{Status: http.StatusUnauthorized, Reason: "login first",
		Header: http.Header{"Www-Authenticate": {`Basic realm="chat"`}}}
	hooks := map[string]func(u *Upgrader, err error){
		"OnRequest":       func(u *Upgrader, err error) { u.OnRequest = func([]byte) error { return err } },
		"OnHost":          func(u *Upgrader, err error) { u.OnHost = func([]byte) error { return err } },
		"OnHeader":        func(u *Upgrader, err error) { u.OnHeader = func([]byte, []byte) error { return err } },
		"CheckOrigin":     func(u *Upgrader, err error) { u.CheckOrigin = func([]byte, []byte) error { return err } },
		"OnBeforeUpgrade": func(u *Upgrader, err error) { u.OnBeforeUpgrade = func() (http.Header, error) { return nil, err } },
	}
	for name, set := range hooks {
		t.Run(name+"/RejectError", func(t *testing.T) {
			t.Parallel()
			var u Upgrader
			set(&u, custom)
			resp, hs, err := u.UpgradeBuffer(nil, upRequest())
			require.ErrorIs(t, err, custom)
			assert.Equal(t, Handshake{}, hs)
			upCheckReject(t, resp, http.StatusUnauthorized, err)

			var conn upConn
			conn.reset(upRequest())
			_, err = u.Upgrade(&conn)
			require.ErrorIs(t, err, custom)
			upCheckReject(t, conn.out, http.StatusUnauthorized, err)
		})
		t.Run(name+"/wrapped RejectError", func(t *testing.T) {
			t.Parallel()
			var u Upgrader
			set(&u, fmt.Errorf("auth: %w", Reject(http.StatusTeapot, "short and stout")))
			resp, _, err := u.UpgradeBuffer(nil, upRequest())
			var re *RejectError
			require.ErrorAs(t, err, &re)
			r, body := upParse(t, resp)
			assert.Equal(t, http.StatusTeapot, r.StatusCode)
			assert.Equal(t, "short and stout", body)
		})
		t.Run(name+"/plain error", func(t *testing.T) {
			t.Parallel()
			var u Upgrader
			set(&u, errUpHook)
			resp, hs, err := u.UpgradeBuffer(nil, upRequest())
			require.ErrorIs(t, err, errUpHook, "the hook's error comes back as it is")
			assert.Equal(t, Handshake{}, hs)
			r, body := upParse(t, resp)
			assert.Equal(t, http.StatusBadRequest, r.StatusCode)
			assert.Equal(t, "Bad Request", body)
			assert.Equal(t, "Bad Request", r.Header.Get("X-WebSocket-Reject-Reason"))
			assert.NotContains(t, string(resp), errUpHook.Error(), "the hook's text stays private")
		})
	}
}

func TestUpgradeHooksSkippedOnInvalid(t *testing.T) {
	t.Parallel()
	called := false
	hook := func([]byte) error { called = true; return nil }
	u := Upgrader{OnRequest: hook, OnHost: hook,
		OnHeader:        func([]byte, []byte) error { called = true; return nil },
		OnBeforeUpgrade: func() (http.Header, error) { called = true; return nil, nil }}
	_, _, err := u.UpgradeBuffer(nil, upRequest("-Sec-WebSocket-Key"))
	require.ErrorIs(t, err, ErrHandshakeKey)
	assert.False(t, called, "hooks see only valid handshakes")
}

func TestUpgradeRejectStatusClamped(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status, want int
	}{
		{http.StatusSwitchingProtocols, 500},
		{http.StatusOK, 500},
		{0, 500},
		{1000, 500},
		{http.StatusFound, http.StatusFound},
		{599, 599},
	}
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			t.Parallel()
			u := Upgrader{OnRequest: func([]byte) error { return Reject(tc.status, "") }}
			resp, _, err := u.UpgradeBuffer(nil, upRequest())
			require.Error(t, err)
			r, body := upParse(t, resp)
			assert.Equal(t, tc.want, r.StatusCode)
			assert.NotEmpty(t, body, "an empty reason becomes the status text")
		})
	}
}

func TestUpgradeFieldInjection(t *testing.T) {
	t.Parallel()
	u := Upgrader{OnBeforeUpgrade: func() (http.Header, error) {
		return http.Header{"X-A": {"1\r\nX-Evil: 1"}, "Bad Name": {"2"}, "X-B": {"\r\n\r\nbody"}}, nil
	}}
	r, _ := upResponse(t, &u, upRequest())
	assert.Empty(t, r.Header.Values("X-Evil"))
	assert.Empty(t, r.Header.Values("Bad Name"))
	assert.Equal(t, "1  X-Evil: 1", r.Header.Get("X-A"))

	u = Upgrader{OnRequest: func([]byte) error { return Reject(400, "no\r\nX-Evil: 1") }}
	resp, _, err := u.UpgradeBuffer(nil, upRequest())
	require.Error(t, err)
	rr, body := upParse(t, resp)
	assert.Empty(t, rr.Header.Values("X-Evil"))
	assert.Equal(t, "no\r\nX-Evil: 1", body)
}

// TestUpgradeBufferByteByByte feeds requests one byte at a time, as a slow
// client would to an event loop.
func TestUpgradeBufferByteByByte(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		req  []byte
		err  error
	}{
		{"valid", upRequest(), nil},
		{"valid with extension and protocol", upRequest("Sec-WebSocket-Protocol: a, chat", "Sec-WebSocket-Extensions: x; p=1"), nil},
		{"wrong method", upHead("PUT /chat HTTP/1.1", upFields()...), ErrHandshakeMethod},
		{"no key", upRequest("-Sec-WebSocket-Key"), ErrHandshakeKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			requests := 0
			u := Upgrader{
				Protocols: []string{"chat"},
				Extension: func(o httphead.Option) (httphead.Option, bool) { return o, true },
				OnRequest: func([]byte) error { requests++; return nil },
			}
			for i := range len(tc.req) {
				resp, hs, err := u.UpgradeBuffer([]byte("x"), tc.req[:i])
				require.ErrorIs(t, err, io.ErrShortBuffer, "at %d", i)
				assert.Equal(t, "x", string(resp), "nothing appended at %d", i)
				assert.Equal(t, Handshake{}, hs)
			}
			assert.Zero(t, requests, "no hook runs before the head is complete")

			resp, hs, err := u.UpgradeBuffer(nil, tc.req)
			wantResp, wantHS, wantErr := (&Upgrader{
				Protocols: []string{"chat"},
				Extension: func(o httphead.Option) (httphead.Option, bool) { return o, true },
			}).UpgradeBuffer(nil, tc.req)
			assert.Equal(t, wantErr, err)
			assert.Equal(t, string(wantResp), string(resp))
			assert.Equal(t, wantHS, hs)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, 1, requests)
		})
	}
}

// upFrame is a masked text frame "Hello" (RFC 6455 §5.7).
var upFrame = []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}

func TestUpgradeBufferBuffered(t *testing.T) {
	t.Parallel()
	head := upRequest()
	req := append(slices.Clone(head), upFrame...)
	req = append(req, upFrame...)
	var u Upgrader
	resp, hs, err := u.UpgradeBuffer(nil, req)
	require.NoError(t, err)
	assert.Equal(t, upGolden, string(resp))
	assert.Equal(t, append(slices.Clone(upFrame), upFrame...), hs.Buffered)
	assert.Same(t, &req[len(head)], &hs.Buffered[0], "Buffered aliases req")
}

func TestUpgradeBuffered(t *testing.T) {
	t.Parallel()
	req := append(upRequest(), upFrame...)
	cases := map[string]int{"one read": 0, "small reads": 7, "byte reads": 1}
	for name, chunk := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var u Upgrader
			conn := upConn{chunk: chunk}
			conn.reset(req)
			hs, err := u.Upgrade(&conn)
			require.NoError(t, err)
			assert.Equal(t, upGolden, string(conn.out))
			// Upgrade stops reading once the head is complete, so the
			// frame is in Buffered or still unread, never lost.
			rest, err := io.ReadAll(&conn.r)
			require.NoError(t, err)
			assert.Equal(t, upFrame, append(hs.Buffered, rest...))
			if chunk == 0 {
				assert.Equal(t, upFrame, hs.Buffered)
			}
			if chunk == 1 {
				assert.Nil(t, hs.Buffered)
			}
		})
	}
}

func TestUpgradeOneByteReader(t *testing.T) {
	t.Parallel()
	var u Upgrader
	var out bytes.Buffer
	rw := struct {
		io.Reader
		io.Writer
	}{iotest.OneByteReader(bytes.NewReader(upRequest())), &out}
	hs, err := u.Upgrade(rw)
	require.NoError(t, err)
	assert.Equal(t, upGolden, out.String())
	assert.Nil(t, hs.Buffered)
}

func TestUpgradeLargeHead(t *testing.T) {
	t.Parallel()
	cookie := "+Cookie: " + strings.Repeat("c", 3*upgradeBufSize/2)
	var u Upgrader
	var conn upConn
	conn.reset(append(upRequest(cookie), upFrame...))
	hs, err := u.Upgrade(&conn)
	require.NoError(t, err, "a head past the pooled buffer grows it")
	assert.Equal(t, upGolden, string(conn.out))
	assert.Equal(t, upFrame, hs.Buffered)

	u.MaxHeaderBytes = upgradeBufSize
	conn.reset(upRequest(cookie))
	_, err = u.Upgrade(&conn)
	require.ErrorIs(t, err, ErrHandshakeHeaderTooLarge)
	upCheckReject(t, conn.out, http.StatusRequestHeaderFieldsTooLarge, err)
}

func TestUpgradeDeadline(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		timeout   time.Duration
		deadlines int
	}{
		{"default", 0, 2},
		{"set", time.Second, 2},
		{"none", -1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := Upgrader{Timeout: tc.timeout}
			var conn upConn
			conn.reset(upRequest())
			_, err := u.Upgrade(&conn)
			require.NoError(t, err)
			assert.Equal(t, tc.deadlines, conn.deadlines)
			assert.True(t, conn.deadline.IsZero(), "the deadline is cleared")
		})
	}
}

func TestUpgradeReadErrors(t *testing.T) {
	t.Parallel()
	errBoom := errors.New("boom")
	cases := []struct {
		name string
		r    io.Reader
		err  error
	}{
		{"closed before a byte", bytes.NewReader(nil), io.EOF},
		{"closed mid-head", bytes.NewReader(upRequest()[:20]), io.ErrUnexpectedEOF},
		{"read error", iotest.ErrReader(errBoom), errBoom},
		{"read error after data", io.MultiReader(bytes.NewReader(upRequest()[:20]), iotest.ErrReader(errBoom)), errBoom},
		{"no progress", upZeroReader{}, io.ErrNoProgress},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var u Upgrader
			var out bytes.Buffer
			_, err := u.Upgrade(struct {
				io.Reader
				io.Writer
			}{tc.r, &out})
			require.ErrorIs(t, err, tc.err)
			assert.Zero(t, out.Len(), "nothing is written")
		})
	}
}

// upZeroReader returns (0, nil) forever.
type upZeroReader struct{}

func (upZeroReader) Read([]byte) (int, error) { return 0, nil }

// upFailWriter fails every write.
type upFailWriter struct{ err error }

func (w upFailWriter) Write([]byte) (int, error) { return 0, w.err }

func TestUpgradeWriteError(t *testing.T) {
	t.Parallel()
	errBoom := errors.New("boom")
	var u Upgrader
	_, err := u.Upgrade(struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(upRequest()), upFailWriter{errBoom}})
	require.ErrorIs(t, err, errBoom)

	// A rejection keeps its own error when the write fails too.
	_, err = u.Upgrade(struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(upRequest("-Upgrade")), upFailWriter{errBoom}})
	require.ErrorIs(t, err, ErrHandshakeUpgrade)
}

// TestUpgradeTimeout has a client send one byte and stall: the handshake
// fails with a timeout once Timeout has passed.
func TestUpgradeTimeout(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })

	client, err := net.DialTimeout("tcp", ln.Addr().String(), wstest.Remaining(t))
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	_, err = client.Write([]byte("G"))
	require.NoError(t, err)

	require.NoError(t, ln.(*net.TCPListener).SetDeadline(wstest.Deadline(t)))
	conn, err := ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })

	const timeout = 200 * time.Millisecond
	u := Upgrader{Timeout: timeout}
	start := time.Now()
	_, err = u.Upgrade(conn)
	elapsed := time.Since(start)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
	assert.GreaterOrEqual(t, elapsed, timeout-20*time.Millisecond)
	assert.Less(t, elapsed, wstest.Slow(3*time.Second), "the timeout ended the handshake")
}

// TestUpgradeLoopback runs a handshake and a frame each way over TCP.
func TestUpgradeLoopback(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })

	type result struct {
		hs  Handshake
		err error
	}
	done := make(chan result, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer conn.Close()
		u := Upgrader{Protocols: []string{"chat"}, Timeout: wstest.Remaining(t)}
		hs, err := u.Upgrade(conn)
		if err != nil {
			done <- result{err: err}
			return
		}
		// The frame may have come with the request: read Buffered first.
		_ = conn.SetDeadline(wstest.Deadline(t))
		f, err := ReadFrame(bufio.NewReader(io.MultiReader(bytes.NewReader(hs.Buffered), conn)), 1<<10)
		if err == nil && string(f.Payload) != "Hello" {
			err = errors.New("server read " + strconv.Quote(string(f.Payload)))
		}
		if err == nil {
			err = WriteFrame(conn, NewTextFrame([]byte("hi")))
		}
		done <- result{hs, err}
	}()

	client, err := net.DialTimeout("tcp", ln.Addr().String(), wstest.Remaining(t))
	require.NoError(t, err)
	defer client.Close()
	require.NoError(t, client.SetDeadline(wstest.Deadline(t)))
	_, err = client.Write(append(upRequest("Sec-WebSocket-Protocol: chat"), upFrame...))
	require.NoError(t, err)
	br := bufio.NewReader(client)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	assert.Equal(t, "chat", resp.Header.Get("Sec-WebSocket-Protocol"))
	f, err := ReadFrame(br, 1<<10)
	require.NoError(t, err)
	assert.Equal(t, "hi", string(f.Payload))

	res := <-done
	require.NoError(t, res.err)
	assert.Equal(t, "chat", res.hs.Protocol)
}
