package wsutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-ws/sluice/ws"
)

// PollHandler is what an event-loop server (PollServer) does with the
// connections to one endpoint: the opening handshake, the limits, and the
// callbacks. It must not be modified once a PollServer uses it.
type PollHandler struct {
	// Upgrader runs the opening handshake on the bytes a loop has read
	// (ws.Upgrader.UpgradeBuffer); its hooks run on the loop, so they
	// must not block. Its Timeout bounds the time from the accept to the
	// end of the request (0 means ws.DefaultHandshakeTimeout, a negative
	// value no bound); its MaxHeaderBytes bounds the request head.
	Upgrader ws.Upgrader
	// Config holds the limits, the same as a Conn's and with the same
	// defaults for a server: MaxMessageSize, MaxFrameSize, SkipUTF8,
	// MessageTimeout, PingInterval, PongTimeout, CloseTimeout,
	// WriteTimeout, OutboundBytes, Overflow, Budget, FragmentSize,
	// Extension, OnPing and OnPong. InboundBytes bounds the bytes read
	// from the socket in one go, which a connection keeps while it waits
	// (for the Budget, or for its send queue to drain). The callbacks of
	// this handler take the place of Config.OnMessage and OnClose; those,
	// FrameMode and InboundSize must be left unset (the handshake is
	// answered with 500 otherwise, and Serve fails for Handler).
	Config Config
	// OnOpen, if set, is called once the handshake has succeeded, before
	// any message.
	OnOpen func(c *PollConn)
	// OnMessage is called with every message, on the loop that reads the
	// connection. The payload is valid only until it returns; Send copies
	// what it needs (or keeps a received buffer alive until it is
	// written), so an echo is just c.Send(ctx, m). OnMessage must not
	// block: every connection of its loop waits while it runs.
	OnMessage func(c *PollConn, m Message)
	// OnClose, if set, is called once the connection has ended and its
	// socket is closed (Done is closed); Err tells why.
	OnClose func(c *PollConn)
}

// PollServer runs WebSocket connections without a goroutine per
// connection: a few event loops (epoll) read every socket, parse frames
// with ws.Parser as bytes arrive, call the handler's callbacks, and write
// what is queued without ever waiting for a slow peer. An idle
// connection holds no buffer and no goroutine, only its PollConn.
//
// A PollServer does the opening handshake itself (ws.Upgrader's
// UpgradeBuffer), so it owns its listeners: net/http does not see the
// connections. It needs Linux; elsewhere Serve returns ErrPollUnsupported.
//
// The zero value serves nothing: set Handler, or Route. Fields must not be
// changed once Serve has been called. Methods are safe for concurrent use.
type PollServer struct {
	// Handler serves every connection, unless Route is set.
	Handler *PollHandler
	// Route, if set, picks the handler for the request-target of a
	// handshake (the path and query, as sent); nil answers 404. It runs
	// on a loop and must not block.
	Route func(target []byte) *PollHandler
	// Loops is the number of event loops, the goroutines that run the
	// connections (0 means GOMAXPROCS).
	Loops int

	mu        sync.Mutex
	loops     []*pollLoop                    // guarded by mu; started by the first Serve
	listeners map[net.Listener]struct{}      // guarded by mu
	endpoints map[*PollHandler]*pollEndpoint // guarded by mu
	closed    bool                           // guarded by mu
	loopWG    sync.WaitGroup                 // the loops
	serveWG   sync.WaitGroup                 // the accepting goroutines

	hsEP  *pollEndpoint // of connections whose request is not routed yet
	epoch time.Time     // the loops' clock starts here
	next  atomic.Uint32 // the loop the next connection goes to
	open  atomic.Int64  // connections, handshakes included
	gone  chan struct{} // poked when a connection ends, for Shutdown
}

// pollEndpoint is a PollHandler ready for use: its Config with the
// defaults applied, once for all its connections.
type pollEndpoint struct {
	h         *PollHandler
	cfg       Config
	hsTimeout time.Duration // 0: none
	readSize  int           // the most read from the socket in one go
	err       error         // why the handler cannot serve, if it cannot
}

// pollReadSize is the size of a loop's read buffer: a 64 KiB message and
// its header arrive in one read, and go to OnMessage where they lie.
const pollReadSize = 128 << 10

// notFound answers a request that no handler serves, with 404, or with
// the error that a malformed request deserves.
var notFound = ws.Upgrader{OnRequest: func([]byte) error {
	return ws.Reject(http.StatusNotFound, "no WebSocket endpoint here")
}}

// endpoint returns the endpoint of h, preparing it on first use.
func (s *PollServer) endpoint(h *PollHandler) *pollEndpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ep, ok := s.endpoints[h]; ok {
		return ep
	}
	ep := &pollEndpoint{h: h, cfg: h.Config.withDefaults(ws.ServerSide)}
	switch {
	case h.OnMessage == nil:
		ep.err = errors.New("wsutil: PollHandler.OnMessage is not set")
	case h.Config.OnMessage != nil || h.Config.OnClose != nil:
		ep.err = errors.New("wsutil: a PollHandler takes OnMessage and OnClose as its own fields, not in Config")
	case h.Config.FrameMode || h.Config.InboundSize != 0:
		ep.err = errors.New("wsutil: a PollHandler has no FrameMode and no Inbound channel")
	}
	ep.hsTimeout = h.Upgrader.Timeout
	if ep.hsTimeout == 0 {
		ep.hsTimeout = ws.DefaultHandshakeTimeout
	}
	ep.hsTimeout = max(ep.hsTimeout, 0)
	ep.readSize = int(min(ep.cfg.InboundBytes, pollReadSize))
	if s.endpoints == nil {
		s.endpoints = make(map[*PollHandler]*pollEndpoint)
	}
	s.endpoints[h] = ep
	return ep
}

// route returns the endpoint for a request whose head starts req, or nil
// when no handler serves it. ok is false until the request line is
// complete.
func (s *PollServer) route(req []byte) (ep *pollEndpoint, ok bool) {
	line, _, found := bytes.Cut(req, []byte{'\n'})
	if !found {
		return nil, false
	}
	h := s.Handler
	if s.Route != nil {
		// method SP request-target SP HTTP-version (RFC 9112 §3); a
		// malformed line routes nowhere and gets its 400 from notFound.
		_, rest, _ := bytes.Cut(line, []byte{' '})
		target, _, _ := bytes.Cut(rest, []byte{' '})
		h = s.Route(target)
	}
	if h == nil {
		return nil, true
	}
	return s.endpoint(h), true
}

// Serve accepts connections on ln and runs them until Shutdown or Close,
// handshake included. ln must be a *net.TCPListener or *net.UnixListener
// (or anything with a SyscallConn method that gives the socket): the
// loops take the accepted sockets over from the Go runtime. Serve may be
// called for several listeners at once. It always returns a non-nil
// error: ErrServerClosed after Shutdown or Close, ErrPollUnsupported on a
// system without epoll, or why accepting failed; ln is closed when it
// returns.
func (s *PollServer) Serve(ln net.Listener) error {
	defer ln.Close()
	if s.Handler != nil {
		if ep := s.endpoint(s.Handler); ep.err != nil {
			return ep.err
		}
	} else if s.Route == nil {
		return errors.New("wsutil: PollServer has neither Handler nor Route")
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	if s.loops == nil {
		if err := s.startLoopsLocked(); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
	}
	s.listeners[ln] = struct{}{}
	s.serveWG.Add(1)
	s.mu.Unlock()
	defer s.serveWG.Done()
	err := s.accept(ln)
	s.mu.Lock()
	delete(s.listeners, ln)
	if s.closed {
		err = ErrServerClosed
	}
	s.mu.Unlock()
	return err
}

// startLoopsLocked starts the event loops.
func (s *PollServer) startLoopsLocked() error {
	n := s.Loops
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	s.epoch = time.Now()
	s.gone = make(chan struct{}, 1)
	s.hsEP = &pollEndpoint{cfg: Config{}.withDefaults(ws.ServerSide), hsTimeout: ws.DefaultHandshakeTimeout, readSize: pollReadSize}
	loops := make([]*pollLoop, 0, n)
	for range n {
		l, err := newPollLoop(s)
		if err != nil {
			for _, l := range loops {
				l.release()
			}
			return fmt.Errorf("wsutil: poll: %w", err)
		}
		loops = append(loops, l)
	}
	s.loops = loops
	for _, l := range loops {
		s.loopWG.Add(1)
		go l.run()
	}
	return nil
}

// loop picks the loop for a new connection.
func (s *PollServer) loop() *pollLoop {
	return s.loops[int(s.next.Add(1))%len(s.loops)]
}

// Len returns the number of connections the server runs, handshakes
// included.
func (s *PollServer) Len() int { return int(s.open.Load()) }

// connGone records that a connection has ended.
func (s *PollServer) connGone() {
	s.open.Add(-1)
	select {
	case s.gone <- struct{}{}:
	default:
	}
}

// Shutdown stops accepting, closes every connection with code and reason
// (the closing handshake, after what each has queued; handshakes in
// progress are cut), and waits until they have all ended or ctx is done;
// then it stops the loops. Connections still open when ctx ends are
// dropped, and Shutdown returns ctx.Err(). Serve returns ErrServerClosed.
func (s *PollServer) Shutdown(ctx context.Context, code ws.StatusCode, reason string) error {
	loops := s.stopAccepting()
	for _, l := range loops {
		l.closeAll(code, reason)
	}
	var err error
	for s.open.Load() > 0 && err == nil {
		select {
		case <-s.gone:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	s.stopLoops(loops)
	return err
}

// Close stops accepting and drops every connection at once, without a
// closing handshake, then stops the loops. Serve returns ErrServerClosed.
func (s *PollServer) Close() error {
	s.stopLoops(s.stopAccepting())
	return nil
}

// stopAccepting marks the server closed, closes its listeners and waits
// for the accepting goroutines. It returns the loops.
func (s *PollServer) stopAccepting() []*pollLoop {
	s.mu.Lock()
	s.closed = true
	for ln := range s.listeners {
		_ = ln.Close()
	}
	loops := s.loops
	s.mu.Unlock()
	s.serveWG.Wait()
	return loops
}

// stopLoops drops what is left on the loops and waits for them to exit.
func (s *PollServer) stopLoops(loops []*pollLoop) {
	for _, l := range loops {
		l.stop()
	}
	s.loopWG.Wait()
}

// since is the loops' clock.
func (s *PollServer) since() time.Duration { return time.Since(s.epoch) }
