package interop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// variantPoll is wsutil.PollServer: the event loops do the handshake and
// run the connection, and the peer reaches them through a tapping proxy
// (the loop owns the socket, so there is no net.Conn to wrap).
var variantPoll = variant{"poll", ourFragments}

// serverVariants are the variants of our server that run the cases and,
// with deflate, the deflate cases: the event loops need Linux.
func serverVariants(deflate bool) []variant {
	v := []variant{variantConn, variantHelpers}
	if deflate {
		v = []variant{variantConn, variantStream}
	}
	if runtime.GOOS == "linux" {
		v = append(v, variantPoll)
	}
	return v
}

// pollServer is ourServer's PollServer, behind its proxy.
type pollServer struct {
	poll  wsutil.PollServer
	ln    net.Listener // the PollServer's
	proxy *tapProxy
	done  chan error // Serve's result
}

// startPoll starts the PollServer of s; every connection is one that a
// test expects (ourServer.expect), found by its path.
func (s *ourServer) startPoll(t *testing.T) {
	t.Helper()
	p := &pollServer{done: make(chan error, 1)}
	p.poll.Route = func(target []byte) *wsutil.PollHandler {
		e, ok := s.take(string(target))
		if !ok {
			return nil
		}
		return pollHandler(p, e)
	}
	var err error
	p.ln, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { p.done <- p.poll.Serve(p.ln) }()
	p.proxy = newTapProxy(t, p.ln.Addr().String())
	s.polled = p
	t.Cleanup(func() {
		_ = p.poll.Close()
		require.ErrorIs(t, <-p.done, wsutil.ErrServerClosed)
		p.proxy.close()
	})
}

// pollHandler serves the connection that e expects: its configuration,
// our server's subprotocols, and its end delivered on e.ch once open.
func pollHandler(p *pollServer, e expectation) *wsutil.PollHandler {
	h := &wsutil.PollHandler{
		Upgrader: ws.Upgrader{
			Protocols: serverProtocols,
			// The browser page comes from the HTTP server's port.
			CheckOrigin: ws.AllowOrigins("127.0.0.1:*"),
		},
		Config: e.cfg,
	}
	if d := e.deflate(); d != nil {
		h.Upgrader.Extension = d.Negotiate
	}
	l := &pollLocal{notify: make(chan struct{}, 1)}
	h.OnOpen = func(c *wsutil.PollConn) {
		l.c, l.tap = c, p.proxy.tapOf(c.RemoteAddr())
		e.ch <- l
	}
	h.OnMessage = func(_ *wsutil.PollConn, m wsutil.Message) {
		// The payload is the loop's until we return: keep a copy.
		l.push(wsutil.Message{OpCode: m.OpCode, Payload: append([]byte{}, m.Payload...)})
	}
	return h
}

// pollLocal is our end as a wsutil.PollConn. Messages come from OnMessage,
// on the loop, which must not wait: they queue here until Recv.
type pollLocal struct {
	c      *wsutil.PollConn
	tap    *streamTap
	mu     sync.Mutex
	msgs   []wsutil.Message // guarded by mu
	notify chan struct{}    // poked when msgs grows
}

func (l *pollLocal) push(m wsutil.Message) {
	l.mu.Lock()
	l.msgs = append(l.msgs, m)
	l.mu.Unlock()
	select {
	case l.notify <- struct{}{}:
	default:
	}
}

func (l *pollLocal) pop() (wsutil.Message, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.msgs) == 0 {
		return wsutil.Message{}, false
	}
	m := l.msgs[0]
	l.msgs = l.msgs[1:]
	return m, true
}

func (l *pollLocal) Protocol() string { return l.c.Protocol() }

func (l *pollLocal) Send(ctx context.Context, m wsutil.Message) error { return l.c.Send(ctx, m) }

func (l *pollLocal) Recv(ctx context.Context) (wsutil.Message, error) {
	for {
		if m, ok := l.pop(); ok {
			return m, nil
		}
		select {
		case <-l.notify:
		case <-l.c.Done():
			if m, ok := l.pop(); ok {
				return m, nil
			}
			return wsutil.Message{}, fmt.Errorf("connection ended: %w", l.c.Err())
		case <-ctx.Done():
			return wsutil.Message{}, ctx.Err()
		}
	}
}

func (l *pollLocal) Ping(context.Context) (time.Duration, error) {
	return 0, errors.ErrUnsupported
}

// Close runs the closing handshake and waits for its end, as Conn.Close
// does: nil after a clean handshake.
func (l *pollLocal) Close(code ws.StatusCode, reason string) error {
	if err := l.c.Close(code, reason); err != nil {
		return err
	}
	select {
	case <-l.c.Done():
	case <-time.After(2*wsutil.DefaultCloseTimeout + time.Second):
		return errors.New("the connection did not end")
	}
	var ce ws.CloseError
	if err := l.c.Err(); !errors.As(err, &ce) || ce.Code == ws.StatusAbnormalClosure {
		return err
	}
	return nil
}

func (l *pollLocal) Wait(ctx context.Context) (int, error) {
	stray := 0
	for {
		if _, ok := l.pop(); ok {
			stray++
			continue
		}
		select {
		case <-l.notify:
		case <-l.c.Done():
			for {
				if _, ok := l.pop(); !ok {
					return stray, l.c.Err()
				}
				stray++
			}
		case <-ctx.Done():
			return stray, ctx.Err()
		}
	}
}

func (l *pollLocal) Extensions() []httphead.Option { return l.c.Extensions() }

func (l *pollLocal) Sent() []ws.Header { return l.tap.frames(true) }

func (l *pollLocal) Received() []ws.Header { return l.tap.frames(false) }

func (l *pollLocal) Shutdown() { _ = l.c.Terminate() }

// tapProxy relays TCP connections to a server and records the headers of
// the frames going each way, past the HTTP heads: the tapConn of a socket
// we cannot wrap. It passes on the end of a direction as a half-close, and
// a reset as a close.
type tapProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	taps   map[string]*streamTap // by the address the server sees; guarded by mu
	conns  map[net.Conn]struct{} // guarded by mu
}

func newTapProxy(t *testing.T, target string) *tapProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &tapProxy{ln: ln, target: target, taps: make(map[string]*streamTap), conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	return p
}

// addr is where peers connect.
func (p *tapProxy) addr() string { return p.ln.Addr().String() }

func (p *tapProxy) accept() {
	defer p.wg.Done()
	for {
		peer, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			peer.Close()
			continue
		}
		tap := &streamTap{}
		p.mu.Lock()
		p.taps[server.LocalAddr().String()] = tap
		p.conns[peer], p.conns[server] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.relay(server, peer, tap, true)
		go p.relay(peer, server, tap, false)
	}
}

// relay copies from src to dst, recording frames; out is the direction
// from our server to the peer.
func (p *tapProxy) relay(src, dst net.Conn, tap *streamTap, out bool) {
	defer p.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			tap.feed(buf[:n], out)
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err == io.EOF {
			_ = dst.(*net.TCPConn).CloseWrite()
			return
		}
		if err != nil {
			// A reset, or the other direction closed both.
			_ = dst.(*net.TCPConn).SetLinger(0)
			_ = dst.Close()
			_ = src.Close()
			return
		}
	}
}

// tapOf returns the tap of the connection the server sees from addr.
func (p *tapProxy) tapOf(addr net.Addr) *streamTap {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.taps[addr.String()]
}

func (p *tapProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// streamTap records the frames of one relayed connection, both ways.
type streamTap struct {
	mu      sync.Mutex
	out, in frameLog // guarded by mu
	// The HTTP heads are skipped: how far into "\r\n\r\n" each direction is.
	outHead, inHead int // guarded by mu
}

// feed records p, the next bytes of one direction.
func (t *streamTap) feed(p []byte, out bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	log, head := &t.in, &t.inHead
	if out {
		log, head = &t.out, &t.outHead
	}
	for len(p) > 0 && *head < 4 {
		if p[0] == "\r\n\r\n"[*head] {
			*head++
		} else if p[0] == '\r' {
			*head = 1
		} else {
			*head = 0
		}
		p = p[1:]
	}
	log.feed(p)
}

// frames returns the headers recorded so far one way.
func (t *streamTap) frames(out bool) []ws.Header {
	t.mu.Lock()
	defer t.mu.Unlock()
	if out {
		return append([]ws.Header(nil), t.out.hs...)
	}
	return append([]ws.Header(nil), t.in.hs...)
}
