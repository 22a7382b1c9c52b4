package wsutil

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sync"

	"github.com/sluice-ws/sluice/ws"
)

// Server is a WebSocket endpoint for net/http: an http.Handler that
// accepts connections (as Accept does, with its AcceptOptions), keeps
// every connection in a registry, and runs a server's life around them:
// an acceptance hook, broadcast, closing all, refusing new connections
// while keeping the open ones, and a graceful Shutdown, which
// http.Server.Shutdown triggers by itself. It covers what Node's ws and
// wsd Server and WebSocket-Node's WebSocketServer do.
//
// A connection is in the registry, with the Data its acceptance hook gave
// it, before its 101 response goes out: a broadcast made once the client
// could know it is connected reaches it.
//
// The zero value is ready to use, with the defaults of AcceptOptions; set
// the fields before the first request. A Server is safe for concurrent
// use.
type Server struct {
	// AcceptOptions configure the handshake and the Conns.
	AcceptOptions

	// CheckRequest, if set, sees every request before the handshake: its
	// origin, host, path and query, client address, offered
	// subprotocols and extensions, and TLS state. It admits the
	// connection by returning nil, and may set r.Data, which stays with
	// the connection (Data, Range and Broadcast see it); it refuses with
	// an error, a *ws.RejectError for the status, reason and fields of
	// the answer (Node ws's verifyClient, WebSocket-Node's
	// request.reject()), any other error with 403.
	CheckRequest func(r *Request) error

	// OnAccept, if set, is called with each connection once it is
	// registered and before its 101 response goes out, on the goroutine
	// of its HTTP request (Node ws's connection event): for logging, or
	// joining it to a room, which then cannot miss a message published
	// after the client's handshake completed. What it sends leaves right
	// after the 101. Do not block in it: the client waits for its 101.
	OnAccept func(c *Conn, r *Request)

	// Handle, if set, runs each connection on a goroutine of its own,
	// the channel form: range over c.Inbound(). With Config.OnMessage
	// leave it nil: the Conn then needs no goroutine of yours. Either
	// way the HTTP handler returns right after the handshake.
	Handle func(c *Conn, r *Request)

	// OnError, if set, is told of every failed handshake, after the
	// client got its answer (the seeds' error event): a refusal by
	// CheckRequest, the origin check or the subprotocol choice, an
	// invalid request, or a connection that failed.
	OnError func(r *http.Request, err error)

	// TrustedProxies lists the reverse proxies whose Forwarded or
	// X-Forwarded-For fields tell the client's address
	// (Request.RemoteAddr). A request from any other address is taken at
	// its word only for its own TCP address: anyone can write those
	// fields.
	TrustedProxies []netip.Prefix

	mu      sync.Mutex
	conns   map[*Conn]any // guarded by mu; the Data of each
	refuse  bool          // guarded by mu; Unmount or Shutdown
	stopped chan struct{} // guarded by mu; closed when Shutdown has finished
	hooked  sync.Map      // *http.Server whose Shutdown is wired to ours

	cfgOnce sync.Once
	cfg     *Config // the Conns' configuration, shared by them all
}

// Request is what Server.CheckRequest and Server.Handle see of a request.
type Request struct {
	// HTTP is the request. It is valid during CheckRequest; in Handle,
	// use what you need early, since net/http's buffers live as long as
	// something holds it.
	HTTP *http.Request
	// RemoteAddr is the client's address: the TCP peer's, or, from a
	// trusted proxy, the last untrusted address its forwarding fields
	// name (see Server.TrustedProxies).
	RemoteAddr netip.Addr
	// Origin is the Origin field: the page's origin for a browser, ""
	// for most other clients.
	Origin string
	// Protocols and Extensions are the subprotocols and extensions the
	// client offered, as it wrote them.
	Protocols  []string
	Extensions []string
	// TLS is the request's TLS state, nil over plain TCP.
	TLS *tls.ConnectionState
	// Data is what the application associates with the connection; set
	// it in CheckRequest.
	Data any
}

// ErrServerClosed is returned by Server's methods once Shutdown has begun,
// and answered to new connections with 503 Service Unavailable; and by
// PollServer.Serve after Shutdown or Close.
var ErrServerClosed = errors.New("wsutil: server closed")

// ServeHTTP accepts the WebSocket connection r asks for, and registers it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.wireShutdown(r)
	req, err := s.admit(w, r)
	if err != nil {
		s.failed(r, err)
		return
	}
	nc, hs, err := s.AcceptOptions.upgradeHTTP(w, r)
	if err != nil {
		s.failed(r, err) // the client has its answer
		return
	}
	var registered bool
	c, err := newConn(nc, ws.ServerSide, hs, s.connConfig(), func(c *Conn) {
		if registered = s.add(c, req.Data); registered && s.OnAccept != nil {
			s.OnAccept(c, req)
		}
	})
	if err != nil {
		nc.Close()
		s.failed(r, err)
		return
	}
	if !registered {
		// Shutdown began during the handshake.
		_ = c.Drop(ws.StatusGoingAway, "server closed")
		s.failed(r, ErrServerClosed)
		return
	}
	if s.Handle != nil {
		go s.Handle(c, req)
	}
}

// connConfig returns the configuration of the Conns, made at the first
// connection: the server defaults of AcceptOptions, Config's own defaults,
// and an OnClose that forgets the connection. Every Conn shares it, which
// keeps it out of what each idle connection costs.
func (s *Server) connConfig() *Config {
	s.cfgOnce.Do(func() {
		cfg := s.AcceptOptions.config().withDefaults(ws.ServerSide)
		onClose := cfg.OnClose
		cfg.OnClose = func(c *Conn) {
			s.remove(c)
			if onClose != nil {
				onClose(c)
			}
		}
		s.cfg = &cfg
	})
	return s.cfg
}

// admit runs the checks that come before the handshake: the Server
// accepts connections, and CheckRequest admits this one. A refusal is
// answered through w.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) (*Request, error) {
	if s.refusing() {
		ws.RejectHTTP(w, r, ws.Reject(http.StatusServiceUnavailable, "server closed"))
		return nil, ErrServerClosed
	}
	req := s.request(r)
	if s.CheckRequest != nil {
		if err := s.CheckRequest(req); err != nil {
			answer := err
			var re *ws.RejectError
			if !errors.As(err, &re) {
				answer = ws.Reject(http.StatusForbidden, "refused")
			}
			ws.RejectHTTP(w, r, answer)
			return nil, err
		}
	}
	return req, nil
}

// failed reports a failed handshake to OnError.
func (s *Server) failed(r *http.Request, err error) {
	if s.OnError != nil {
		s.OnError(r, err)
	}
}

// request builds the Request of r.
func (s *Server) request(r *http.Request) *Request {
	return &Request{
		HTTP:       r,
		RemoteAddr: clientAddr(r, s.TrustedProxies),
		Origin:     r.Header.Get("Origin"),
		Protocols:  offeredProtocols(r.Header["Sec-Websocket-Protocol"]),
		Extensions: r.Header["Sec-Websocket-Extensions"],
		TLS:        r.TLS,
	}
}

// Hijack runs the checks and the handshake as ServeHTTP does, writes the
// 101 response, and hands the raw connection over instead of running a
// Conn on it (watershed's accept(..., true)): for proxies that splice two
// connections, or protocols of your own. Bytes the client sent after its
// request are in hs.Buffered: read them first. The connection is not
// registered; closing it is up to you.
func (s *Server) Hijack(w http.ResponseWriter, r *http.Request) (net.Conn, ws.Handshake, *Request, error) {
	req, err := s.admit(w, r)
	if err != nil {
		return nil, ws.Handshake{}, nil, err
	}
	nc, hs, err := s.AcceptOptions.upgradeHTTP(w, r)
	if err != nil {
		return nil, ws.Handshake{}, nil, err
	}
	if _, err := nc.Write(hs.Response); err != nil {
		nc.Close()
		return nil, ws.Handshake{}, nil, err
	}
	hs.Response = nil
	return nc, hs, req, nil
}

// add registers c with data, unless the Server refuses connections.
func (s *Server) add(c *Conn, data any) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse {
		return false
	}
	if s.conns == nil {
		s.conns = make(map[*Conn]any)
	}
	s.conns[c] = data
	return true
}

// remove unregisters c.
func (s *Server) remove(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) refusing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refuse
}

// Len returns the number of open connections.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Data returns the Data CheckRequest gave c, and whether c is registered.
func (s *Server) Data(c *Conn) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.conns[c]
	return data, ok
}

// Range calls f for every open connection with its Data, until f returns
// false. It works on a snapshot: f may call any method of the Server.
func (s *Server) Range(f func(c *Conn, data any) bool) {
	for _, e := range s.snapshot() {
		if !f(e.c, e.data) {
			return
		}
	}
}

type connData struct {
	c    *Conn
	data any
}

func (s *Server) snapshot() []connData {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := make([]connData, 0, len(s.conns))
	for c, data := range s.conns {
		all = append(all, connData{c, data})
	}
	return all
}

// Broadcast sends m to every open connection for which filter returns
// true (nil: to all), and returns how many accepted it. The frame is built
// once, and compressed once per kind of compressing connection (see
// Prepare). Each connection applies its own Config.Overflow: with the
// default, OverflowBlock, a member whose send queue is full makes
// Broadcast wait for it (ctx bounds the wait); OverflowClose or
// OverflowDrop keep one slow member from holding up the others. A member
// is judged by the bytes it holds back (Config.OutboundBytes) and by how
// long its writes make no progress (Config.WriteTimeout), not by how
// many messages wait.
func (s *Server) Broadcast(ctx context.Context, m Message, filter func(c *Conn, data any) bool) int {
	m = Prepare(dataOpCode(m.OpCode), m.Payload)
	sent := 0
	for _, e := range s.snapshot() {
		if filter != nil && !filter(e.c, e.data) {
			continue
		}
		if e.c.Send(ctx, m) == nil {
			sent++
		}
	}
	return sent
}

// CloseAll runs the closing handshake with code and reason on every open
// connection at once (WebSocket-Node's closeAllConnections) and waits for
// them to end; connections still open when ctx ends are dropped. It
// returns how many closed cleanly and how many were dropped.
func (s *Server) CloseAll(ctx context.Context, code ws.StatusCode, reason string) (closed, dropped int) {
	conns := s.snapshot()
	results := make(chan error, len(conns))
	for _, e := range conns {
		go func() { results <- e.c.Close(code, reason) }()
	}
	for received := 0; received < len(conns); received++ {
		select {
		case err := <-results:
			if err == nil || IsCleanClose(err) {
				closed++
			}
		case <-ctx.Done():
			for _, e := range conns {
				if e.c.Terminate() == nil {
					dropped++
				}
			}
			for ; received < len(conns); received++ {
				if err := <-results; err == nil {
					closed++
				}
			}
			return closed, dropped
		}
	}
	return closed, dropped
}

// Unmount makes the Server refuse new connections (503 Service
// Unavailable) and leaves the open ones alone (WebSocket-Node's
// unmount()); Mount undoes it.
func (s *Server) Unmount() {
	s.mu.Lock()
	s.refuse = true
	s.mu.Unlock()
}

// Mount makes the Server accept connections again after Unmount. It does
// nothing once Shutdown has begun.
func (s *Server) Mount() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped == nil {
		s.refuse = false
	}
}

// Shutdown shuts the Server down gracefully: it refuses new connections,
// closes every open one with 1001 (going away), waits for the closing
// handshakes, and drops the connections still open when ctx ends. It
// returns ctx.Err() when it had to drop some, and nil otherwise; later
// calls wait for the first to finish. http.Server.Shutdown calls it for
// every http.Server the Server has served through (net/http itself
// forgets connections once they are upgraded).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.refuse = true
	first := s.stopped == nil
	if first {
		s.stopped = make(chan struct{})
	}
	stopped := s.stopped
	s.mu.Unlock()
	if !first {
		select {
		case <-stopped:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer close(stopped)
	if _, dropped := s.CloseAll(ctx, ws.StatusGoingAway, "server shutting down"); dropped > 0 {
		return ctx.Err()
	}
	return nil
}

// wireShutdown makes the Shutdown of the http.Server that serves r shut
// the Server down too, once per http.Server. Its closing handshakes are
// bounded by twice the Conns' CloseTimeout.
func (s *Server) wireShutdown(r *http.Request) {
	hs, ok := r.Context().Value(http.ServerContextKey).(*http.Server)
	if !ok {
		return
	}
	if _, loaded := s.hooked.LoadOrStore(hs, struct{}{}); loaded {
		return
	}
	hs.RegisterOnShutdown(func() {
		bound := 2 * s.AcceptOptions.config().withDefaults(ws.ServerSide).CloseTimeout
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
}

// clientAddr returns the client's address for r: the TCP peer's, or, when
// the peer is a trusted proxy, the last untrusted address of the
// forwarding fields (the one the first trusted proxy saw).
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := ap.Addr().Unmap()
	if !isTrusted(addr, trusted) {
		return addr
	}
	hops := forwardedFor(r.Header)
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(hops[i])
		if err != nil {
			return addr // a hop we cannot read: trust nothing before it
		}
		hop = hop.Unmap()
		if !isTrusted(hop, trusted) {
			return hop
		}
		addr = hop
	}
	return addr
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
