package interop

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/sluice-ws/sluice/wsutil"
)

// --- configurations ----------------------------------------------------------

// deflateOpts are a peer library's permessage-deflate options, the
// "compress" field of connect and listen: named after RFC 7692's
// parameters, what a client offers or a server answers with, mapped by
// each peer program to its library's own options. The zero value is the
// library's defaults. ClientMaxWindowBits wsflate.WindowBitsNoValue is
// sent as true: the parameter without a value.
type deflateOpts wsflate.Params

// MarshalJSON writes the options the peer programs read.
func (o deflateOpts) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	if o.ServerNoContextTakeover {
		m["server_no_context_takeover"] = true
	}
	if o.ClientNoContextTakeover {
		m["client_no_context_takeover"] = true
	}
	if o.ServerMaxWindowBits != 0 {
		m["server_max_window_bits"] = o.ServerMaxWindowBits
	}
	switch o.ClientMaxWindowBits {
	case 0:
	case wsflate.WindowBitsNoValue:
		m["client_max_window_bits"] = true
	default:
		m["client_max_window_bits"] = o.ClientMaxWindowBits
	}
	return json.Marshal(m)
}

// deflateSetup is one permessage-deflate configuration of a pair.
type deflateSetup struct {
	name string
	peer *deflateOpts      // the peer library's options; nil: it has no permessage-deflate
	ours wsflate.Extension // our end's
	// want is what the handshake must settle, as both ends see the
	// response; nil: no compression.
	want *wsflate.Params
}

// peerOpts and settled shorten the setup tables.
func peerOpts(p wsflate.Params) *deflateOpts   { o := deflateOpts(p); return &o }
func settled(p wsflate.Params) *wsflate.Params { return &p }

// noValue is client_max_window_bits without a value.
const noValue = wsflate.WindowBitsNoValue

// ourClient is our client's usual offer, a browser's:
// "permessage-deflate; client_max_window_bits".
var ourClient = wsflate.Extension{ClientMaxWindowBits: noValue}

// wsClientSetups are npm ws's client options against our server
// (wsflate.Extension's zero value unless said). ws offers
// client_max_window_bits without a value unless told a number.
var wsClientSetups = []deflateSetup{
	{name: "defaults", peer: peerOpts(wsflate.Params{}), want: settled(wsflate.Params{})},
	{name: "client-max-window-bits-true", peer: peerOpts(wsflate.Params{ClientMaxWindowBits: noValue}), want: settled(wsflate.Params{})},
	{name: "server-no-context-takeover", peer: peerOpts(wsflate.Params{ServerNoContextTakeover: true}), want: settled(wsflate.Params{ServerNoContextTakeover: true})},
	{name: "client-no-context-takeover", peer: peerOpts(wsflate.Params{ClientNoContextTakeover: true}), want: settled(wsflate.Params{ClientNoContextTakeover: true})},
	{name: "server-max-window-bits-8", peer: peerOpts(wsflate.Params{ServerMaxWindowBits: 8}), want: settled(wsflate.Params{ServerMaxWindowBits: 8})},
	{name: "server-max-window-bits-9", peer: peerOpts(wsflate.Params{ServerMaxWindowBits: 9}), want: settled(wsflate.Params{ServerMaxWindowBits: 9})},
	{name: "server-max-window-bits-10", peer: peerOpts(wsflate.Params{ServerMaxWindowBits: 10}), want: settled(wsflate.Params{ServerMaxWindowBits: 10})},
	{name: "server-max-window-bits-15", peer: peerOpts(wsflate.Params{ServerMaxWindowBits: 15}), want: settled(wsflate.Params{ServerMaxWindowBits: 15})},
	// 8: zlib compresses with 9 bits; we keep 512 bytes of history.
	{name: "client-max-window-bits-8", peer: peerOpts(wsflate.Params{ClientMaxWindowBits: 8}), want: settled(wsflate.Params{ClientMaxWindowBits: 8})},
	{name: "client-max-window-bits-9", peer: peerOpts(wsflate.Params{ClientMaxWindowBits: 9}), want: settled(wsflate.Params{ClientMaxWindowBits: 9})},
	{name: "client-max-window-bits-12", peer: peerOpts(wsflate.Params{ClientMaxWindowBits: 12}), want: settled(wsflate.Params{ClientMaxWindowBits: 12})},
	{name: "client-max-window-bits-15", peer: peerOpts(wsflate.Params{ClientMaxWindowBits: 15}), want: settled(wsflate.Params{ClientMaxWindowBits: 15})},
	// Our server bounds ws's window to 8 bits unasked.
	{name: "ours-client-max-window-bits-8", peer: peerOpts(wsflate.Params{}), ours: wsflate.Extension{ClientMaxWindowBits: 8},
		want: settled(wsflate.Params{ClientMaxWindowBits: 8})},
	{name: "ours-server-bounded", peer: peerOpts(wsflate.Params{}), ours: wsflate.Extension{ServerNoContextTakeover: true, ServerMaxWindowBits: 10},
		want: settled(wsflate.Params{ServerNoContextTakeover: true, ServerMaxWindowBits: 10})},
}

// wsServerSetups are npm ws's server options against our client (ourClient
// unless said).
var wsServerSetups = []deflateSetup{
	{name: "defaults", peer: peerOpts(wsflate.Params{}), ours: ourClient, want: settled(wsflate.Params{})},
	{name: "client-max-window-bits-true", peer: peerOpts(wsflate.Params{ClientMaxWindowBits: noValue}), ours: ourClient, want: settled(wsflate.Params{})},
	{name: "server-no-context-takeover", peer: peerOpts(wsflate.Params{ServerNoContextTakeover: true}), ours: ourClient, want: settled(wsflate.Params{ServerNoContextTakeover: true})},
	{name: "client-no-context-takeover", peer: peerOpts(wsflate.Params{ClientNoContextTakeover: true}), ours: ourClient, want: settled(wsflate.Params{ClientNoContextTakeover: true})},
	// 8: zlib compresses with 9 bits; we keep 512 bytes of history.
	{name: "server-max-window-bits-8", peer: peerOpts(wsflate.Params{ServerMaxWindowBits: 8}), ours: ourClient, want: settled(wsflate.Params{ServerMaxWindowBits: 8})},
	{name: "server-max-window-bits-9", peer: peerOpts(wsflate.Params{ServerMaxWindowBits: 9}), ours: ourClient, want: settled(wsflate.Params{ServerMaxWindowBits: 9})},
	{name: "server-max-window-bits-10", peer: peerOpts(wsflate.Params{ServerMaxWindowBits: 10}), ours: ourClient, want: settled(wsflate.Params{ServerMaxWindowBits: 10})},
	{name: "server-max-window-bits-15", peer: peerOpts(wsflate.Params{ServerMaxWindowBits: 15}), ours: ourClient, want: settled(wsflate.Params{ServerMaxWindowBits: 15})},
	// We compress with a true 256-byte window; zlib inflates with it.
	{name: "client-max-window-bits-8", peer: peerOpts(wsflate.Params{ClientMaxWindowBits: 8}), ours: ourClient, want: settled(wsflate.Params{ClientMaxWindowBits: 8})},
	{name: "client-max-window-bits-9", peer: peerOpts(wsflate.Params{ClientMaxWindowBits: 9}), ours: ourClient, want: settled(wsflate.Params{ClientMaxWindowBits: 9})},
	{name: "client-max-window-bits-12", peer: peerOpts(wsflate.Params{ClientMaxWindowBits: 12}), ours: ourClient, want: settled(wsflate.Params{ClientMaxWindowBits: 12})},
	{name: "client-max-window-bits-15", peer: peerOpts(wsflate.Params{ClientMaxWindowBits: 15}), ours: ourClient, want: settled(wsflate.Params{ClientMaxWindowBits: 15})},
	// Our client offers 8 bits for itself: ws keeps the offer's value.
	{name: "ours-offer-8", peer: peerOpts(wsflate.Params{}),
		ours: wsflate.Extension{ServerNoContextTakeover: true, ServerMaxWindowBits: 10, ClientMaxWindowBits: 8},
		want: settled(wsflate.Params{ServerNoContextTakeover: true, ServerMaxWindowBits: 10, ClientMaxWindowBits: 8})},
}

// websocketSetups: WebSocket-Node has no permessage-deflate. Our server
// (with it on) must go on uncompressed when no offer comes, and our client
// when its offer is ignored.
var (
	websocketClientSetups = []deflateSetup{{name: "no-offer"}}
	websocketServerSetups = []deflateSetup{{name: "offer-ignored", ours: ourClient}}
)

// pythonClientSetups are websockets' client options against our server.
// Its default offer is "permessage-deflate; client_max_window_bits". It
// cannot compress with client_max_window_bits=8 (see python/peer.py): no
// setup here makes it.
var pythonClientSetups = []deflateSetup{
	{name: "defaults", peer: peerOpts(wsflate.Params{}), want: settled(wsflate.Params{})},
	{name: "client-max-window-bits-9", peer: peerOpts(wsflate.Params{ClientMaxWindowBits: 9}), want: settled(wsflate.Params{ClientMaxWindowBits: 9})},
	{name: "client-max-window-bits-12", peer: peerOpts(wsflate.Params{ClientMaxWindowBits: 12}), want: settled(wsflate.Params{ClientMaxWindowBits: 12})},
	// websockets inflates with 8 bits; we compress with a true 256 bytes.
	{name: "server-max-window-bits-8", peer: peerOpts(wsflate.Params{ServerMaxWindowBits: 8}), want: settled(wsflate.Params{ServerMaxWindowBits: 8})},
	{name: "server-max-window-bits-10", peer: peerOpts(wsflate.Params{ServerMaxWindowBits: 10}), want: settled(wsflate.Params{ServerMaxWindowBits: 10})},
	{name: "server-no-context-takeover", peer: peerOpts(wsflate.Params{ServerNoContextTakeover: true}), want: settled(wsflate.Params{ServerNoContextTakeover: true})},
	{name: "client-no-context-takeover", peer: peerOpts(wsflate.Params{ClientNoContextTakeover: true}), want: settled(wsflate.Params{ClientNoContextTakeover: true})},
}

// pythonServerSetups are websockets' server options against our client.
// Its default answers server_max_window_bits=12 and client_max_window_bits=12.
var pythonServerSetups = []deflateSetup{
	{name: "defaults", peer: peerOpts(wsflate.Params{}), ours: ourClient, want: settled(wsflate.Params{ServerMaxWindowBits: 12, ClientMaxWindowBits: 12})},
	// websockets inflates with 8 bits; we compress with a true 256 bytes.
	{name: "client-max-window-bits-8", peer: peerOpts(wsflate.Params{ClientMaxWindowBits: 8}), ours: ourClient, want: settled(wsflate.Params{ClientMaxWindowBits: 8})},
	{name: "server-max-window-bits-9", peer: peerOpts(wsflate.Params{ServerMaxWindowBits: 9}), ours: ourClient, want: settled(wsflate.Params{ServerMaxWindowBits: 9})},
	{name: "server-no-context-takeover", peer: peerOpts(wsflate.Params{ServerNoContextTakeover: true}), ours: ourClient, want: settled(wsflate.Params{ServerNoContextTakeover: true})},
	{name: "client-no-context-takeover", peer: peerOpts(wsflate.Params{ClientNoContextTakeover: true}), ours: ourClient, want: settled(wsflate.Params{ClientNoContextTakeover: true})},
	{name: "ours-offer-8", peer: peerOpts(wsflate.Params{}),
		ours: wsflate.Extension{ServerNoContextTakeover: true, ServerMaxWindowBits: 10, ClientMaxWindowBits: 8},
		want: settled(wsflate.Params{ServerNoContextTakeover: true, ServerMaxWindowBits: 10, ClientMaxWindowBits: 8})},
}

// chromiumSetups vary our server only: the browser always offers
// "permessage-deflate; client_max_window_bits".
var chromiumSetups = []deflateSetup{
	{name: "defaults", peer: peerOpts(wsflate.Params{}), want: settled(wsflate.Params{})},
	// The browser's zlib compresses with 9 bits; we keep 512 bytes of history.
	{name: "ours-client-max-window-bits-8", peer: peerOpts(wsflate.Params{}), ours: wsflate.Extension{ClientMaxWindowBits: 8},
		want: settled(wsflate.Params{ClientMaxWindowBits: 8})},
	{name: "ours-server-bounded", peer: peerOpts(wsflate.Params{}), ours: wsflate.Extension{ServerNoContextTakeover: true, ServerMaxWindowBits: 9},
		want: settled(wsflate.Params{ServerNoContextTakeover: true, ServerMaxWindowBits: 9})},
	{name: "ours-client-no-context-takeover", peer: peerOpts(wsflate.Params{}), ours: wsflate.Extension{ClientNoContextTakeover: true},
		want: settled(wsflate.Params{ClientNoContextTakeover: true})},
}

// --- running -----------------------------------------------------------------

// deflateCase is one conversation over a connection of a deflate setup.
type deflateCase struct {
	name         string
	needs        caps
	fragmentSize int // our Config.FragmentSize / Writer.FragmentSize
	run          func(t *caseT, ctx context.Context, x deflateConn)
}

// deflateCases is the deflate matrix's row list; see doc.go.
var deflateCases = []deflateCase{
	{name: "echo", run: testDeflateEcho},
	{name: "series", run: testDeflateSeries},
	{name: "fragmented-by-peer", needs: peerFragments, run: testDeflateFragmentedByPeer},
	{name: "fragmented-by-us", needs: ourFragments, fragmentSize: 1000, run: testDeflateFragmentedByUs},
	{name: "invalid-utf8-by-peer", needs: peerRawText, run: testDeflateInvalidUTF8},
}

// deflateConn is one connection of a deflate case.
type deflateConn struct {
	ours   local
	theirs *remote
	server bool // our end is the server
	setup  deflateSetup
}

// on reports whether permessage-deflate was negotiated.
func (x deflateConn) on() bool { return x.setup.want != nil }

// takeover reports whether the messages that our end (ours) or the peer
// sends are compressed with context takeover (RFC 7692 §7.1.1).
func (x deflateConn) takeover(ours bool) bool {
	if !x.on() {
		return false
	}
	if ours == x.server {
		return !x.setup.want.ServerNoContextTakeover
	}
	return !x.setup.want.ClientNoContextTakeover
}

// deflateAsClients runs the deflate cases with p's client, set up each way
// of setups, connecting to both deflate-capable variants of our server.
func deflateAsClients(t *caseT, s *ourServer, p *peer, setups []deflateSetup) {
	t.with(p).Run(p.name, func(t *caseT) {
		for _, v := range serverVariants(true) {
			t.Run(v.name, func(t *caseT) {
				for _, setup := range setups {
					t.Run(setup.name, func(t *caseT) {
						t.Parallel()
						runDeflateCases(t, p.caps|v.caps, setup, true, func(t *caseT, ctx context.Context, c interopCase) (local, *remote) {
							return s.pairWithClient(t, ctx, p, v, c)
						})
					})
				}
			})
		}
	})
}

// deflateAsServers runs the deflate cases with our client connecting to a
// server of p for each of setups.
func deflateAsServers(t *caseT, p *peer, setups []deflateSetup) {
	t.with(p).Run(p.name, func(t *caseT) {
		for _, setup := range setups {
			t.Run(setup.name, func(t *caseT) {
				t.Parallel()
				srv := listen(t, wstest.Context(t.T, "the listen of "+t.Name()), p, setup.peer)
				runDeflateCases(t, p.caps|variantConn.caps, setup, false, srv.pairWithServer)
			})
		}
	})
}

// runDeflateCases runs every deflate case the ends can do, each over a new
// connection from open, and checks the handshake and the frames of each.
func runDeflateCases(t *caseT, have caps, setup deflateSetup, server bool,
	open func(t *caseT, ctx context.Context, c interopCase) (local, *remote)) {
	for _, dc := range deflateCases {
		if have&dc.needs != dc.needs {
			continue // not something this pair can do (see doc.go)
		}
		t.Run(dc.name, func(t *caseT) {
			t.Parallel()
			ctx := wstest.Context(t.T, "case "+t.Name())
			ext := setup.ours // one per connection; it could be shared
			c := interopCase{
				name: dc.name,
				cfg: wsutil.Config{Extension: &ext, FragmentSize: dc.fragmentSize,
					CloseTimeout: wstest.Remaining(t.T)}, // only a hang may end a closing handshake
				compress: setup.peer,
			}
			ours, theirs := open(t, ctx, c)
			x := deflateConn{ours: ours, theirs: theirs, server: server, setup: setup}
			checkNegotiated(t, x)
			dc.run(t, ctx, x)
			checkRsv(t, x, "we sent", ours.Sent())
			checkRsv(t, x, "we received", ours.Received())
		})
	}
}

// checkNegotiated compares what the handshake settled, as our end and as
// the peer see the response, with what the setup expects.
func checkNegotiated(t *caseT, x deflateConn) {
	t.Helper()
	accepted := x.ours.Extensions()
	theirs, err := wsflate.ParseExtensions([]byte(x.theirs.extensions))
	require.NoError(t, err, "the peer's Sec-WebSocket-Extensions %q", x.theirs.extensions)
	if !x.on() {
		assert.Empty(t, accepted, "extensions our end accepted")
		assert.Empty(t, x.theirs.extensions, "extensions the peer saw")
		return
	}
	want := *x.setup.want
	require.Len(t, accepted, 1, "extensions our end accepted")
	got, err := wsflate.ParseParams(accepted[0])
	require.NoError(t, err)
	assert.Equal(t, want, got, "permessage-deflate as our end sees it: %q, want %q", got, want)
	require.Len(t, theirs, 1, "extensions the peer saw: %q", x.theirs.extensions)
	assert.Equal(t, want, theirs[0], "permessage-deflate as the peer sees it: %q", x.theirs.extensions)
}

// checkRsv checks the RSV bits of frames one way (RFC 7692 §6.1): RSV1
// only on the first frame of a data message and only with
// permessage-deflate; RSV2 and RSV3 never.
func checkRsv(t *caseT, x deflateConn, what string, hs []ws.Header) {
	t.Helper()
	for i, h := range hs {
		assert.Zero(t, h.Rsv&^ws.Rsv1, "%s: frame %d (%v) has RSV2 or RSV3", what, i, h.OpCode)
		if !rsv1(h) {
			continue
		}
		assert.True(t, x.on(), "%s: frame %d (%v) has RSV1 without permessage-deflate", what, i, h.OpCode)
		assert.True(t, h.OpCode == ws.OpText || h.OpCode == ws.OpBinary,
			"%s: frame %d has RSV1 on a %v frame", what, i, h.OpCode)
	}
}

// rsv1 reports whether h has the "Per-Message Compressed" bit.
func rsv1(h ws.Header) bool { return h.Rsv&ws.Rsv1 != 0 }

// wireMessage is a data message as it went over the wire.
type wireMessage struct {
	first  ws.Header // its first frame
	frames int
	size   int64 // payload bytes over all its frames
}

// wireMessages groups frame headers into data messages, in order.
func wireMessages(hs []ws.Header) []wireMessage {
	var ms []wireMessage
	for _, h := range hs {
		switch {
		case h.OpCode == ws.OpText || h.OpCode == ws.OpBinary:
			ms = append(ms, wireMessage{first: h, frames: 1, size: h.Length})
		case h.OpCode == ws.OpContinuation && len(ms) > 0:
			ms[len(ms)-1].frames++
			ms[len(ms)-1].size += h.Length
		}
	}
	return ms
}

// --- payloads ----------------------------------------------------------------

// compressibleText is n bytes of JSON-like lines, valid UTF-8 with 1- to
// 4-byte characters, that DEFLATE shrinks several times.
func compressibleText(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"name":"κόσμε","city":"日本語","tags":["sluice","🌍"],"ok":%t}`+"\n", i, i%3 == 0)
	}
	s := b.String()[:n]
	for !utf8.ValidString(s) { // cut inside a character: pad instead
		s = s[:len(s)-1]
	}
	return s + strings.Repeat("x", n-len(s))
}

// compressibleBinary is n bytes of 16-byte records with counters.
func compressibleBinary(n int) []byte {
	p := make([]byte, 0, n+16)
	for i := uint32(0); len(p) < n; i++ {
		j := i * 3
		p = append(p, byte(i), byte(i>>8), byte(i>>16), byte(i>>24),
			0xca, 0xfe, 0xba, 0xbe,
			byte(j), byte(j>>8), byte(j>>16), byte(j>>24),
			0, byte(i%7), 0, 0xff)
	}
	return p[:n]
}

var (
	text64KiB   = compressibleText(64 << 10)
	binary64KiB = compressibleBinary(64 << 10)
)

// seriesBody is the part every message of a series shares: 160
// pseudo-random hex digits, which compress to about half on their own and
// to almost nothing given the message before.
var seriesBody = func() string {
	r := rand.New(rand.NewPCG(7, 13))
	b := make([]byte, 160)
	for i := range b {
		b[i] = "0123456789abcdef"[r.IntN(16)]
	}
	return string(b)
}()

// seriesLen is the number of messages in a series.
const seriesLen = 20

// seriesMessage is message i of a series: about 210 bytes, so that the one
// before is within even a 256-byte window; text and binary alternate, as
// the LZ77 history runs across both.
func seriesMessage(i int) wsutil.Message {
	s := `{"seq":` + strconv.Itoa(100+i) + `,"user":"κόσμε","body":"` + seriesBody + `"}`
	if i%2 == 1 {
		return binary([]byte(s))
	}
	return text(s)
}

// --- cases -------------------------------------------------------------------

// roundTrip has us send m and the peer echo it back (remote.echo), and
// checks what the peer received, by digest, and what came back.
func roundTrip(t *caseT, ctx context.Context, ours local, theirs *remote, m wsutil.Message) {
	t.Helper()
	require.NoError(t, ours.Send(ctx, m), "our send")
	op, size, sum, err := theirs.echo(ctx)
	require.NoError(t, err, "peer echo")
	assert.Equal(t, m.OpCode, op, "the peer received: opcode")
	assert.Equal(t, len(m.Payload), size, "the peer received: size")
	assert.Equal(t, sha256.Sum256(m.Payload), sum, "the peer received: sha256")
	got, err := ours.Recv(ctx)
	require.NoError(t, err, "our recv")
	assertMessage(t, m, got)
}

func testDeflateEcho(t *caseT, ctx context.Context, x deflateConn) {
	msgs := []struct {
		name         string
		m            wsutil.Message
		small        bool // under wsflate.DefaultThreshold
		compressible bool
	}{
		{"text-empty", text(""), true, false},
		{"text-small", text("hi κόσμε"), true, false},
		{"binary-empty", binary([]byte{}), true, false},
		{"binary-small", binary([]byte{0, 1, 2, 0x7f, 0x80, 0xfe, 0xff}), true, false},
		{"text-64KiB", text(text64KiB), false, true},
		{"binary-64KiB", binary(binary64KiB), false, true},
		{"text-1MiB", text(bigText), false, true},
		{"binary-1MiB-random", binary(bigBinary), false, false},
	}
	for _, tc := range msgs {
		t.Run(tc.name, func(t *caseT) { roundTrip(t, ctx, x.ours, x.theirs, tc.m) })
	}
	require.NoError(t, x.ours.Close(ws.StatusNormalClosure, ""))
	got, err := x.theirs.closed(ctx)
	require.NoError(t, err)
	assert.Equal(t, ws.StatusNormalClosure, got.Code, "what the peer saw")

	sent, recv := wireMessages(x.ours.Sent()), wireMessages(x.ours.Received())
	require.Len(t, sent, len(msgs), "messages we sent")
	require.Len(t, recv, len(msgs), "messages we received")
	if !x.on() {
		return // checkRsv: no RSV1 anywhere
	}
	for i, tc := range msgs {
		switch {
		case tc.compressible:
			// RSV1, and DEFLATE really at work both ways.
			n := int64(len(tc.m.Payload))
			assert.True(t, rsv1(sent[i].first), "%s: we sent it compressed", tc.name)
			assert.Less(t, sent[i].size, n/3, "%s: our compressed size", tc.name)
			assert.True(t, rsv1(recv[i].first), "%s: the peer sent it compressed", tc.name)
			assert.Less(t, recv[i].size, n/3, "%s: the peer's compressed size", tc.name)
		case tc.small:
			// wsutil.Conn and PollConn know the size: under the
			// threshold they send the message as it is. A Writer does
			// not know it.
			switch x.ours.(type) {
			case *connLocal, *pollLocal:
				assert.False(t, rsv1(sent[i].first), "%s: under the threshold, we sent it uncompressed", tc.name)
			}
		}
	}
}

func testDeflateSeries(t *caseT, ctx context.Context, x deflateConn) {
	for i := range seriesLen {
		exchange(t, ctx, x.ours, x.theirs, seriesMessage(i))
	}
	checkTakeover(t, "we sent", wireMessages(x.ours.Sent()), x.takeover(true))
	checkTakeover(t, "the peer sent", wireMessages(x.ours.Received()), x.takeover(false))
}

// checkTakeover checks one direction of a series on the wire: with context
// takeover, every message after the first is compressed against the ones
// before it and shrinks to a fraction of the first; without it, each is
// compressed on its own (or not at all) and is about the first's size.
func checkTakeover(t *caseT, what string, ms []wireMessage, takeover bool) {
	t.Helper()
	require.Len(t, ms, seriesLen, "%s: messages", what)
	sizes := make([]int64, len(ms))
	for i, m := range ms {
		sizes[i] = m.size
	}
	rest := slices.Clone(sizes[1:])
	slices.Sort(rest)
	median := rest[len(rest)/2]
	if !takeover {
		assert.GreaterOrEqual(t, median, sizes[0]/2, "%s: without context takeover, sizes %v", what, sizes)
		return
	}
	plain := 0
	for _, m := range ms {
		if !rsv1(m.first) {
			plain++
		}
	}
	assert.Zero(t, plain, "%s: messages not compressed", what)
	assert.Less(t, median, sizes[0]/3, "%s: with context takeover, later messages refer back (sizes %v)", what, sizes)
}

func testDeflateFragmentedByPeer(t *caseT, ctx context.Context, x deflateConn) {
	a, b, c := compressibleText(20<<10), compressibleText(20<<10), compressibleText(8<<10)
	for _, tc := range []struct {
		name   string
		op     ws.OpCode
		frames [][]byte
	}{
		// The peer compresses each frame's data as it goes (a sync flush
		// per frame); "ό" (CF 8C) is split between two frames.
		{"text", ws.OpText, [][]byte{[]byte(a + "κ\xcf"), []byte("\x8cσμε " + b), []byte(c)}},
		{"binary-empty-middle", ws.OpBinary, [][]byte{binary64KiB[:16<<10], {}, binary64KiB[16<<10 : 40<<10]}},
	} {
		t.Run(tc.name, func(t *caseT) {
			want := wsutil.Message{OpCode: tc.op, Payload: slices.Concat(tc.frames...)}
			require.NoError(t, x.theirs.sendFrames(ctx, tc.op, tc.frames, true))
			got, err := x.ours.Recv(ctx)
			require.NoError(t, err, "our recv")
			assertMessage(t, want, got)
			require.NoError(t, x.ours.Send(ctx, got), "our send")
			got, err = x.theirs.recv(ctx)
			require.NoError(t, err, "peer recv")
			assertMessage(t, want, got)
		})
	}
	recv := wireMessages(x.ours.Received())
	require.Len(t, recv, 2, "messages we received")
	for i, m := range recv {
		assert.Equal(t, 3, m.frames, "message %d: frames", i)
		assert.Equal(t, x.on(), rsv1(m.first), "message %d: compressed across its frames", i)
	}
}

func testDeflateFragmentedByUs(t *caseT, ctx context.Context, x deflateConn) {
	msgs := []wsutil.Message{text(text64KiB), binary(binary64KiB), text(bigText)}
	for _, m := range msgs {
		roundTrip(t, ctx, x.ours, x.theirs, m)
	}
	sent := x.ours.Sent()
	for i, h := range sent {
		assert.LessOrEqual(t, h.Length, int64(1000), "frame %d: FragmentSize", i)
	}
	ms := wireMessages(sent)
	require.Len(t, ms, len(msgs), "messages we sent")
	for i, m := range ms {
		assert.Greater(t, m.frames, 1, "message %d: fragments", i)
		assert.Equal(t, x.on(), rsv1(m.first), "message %d: compressed across its frames", i)
	}
}

func testDeflateInvalidUTF8(t *caseT, ctx context.Context, x deflateConn) {
	// Long enough for ws to compress it even without context takeover
	// (its threshold is 1 KiB): the check runs on the inflated text.
	payload := append([]byte(compressibleText(2<<10)), invalidUTF8...)
	require.NoError(t, x.theirs.sendFrames(ctx, ws.OpText, [][]byte{payload}, true))
	assertFailedUTF8(t, ctx, x.ours, x.theirs)
	recv := wireMessages(x.ours.Received())
	require.Len(t, recv, 1, "messages we received")
	assert.Equal(t, x.on(), rsv1(recv[0].first), "the invalid text came compressed")
}
