package conform

import (
	"context"
	"fmt"
	"strings"

	"github.com/gobwas/httphead"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
)

// deflateOffer is what the deflate cases offer: no context takeover either
// way, so that every message compresses and inflates on its own
// (wsflate.AppendCompress and AppendDecompress), and any client window the
// server likes.
var deflateOffer = wsflate.Params{
	ServerNoContextTakeover: true,
	ClientNoContextTakeover: true,
	ClientMaxWindowBits:     wsflate.WindowBitsNoValue,
}

// negotiateDeflate opens the connection offering deflateOffer and checks
// the server's answer against RFC 7692 §7: one permessage-deflate element
// with server_no_context_takeover (§7.1.1.1) and nothing the offer did not
// allow. A server that declines skips the case.
func (c *client) negotiateDeflate(ctx context.Context) {
	res := c.connect(ctx, [2]string{"Sec-WebSocket-Extensions", deflateOffer.String()})
	value := strings.Join(res.Header.Values("Sec-WebSocket-Extensions"), ", ")
	if value == "" {
		panic(skipped{"the server declined permessage-deflate"})
	}
	opts, ok := httphead.ParseOptions([]byte(value), nil)
	if !ok {
		c.fail("Sec-WebSocket-Extensions %q does not parse (RFC 6455 §9.1)", value)
	}
	for _, o := range opts {
		if string(o.Name) != wsflate.ExtensionName {
			c.fail("the server accepted %q, which was not offered (RFC 6455 §4.1)", o.Name)
		}
	}
	if len(opts) != 1 {
		c.fail("the server accepted permessage-deflate %d times: %q (RFC 7692 §5)", len(opts), value)
	}
	p, err := wsflate.ParseParams(opts[0])
	c.check(err, "Sec-WebSocket-Extensions %q", value)
	ext := wsflate.Extension{
		ServerNoContextTakeover: deflateOffer.ServerNoContextTakeover,
		ClientNoContextTakeover: deflateOffer.ClientNoContextTakeover,
		ClientMaxWindowBits:     deflateOffer.ClientMaxWindowBits,
	}
	c.check(ext.CheckResponse([]httphead.Option{p.Option()}), "the server's answer %q to %q breaks RFC 7692 §7", value, deflateOffer.String())
	if !p.ServerNoContextTakeover {
		c.fail("the server's answer %q lacks server_no_context_takeover, which the offer asked for (RFC 7692 §7.1.1.1)", value)
	}
	c.deflate = true
	c.window = 15
	if p.ClientMaxWindowBits > 0 {
		c.window = p.ClientMaxWindowBits
	}
}

// inflate inflates the payload of a compressed message from the server.
func (c *client) inflate(p []byte) []byte {
	if !c.deflate {
		c.fail("the server set RSV1 without permessage-deflate (RFC 7692 §6)")
	}
	out, err := wsflate.AppendDecompress(nil, p, maxRead)
	c.check(err, "the server's compressed message does not inflate on its own (RFC 7692 §7.2.2; the offer had server_no_context_takeover)")
	return out
}

// compressedStep sends msg compressed, cut into n frames (RSV1 on the
// first only, RFC 7692 §6.1), with the client's negotiated window.
type compressedStep struct {
	op   ws.OpCode
	msg  []byte
	n    int
	mode writeMode
	// rsvAll sets RSV1 on every frame, which §6.1 forbids.
	rsvAll bool
	// between is sent between the first and second frame.
	between *frame
}

func (s compressedStep) run(c *client) {
	p, err := wsflate.AppendCompress(nil, s.msg, 0, c.window)
	c.check(err, "compress")
	n := max(1, min(s.n, len(p)))
	var fs []frame
	for i := range n {
		f := frame{op: ws.OpContinuation, payload: p[i*len(p)/n : (i+1)*len(p)/n], more: i < n-1}
		if i == 0 {
			f.op, f.rsv = s.op, ws.Rsv1
		} else if s.rsvAll {
			f.rsv = ws.Rsv1
		}
		fs = append(fs, f)
		if i == 0 && s.between != nil {
			fs = append(fs, *s.between)
		}
	}
	c.send(fs, s.mode, false)
}

func (s compressedStep) String() string {
	str := fmt.Sprintf("send a compressed %d-byte %v message in %d frames by %v", len(s.msg), s.op, max(s.n, 1), s.mode)
	if s.rsvAll {
		str += ", RSV1 on every frame"
	}
	if s.between != nil {
		str += fmt.Sprintf(", %v after the first", *s.between)
	}
	return str
}

func compressed(op ws.OpCode, msg []byte) compressedStep {
	return compressedStep{op: op, msg: msg, n: 1}
}

func (s compressedStep) in(n int) compressedStep            { s.n = n; return s }
func (s compressedStep) by(mode writeMode) compressedStep   { s.mode = mode; return s }
func (s compressedStep) withRsv1Everywhere() compressedStep { s.rsvAll = true; return s }
func (s compressedStep) with(f frame) compressedStep        { s.between = &f; return s }

// deflateSection holds the RFC 7692 cases. Each offers deflateOffer
// first; a server that declines it skips them.
func deflateSection() []Case {
	hello := []byte(strings.Repeat("Hello, compressed world! ", 80))
	big := randomBytes(64 * kib)
	for i := range big {
		big[i] &= 0x0f // compressible, not trivially
	}
	var ten []step
	for i := range 10 {
		ten = append(ten, compressed(ws.OpText, fmt.Appendf(nil, "%s message %d", hello[:200], i)))
	}
	for i := range 10 {
		ten = append(ten, echoText(fmt.Sprintf("%s message %d", hello[:200], i)))
	}
	cs := []conformanceCase{
		// The handshake alone, then a clean close (§7).
		{"negotiated", nil},
		// A compressed message is echoed; the echo may come compressed
		// or not (§6).
		{"text", []step{compressed(ws.OpText, hello), echoStep{ws.OpText, hello}}},
		{"binary-64KiB/odd-chunks", []step{compressed(ws.OpBinary, big).by(oddChunks), echoBinary(big)}},
		{"empty-text", []step{compressed(ws.OpText, nil), echoText("")}},
		// RSV1 on the first frame only (§6.1).
		{"text-3-fragments", []step{compressed(ws.OpText, hello).in(3), echoStep{ws.OpText, hello}}},
		{"ping-between-fragments", []step{compressed(ws.OpText, hello).in(2).with(ping([]byte("mid"))), pong([]byte("mid")), echoStep{ws.OpText, hello}}},
		// A message may go uncompressed on a compressing connection (§6).
		{"uncompressed-text", []step{send(text("plain")), echoText("plain")}},
		// Without context takeover every echo inflates on its own
		// (§7.1.1.1), however alike the messages are.
		{"ten-similar-messages", ten},
		// RSV1 belongs on the first frame of a data message only (§6.1).
		{"rsv1-on-continuation", []step{compressed(ws.OpText, hello).in(2).withRsv1Everywhere(), fails(ws.StatusProtocolError)}},
		{"rsv1-on-ping", []step{send(ping([]byte("rsv1")).withRsv(ws.Rsv1)), fails(ws.StatusProtocolError)}},
		// Data that does not inflate fails the connection (§6.2; RFC 7692
		// names no code, 1007 or 1002 will do).
		{"corrupt-data", []step{send(textBytes([]byte{0xff, 0xff, 0xff, 0xff, 0x00}).withRsv(ws.Rsv1)),
			fails(ws.StatusInvalidFramePayloadData, ws.StatusProtocolError)}},
		// UTF-8 is checked after inflating (RFC 6455 §8.1).
		{"invalid-utf8-after-inflating", []step{compressed(ws.OpText, []byte("Hello \xed\xa0\x80 world")),
			fails(ws.StatusInvalidFramePayloadData)}},
	}
	out := cases(cs)
	for i := range out {
		out[i].deflate = true
	}
	return out
}
