package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/sluice-ws/sluice/ws"
)

// benchKey is the Sec-WebSocket-Key of every handshake bench makes: the
// example of RFC 6455 §1.3. A fixed key keeps the request a constant
// that is built once; the server cannot tell, and bench needs no
// randomness, since it is no browser talking to a proxy.
const benchKey = "dGhlIHNhbXBsZSBub25jZQ=="

// benchDialer opens the connections of a run: TCP from one of the source
// addresses, then the opening handshake with a precomputed request. It
// may be used by many goroutines at once.
type benchDialer struct {
	addr     string
	dialers  []net.Dialer // one per source address
	request  []byte
	accept   []byte // the Sec-WebSocket-Accept value that answers benchKey
	compress bool
	timeout  time.Duration
}

// newBenchDialer prepares the request and the source addresses of cfg.
func newBenchDialer(cfg benchConfig) *benchDialer {
	d := &benchDialer{
		addr:     cfg.target.addr,
		accept:   ws.AppendAccept(nil, []byte(benchKey)),
		compress: cfg.compress,
		timeout:  cfg.timeout,
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", cfg.target.path, cfg.target.host, benchKey)
	if cfg.compress {
		fmt.Fprintf(&b, "Sec-WebSocket-Extensions: %s\r\n", cfg.offer)
	}
	b.WriteString("\r\n")
	d.request = []byte(b.String())

	d.dialers = make([]net.Dialer, cfg.sources)
	if cfg.sources > 1 {
		// Each 127.0.0.x has its own ~28,000 ephemeral ports toward the
		// server; Linux routes all of 127.0.0.0/8 to lo without setup.
		for i := range d.dialers {
			d.dialers[i].LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))}
		}
	}
	return d
}

// benchConn is one connection of a run. Bytes that arrived with the 101
// response wait in buf[r:w] for the frame reader.
type benchConn struct {
	nc   net.Conn
	buf  []byte
	r, w int
	// ext is the server's Sec-WebSocket-Extensions answer.
	ext string
}

// readMore reads once into the buffer after its unscanned bytes, moving
// them to the front first when less than minRoom is left after them.
func (c *benchConn) readMore() (int, error) {
	if c.r == c.w {
		c.r, c.w = 0, 0
	} else if len(c.buf)-c.w < minRoom {
		c.w = copy(c.buf, c.buf[c.r:c.w])
		c.r = 0
	}
	n, err := c.nc.Read(c.buf[c.w:])
	c.w += n
	return n, err
}

// maxResponseHead bounds the 101 response bench reads.
const maxResponseHead = 4 << 10

// dial opens connection number i (which picks its source address) and
// runs the opening handshake. bufSize sizes the connection's read buffer.
// It wraps errBenchHandshake when the server does not answer with a valid
// 101 response.
func (d *benchDialer) dial(ctx context.Context, i, bufSize int) (*benchConn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	nd := &d.dialers[i%len(d.dialers)]
	nc, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, err
	}
	c := &benchConn{nc: nc, buf: make([]byte, max(bufSize, maxResponseHead))}
	if err := c.handshake(ctx, d); err != nil {
		_ = nc.Close()
		return nil, err
	}
	return c, nil
}

// handshake sends the request and checks the response.
func (c *benchConn) handshake(ctx context.Context, d *benchDialer) error {
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Now()) })
	defer stop()
	if _, err := c.nc.Write(d.request); err != nil {
		return ctxErr(ctx, err)
	}
	end := -1
	for end < 0 {
		if c.w == maxResponseHead {
			return fmt.Errorf("%w: response head over %d bytes", errBenchHandshake, maxResponseHead)
		}
		n, err := c.nc.Read(c.buf[c.w:maxResponseHead])
		c.w += n
		end = bytes.Index(c.buf[:c.w], []byte("\r\n\r\n"))
		if end < 0 && err != nil {
			return ctxErr(ctx, fmt.Errorf("%w: reading the response: %v", errBenchHandshake, err))
		}
	}
	c.r = end + 4
	if !stop() {
		return ctx.Err()
	}
	return c.checkResponse(c.buf[:end], d)
}

// checkResponse checks a response head (without the blank line): a 101
// with the right Sec-WebSocket-Accept and, when compression was offered,
// a permessage-deflate answer (RFC 6455 §4.1, the client's checks that
// matter to a load generator).
func (c *benchConn) checkResponse(head []byte, d *benchDialer) error {
	status, rest, _ := bytes.Cut(head, []byte("\r\n"))
	proto, code, _ := bytes.Cut(status, []byte(" "))
	if !bytes.HasPrefix(proto, []byte("HTTP/1.")) || !bytes.HasPrefix(code, []byte("101 ")) && !bytes.Equal(code, []byte("101")) {
		return fmt.Errorf("%w: server answered %q", errBenchHandshake, status)
	}
	var accepted bool
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Accept")):
			accepted = bytes.Equal(value, d.accept)
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Extensions")):
			c.ext = string(value)
		}
	}
	if !accepted {
		return fmt.Errorf("%w: missing or wrong Sec-WebSocket-Accept", errBenchHandshake)
	}
	if d.compress {
		name, _, _ := strings.Cut(c.ext, ";")
		if !strings.EqualFold(strings.TrimSpace(name), "permessage-deflate") {
			return fmt.Errorf("%w: server did not accept permessage-deflate (extensions %q)", errBenchHandshake, c.ext)
		}
	} else if c.ext != "" {
		return fmt.Errorf("%w: server answered extensions %q that were not offered", errBenchHandshake, c.ext)
	}
	return nil
}

// ctxErr returns ctx's error when ctx has ended, since that is why I/O
// failed then, and err otherwise.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
