package conform

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sluice-ws/sluice/ws"
)

const (
	// maxRead bounds the payload of one frame the client accepts.
	maxRead = 64 << 20
	// asyncWrite is the size from which a send runs in the background, so
	// that a server that streams its echo while still reading cannot
	// deadlock against a client that is still writing.
	asyncWrite = 1 << 20
)

// frame is one frame the client sends. Every field but op has the legal
// choice as its zero value, so a case spells out only what it breaks.
type frame struct {
	op       ws.OpCode
	more     bool // FIN clear: more fragments follow
	rsv      byte // RSV bits (ws.Rsv1|ws.Rsv2|ws.Rsv3)
	payload  []byte
	unmasked bool // send the frame unmasked, which a client must not (RFC 6455 §5.1)
	zeroMask bool // mask with the key 00 00 00 00, which is legal
	// declared, when larger than len(payload), is the length the header
	// claims: the frame is cut short after payload and nothing follows.
	declared int64
}

// cut reports whether f is sent without the end of its payload.
func (f frame) cut() bool { return f.declared > int64(len(f.payload)) }

// appendTo appends f's wire bytes to dst, built with ws.AppendHeader and
// masked with ws.Cipher under a fresh key from ws.NewMask.
func (f frame) appendTo(dst []byte) []byte {
	h := ws.Header{Fin: !f.more, Rsv: f.rsv, OpCode: f.op, Masked: !f.unmasked, Length: int64(len(f.payload))}
	if f.cut() {
		h.Length = f.declared
	}
	if h.Masked && !f.zeroMask {
		h.Mask = ws.NewMask()
	}
	dst = ws.AppendHeader(dst, h)
	n := len(dst)
	dst = append(dst, f.payload...)
	if h.Masked {
		ws.Cipher(dst[n:], h.Mask, 0)
	}
	return dst
}

func (f frame) String() string {
	var b strings.Builder
	b.WriteString(f.op.String())
	if f.more {
		b.WriteString(" FIN=0")
	}
	if f.rsv != 0 {
		fmt.Fprintf(&b, " RSV=%03b", f.rsv)
	}
	if f.unmasked {
		b.WriteString(" unmasked")
	}
	if f.cut() {
		fmt.Fprintf(&b, " %d of %d bytes", len(f.payload), f.declared)
	} else {
		fmt.Fprintf(&b, " %d bytes", len(f.payload))
	}
	return b.String()
}

// writeMode is how the bytes of one send step are cut into Write calls.
type writeMode int

const (
	oneWrite   writeMode = iota // a single Write
	byteWrites                  // one byte per Write
	oddChunks                   // the first 16 bytes (any header) one by one, then odd-sized chunks
)

// oddSizes are the chunk sizes oddChunks cycles through after the first 16
// bytes: they straddle every header and buffer boundary sooner or later.
var oddSizes = []int{3, 7, 13, 509, 1021, 4093, 65521}

func (m writeMode) String() string {
	return [...]string{"one-write", "byte-writes", "odd-chunks"}[m]
}

// chunk returns the size of the next Write, the i-th, with left bytes to go.
func (m writeMode) chunk(i, off, left int) int {
	n := left
	switch {
	case m == byteWrites, m == oddChunks && off < 16:
		n = 1
	case m == oddChunks:
		n = oddSizes[i%len(oddSizes)]
	}
	return min(n, left)
}

// failure is the panic value that ends a case: client methods call fail,
// and Case.Run recovers it into the case's error.
type failure struct{ err error }

// skipped is the panic value that ends a case the server cannot take part
// in (it declined permessage-deflate).
type skipped struct{ reason string }

// client is the raw-socket client of one case: it writes whatever bytes
// the case asks for, legal or not, and reads the server's frames with
// ws.ReadFrame, checking each against RFC 6455.
type client struct {
	tgt    Target
	bounds Bounds
	nc     net.Conn
	br     *bufio.Reader
	local  string // our address: a server log names the connection by it
	// done is set once the connection is closing (a close frame was
	// seen, or a frame was left unfinished): no final close handshake.
	done bool
	// bg carries the outcome of a send running in the background; nil
	// when none is.
	bg chan error
	// deflate is set once permessage-deflate is in use (RFC 7692): the
	// server may then set RSV1 on the first frame of a data message, and
	// its echoes are inflated before they are compared.
	deflate bool
	// window is the client's negotiated LZ77 window bits, with deflate.
	window int
	// closeNext is the close the case expects after the echo being read,
	// if any: a close frame the client may get instead of that echo.
	closeNext *closeWant
	// early is that close frame, when it came instead of an echo; the
	// close step reads it from here.
	early *ws.Frame
	// back is a frame next returns again (pushBack), already checked.
	back *ws.Frame
	// logf records what a passing case may still want to show (server
	// pings it ignored).
	logf func(format string, args ...any)
}

// fail ends the case with an error.
func (c *client) fail(format string, args ...any) {
	panic(failure{fmt.Errorf(format, args...)})
}

// check ends the case when err is not nil.
func (c *client) check(err error, format string, args ...any) {
	if err != nil {
		c.fail("%s: %w", fmt.Sprintf(format, args...), err)
	}
}

// dialTCP opens a connection to c's target (TLS for wss), bounded by ctx
// and the bound of an exchange.
func (c *client) dialTCP(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, c.bounds.IO)
	defer cancel()
	var err error
	if c.tgt.TLS {
		d := tls.Dialer{Config: &tls.Config{ServerName: c.tgt.hostname(), InsecureSkipVerify: c.tgt.Insecure}} //nolint:gosec // asked for
		c.nc, err = d.DialContext(ctx, "tcp", c.tgt.Host)
	} else {
		c.nc, err = new(net.Dialer).DialContext(ctx, "tcp", c.tgt.Host)
	}
	c.check(err, "connect to %s", c.tgt.Host)
	c.br = bufio.NewReaderSize(c.nc, 64<<10)
	c.local = c.nc.LocalAddr().String()
}

// connect opens a WebSocket connection with a valid handshake, plus the
// extra fields, and returns the response.
func (c *client) connect(ctx context.Context, extra ...[2]string) *http.Response {
	c.dialTCP(ctx)
	key := ws.GenerateKey()
	res := c.handshake(http.MethodGet, append(validRequest(c.tgt, key), extra...))
	if res.StatusCode != http.StatusSwitchingProtocols {
		c.fail("handshake answered %s, want 101 Switching Protocols", res.Status)
	}
	c.checkUpgrade(res, key)
	return res
}

// checkUpgrade checks a 101 response to a request with key (RFC 6455
// §4.2.2, §4.1): Upgrade, Connection and the right Sec-WebSocket-Accept.
func (c *client) checkUpgrade(res *http.Response, key string) {
	if !hasToken(res.Header, "Upgrade", "websocket") {
		c.fail("101 response: Upgrade is %q, want websocket (RFC 6455 §4.2.2)", res.Header.Values("Upgrade"))
	}
	if !hasToken(res.Header, "Connection", "upgrade") {
		c.fail("101 response: Connection is %q, want upgrade (RFC 6455 §4.2.2)", res.Header.Values("Connection"))
	}
	if !ws.CheckAccept([]byte(key), []byte(res.Header.Get("Sec-WebSocket-Accept"))) {
		c.fail("101 response: Sec-WebSocket-Accept %q does not answer key %q (RFC 6455 §4.2.2)", res.Header.Get("Sec-WebSocket-Accept"), key)
	}
}

// validRequest returns the fields of a valid opening handshake for tgt
// (RFC 6455 §4.1), in order.
func validRequest(tgt Target, key string) [][2]string {
	return [][2]string{
		{"Host", tgt.Host},
		{"Upgrade", "websocket"},
		{"Connection", "Upgrade"},
		{"Sec-WebSocket-Key", key},
		{"Sec-WebSocket-Version", "13"},
	}
}

// handshake writes a request with method and fields to the target's
// endpoint and reads the response head. The bytes after it stay in c.br.
func (c *client) handshake(method string, fields [][2]string) *http.Response {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, c.tgt.Path)
	for _, f := range fields {
		fmt.Fprintf(&b, "%s: %s\r\n", f[0], f[1])
	}
	b.WriteString("\r\n")
	c.check(c.nc.SetDeadline(time.Now().Add(c.bounds.IO)), "set deadline")
	_, err := io.WriteString(c.nc, b.String())
	c.check(err, "write the handshake request")
	res, err := http.ReadResponse(c.br, nil)
	if isTimeout(err) {
		c.fail("no handshake response within %v", c.bounds.IO)
	}
	c.check(err, "read the handshake response")
	if res.StatusCode != http.StatusSwitchingProtocols {
		// Read a little of the body for the log, never the rest.
		body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		c.logf("handshake answered %s: %q", res.Status, body)
		c.done = true
	}
	c.check(c.nc.SetDeadline(time.Time{}), "clear deadline")
	return res
}

// hasToken reports whether the comma-separated field name holds token,
// without regard to case.
func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for s := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(s), token) {
				return true
			}
		}
	}
	return false
}

// close ends the case: it closes the socket and waits for a background
// send.
func (c *client) close() {
	if c.nc != nil {
		_ = c.nc.Close()
	}
	if c.bg != nil {
		<-c.bg
		c.bg = nil
	}
}

// send writes the frames in mode. Large sends run in the background until
// the next send or the end of the case. A write error fails the case
// unless mayFail is set (the server may already have closed TCP).
func (c *client) send(frames []frame, mode writeMode, mayFail bool) {
	c.wait(mayFail)
	size := 0
	for _, f := range frames {
		size += ws.MaxHeaderSize + len(f.payload)
	}
	wire := make([]byte, 0, size)
	for _, f := range frames {
		wire = f.appendTo(wire)
		if f.cut() {
			c.done = true // nothing can follow a cut frame
		}
	}
	if len(wire) < asyncWrite {
		err := c.write(wire, mode)
		if !mayFail {
			c.check(err, "send %v", frames)
		}
		return
	}
	c.bg = make(chan error, 1)
	go func() { c.bg <- c.write(wire, mode) }()
}

// wait waits for the background send, if any, and checks its outcome.
func (c *client) wait(mayFail bool) {
	if c.bg == nil {
		return
	}
	err := <-c.bg
	c.bg = nil
	if !mayFail {
		c.check(err, "background send")
	}
}

// write writes p in mode, bounded by a deadline for the whole of it.
func (c *client) write(p []byte, mode writeMode) error {
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.bounds.io(len(p)))); err != nil {
		return err
	}
	for i, off := 0, 0; off < len(p); i++ {
		n := mode.chunk(i, off, len(p)-off)
		if _, err := c.nc.Write(p[off : off+n]); err != nil {
			return fmt.Errorf("write at byte %d of %d: %w", off, len(p), err)
		}
		off += n
	}
	return nil
}

// next returns the next frame from the server before deadline, skipping
// pings (a server may ping at any time, RFC 6455 §5.5.2). Every frame must
// be one a server may send: unmasked, no RSV bit but RSV1 on the first
// frame of a compressed message, no reserved opcode, and the control frame
// rules (RFC 6455 §5.1, §5.2, §5.5; RFC 7692 §6.1).
func (c *client) next(deadline time.Time, what string) ws.Frame {
	if f := c.back; f != nil {
		c.back = nil
		return *f
	}
	bound := time.Until(deadline).Round(time.Millisecond)
	c.check(c.nc.SetReadDeadline(deadline), "set deadline")
	for {
		f, err := ws.ReadFrame(c.br, maxRead)
		if isTimeout(err) {
			c.fail("no frame from the server within %v, waiting for %s", bound, what)
		}
		c.check(err, "reading a frame, waiting for %s", what)
		var rsv byte
		if op := f.Header.OpCode; c.deflate && op.IsData() && op != ws.OpContinuation {
			rsv = ws.Rsv1 // the first frame of a compressed message
		}
		c.check(ws.CheckHeader(f.Header, ws.ClientSide, rsv), "a frame from the server breaks RFC 6455 (%+v)", f.Header)
		if f.Header.OpCode == ws.OpPing {
			c.logf("server ping %q ignored", f.Payload)
			continue
		}
		return f
	}
}

// pushBack makes next return f again.
func (c *client) pushBack(f ws.Frame) { c.back = &f }

// unexpected fails the case with a description of f, which came instead of
// what.
func (c *client) unexpected(f ws.Frame, what string) {
	if f.Header.OpCode == ws.OpClose {
		c.done = true
		code, reason, err := ws.ParseCloseBody(f.Payload)
		c.fail("the server sent close %d %q (body error: %v) instead of %s", code, reason, err, what)
	}
	c.fail("the server sent %v (FIN=%v, %d bytes: %s) instead of %s",
		f.Header.OpCode, f.Header.Fin, len(f.Payload), abbrev(f.Payload), what)
}

// readMessage reads one data message, reassembling its fragments and
// checking they form a valid fragmented message (RFC 6455 §5.4). It
// reports whether the first frame carried RSV1 (a compressed message).
func (c *client) readMessage(deadline time.Time, what string) (op ws.OpCode, msg []byte, compressed bool) {
	for first := true; ; first = false {
		f := c.next(deadline, what)
		h := f.Header
		switch {
		case h.OpCode.IsControl():
			c.unexpected(f, what)
		case first && h.OpCode == ws.OpContinuation:
			c.fail("the server's message starts with a continuation frame")
		case !first && h.OpCode != ws.OpContinuation:
			c.fail("the server began a %v frame inside a fragmented %v message", h.OpCode, op)
		}
		if first {
			op = h.OpCode
			compressed = h.Rsv&ws.Rsv1 != 0
		}
		msg = append(msg, f.Payload...)
		if h.Fin {
			return op, msg, compressed
		}
	}
}

// expectEcho reads the next message and compares it with op and payload.
func (c *client) expectEcho(op ws.OpCode, payload []byte) {
	what := fmt.Sprintf("the echo of a %d-byte %v message", len(payload), op)
	if w := c.closeNext; w != nil {
		// Peek: the close the case expects may come first.
		f := c.next(time.Now().Add(c.bounds.io(len(payload))), what)
		code, _, err := ws.ParseCloseBody(f.Payload)
		if f.Header.OpCode == ws.OpClose && err == nil && slices.Contains(w.codes, code) {
			c.early = &f
			return
		}
		c.pushBack(f)
	}
	gotOp, got, compressed := c.readMessage(time.Now().Add(c.bounds.io(len(payload))), what)
	if compressed {
		got = c.inflate(got)
	}
	if gotOp != op {
		c.fail("the echo is a %v message, want %v", gotOp, op)
	}
	c.checkPayload("the echo", payload, got)
}

// expectPong reads the next frame, which must be a pong carrying payload
// (RFC 6455 §5.5.3).
func (c *client) expectPong(payload []byte) {
	what := fmt.Sprintf("a pong with the %d-byte payload of the ping", len(payload))
	f := c.next(time.Now().Add(c.bounds.IO), what)
	if f.Header.OpCode != ws.OpPong {
		c.unexpected(f, what)
	}
	c.checkPayload("the pong", payload, f.Payload)
}

// closeWant is the close frame a case expects from the server.
type closeWant struct {
	codes     []ws.StatusCode // any of them; ws.StatusNoStatusRcvd for an empty body
	reason    string
	anyReason bool // a failure: any valid reason will do
	// open leaves the TCP connection open after the close frame: the case
	// goes on (it sends more, then expects EOF).
	open bool
}

// expectClose reads the next frame, which must be a close frame as want
// says, with a valid body (RFC 6455 §5.5.1), then unless want.open waits
// for the server to close TCP.
func (c *client) expectClose(want closeWant) {
	what := fmt.Sprintf("close %v", want.codes)
	if len(want.codes) == 1 {
		what = fmt.Sprintf("close %d", want.codes[0])
	}
	if want.codes[0] == ws.StatusNoStatusRcvd {
		what = "an empty close frame"
	}
	var f ws.Frame
	if c.early != nil {
		f, c.early = *c.early, nil
	} else {
		f = c.next(time.Now().Add(c.bounds.IO), what)
	}
	if f.Header.OpCode != ws.OpClose {
		c.unexpected(f, what)
	}
	c.done = true
	code, reason, err := ws.ParseCloseBody(f.Payload)
	c.check(err, "the server's close body %x breaks RFC 6455 §5.5.1", f.Payload)
	if !slices.Contains(want.codes, code) {
		c.fail("the server closed with %d %q, want %s", code, reason, what)
	}
	if !want.anyReason && string(reason) != want.reason {
		c.fail("the server closed with reason %q, want %q", reason, want.reason)
	}
	if !want.open {
		c.expectEOF()
	}
}

// expectEOF waits for the server to close TCP within the close bound.
// Bytes before the end fail the case: nothing may follow a close frame (RFC
// 6455 §5.5.1). A reset counts as closed: the server may reset a
// connection it still gets data on after closing.
func (c *client) expectEOF() {
	c.check(c.nc.SetReadDeadline(time.Now().Add(c.bounds.Close)), "set deadline")
	var buf [512]byte
	n, err := c.br.Read(buf[:])
	switch {
	case n > 0:
		c.fail("the server sent %d bytes after its close frame: %x", n, buf[:n])
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		// Closed.
	case isTimeout(err):
		c.fail("the server did not close TCP within %v of its close frame (RFC 6455 §7.1.1: the server closes first)", c.bounds.Close)
	default:
		c.check(err, "waiting for the server to close TCP")
	}
}

// finish ends a case that left the connection open with a clean closing
// handshake: close 1000 must be echoed, with nothing before it, and the
// server must then close TCP.
func (c *client) finish() {
	c.wait(false)
	if c.done {
		return
	}
	c.send([]frame{closeFrame(ws.StatusNormalClosure, "")}, oneWrite, false)
	c.expectClose(closeWant{codes: []ws.StatusCode{ws.StatusNormalClosure}})
}

// isTimeout reports whether err is a deadline expiry.
func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// checkPayload compares payloads without printing megabytes.
func (c *client) checkPayload(what string, want, got []byte) {
	if bytes.Equal(want, got) {
		return
	}
	if len(want) <= 256 && len(got) <= 256 {
		c.fail("%s differs: want %q, got %q", what, want, got)
	}
	i := 0
	for i < min(len(want), len(got)) && want[i] == got[i] {
		i++
	}
	c.fail("%s differs: want %d bytes (sha256 %x), got %d bytes (sha256 %x); first difference at byte %d",
		what, len(want), sha256.Sum256(want), len(got), sha256.Sum256(got), i)
}

// abbrev returns p quoted, cut to 64 bytes.
func abbrev(p []byte) string {
	if len(p) > 64 {
		return fmt.Sprintf("%q…", p[:64])
	}
	return fmt.Sprintf("%q", p)
}

// closeBody encodes a close frame body by hand, so that any code can be
// sent, those ws.AppendCloseBody would refuse to write included.
func closeBody(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}
