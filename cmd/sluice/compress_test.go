package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/gobwas/httphead"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/sluice-ws/sluice/wsutil"
)

// tapLimit is how many bytes a tapConn keeps each way: the handshake and
// the first frame headers.
const tapLimit = 64 << 10

// tapConn is a client connection that keeps the first bytes read and
// written, so that a test can check the handshake and the first frames
// as they were on the wire.
type tapConn struct {
	net.Conn
	mu      sync.Mutex
	in, out []byte // guarded by mu
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.in = keepPrefix(c.in, p[:n])
	c.mu.Unlock()
	return n, err
}

func (c *tapConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	c.out = keepPrefix(c.out, p[:n])
	c.mu.Unlock()
	return n, err
}

// keepPrefix appends as much of p to dst as fits within tapLimit.
func keepPrefix(dst, p []byte) []byte {
	return append(dst, p[:min(len(p), tapLimit-len(dst))]...)
}

// wire returns the head of the HTTP message each way and the header of
// the first frame after it, or a zero header when none has passed yet.
func (c *tapConn) wire(t *testing.T) (resp *http.Response, in ws.Header, out ws.Header) {
	t.Helper()
	c.mu.Lock()
	rd, wr := bytes.Clone(c.in), bytes.Clone(c.out)
	c.mu.Unlock()
	head, rest := splitHead(t, rd)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(head)), nil)
	require.NoError(t, err)
	resp.Body.Close()
	in = firstHeader(t, rest)
	_, rest = splitHead(t, wr)
	out = firstHeader(t, rest)
	return resp, in, out
}

// splitHead splits b after the HTTP head it starts with.
func splitHead(t *testing.T, b []byte) (head, rest []byte) {
	t.Helper()
	i := bytes.Index(b, []byte("\r\n\r\n"))
	require.GreaterOrEqual(t, i, 0, "no complete HTTP head in %q", b)
	return b[:i+4], b[i+4:]
}

// firstHeader parses the frame header at the start of b.
func firstHeader(t *testing.T, b []byte) ws.Header {
	t.Helper()
	if len(b) == 0 {
		return ws.Header{}
	}
	h, _, err := ws.ParseHeader(b)
	require.NoError(t, err)
	return h
}

// dialDeflate opens a client Conn to url through a tapConn, offering
// permessage-deflate as client describes (nil: no offer) and compressing
// with it when the server accepts. The Conn is dropped when the test
// ends.
func dialDeflate(t *testing.T, url string, client *wsflate.Extension, cfg wsutil.Config) (*wsutil.Conn, ws.Handshake, *tapConn) {
	t.Helper()
	d, tap := tapDialer()
	if client != nil {
		d.Extensions = []httphead.Option{client.Offer()}
		d.OnExtensions = client.CheckResponse
		cfg.Extension = client
	}
	if cfg.CloseTimeout == 0 {
		cfg.CloseTimeout = wstest.Remaining(t) // only a hang may end a closing handshake
	}
	nc, hs, err := d.Dial(testCtx(t), url)
	require.NoError(t, err)
	c, err := wsutil.NewConn(nc, ws.ClientSide, hs, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Terminate() })
	return c, hs, tap
}

// tapDialer returns a Dialer whose connection goes through tap.
func tapDialer() (d *ws.Dialer, tap *tapConn) {
	tap = &tapConn{}
	d = &ws.Dialer{NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := new(net.Dialer).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tap.Conn = nc
		return tap, nil
	}}
	return d, tap
}

// accepted returns the permessage-deflate parameters a handshake
// accepted, and whether it accepted it.
func accepted(t *testing.T, hs ws.Handshake) (wsflate.Params, bool) {
	t.Helper()
	if len(hs.Extensions) == 0 {
		return wsflate.Params{}, false
	}
	require.Len(t, hs.Extensions, 1)
	p, err := wsflate.ParseParams(hs.Extensions[0])
	require.NoError(t, err)
	return p, true
}

// jsonLines returns about n bytes of JSON lines like a feed or a log
// sends: compressible, but not trivially.
func jsonLines(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett"}
	var b []byte
	for len(b) < n {
		b = fmt.Appendf(b, `{"id":%d,"user":"member-%d","text":"%s %s %s","price":%d.%02d,"ts":%d}`+"\n",
			r.IntN(1e6), r.IntN(50), words[r.IntN(len(words))], words[r.IntN(len(words))], words[r.IntN(len(words))],
			r.IntN(1000), r.IntN(100), 1_700_000_000+r.IntN(1e6))
	}
	return b[:n]
}

// echoRoundTrip sends each message on c and checks that the echo comes
// back the same.
func echoRoundTrip(t *testing.T, c *wsutil.Conn, msgs []wsutil.Message) {
	t.Helper()
	for i, m := range msgs {
		want := bytes.Clone(m.Payload)
		require.NoError(t, c.Send(testCtx(t), m))
		got := recv(t, c)
		assert.Equal(t, m.OpCode, got.OpCode, "message %d", i)
		assert.True(t, bytes.Equal(want, got.Payload), "message %d: %d bytes sent, %d back", i, len(want), len(got.Payload))
	}
}

func TestServeCompressFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		args      []string
		on        bool
		level     int
		threshold int
	}{
		{"defaults", nil, true, wsflate.DefaultLevel, wsflate.DefaultThreshold},
		{"off", []string{"-compress=false"}, false, 0, 0},
		{"off ignores the level", []string{"-compress=false", "-compress-level", "0"}, false, 0, 0},
		{"best compression", []string{"-compress-level", "9"}, true, 9, wsflate.DefaultThreshold},
		{"huffman only", []string{"-compress-level", "-2"}, true, wsflate.HuffmanOnly, wsflate.DefaultThreshold},
		{"threshold with unit", []string{"-compress-threshold", "1K"}, true, wsflate.DefaultLevel, 1024},
		{"threshold 0 compresses everything", []string{"-compress-threshold", "0"}, true, wsflate.DefaultLevel, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := parseServeFlags(tc.args, io.Discard)
			require.NoError(t, err)
			for _, e := range []*wsflate.Extension{cfg.deflate.extension(false), chatDeflate(cfg)} {
				if !tc.on {
					assert.Nil(t, e)
					continue
				}
				require.NotNil(t, e)
				assert.Equal(t, tc.level, e.Level)
				assert.Equal(t, tc.threshold, e.Threshold)
				assert.Zero(t, e.ServerMaxWindowBits, "any window the client asks for")
				assert.Zero(t, e.ClientMaxWindowBits, "any window the client asks for")
				assert.False(t, e.ClientNoContextTakeover, "the client may keep its context")
			}
			if tc.on {
				assert.False(t, cfg.deflate.extension(false).ServerNoContextTakeover, "/echo keeps context")
				assert.True(t, chatDeflate(cfg).ServerNoContextTakeover, "/chat compresses a broadcast once")
			}
		})
	}

	bad := []struct {
		name string
		args []string
	}{
		{"level 0", []string{"-compress-level", "0"}},
		{"level 10", []string{"-compress-level", "10"}},
		{"level -3", []string{"-compress-level", "-3"}},
		{"negative threshold", []string{"-compress-threshold", "-1"}},
		{"bad threshold", []string{"-compress-threshold", "lots"}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseServeFlags(tc.args, io.Discard)
			require.ErrorIs(t, err, errUsage)
		})
	}
}

func TestDeflateConfigCheck(t *testing.T) {
	t.Parallel()
	require.ErrorIs(t, deflateConfig{on: true}.check(), errLevelZero)
	require.ErrorIs(t, deflateConfig{on: true, level: 11}.check(), wsflate.ErrLevel)
	require.NoError(t, deflateConfig{on: true, level: -1}.check())
	require.NoError(t, deflateConfig{level: 11}.check(), "not checked when off")
}

func TestFormatExtensions(t *testing.T) {
	t.Parallel()
	parse := func(s string) []httphead.Option {
		opts, ok := httphead.ParseOptions([]byte(s), nil)
		require.True(t, ok, s)
		return opts
	}
	tests := []struct {
		name string
		in   []httphead.Option
		want string
	}{
		{"none", nil, "none"},
		{"deflate", parse("permessage-deflate"), "permessage-deflate"},
		{"deflate with parameters", parse("permessage-deflate;server_max_window_bits=10;  client_no_context_takeover"),
			"permessage-deflate; client_no_context_takeover; server_max_window_bits=10"},
		{"another extension", parse("x-foo; a=1; b, permessage-deflate"), "x-foo; a=1; b, permessage-deflate"},
		{"invalid deflate shown as sent", parse("permessage-deflate; mem_level=8"), "permessage-deflate; mem_level=8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, formatExtensions(tc.in))
		})
	}
}

// Every combination of context takeover and window bits a client may
// offer is accepted as offered: the response carries exactly the agreed
// parameters, and messages larger than every window go both ways
// compressed (RSV1 on the first frame each way) and come back intact.
func TestServeEchoDeflateParams(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	text := jsonLines(36<<10, 1) // more than the largest window
	bin := jsonLines(8<<10, 2)
	for i := range bin {
		bin[i] ^= byte(i)
	}
	msgs := []wsutil.Message{
		{OpCode: ws.OpText, Payload: text},
		{OpCode: ws.OpBinary, Payload: bin},
		{OpCode: ws.OpText, Payload: text}, // again: with context takeover it refers back
		{OpCode: ws.OpText, Payload: []byte("small ✓")},
		{OpCode: ws.OpText, Payload: jsonLines(1000, 3)},
	}
	for _, noClientTakeover := range []bool{false, true} {
		for _, noServerTakeover := range []bool{false, true} {
			for _, sbits := range []int{0, 8, 9, 12, 15} {
				for _, cbits := range []int{0, wsflate.WindowBitsNoValue, 8, 9, 12, 15} {
					offer := wsflate.Params{
						ServerNoContextTakeover: noServerTakeover,
						ClientNoContextTakeover: noClientTakeover,
						ServerMaxWindowBits:     sbits,
						ClientMaxWindowBits:     cbits,
					}
					t.Run(offer.String(), func(t *testing.T) {
						t.Parallel()
						client := &wsflate.Extension{
							ServerNoContextTakeover: noServerTakeover,
							ClientNoContextTakeover: noClientTakeover,
							ServerMaxWindowBits:     sbits,
							ClientMaxWindowBits:     cbits,
						}
						// The answer is the offer, with
						// client_max_window_bits left out when the
						// client let the server choose: the server
						// does not bound the client.
						want := offer
						want.ClientMaxWindowBits = max(cbits, 0)

						c, hs, tap := dialDeflate(t, s.url("/echo"), client, wsutil.Config{})
						got, ok := accepted(t, hs)
						require.True(t, ok, "permessage-deflate accepted")
						assert.Equal(t, want, got)
						echoRoundTrip(t, c, msgs)

						resp, in, out := tap.wire(t)
						assert.Equal(t, []string{want.String()}, resp.Header.Values("Sec-WebSocket-Extensions"))
						assert.Equal(t, ws.Rsv1, in.Rsv, "the server's first frame is compressed")
						assert.Equal(t, ws.OpText, in.OpCode)
						assert.Equal(t, ws.Rsv1, out.Rsv, "our first frame is compressed")
						assert.True(t, out.Masked)
						require.NoError(t, c.Close(ws.StatusNormalClosure, ""))
					})
				}
			}
		}
	}
}

// Text and binary, small and large, compressible or not, round-trip with
// the defaults of a browser's offer (context takeover both ways).
func TestServeEchoDeflateSizes(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	pattern := make([]byte, 16<<20)
	for i := range pattern {
		pattern[i] = byte(i * 7)
	}
	noise := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	tests := []struct {
		name string
		msg  wsutil.Message
	}{
		{"empty text", wsutil.Message{OpCode: ws.OpText, Payload: []byte{}}},
		{"small text", wsutil.Message{OpCode: ws.OpText, Payload: []byte("hello, sluice ✓")}},
		{"small binary", wsutil.Message{OpCode: ws.OpBinary, Payload: []byte{0, 1, 2, 0xff}}},
		{"1 MiB text", wsutil.Message{OpCode: ws.OpText, Payload: randomText(1 << 20)}},
		{"1 MiB JSON", wsutil.Message{OpCode: ws.OpText, Payload: jsonLines(1<<20, 4)}},
		{"1 MiB incompressible binary", wsutil.Message{OpCode: ws.OpBinary, Payload: noise}},
		{"16 MiB binary", wsutil.Message{OpCode: ws.OpBinary, Payload: pattern}},
		// Large and repetitive: fresh 16 MiB of JSON costs several
		// seconds to compress and inflate both ways under -race.
		{"16 MiB text", wsutil.Message{OpCode: ws.OpText, Payload: bytes.Repeat(jsonLines(4<<10, 5), 4096)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			client := &wsflate.Extension{ClientMaxWindowBits: wsflate.WindowBitsNoValue}
			c, hs, _ := dialDeflate(t, s.url("/echo"), client, wsutil.Config{MaxMessageSize: 32 << 20})
			_, ok := accepted(t, hs)
			require.True(t, ok)
			echoRoundTrip(t, c, []wsutil.Message{tc.msg})
			require.NoError(t, c.Close(ws.StatusNormalClosure, ""))
		})
	}
}

// A large compressible message really is compressed on the wire, by each
// side independently: the server compresses its echo even when the client
// sent the message uncompressed.
func TestServeEchoDeflateOnTheWire(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	const size = 1 << 20
	tests := []struct {
		name       string
		noCompress bool
	}{
		{"both compress", false},
		{"client sends uncompressed", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _, tap := dialDeflate(t, s.url("/echo"), &wsflate.Extension{}, wsutil.Config{})
			echoRoundTrip(t, c, []wsutil.Message{{OpCode: ws.OpText, Payload: jsonLines(size, 6), NoCompress: tc.noCompress}})

			_, in, out := tap.wire(t)
			assert.Equal(t, ws.Rsv1, in.Rsv, "RSV1 on the server's first frame")
			assert.Equal(t, ws.OpText, in.OpCode)
			assert.Less(t, in.Length, int64(size/3), "the first frame holds compressed data")
			st := c.Stats()
			assert.Less(t, st.BytesIn, int64(size/3), "what came back was compressed")
			if tc.noCompress {
				assert.Zero(t, out.Rsv)
				assert.Equal(t, int64(size), out.Length)
				assert.Greater(t, st.BytesOut, int64(size))
			} else {
				assert.Equal(t, ws.Rsv1, out.Rsv, "RSV1 on our first frame")
				assert.Less(t, st.BytesOut, int64(size/3))
			}
			require.NoError(t, c.Close(ws.StatusNormalClosure, ""))
		})
	}
}

// Many similar messages with context takeover: each refers back to the
// ones before, so they all round-trip and take fewer bytes on the wire
// than the same messages without it, for every window size.
func TestServeEchoDeflateTakeover(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	const n = 100
	msgs := make([]wsutil.Message, n)
	for i := range msgs {
		msgs[i] = wsutil.Message{OpCode: ws.OpText, Payload: jsonLines(200+i%7*100, uint64(i))}
	}
	for _, bits := range []int{8, 9, 12, 15} {
		t.Run(fmt.Sprintf("window bits %d", bits), func(t *testing.T) {
			t.Parallel()
			var in, out [2]int64
			for i, noTakeover := range []bool{false, true} {
				client := &wsflate.Extension{
					ServerNoContextTakeover: noTakeover,
					ClientNoContextTakeover: noTakeover,
					ServerMaxWindowBits:     bits,
					ClientMaxWindowBits:     bits,
				}
				c, hs, _ := dialDeflate(t, s.url("/echo"), client, wsutil.Config{})
				p, ok := accepted(t, hs)
				require.True(t, ok)
				assert.Equal(t, noTakeover, p.ServerNoContextTakeover)
				echoRoundTrip(t, c, msgs)
				st := c.Stats()
				in[i], out[i] = st.BytesIn, st.BytesOut
				require.NoError(t, c.Close(ws.StatusNormalClosure, ""))
			}
			t.Logf("wire bytes for %d messages: in %d with takeover, %d without; out %d, %d", n, in[0], in[1], out[0], out[1])
			assert.Less(t, in[0], in[1], "the server's context takeover pays")
			assert.Less(t, out[0], out[1], "our context takeover pays")
		})
	}
}

// -compress-threshold decides which messages the server compresses.
func TestServeCompressThreshold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		threshold string
		size      int
		rsv       byte
	}{
		{"default leaves small messages alone", "128", 100, 0},
		{"default compresses larger ones", "128", 128, ws.Rsv1},
		{"under 1K", "1K", 1000, 0},
		{"at 1K", "1K", 1024, ws.Rsv1},
		{"0 compresses everything", "0", 1, ws.Rsv1},
		{"0 compresses even empty messages", "0", 0, ws.Rsv1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServe(t, "-compress-threshold", tc.threshold)
			c, _, tap := dialDeflate(t, s.url("/echo"), &wsflate.Extension{}, wsutil.Config{})
			echoRoundTrip(t, c, []wsutil.Message{{OpCode: ws.OpText, Payload: jsonLines(tc.size, 8)}})
			_, in, _ := tap.wire(t)
			assert.Equal(t, tc.rsv, in.Rsv)
		})
	}
}

// The negotiated extension is logged with the connection, at debug level.
func TestServeLogsExtension(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	dialDeflate(t, s.url("/echo"), &wsflate.Extension{ServerMaxWindowBits: 10}, wsutil.Config{})
	s.logs.waitFor(t, `level=DEBUG msg=connected path=/echo .*extensions="permessage-deflate; server_max_window_bits=10"`)
	dialDeflate(t, s.url("/chat"), &wsflate.Extension{}, wsutil.Config{})
	s.logs.waitFor(t, `level=DEBUG msg=connected path=/chat .*extensions="permessage-deflate; server_no_context_takeover"`)
	dialDeflate(t, s.url("/echo"), nil, wsutil.Config{})
	s.logs.waitFor(t, `level=DEBUG msg=connected path=/echo .*extensions=none`)
}

// Chat members that compress, with different windows, and members that
// do not, all receive every message, in one order; a broadcast reaches a
// compressing member compressed.
func TestServeChatDeflate(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	offers := []*wsflate.Extension{
		nil,
		{},
		{ServerMaxWindowBits: 9},
		{ClientNoContextTakeover: true, ClientMaxWindowBits: 10},
		{ServerNoContextTakeover: true, ClientMaxWindowBits: wsflate.WindowBitsNoValue},
		{ServerMaxWindowBits: 9}, // the same kind as member 2
		nil,
	}
	members := make([]*wsutil.Conn, len(offers))
	for i, offer := range offers {
		c, hs, tap := dialDeflate(t, s.url("/chat"), offer, wsutil.Config{})
		members[i] = c
		p, ok := accepted(t, hs)
		resp, _, _ := tap.wire(t)
		if offer == nil {
			assert.False(t, ok, "member %d", i)
			assert.Empty(t, resp.Header.Values("Sec-WebSocket-Extensions"))
			continue
		}
		require.True(t, ok, "member %d", i)
		// The chat compresses without context takeover, asked or not.
		want := wsflate.Params{
			ServerNoContextTakeover: true,
			ClientNoContextTakeover: offer.ClientNoContextTakeover,
			ServerMaxWindowBits:     offer.ServerMaxWindowBits,
			ClientMaxWindowBits:     max(offer.ClientMaxWindowBits, 0),
		}
		assert.Equal(t, want, p, "member %d", i)
		assert.Equal(t, []string{want.String()}, resp.Header.Values("Sec-WebSocket-Extensions"))
	}
	waitJoined(t, s, len(members))

	var sent []string
	for i, c := range members {
		payload := fmt.Appendf(nil, "from %d", i)
		if i%2 == 1 {
			payload = append(payload, jsonLines(16<<10, uint64(i))...)
		}
		sent = append(sent, string(payload))
		require.NoError(t, c.Send(testCtx(t), wsutil.Message{OpCode: ws.OpText, Payload: payload}))
	}
	orders := make([][]string, len(members))
	for i, c := range members {
		for len(orders[i]) < len(members) {
			m := recv(t, c)
			assert.Equal(t, ws.OpText, m.OpCode)
			orders[i] = append(orders[i], string(m.Payload))
		}
	}
	assert.ElementsMatch(t, sent, orders[0])
	for i := 1; i < len(members); i++ {
		assert.True(t, slices.Equal(orders[0], orders[i]), "member %d saw another order", i)
	}
	plain := members[0].Stats().BytesIn
	for i, offer := range offers {
		if offer != nil {
			assert.Less(t, members[i].Stats().BytesIn, plain/2, "member %d received compressed frames", i)
		}
	}
}

// -compress=false answers no offer: no Sec-WebSocket-Extensions in the
// response, and nothing compressed.
func TestServeCompressOff(t *testing.T) {
	t.Parallel()
	s := startServe(t, "-compress=false")
	for _, path := range []string{"/echo", "/chat"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			c, hs, tap := dialDeflate(t, s.url(path), &wsflate.Extension{ClientMaxWindowBits: wsflate.WindowBitsNoValue}, wsutil.Config{})
			assert.Empty(t, hs.Extensions)
			// Echo and chat both send our message back to us.
			echoRoundTrip(t, c, []wsutil.Message{{OpCode: ws.OpText, Payload: jsonLines(64<<10, 9)}})
			resp, in, out := tap.wire(t)
			assert.Empty(t, resp.Header.Values("Sec-WebSocket-Extensions"))
			assert.Zero(t, in.Rsv)
			assert.Zero(t, out.Rsv)
			assert.Greater(t, c.Stats().BytesIn, int64(64<<10))
		})
	}
}

// A client may offer permessage-deflate several times, its fallbacks in
// order of preference (RFC 7692 §5): the server accepts the first offer
// it can honour and declines the invalid ones (§7.1).
func TestServeDeflateFallback(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	opt := func(params map[string]string) httphead.Option {
		return httphead.NewOption(wsflate.ExtensionName, params)
	}
	tests := []struct {
		name   string
		offers []httphead.Option
		want   string // "" for no Sec-WebSocket-Extensions
	}{
		{"first valid offer wins", []httphead.Option{
			wsflate.Params{ServerMaxWindowBits: 12}.Option(), wsflate.Params{ServerMaxWindowBits: 9}.Option(),
		}, "permessage-deflate; server_max_window_bits=12"},
		{"window out of range skipped", []httphead.Option{
			opt(map[string]string{"server_max_window_bits": "16"}), wsflate.Params{ServerMaxWindowBits: 10}.Option(),
		}, "permessage-deflate; server_max_window_bits=10"},
		{"unknown parameter skipped", []httphead.Option{
			opt(map[string]string{"mem_level": "8"}), wsflate.Params{ClientNoContextTakeover: true}.Option(),
		}, "permessage-deflate; client_no_context_takeover"},
		{"takeover parameter with a value skipped", []httphead.Option{
			opt(map[string]string{"server_no_context_takeover": "1"}), wsflate.Params{}.Option(),
		}, "permessage-deflate"},
		{"nothing valid", []httphead.Option{opt(map[string]string{"client_max_window_bits": "7"})}, ""},
		{"another extension", []httphead.Option{httphead.NewOption("x-webkit-deflate-frame", nil)}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, tap := tapDialer()
			d.Extensions = tc.offers
			nc, hs, err := d.Dial(testCtx(t), s.url("/echo"))
			require.NoError(t, err)
			defer nc.Close()
			resp, _, _ := tap.wire(t)
			if tc.want == "" {
				assert.Empty(t, hs.Extensions)
				assert.Empty(t, resp.Header.Values("Sec-WebSocket-Extensions"))
				return
			}
			assert.Equal(t, tc.want, formatExtensions(hs.Extensions))
			assert.Equal(t, []string{tc.want}, resp.Header.Values("Sec-WebSocket-Extensions"))
		})
	}
}
