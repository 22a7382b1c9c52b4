package interop

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/gobwas/httphead"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// --- our end -----------------------------------------------------------------

// local is our end of a pair: a wsutil.Conn, or a connection driven by
// the one-call helpers.
type local interface {
	// Protocol is the negotiated subprotocol.
	Protocol() string
	Send(ctx context.Context, m wsutil.Message) error
	Recv(ctx context.Context) (wsutil.Message, error)
	// Ping measures a round trip (connLocal only).
	Ping(ctx context.Context) (time.Duration, error)
	// Close runs the closing handshake from our side.
	Close(code ws.StatusCode, reason string) error
	// Wait reads until the connection ends and returns why, and how many
	// data messages arrived meanwhile.
	Wait(ctx context.Context) (stray int, err error)
	// Extensions are the extensions the handshake accepted.
	Extensions() []httphead.Option
	// Sent returns the headers of the frames we wrote so far, Received
	// those of the frames that reached us.
	Sent() []ws.Header
	Received() []ws.Header
	// Shutdown drops whatever is left of the connection.
	Shutdown()
}

// tapConn records the headers of the frames we write and of those we
// read, so that tests can check the frames on the wire both ways (RSV1 for
// permessage-deflate, for one). Bytes that came with the handshake
// (ws.Handshake.Buffered) are not seen.
type tapConn struct {
	net.Conn
	mu  sync.Mutex
	out frameLog // guarded by mu
	in  frameLog // guarded by mu
}

// Read records what it reads.
func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.in.feed(p[:n])
		c.mu.Unlock()
	}
	return n, err
}

// Write records p before writing it, so that whatever the peer has seen is
// already recorded, and takes back what did not go out.
func (c *tapConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	before := c.out
	c.out.feed(p)
	c.mu.Unlock()
	n, err := c.Conn.Write(p)
	if n < len(p) {
		c.mu.Lock()
		c.out = before
		c.out.feed(p[:n])
		c.mu.Unlock()
	}
	return n, err
}

// frames returns the headers of the frames written so far.
func (c *tapConn) frames() []ws.Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.out.hs)
}

// received returns the headers of the frames read so far.
func (c *tapConn) received() []ws.Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.in.hs)
}

// frameLog parses a byte stream into frame headers as it passes, skipping
// payloads: megabytes go by without being kept. A copy of a frameLog is a
// snapshot to go back to (hs is only appended to).
type frameLog struct {
	hs   []ws.Header
	hdr  [ws.MaxHeaderSize]byte // the header being read
	nhdr int
	skip int64 // payload bytes of the last header still to come
}

// feed parses the next bytes of the stream.
func (l *frameLog) feed(p []byte) {
	for len(p) > 0 {
		if l.skip > 0 {
			k := min(l.skip, int64(len(p)))
			l.skip -= k
			p = p[k:]
			continue
		}
		l.hdr[l.nhdr] = p[0]
		l.nhdr++
		p = p[1:]
		if l.nhdr < headerSize(l.hdr[:l.nhdr]) {
			continue
		}
		h, err := ws.ReadHeader(bytes.NewReader(l.hdr[:l.nhdr]))
		if err != nil {
			panic(fmt.Sprintf("tap: cannot parse a complete header %x: %v", l.hdr[:l.nhdr], err))
		}
		l.hs = append(l.hs, h)
		l.skip, l.nhdr = h.Length, 0
	}
}

// headerSize is the size of the frame header that b starts, as far as b
// tells (RFC 6455 §5.2).
func headerSize(b []byte) int {
	if len(b) < 2 {
		return 2
	}
	n := 2
	switch b[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b[1]&0x80 != 0 {
		n += 4
	}
	return n
}

// countOp counts the frames with opcode op.
func countOp(hs []ws.Header, op ws.OpCode) int {
	n := 0
	for _, h := range hs {
		if h.OpCode == op {
			n++
		}
	}
	return n
}

// connLocal is our end as a wsutil.Conn.
type connLocal struct {
	c   *wsutil.Conn
	tap *tapConn
}

func newConnLocal(t *caseT, tap *tapConn, side ws.Side, hs ws.Handshake, cfg wsutil.Config) *connLocal {
	c, err := wsutil.NewConn(tap, side, hs, cfg)
	require.NoError(t, err)
	return &connLocal{c: c, tap: tap}
}

func (l *connLocal) Protocol() string { return l.c.Protocol() }

func (l *connLocal) Send(ctx context.Context, m wsutil.Message) error { return l.c.Send(ctx, m) }

func (l *connLocal) Recv(ctx context.Context) (wsutil.Message, error) {
	select {
	case m, ok := <-l.c.Inbound():
		if !ok {
			return m, fmt.Errorf("connection ended: %w", l.c.Err())
		}
		return m, nil
	case <-ctx.Done():
		return wsutil.Message{}, ctx.Err()
	}
}

func (l *connLocal) Ping(ctx context.Context) (time.Duration, error) { return l.c.Ping(ctx) }

func (l *connLocal) Close(code ws.StatusCode, reason string) error { return l.c.Close(code, reason) }

func (l *connLocal) Wait(ctx context.Context) (int, error) {
	stray := 0
	for {
		select {
		case _, ok := <-l.c.Inbound():
			if ok {
				stray++
				continue
			}
			select {
			case <-l.c.Done():
				return stray, l.c.Err()
			case <-ctx.Done():
				return stray, ctx.Err()
			}
		case <-ctx.Done():
			return stray, ctx.Err()
		}
	}
}

func (l *connLocal) Extensions() []httphead.Option { return l.c.Extensions() }

func (l *connLocal) Sent() []ws.Header { return l.tap.frames() }

func (l *connLocal) Received() []ws.Header { return l.tap.received() }

func (l *connLocal) Shutdown() { _ = l.c.Terminate() }

// helperLocal is our end driven by wsutil.ReadMessage, WriteMessage,
// WriteClose and CloseHandshake from one goroutine at a time, over a bufio.ReadWriter as
// ReadMessage's documentation recommends. It does what a careful user of
// those helpers does: flushes after writing and after reading (to push out
// ReadMessage's control replies), answers a protocol error with its close
// code and lingers, and closes TCP after the closing handshake (a server
// closes first, RFC 6455 §7.1.1). It is a server only.
type helperLocal struct {
	tap      *tapConn
	rw       *bufio.ReadWriter
	protocol string
	accepted []httphead.Option // ws.Handshake.Extensions
	done     bool
	// closeWait bounds the closing handshake and the linger after a
	// failure, as Config.CloseTimeout does for a Conn; 0 means
	// wsutil.DefaultCloseTimeout.
	closeWait time.Duration
}

// closeTimeout is closeWait or its default.
func (l *helperLocal) closeTimeout() time.Duration {
	if l.closeWait > 0 {
		return l.closeWait
	}
	return wsutil.DefaultCloseTimeout
}

func (l *helperLocal) Protocol() string { return l.protocol }

func (l *helperLocal) Send(ctx context.Context, m wsutil.Message) error {
	defer l.bound(ctx)()
	if err := wsutil.WriteMessage(l.rw, ws.ServerSide, m.OpCode, m.Payload); err != nil {
		return err
	}
	return l.rw.Flush()
}

// bound makes the connection's I/O honour ctx until the returned func runs.
func (l *helperLocal) bound(ctx context.Context) func() {
	if d, ok := ctx.Deadline(); ok {
		_ = l.tap.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = l.tap.SetDeadline(time.Unix(1, 0)) })
	return func() { stop() }
}

// read reads one message and deals with the end of the connection.
func (l *helperLocal) read(ctx context.Context) (wsutil.Message, error) {
	if l.done {
		return wsutil.Message{}, net.ErrClosed
	}
	defer l.bound(ctx)()
	op, p, err := wsutil.ReadMessage(l.rw, ws.ServerSide, nil)
	// ReadMessage answered control frames into the buffer: push them out.
	ferr := l.rw.Flush()
	var pe *ws.ProtocolError
	switch {
	case err == nil:
		return wsutil.Message{OpCode: op, Payload: p}, ferr
	case errors.As(err, &pe):
		// Fail the connection with the code the violation calls for
		// (RFC 6455 §7.1.7), then linger: closing at once answers the
		// peer's close reply with a TCP reset, and a peer may then
		// report 1006 instead of our code (WebSocket-Node does).
		_ = wsutil.WriteClose(l.rw, ws.ServerSide, pe.Code, pe.Reason)
		_ = l.rw.Flush()
		l.linger()
	}
	l.done = true
	_ = l.tap.Close()
	return wsutil.Message{}, err
}

// linger ends our half of TCP and discards what the peer still sends until
// it closes its half, for at most the close timeout.
func (l *helperLocal) linger() {
	if cw, ok := l.tap.Conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = l.tap.SetReadDeadline(time.Now().Add(l.closeTimeout()))
	_, _ = io.Copy(io.Discard, l.tap)
}

func (l *helperLocal) Recv(ctx context.Context) (wsutil.Message, error) { return l.read(ctx) }

func (l *helperLocal) Ping(context.Context) (time.Duration, error) {
	return 0, errors.ErrUnsupported
}

// Close runs the closing handshake with wsutil.CloseHandshake, then closes
// TCP: a server closes first (RFC 6455 §7.1.1).
func (l *helperLocal) Close(code ws.StatusCode, reason string) error {
	ctx, cancel := context.WithTimeout(context.Background(), l.closeTimeout())
	defer cancel()
	stop := l.bound(ctx)
	err := wsutil.CloseHandshake(l.rw, ws.ServerSide, code, reason)
	stop()
	l.done = true
	_ = l.tap.Close()
	var ce ws.CloseError
	if errors.As(err, &ce) {
		return nil
	}
	return err
}

func (l *helperLocal) Wait(ctx context.Context) (int, error) {
	stray := 0
	for {
		_, err := l.read(ctx)
		if err != nil {
			return stray, err
		}
		stray++
	}
}

func (l *helperLocal) Extensions() []httphead.Option { return l.accepted }

func (l *helperLocal) Sent() []ws.Header { return l.tap.frames() }

func (l *helperLocal) Received() []ws.Header { return l.tap.received() }

func (l *helperLocal) Shutdown() { _ = l.tap.Close() }
