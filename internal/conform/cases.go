package conform

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/sluice-ws/sluice/ws"
)

// conformanceCase is one conversation with the server over a new
// connection: what the client sends and what RFC 6455 says must come back,
// in order.
type conformanceCase struct {
	name  string
	steps []step
}

// step is one action of a case: something the client sends, or something
// it expects from the server.
type step interface {
	run(c *client)
	// String describes the step for the log of a failed case.
	String() string
}

// sendStep writes frames.
type sendStep struct {
	frames  []frame
	mode    writeMode
	mayFail bool
}

func (s sendStep) run(c *client) { c.send(s.frames, s.mode, s.mayFail) }

func (s sendStep) String() string { return fmt.Sprintf("send %v by %v", s.frames, s.mode) }

// send writes the frames in one Write.
func send(frames ...frame) sendStep { return sendStep{frames: frames} }

// by writes the frames in mode instead.
func (s sendStep) by(mode writeMode) sendStep { s.mode = mode; return s }

// ignoringErrors tolerates a failed write: the server may already have
// closed TCP.
func (s sendStep) ignoringErrors() sendStep { s.mayFail = true; return s }

// echoStep expects the server to echo a message.
type echoStep struct {
	op      ws.OpCode
	payload []byte
}

func (s echoStep) run(c *client) { c.expectEcho(s.op, s.payload) }

func (s echoStep) String() string {
	return fmt.Sprintf("expect the echo: %v, %d bytes: %s", s.op, len(s.payload), abbrev(s.payload))
}

func echoText(s string) echoStep      { return echoStep{ws.OpText, []byte(s)} }
func echoBinary(p []byte) echoStep    { return echoStep{ws.OpBinary, p} }
func echoOf(f frame) echoStep         { return echoStep{f.op, f.payload} }
func echoJoined(fs ...frame) echoStep { return echoStep{fs[0].op, joined(fs)} }

// pongStep expects a pong.
type pongStep struct{ payload []byte }

func (s pongStep) run(c *client) { c.expectPong(s.payload) }

func (s pongStep) String() string { return fmt.Sprintf("expect a pong with %d bytes", len(s.payload)) }

func pong(p []byte) pongStep { return pongStep{p} }

// closeStep expects a close frame and then the end of TCP.
type closeStep closeWant

func (s closeStep) run(c *client) { c.expectClose(closeWant(s)) }

func (s closeStep) String() string {
	str := fmt.Sprintf("expect close %v", s.codes)
	if len(s.codes) == 1 {
		str = fmt.Sprintf("expect close %d", s.codes[0])
	}
	if !s.anyReason {
		str += fmt.Sprintf(" with reason %q", s.reason)
	}
	if !s.open {
		str += ", then TCP closed"
	}
	return str
}

// fails expects the server to fail the connection with code (or one of
// the alternatives): a close frame with that code (any valid reason), then
// TCP closed within the close bound (RFC 6455 §7.1.7).
func fails(code ws.StatusCode, alternatives ...ws.StatusCode) closeStep {
	return closeStep{codes: append([]ws.StatusCode{code}, alternatives...), anyReason: true}
}

// failsFast is fails after frames whose rest never comes: only a server
// that fails the connection as soon as it sees the fault, without waiting
// for more data, answers at all.
func failsFast(code ws.StatusCode) closeStep { return fails(code) }

// echoesClose expects the server's answer to the client's close: the same
// code and reason (RFC 6455 §5.5.1), then TCP closed by the server
// (§7.1.1). code ws.StatusNoStatusRcvd expects an empty close frame.
func echoesClose(code ws.StatusCode, reason string) closeStep {
	return closeStep{codes: []ws.StatusCode{code}, reason: reason}
}

// leaveOpen stops the step from waiting for the end of TCP.
func (s closeStep) leaveOpen() closeStep { s.open = true; return s }

// eofStep expects the server to close TCP, sending nothing more.
type eofStep struct{}

func (eofStep) run(c *client) { c.expectEOF() }

func (eofStep) String() string { return "expect TCP closed" }

// --- frames ------------------------------------------------------------------

func text(s string) frame                  { return frame{op: ws.OpText, payload: []byte(s)} }
func textBytes(p []byte) frame             { return frame{op: ws.OpText, payload: p} }
func binaryFrame(p []byte) frame           { return frame{op: ws.OpBinary, payload: p} }
func cont(s string) frame                  { return frame{op: ws.OpContinuation, payload: []byte(s)} }
func contBytes(p []byte) frame             { return frame{op: ws.OpContinuation, payload: p} }
func ping(p []byte) frame                  { return frame{op: ws.OpPing, payload: p} }
func pongFrame(p []byte) frame             { return frame{op: ws.OpPong, payload: p} }
func rawClose(body []byte) frame           { return frame{op: ws.OpClose, payload: body} }
func opFrame(op ws.OpCode, s string) frame { return frame{op: op, payload: []byte(s)} }

// closeFrame is a close frame with code and reason.
func closeFrame(code ws.StatusCode, reason string) frame {
	return rawClose(closeBody(uint16(code), reason))
}

// fragment clears FIN: more fragments follow.
func (f frame) fragment() frame { f.more = true; return f }

// withRsv sets RSV bits.
func (f frame) withRsv(rsv byte) frame { f.rsv = rsv; return f }

// unmask sends the frame unmasked.
func (f frame) unmask() frame { f.unmasked = true; return f }

// declare makes the header claim n payload bytes, of which only f.payload
// is sent.
func (f frame) declare(n int64) frame { f.declared = n; return f }

// joined is the concatenated payload of frames.
func joined(fs []frame) []byte {
	var b []byte
	for _, f := range fs {
		b = append(b, f.payload...)
	}
	if b == nil {
		b = []byte{}
	}
	return b
}

// --- payloads ----------------------------------------------------------------

const (
	kib = 1 << 10
	mib = 1 << 20
)

// textUnit mixes 1-, 2-, 3- and 4-byte UTF-8 sequences.
const textUnit = "sluice κόσμε 日本語 🌍🚀 ñ "

// utf8Text returns exactly n bytes of valid UTF-8 text.
func utf8Text(n int) []byte {
	b := bytes.Repeat([]byte(textUnit), n/len(textUnit)+1)[:n]
	cut := n
	for cut > 0 && !utf8.Valid(b[:cut]) {
		cut-- // drop a sequence cut by the end, at most 3 bytes
	}
	for i := cut; i < n; i++ {
		b[i] = 'x'
	}
	return b
}

// randomBytes returns n fixed pseudo-random bytes.
func randomBytes(n int) []byte {
	r := rand.NewChaCha8([32]byte{'c', 'o', 'n', 'f', 'o', 'r', 'm'})
	p := make([]byte, n)
	_, _ = r.Read(p)
	return p
}

// The 16 MiB payloads, built on first use.
var (
	bigText   = sync.OnceValue(func() []byte { return utf8Text(16 * mib) })
	bigBinary = sync.OnceValue(func() []byte { return randomBytes(16 * mib) })
)

// echoCase sends frames and expects the message they form to be echoed.
func echoCase(name string, mode writeMode, fs ...frame) conformanceCase {
	return conformanceCase{name, []step{send(fs...).by(mode), echoJoined(fs...)}}
}

// --- framing -----------------------------------------------------------------

// lengths covers every payload length encoding of RFC 6455 §5.2: 7-bit
// (0, 1, 125), 16-bit (126, 127, 65535) and 64-bit (65536).
var lengths = []int{0, 1, 125, 126, 127, 65535, 65536}

func framingCases() []conformanceCase {
	var cs []conformanceCase
	for _, n := range lengths {
		split := byteWrites
		if n > 127 {
			split = oddChunks
		}
		for _, f := range []frame{textBytes(utf8Text(n)), binaryFrame(randomBytes(n))} {
			for _, mode := range []writeMode{oneWrite, split} {
				cs = append(cs, echoCase(fmt.Sprintf("%v-%d/%v", f.op, n, mode), mode, f))
			}
		}
	}
	cs = append(cs,
		conformanceCase{"binary-16MiB/one-write", []step{send(binaryFrame(bigBinary())), echoBinary(bigBinary())}},
		conformanceCase{"text-16MiB/odd-chunks", []step{send(textBytes(bigText())).by(oddChunks), echoStep{ws.OpText, bigText()}}},
		conformanceCase{"zero-masking-key", []step{send(frame{op: ws.OpText, payload: []byte("zero key"), zeroMask: true}), echoText("zero key")}},
		pipelined(),
	)
	return cs
}

// pipelined sends ten messages in one write: ten echoes in order.
func pipelined() conformanceCase {
	var fs []frame
	var want []step
	for i := range 10 {
		f := text("message " + strconv.Itoa(i))
		if i%2 == 1 {
			f = binaryFrame(randomBytes(i * 100))
		}
		fs = append(fs, f)
		want = append(want, echoOf(f))
	}
	return conformanceCase{"ten-messages/one-write", append([]step{send(fs...)}, want...)}
}

// --- ping and pong -----------------------------------------------------------

func pingCases() []conformanceCase {
	p125 := randomBytes(125)
	return []conformanceCase{
		// A ping gets a pong with the same payload (RFC 6455 §5.5.2, §5.5.3).
		{"ping-0", []step{send(ping(nil)), pong([]byte{})}},
		{"ping-125", []step{send(ping(p125)), pong(p125)}},
		{"ping-125/byte-writes", []step{send(ping(p125)).by(byteWrites), pong(p125)}},
		{"ping-then-message", []step{send(ping([]byte("ping")), text("after")), pong([]byte("ping")), echoText("after")}},
		// Control frames carry at most 125 bytes (§5.5).
		{"ping-126", []step{send(ping(randomBytes(126))), fails(ws.StatusProtocolError)}},
		// Control frames must not be fragmented (§5.5).
		{"ping-fragmented", []step{send(ping([]byte("frag")).fragment()), fails(ws.StatusProtocolError)}},
		// An unsolicited pong needs no answer (§5.5.3).
		{"unsolicited-pong-0", []step{send(pongFrame(nil)), send(text("next")), echoText("next")}},
		{"unsolicited-pong-125", []step{send(pongFrame(p125), text("next")), echoText("next")}},
	}
}

// --- reserved bits -----------------------------------------------------------

func rsvCases() []conformanceCase {
	// No extension is negotiated, so every RSV bit must be 0 (RFC 6455 §5.2).
	var cs []conformanceCase
	for _, b := range []struct {
		name string
		rsv  byte
	}{{"rsv1", ws.Rsv1}, {"rsv2", ws.Rsv2}, {"rsv3", ws.Rsv3}} {
		cs = append(cs,
			conformanceCase{"text-" + b.name, []step{send(text("rsv").withRsv(b.rsv)), fails(ws.StatusProtocolError)}},
			conformanceCase{"ping-" + b.name, []step{send(ping([]byte("rsv")).withRsv(b.rsv)), fails(ws.StatusProtocolError)}},
		)
	}
	return append(cs,
		conformanceCase{"binary-rsv123", []step{send(binaryFrame([]byte{1, 2}).withRsv(ws.Rsv1 | ws.Rsv2 | ws.Rsv3)), fails(ws.StatusProtocolError)}},
		conformanceCase{"close-rsv1", []step{send(closeFrame(ws.StatusNormalClosure, "").withRsv(ws.Rsv1)), fails(ws.StatusProtocolError)}},
		conformanceCase{"continuation-rsv1", []step{send(text("frag").fragment(), cont("ment").withRsv(ws.Rsv1)), fails(ws.StatusProtocolError)}},
		conformanceCase{"text-rsv2-after-valid-message", []step{
			send(text("valid"), text("rsv").withRsv(ws.Rsv2)), echoText("valid"), fails(ws.StatusProtocolError)}},
	)
}

// --- reserved opcodes --------------------------------------------------------

func opcodeCases() []conformanceCase {
	// Opcodes 3-7 and 0xB-0xF are reserved: receiving one fails the
	// connection (RFC 6455 §5.2).
	var cs []conformanceCase
	for op := ws.OpCode(3); op <= 0xF; op++ {
		if !op.IsReserved() {
			continue
		}
		name := "opcode-0x" + strconv.FormatUint(uint64(op), 16)
		cs = append(cs,
			conformanceCase{name, []step{send(opFrame(op, "reserved")), fails(ws.StatusProtocolError)}},
			conformanceCase{name + "-after-valid-message", []step{
				send(text("valid"), opFrame(op, "")), echoText("valid"), fails(ws.StatusProtocolError)}},
		)
	}
	return cs
}

// --- masking -----------------------------------------------------------------

func maskingCases() []conformanceCase {
	// A server must fail the connection on an unmasked frame (RFC 6455 §5.1).
	return []conformanceCase{
		{"unmasked-text", []step{send(text("bare").unmask()), fails(ws.StatusProtocolError)}},
		{"unmasked-binary", []step{send(binaryFrame([]byte{1, 2, 3}).unmask()), fails(ws.StatusProtocolError)}},
		{"unmasked-empty-text", []step{send(text("").unmask()), fails(ws.StatusProtocolError)}},
		{"unmasked-ping", []step{send(ping([]byte("bare")).unmask()), fails(ws.StatusProtocolError)}},
		{"unmasked-close", []step{send(closeFrame(ws.StatusNormalClosure, "").unmask()), fails(ws.StatusProtocolError)}},
		{"unmasked-continuation", []step{send(text("frag").fragment(), cont("ment").unmask()), fails(ws.StatusProtocolError)}},
		{"unmasked-after-valid-message", []step{send(text("valid"), text("bare").unmask()), echoText("valid"), fails(ws.StatusProtocolError)}},
	}
}

// --- fragmentation -----------------------------------------------------------

func fragmentationCases() []conformanceCase {
	hello := []frame{text("Hel").fragment(), cont("lo, ").fragment(), cont("world")}
	return []conformanceCase{
		// Fragments form one message (RFC 6455 §5.4).
		echoCase("text-3-fragments", oneWrite, hello...),
		echoCase("text-3-fragments/byte-writes", byteWrites, hello...),
		echoCase("binary-3-fragments", oneWrite, binaryFrame([]byte{1, 2}).fragment(), contBytes([]byte{3}).fragment(), contBytes([]byte{4, 5, 6})),
		echoCase("empty-fragments", oneWrite,
			text("").fragment(), cont("Hello").fragment(), cont("").fragment(), cont(", world").fragment(), cont("")),
		echoCase("all-fragments-empty", oneWrite, text("").fragment(), cont("").fragment(), cont("")),
		echoCase("100-one-byte-fragments", oneWrite, oneByteFragments(ws.OpBinary, randomBytes(100))...),
		echoCase("65536-in-4-fragments/odd-chunks", oddChunks,
			binaryFrame(randomBytes(16*kib)).fragment(), contBytes(randomBytes(16*kib)).fragment(),
			contBytes(randomBytes(16*kib)).fragment(), contBytes(randomBytes(16*kib))),
		// Control frames may come between fragments (§5.4).
		{"ping-between-fragments", []step{
			send(text("Hello").fragment(), ping([]byte("mid")), cont(", world")),
			pong([]byte("mid")), echoText("Hello, world")}},
		// The pong must come while the message is still unfinished.
		{"ping-between-fragments/pong-before-last-fragment", []step{
			send(text("Hello").fragment()), send(ping([]byte("mid"))), pong([]byte("mid")),
			send(cont(", world")), echoText("Hello, world")}},
		{"pong-between-fragments", []step{
			send(text("Hello").fragment(), pongFrame([]byte("stray")), cont(", world")), echoText("Hello, world")}},
		// A close between fragments is answered; the message is dropped.
		{"close-between-fragments", []step{
			send(text("Hello").fragment(), closeFrame(ws.StatusNormalClosure, "mid")), echoesClose(ws.StatusNormalClosure, "mid")}},
		// A continuation needs a message in progress (§5.4).
		{"continuation-without-message", []step{send(cont("orphan")), fails(ws.StatusProtocolError)}},
		{"continuation-without-message-fin0", []step{send(cont("orphan").fragment()), fails(ws.StatusProtocolError)}},
		{"continuation-after-finished-message", []step{send(text("done"), cont("orphan")), echoText("done"), fails(ws.StatusProtocolError)}},
		// A new data frame inside an unfinished message (§5.4).
		{"text-inside-fragmented-text", []step{send(text("Hello").fragment(), text("again")), fails(ws.StatusProtocolError)}},
		{"binary-inside-fragmented-text", []step{send(text("Hello").fragment(), binaryFrame([]byte{1})), fails(ws.StatusProtocolError)}},
		{"text-fin0-inside-fragmented-binary", []step{send(binaryFrame([]byte{1}).fragment(), text("x").fragment()), fails(ws.StatusProtocolError)}},
	}
}

// oneByteFragments cuts p into one frame per byte.
func oneByteFragments(op ws.OpCode, p []byte) []frame {
	fs := make([]frame, len(p))
	for i := range p {
		fs[i] = frame{op: ws.OpContinuation, payload: p[i : i+1], more: i < len(p)-1}
	}
	fs[0].op = op
	return fs
}

// --- UTF-8 -------------------------------------------------------------------

// validUTF8 holds text with each kind of sequence, and the code points at
// the edges of each length and of the surrogate range (RFC 3629).
var validUTF8 = []struct{ name, s string }{
	{"2-byte", "κόσμε"},
	{"3-byte", "€日本語"},
	{"4-byte", "😀🌍"},
	{"U+10FFFF", "a\U0010FFFFz"},
	{"U+FFFE", "a\uFFFEz\uFFFF"},
	{"mixed", "Hello-µ@ßöäüàá-UTF-8!!"},
	{"edges", "\u007f\u0080\u07ff\u0800\ud7ff\ue000\ufffd\U00010000\U0010ffff"},
}

// invalidUTF8 holds sequences UTF-8 forbids (RFC 3629 §3, §4).
var invalidUTF8 = []struct{ name, s string }{
	{"overlong-C0-AF", "\xc0\xaf"},
	{"overlong-C1-BF", "\xc1\xbf"},
	{"overlong-3-byte", "\xe0\x80\xaf"},
	{"overlong-4-byte", "\xf0\x80\x80\xaf"},
	{"surrogate-D800", "\xed\xa0\x80"},
	{"surrogate-DFFF", "\xed\xbf\xbf"},
	{"above-U+10FFFF", "\xf4\x90\x80\x80"},
	{"byte-F5", "\xf5\x80\x80\x80"},
	{"byte-FE", "\xfe"},
	{"byte-FF", "\xff"},
	{"lone-continuation", "\x80"},
	{"truncated-then-ascii", "\xe2\x82"},
}

func utf8Cases() []conformanceCase {
	var cs []conformanceCase
	for _, v := range validUTF8 {
		// Text is checked over the message, not per frame (RFC 6455
		// §5.6, §8.1): split it in two at every byte.
		var steps []step
		for i := 0; i <= len(v.s); i++ {
			steps = append(steps, send(text(v.s[:i]).fragment(), cont(v.s[i:])), echoText(v.s))
		}
		cs = append(cs,
			conformanceCase{"valid-" + v.name + "/one-frame", []step{send(text(v.s)), echoText(v.s)}},
			conformanceCase{"valid-" + v.name + "/two-fragments-split-at-every-byte", steps},
		)
	}
	cs = append(cs, echoCase("valid-edges/one-byte-fragments", oneWrite, oneByteFragments(ws.OpText, []byte(validUTF8[6].s))...))

	// Invalid text fails the connection with 1007 (RFC 6455 §8.1).
	for _, v := range invalidUTF8 {
		cs = append(cs, conformanceCase{"invalid-" + v.name, []step{send(text("Hello" + v.s + "world")), fails(ws.StatusInvalidFramePayloadData)}})
	}
	cs = append(cs,
		conformanceCase{"invalid-truncated-2-byte-at-end", []step{send(text("Hello\xce")), fails(ws.StatusInvalidFramePayloadData)}},
		conformanceCase{"invalid-truncated-4-byte-at-end", []step{send(text("Hello\xf0\x9f\x98")), fails(ws.StatusInvalidFramePayloadData)}},
		conformanceCase{"invalid-in-second-fragment", []step{
			send(text("Hello").fragment(), cont("\xed\xa0\x80world")), fails(ws.StatusInvalidFramePayloadData)}},
		conformanceCase{"invalid-surrogate-split-across-fragments", []step{
			send(text("Hello\xed").fragment(), cont("\xa0\x80world")), fails(ws.StatusInvalidFramePayloadData)}},
		conformanceCase{"invalid-truncated-at-end-of-fragmented-message", []step{
			send(text("Hello").fragment(), cont("κ\xce")), fails(ws.StatusInvalidFramePayloadData)}},
		conformanceCase{"valid-message-then-invalid", []step{
			send(text("κόσμε"), text("\xff")), echoText("κόσμε"), fails(ws.StatusInvalidFramePayloadData)}},
	)

	// Fail fast: the invalid bytes arrive, the rest never does. The server
	// must answer 1007 without waiting for it (RFC 6455 §8.1: "MUST _Fail
	// the WebSocket Connection_" as soon as it finds invalid UTF-8).
	for _, v := range invalidUTF8[:10] {
		cs = append(cs, conformanceCase{"fail-fast-" + v.name + "/frame-cut-short", []step{
			send(text("Hello" + v.s).declare(100)), failsFast(ws.StatusInvalidFramePayloadData)}})
	}
	cs = append(cs,
		conformanceCase{"fail-fast/first-fragment-of-unfinished-message", []step{
			send(text("Hello\xed\xa0\x80world").fragment()), failsFast(ws.StatusInvalidFramePayloadData)}},
		conformanceCase{"fail-fast/first-fragment-cut-short", []step{
			send(text("Hello\xf4\x90\x80\x80").fragment().declare(100)), failsFast(ws.StatusInvalidFramePayloadData)}},
		conformanceCase{"fail-fast/second-fragment-of-unfinished-message", []step{
			send(text("Hello").fragment(), cont("wor\xfeld").fragment()), failsFast(ws.StatusInvalidFramePayloadData)}},
		conformanceCase{"fail-fast/second-fragment-cut-short", []step{
			send(text("Hello").fragment(), cont("wor\xc0\xafld").declare(1000)), failsFast(ws.StatusInvalidFramePayloadData)}},
		conformanceCase{"fail-fast/invalid-in-large-frame-cut-short", []step{
			send(text(strings.Repeat("x", 4000) + "\xed\xbf\xbf").declare(64 * kib)), failsFast(ws.StatusInvalidFramePayloadData)}},
	)
	return cs
}

// --- closing handshake -------------------------------------------------------

// validCloseCodes may be sent (RFC 6455 §7.4.1, §7.4.2 and the IANA
// registry: 1012-1014 were registered later).
var validCloseCodes = []ws.StatusCode{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999}

// invalidCloseCodes must not appear in a close frame: below 1000, reserved
// (1004, 1016-2999), only for reporting (1005, 1006, 1015) or above 4999
// (RFC 6455 §7.4).
var invalidCloseCodes = []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}

func closeCases() []conformanceCase {
	var cs []conformanceCase
	// The answer to a close carries the same code, and /echo the same
	// reason (§5.5.1: the endpoint "typically echos the status code it
	// received"); then the server closes TCP first (§7.1.1).
	for _, code := range validCloseCodes {
		reason := "reason κόσμε " + strconv.Itoa(int(code))
		cs = append(cs, conformanceCase{"code-" + strconv.Itoa(int(code)), []step{
			send(closeFrame(code, reason)), echoesClose(code, reason)}})
	}
	for _, code := range invalidCloseCodes {
		cs = append(cs, conformanceCase{"invalid-code-" + strconv.Itoa(int(code)), []step{
			send(rawClose(closeBody(code, "bad"))), fails(ws.StatusProtocolError)}})
	}
	maxReason := strings.Repeat("r", ws.MaxCloseReason)
	cs = append(cs,
		conformanceCase{"empty-body", []step{send(rawClose(nil)), echoesClose(ws.StatusNoStatusRcvd, "")}},
		conformanceCase{"code-without-reason", []step{send(closeFrame(ws.StatusNormalClosure, "")), echoesClose(ws.StatusNormalClosure, "")}},
		conformanceCase{"reason-123-bytes", []step{send(closeFrame(ws.StatusNormalClosure, maxReason)), echoesClose(ws.StatusNormalClosure, maxReason)}},
		conformanceCase{"close/byte-writes", []step{send(closeFrame(4000, "slow")).by(byteWrites), echoesClose(4000, "slow")}},
		// The reason must be UTF-8 (§5.5.1), or 1007 (§8.1).
		conformanceCase{"reason-invalid-utf8", []step{send(rawClose(closeBody(1000, "bad\xed\xa0\x80"))), fails(ws.StatusInvalidFramePayloadData)}},
		conformanceCase{"reason-truncated-utf8", []step{send(rawClose(closeBody(1000, "κ\xce"))), fails(ws.StatusInvalidFramePayloadData)}},
		// A body starts with a 2-byte code (§5.5.1).
		conformanceCase{"payload-1-byte", []step{send(rawClose([]byte{0x03})), fails(ws.StatusProtocolError)}},
		// Control frames carry at most 125 bytes (§5.5).
		conformanceCase{"payload-126-bytes", []step{send(rawClose(closeBody(1000, strings.Repeat("r", 124)))), fails(ws.StatusProtocolError)}},
		// After the close, the server sends nothing but its answer and
		// ignores what comes (§1.4, §5.5.1).
		conformanceCase{"data-after-close-echo-ignored", []step{
			send(closeFrame(ws.StatusNormalClosure, "bye")), echoesClose(ws.StatusNormalClosure, "bye").leaveOpen(),
			send(text("too late"), ping([]byte("too late"))).ignoringErrors(), eofStep{}}},
		conformanceCase{"data-after-close-in-same-write-ignored", []step{
			send(closeFrame(ws.StatusNormalClosure, "bye"), text("too late"), ping([]byte("too late"))).ignoringErrors(),
			echoesClose(ws.StatusNormalClosure, "bye")}},
		conformanceCase{"second-close-ignored", []step{
			send(closeFrame(ws.StatusNormalClosure, "first"), closeFrame(ws.StatusGoingAway, "second")).ignoringErrors(),
			echoesClose(ws.StatusNormalClosure, "first")}},
		// Autobahn 7.1.1: a message, then at once a close. The echo
		// comes first, then the answer to the close.
		conformanceCase{"message-then-close-in-one-write", []step{
			send(text("Hello"), closeFrame(ws.StatusNormalClosure, "")), echoText("Hello"), echoesClose(ws.StatusNormalClosure, "")}},
		conformanceCase{"messages-then-close-in-one-write", []step{
			send(text("one"), binaryFrame([]byte{2}), text("three"), closeFrame(3000, "end")),
			echoText("one"), echoBinary([]byte{2}), echoText("three"), echoesClose(3000, "end")}},
	)
	return cs
}

// --- limits ------------------------------------------------------------------

// limitedMaxMessage is the -max-message of the limited server.
const limitedMaxMessage = 1 * kib

func limitCases() []conformanceCase {
	full := utf8Text(limitedMaxMessage)
	p125 := randomBytes(125)
	return []conformanceCase{
		echoCase("1KiB", oneWrite, textBytes(full)),
		echoCase("1KiB-in-4-fragments", oneWrite,
			textBytes(full[:256]).fragment(), contBytes(full[256:512]).fragment(), contBytes(full[512:768]).fragment(), contBytes(full[768:])),
		// A message over the limit is refused with 1009 (RFC 6455 §7.4.1).
		{"1KiB+1", []step{send(binaryFrame(randomBytes(limitedMaxMessage + 1))), fails(ws.StatusMessageTooBig)}},
		{"2KiB", []step{send(textBytes(utf8Text(2 * kib))), fails(ws.StatusMessageTooBig)}},
		{"2KiB/odd-chunks", []step{send(binaryFrame(randomBytes(2 * kib))).by(oddChunks), fails(ws.StatusMessageTooBig)}},
		// Before the last fragment comes: the third of four 512-byte
		// fragments passes the limit; the fourth is never sent.
		{"2KiB-fragmented/refused-before-the-last-fragment", []step{
			send(binaryFrame(randomBytes(512)).fragment(), contBytes(randomBytes(512)).fragment(), contBytes(randomBytes(512)).fragment()),
			failsFast(ws.StatusMessageTooBig)}},
		// The header alone shows the message cannot fit (wsutil.Reader
		// documents this; RFC 6455 leaves the moment to the server).
		{"2KiB/refused-from-the-header", []step{send(binaryFrame(nil).declare(2 * kib)), failsFast(ws.StatusMessageTooBig)}},
		// Control frames do not count toward the message limit.
		{"ping-between-fragments-of-1KiB", []step{
			send(textBytes(full[:512]).fragment(), ping(p125), contBytes(full[512:])),
			pong(p125), echoStep{ws.OpText, full}}},
	}
}

// --- opening handshake -------------------------------------------------------

// handshakeCase is a malformed (or valid) opening handshake and the HTTP
// answer RFC 6455 §4.2.1 and §4.4 call for.
type handshakeCase struct {
	name   string
	method string
	// edit changes the fields of a valid request; nil keeps them.
	edit   func(fields [][2]string) [][2]string
	status int
	header [2]string // a field the response must have, if set
}

func handshakeCases() []handshakeCase {
	return []handshakeCase{
		{name: "valid", method: http.MethodGet, status: http.StatusSwitchingProtocols},
		// The method must be GET (§4.1).
		{name: "post", method: http.MethodPost, status: http.StatusMethodNotAllowed},
		// Sec-WebSocket-Key is required and is 16 bytes in base64 (§4.1).
		{name: "missing-key", method: http.MethodGet, edit: without("Sec-WebSocket-Key"), status: http.StatusBadRequest},
		{name: "short-key", method: http.MethodGet, edit: with("Sec-WebSocket-Key", "c2hvcnQ="), status: http.StatusBadRequest},
		// An unsupported version gets 426 and the versions the server
		// speaks (§4.2.2, §4.4).
		{name: "version-8", method: http.MethodGet, edit: with("Sec-WebSocket-Version", "8"),
			status: http.StatusUpgradeRequired, header: [2]string{"Sec-WebSocket-Version", "13"}},
	}
}

// without drops the field name.
func without(name string) func([][2]string) [][2]string {
	return func(fields [][2]string) [][2]string {
		var out [][2]string
		for _, f := range fields {
			if !strings.EqualFold(f[0], name) {
				out = append(out, f)
			}
		}
		return out
	}
}

// with sets the field name to value.
func with(name, value string) func([][2]string) [][2]string {
	return func(fields [][2]string) [][2]string {
		out := without(name)(fields)
		return append(out, [2]string{name, value})
	}
}
