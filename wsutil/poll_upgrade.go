package wsutil

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/sluice-ws/sluice/internal/bufpool"
	"github.com/sluice-ws/sluice/ws"
)

// misconfigured answers a request whose handler cannot serve it.
var misconfigured = ws.Upgrader{OnRequest: func([]byte) error {
	return ws.Reject(http.StatusInternalServerError, "WebSocket endpoint misconfigured")
}}

// handshake reads the request head, as it arrives, and answers it (loop).
// The request-target picks the handler once the request line is
// complete; the handler's Upgrader answers once the head is.
func (c *PollConn) handshake(p []byte) {
	l := c.loop
	req := p
	if c.hsBuf != nil {
		req = c.holdRequest(p)
	}
	if c.ep == l.s.hsEP {
		ep, ok := l.s.route(req)
		switch {
		case !ok && len(req) < ws.DefaultMaxHeaderBytes:
			if c.hsBuf == nil {
				c.holdRequest(req)
			}
			return
		case ep != nil:
			accepted := c.timer.readAt - l.s.hsEP.hsTimeout
			c.ep, c.timer.readAt = ep, 0
			if ep.hsTimeout > 0 {
				c.timer.readAt = accepted + ep.hsTimeout
			}
			c.rearm()
		}
	}
	u := &notFound
	switch {
	case c.ep == l.s.hsEP:
	case c.ep.err != nil:
		u = &misconfigured
	default:
		u = &c.ep.h.Upgrader
	}
	resp, hs, err := u.UpgradeBuffer(l.scratch[:0], req)
	l.scratch = resp[:0]
	if err == io.ErrShortBuffer {
		if c.hsBuf == nil {
			c.holdRequest(req)
		}
		return
	}
	if err != nil {
		// Answered with the rejection; then the socket closes.
		c.rs = rsStopped
		c.mu.Lock()
		c.setErrLocked(err)
		c.mu.Unlock()
		c.writeHandshake(resp, true)
		return
	}
	if !c.writeHandshake(resp, false) {
		return
	}
	c.upgraded(hs)
}

// holdRequest keeps p, the next bytes of a request head, in the
// connection's head buffer, and returns what the buffer holds.
func (c *PollConn) holdRequest(p []byte) []byte {
	if c.hsBuf == nil {
		c.hsBuf = bufpool.Get(len(p))
		c.hsBuf.B = c.hsBuf.B[:0]
	}
	b := c.hsBuf.B
	if cap(b)-len(b) < len(p) {
		nb := bufpool.Get(len(b) + len(p))
		nb.B = append(nb.B[:0], b...)
		c.hsBuf.Release()
		c.hsBuf, b = nb, nb.B
	}
	c.hsBuf.B = append(b, p...)
	return c.hsBuf.B
}

// writeHandshake writes the answer to the request, and with closeAfter
// closes the socket once it is out. It reports false when the connection
// ended.
func (c *PollConn) writeHandshake(resp []byte, closeAfter bool) bool {
	l := c.loop
	n, err := sysWritev(c.fd, append(l.iov[:0], resp))
	clear(l.iov[:1])
	switch {
	case err != nil && err != errWouldBlock:
		c.finish(errors.Join(ErrAbnormalClosure, err))
		return false
	case n == len(resp) && closeAfter:
		c.finish(nil)
		return false
	case n == len(resp):
		return true
	}
	// The rest goes out when the socket takes it.
	rest := bytes.Clone(resp[n:])
	c.mu.Lock()
	c.dropOnSent = closeAfter
	c.q.take(c, len(rest))
	c.mu.Unlock()
	c.wsegs = append(c.wsegs, pollSeg{b: rest, close: closeAfter})
	c.flags.blocked = err == errWouldBlock
	if !c.flags.blocked {
		c.writeOut()
	}
	return c.fd >= 0
}

// upgraded starts the WebSocket connection once the 101 response is on
// its way (loop): the extension is bound, OnOpen called, and the frames
// that came with the request handled.
func (c *PollConn) upgraded(hs ws.Handshake) {
	l := c.loop
	cfg := &c.ep.cfg
	if hs.Protocol != "" || hs.Extensions != nil {
		c.hs = &pollHandshake{protocol: hs.Protocol, extensions: hs.Extensions}
	}
	if cfg.Extension != nil {
		recv, send, err := cfg.Extension.Bind(ws.ServerSide, hs.Extensions)
		if err != nil {
			c.finish(fmt.Errorf("wsutil: extension: %w", err))
			return
		}
		c.recv = recv
		c.mu.Lock()
		c.send = send
		c.mu.Unlock()
	}
	c.ps = ws.Parser{Side: ws.ServerSide, MaxPayload: cfg.MaxFrameSize}
	if c.recv != nil {
		c.ps.Rsv = c.recv.Rsv()
	}
	c.rs, c.flags.opened = rsFrames, true
	c.timer.readAt = 0
	c.timer.lastRead = l.now
	if cfg.PingInterval > 0 {
		c.timer.pingAt = l.now + cfg.PingInterval
	}
	c.rearm()
	if c.ep.h.OnOpen != nil {
		c.ep.h.OnOpen(c)
	}
	if len(hs.Buffered) > 0 {
		src := l.rbuf
		if c.hsBuf != nil {
			src = c.hsBuf
		}
		c.consume(src, false, hs.Buffered)
	}
	if c.hsBuf != nil {
		c.hsBuf.Release()
		c.hsBuf = nil
	}
}
