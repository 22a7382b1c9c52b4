package conformance

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/ws"
)

// Time bounds. Every read and write of the client has a deadline.
const (
	// ioBound is the deadline of an exchange that should succeed: a
	// handshake, an echo, a pong, a close frame after a protocol error.
	// It only matters when the server hangs; a passing case takes
	// milliseconds.
	ioBound = 10 * time.Second
	// closeBound is how soon the server must close TCP after its close
	// frame, and how soon a fail-fast case must get its close frame after
	// the client stopped sending (RFC 6455 §7.1.7: fail the connection
	// without waiting for more data).
	closeBound = 2 * time.Second
	// maxRead bounds the payload of one frame the client accepts.
	maxRead = 64 << 20
	// asyncWrite is the size from which a send runs in the background, so
	// that a server that streams its echo while still reading cannot
	// deadlock against a client that is still writing.
	asyncWrite = 1 << 20
)

// bound is ioBound plus a second per MiB, for the 16 MiB messages.
func bound(n int) time.Duration { return ioBound + time.Duration(n>>20)*time.Second }

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

// target is a server under test: its host:port, the request-target of its
// echo endpoint, and the process when the suite started it.
type target struct {
	name string
	host string
	path string
	proc *serverProc // nil for a server given by URL
}

// client is the raw-socket client of one case: it writes whatever bytes
// the case asks for, legal or not, and reads the server's frames with
// ws.ReadFrame, checking each against RFC 6455.
type client struct {
	t     *testing.T
	tgt   *target
	nc    net.Conn
	br    *bufio.Reader
	local string // our address: the server logs it as remote=
	// done is set once the connection is closing (a close frame was
	// seen, or a frame was left unfinished): no final close handshake.
	done bool
	// bg carries the outcome of a send running in the background; nil
	// when none is.
	bg chan error
}

// dialTCP opens a TCP connection to tgt, bounded by ioBound.
func dialTCP(t *testing.T, tgt *target) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: ioBound}
	nc, err := d.DialContext(t.Context(), "tcp", tgt.host)
	require.NoError(t, err, "dial %s (%s)", tgt.host, tgt.name)
	return nc
}

// connect opens a WebSocket connection to tgt with a valid handshake. The
// connection is closed when the test ends; if the test failed, the server's
// log lines about this connection go to the test log.
func connect(t *testing.T, tgt *target) *client {
	t.Helper()
	c := &client{t: t, tgt: tgt, nc: dialTCP(t, tgt)}
	c.br = bufio.NewReaderSize(c.nc, 64<<10)
	c.local = c.nc.LocalAddr().String()
	t.Cleanup(c.cleanup)

	key := ws.GenerateKey()
	res := c.handshake(http.MethodGet, validRequest(tgt, key))
	require.Equal(t, http.StatusSwitchingProtocols, res.StatusCode, "handshake status")
	checkUpgrade(t, res, key)
	return c
}

// checkUpgrade checks a 101 response to a request with key (RFC 6455
// §4.2.2, §4.1): Upgrade, Connection and the right Sec-WebSocket-Accept.
func checkUpgrade(t *testing.T, res *http.Response, key string) {
	t.Helper()
	require.True(t, hasToken(res.Header, "Upgrade", "websocket"), "Upgrade: %q", res.Header.Values("Upgrade"))
	require.True(t, hasToken(res.Header, "Connection", "upgrade"), "Connection: %q", res.Header.Values("Connection"))
	require.True(t, ws.CheckAccept([]byte(key), []byte(res.Header.Get("Sec-WebSocket-Accept"))),
		"Sec-WebSocket-Accept %q does not answer key %q", res.Header.Get("Sec-WebSocket-Accept"), key)
}

// validRequest returns the fields of a valid opening handshake for tgt
// (RFC 6455 §4.1), in order.
func validRequest(tgt *target, key string) [][2]string {
	return [][2]string{
		{"Host", tgt.host},
		{"Upgrade", "websocket"},
		{"Connection", "Upgrade"},
		{"Sec-WebSocket-Key", key},
		{"Sec-WebSocket-Version", "13"},
	}
}

// handshake writes a request with method and fields to tgt's endpoint and
// reads the response head. The bytes after it stay in c.br.
func (c *client) handshake(method string, fields [][2]string) *http.Response {
	c.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, c.tgt.path)
	for _, f := range fields {
		fmt.Fprintf(&b, "%s: %s\r\n", f[0], f[1])
	}
	b.WriteString("\r\n")
	require.NoError(c.t, c.nc.SetDeadline(time.Now().Add(ioBound)))
	_, err := io.WriteString(c.nc, b.String())
	require.NoError(c.t, err, "write handshake")
	res, err := http.ReadResponse(c.br, nil)
	require.NoError(c.t, err, "read handshake response")
	if res.StatusCode != http.StatusSwitchingProtocols {
		// Read a little of the body for the log, never the rest.
		body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		c.t.Logf("handshake answered %s: %q", res.Status, body)
		c.done = true
	}
	require.NoError(c.t, c.nc.SetDeadline(time.Time{}))
	return res
}

// hasToken reports whether the comma-separated field name holds token,
// without regard to case.
func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, s := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(s), token) {
				return true
			}
		}
	}
	return false
}

// cleanup ends the case: it closes the socket, waits for a background send,
// and on failure logs what the server said about this connection.
func (c *client) cleanup() {
	_ = c.nc.Close()
	if c.bg != nil {
		<-c.bg
	}
	if c.t.Failed() && c.tgt.proc != nil {
		c.tgt.proc.logConn(c.t, c.local)
	}
}

// send writes the frames in mode. Large sends run in the background until
// the next send or the end of the case. A write error fails the case
// unless mayFail is set (the server may already have closed TCP).
func (c *client) send(frames []frame, mode writeMode, mayFail bool) {
	c.t.Helper()
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
			require.NoError(c.t, err, "send %v", frames)
		}
		return
	}
	c.bg = make(chan error, 1)
	go func() { c.bg <- c.write(wire, mode) }()
}

// wait waits for the background send, if any, and checks its outcome.
func (c *client) wait(mayFail bool) {
	c.t.Helper()
	if c.bg == nil {
		return
	}
	err := <-c.bg
	c.bg = nil
	if !mayFail {
		require.NoError(c.t, err, "background send")
	}
}

// write writes p in mode, bounded by a deadline for the whole of it.
func (c *client) write(p []byte, mode writeMode) error {
	if err := c.nc.SetWriteDeadline(time.Now().Add(bound(len(p)))); err != nil {
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
// be one a server may send: unmasked, no RSV bit, no reserved opcode, and
// the control frame rules (RFC 6455 §5.1, §5.2, §5.5).
func (c *client) next(deadline time.Time, what string) ws.Frame {
	c.t.Helper()
	require.NoError(c.t, c.nc.SetReadDeadline(deadline))
	for {
		f, err := ws.ReadFrame(c.br, maxRead)
		if isTimeout(err) {
			require.FailNowf(c.t, "timeout", "no frame from the server within the bound, waiting for %s", what)
		}
		require.NoError(c.t, err, "reading a frame, waiting for %s", what)
		require.NoError(c.t, ws.CheckHeader(f.Header, ws.ClientSide, 0), "frame from the server breaks RFC 6455: %+v", f.Header)
		if f.Header.OpCode == ws.OpPing {
			c.t.Logf("server ping %q ignored", f.Payload)
			continue
		}
		return f
	}
}

// unexpected fails the case with a description of f, which came instead of
// what.
func (c *client) unexpected(f ws.Frame, what string) {
	c.t.Helper()
	if f.Header.OpCode == ws.OpClose {
		c.done = true
		code, reason, err := ws.ParseCloseBody(f.Payload)
		require.FailNowf(c.t, "unexpected close", "server sent close %d %q (body error %v) instead of %s", code, reason, err, what)
	}
	require.FailNowf(c.t, "unexpected frame", "server sent %v (FIN=%v, %d bytes: %s) instead of %s",
		f.Header.OpCode, f.Header.Fin, len(f.Payload), abbrev(f.Payload), what)
}

// readMessage reads one data message, reassembling its fragments and
// checking they form a valid fragmented message (RFC 6455 §5.4).
func (c *client) readMessage(deadline time.Time, what string) (ws.OpCode, []byte) {
	c.t.Helper()
	var op ws.OpCode
	var msg []byte
	for first := true; ; first = false {
		f := c.next(deadline, what)
		h := f.Header
		switch {
		case h.OpCode.IsControl():
			c.unexpected(f, what)
		case first && h.OpCode == ws.OpContinuation:
			require.FailNow(c.t, "the server's message starts with a continuation frame")
		case !first && h.OpCode != ws.OpContinuation:
			require.FailNowf(c.t, "interleaved message", "the server began a %v frame inside a fragmented %v message", h.OpCode, op)
		}
		if first {
			op = h.OpCode
		}
		msg = append(msg, f.Payload...)
		if h.Fin {
			return op, msg
		}
	}
}

// expectEcho reads the next message and compares it with op and payload.
func (c *client) expectEcho(op ws.OpCode, payload []byte) {
	c.t.Helper()
	what := fmt.Sprintf("the echo of a %d-byte %v message", len(payload), op)
	gotOp, got := c.readMessage(time.Now().Add(bound(len(payload))), what)
	assert.Equal(c.t, op, gotOp, "opcode of the echo")
	assertPayload(c.t, payload, got)
}

// expectPong reads the next frame, which must be a pong carrying payload
// (RFC 6455 §5.5.3).
func (c *client) expectPong(payload []byte) {
	c.t.Helper()
	what := fmt.Sprintf("a pong with the %d-byte payload of the ping", len(payload))
	f := c.next(time.Now().Add(ioBound), what)
	if f.Header.OpCode != ws.OpPong {
		c.unexpected(f, what)
	}
	assertPayload(c.t, payload, f.Payload)
}

// closeWant is the close frame a case expects from the server.
type closeWant struct {
	code      ws.StatusCode // ws.StatusNoStatusRcvd for an empty body
	reason    string
	anyReason bool // a failure: any valid reason will do
	// within bounds the arrival of the close frame from now: closeBound
	// for fail-fast cases, ioBound otherwise.
	within time.Duration
	// open leaves the TCP connection open after the close frame: the case
	// goes on (it sends more, then expects EOF).
	open bool
}

// expectClose reads the next frame, which must be a close frame as want
// says, with a valid body (RFC 6455 §5.5.1), then unless want.open waits
// for the server to close TCP.
func (c *client) expectClose(want closeWant) {
	c.t.Helper()
	what := fmt.Sprintf("close %d", want.code)
	if want.code == ws.StatusNoStatusRcvd {
		what = "an empty close frame"
	}
	f := c.next(time.Now().Add(want.within), what)
	if f.Header.OpCode != ws.OpClose {
		c.unexpected(f, what)
	}
	c.done = true
	code, reason, err := ws.ParseCloseBody(f.Payload)
	require.NoError(c.t, err, "the server's close body %x breaks RFC 6455 §5.5.1", f.Payload)
	assert.Equal(c.t, want.code, code, "close code (reason %q)", reason)
	if !want.anyReason {
		assert.Equal(c.t, want.reason, string(reason), "close reason")
	}
	if !want.open {
		c.expectEOF()
	}
}

// expectEOF waits for the server to close TCP within closeBound. Bytes
// before the end fail the case: nothing may follow a close frame (RFC 6455
// §5.5.1). A reset counts as closed: the server may reset a connection it
// still gets data on after closing.
func (c *client) expectEOF() {
	c.t.Helper()
	require.NoError(c.t, c.nc.SetReadDeadline(time.Now().Add(closeBound)))
	var buf [512]byte
	n, err := c.br.Read(buf[:])
	switch {
	case n > 0:
		assert.Failf(c.t, "data after close", "the server sent %d bytes after its close frame: %x", n, buf[:n])
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		// Closed.
	case isTimeout(err):
		assert.Failf(c.t, "no TCP close", "the server did not close TCP within %v of its close frame", closeBound)
	default:
		assert.NoError(c.t, err, "waiting for the server to close TCP")
	}
}

// finish ends a case that left the connection open with a clean closing
// handshake: close 1000 must be echoed, with nothing before it, and the
// server must then close TCP.
func (c *client) finish() {
	c.t.Helper()
	c.wait(false)
	if c.done || c.t.Failed() {
		return
	}
	c.send([]frame{closeFrame(ws.StatusNormalClosure, "")}, oneWrite, false)
	c.expectClose(closeWant{code: ws.StatusNormalClosure, within: ioBound})
}

// isTimeout reports whether err is a deadline expiry.
func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// assertPayload compares payloads without printing megabytes.
func assertPayload(t *testing.T, want, got []byte) {
	t.Helper()
	if bytes.Equal(want, got) {
		return
	}
	if len(want) <= 256 && len(got) <= 256 {
		assert.Failf(t, "payload differs", "want %q\n got %q", want, got)
		return
	}
	i := 0
	for i < min(len(want), len(got)) && want[i] == got[i] {
		i++
	}
	assert.Failf(t, "payload differs", "want %d bytes (sha256 %x), got %d bytes (sha256 %x); first difference at byte %d",
		len(want), sha256.Sum256(want), len(got), sha256.Sum256(got), i)
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
