package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// pollServer is serve -poll: /echo and /chat on the event loops of a
// wsutil.PollServer, which does the handshakes itself, so that no
// connection holds a goroutine. The limits, the budget and the
// compression are those of the goroutine-per-connection server it is
// built from; only the page at / is missing, for a PollServer owns its
// listener and speaks nothing but WebSocket (a plain request gets 426,
// an unknown path 404).
type pollServer struct {
	*server
	poll       wsutil.PollServer
	echo, chat wsutil.PollHandler
	room       pollRoom
}

// newPollServer turns the configuration of s into a PollServer's.
func newPollServer(s *server) *pollServer {
	p := &pollServer{server: s, room: pollRoom{log: s.log, members: make(map[*wsutil.PollConn]struct{})}}
	cfg := s.cfg
	// The Upgrader's Timeout bounds the wait for the request head, the
	// job of net/http's ReadHeaderTimeout in the other mode; the 101
	// response goes out without waiting.
	p.echo = wsutil.PollHandler{
		Upgrader: ws.Upgrader{
			Timeout:        cfg.readHeaderTimeout,
			MaxHeaderBytes: maxHeaderBytes,
			Protocol:       func([]byte) bool { return true },
			CheckOrigin:    ws.AnyOrigin,
		},
		Config:    pollConfig(s.echo.AcceptOptions),
		OnOpen:    p.opened,
		OnMessage: func(c *wsutil.PollConn, m wsutil.Message) { _ = c.Send(context.Background(), m) },
		OnClose:   p.closed,
	}
	if s.echoDeflate != nil {
		p.echo.Upgrader.Extension = s.echoDeflate.Negotiate
	}
	p.chat = wsutil.PollHandler{
		Upgrader: ws.Upgrader{
			Timeout:        cfg.readHeaderTimeout,
			MaxHeaderBytes: maxHeaderBytes,
			CheckOrigin:    ws.SameOrigin,
		},
		Config:    pollConfig(s.chat.AcceptOptions),
		OnOpen:    p.joined,
		OnMessage: func(_ *wsutil.PollConn, m wsutil.Message) { p.room.broadcast(m) },
		OnClose:   p.left,
	}
	if len(cfg.origins) > 0 {
		p.chat.Upgrader.CheckOrigin = ws.AllowOrigins(cfg.origins...)
	}
	if s.chatDeflate != nil {
		p.chat.Upgrader.Extension = s.chatDeflate.Negotiate
	}
	p.poll.Route = func(target []byte) *wsutil.PollHandler {
		switch path, _, _ := cutQuery(target); string(path) {
		case "/echo":
			return &p.echo
		case "/chat":
			return &p.chat
		}
		return nil
	}
	return p
}

// pollConfig returns the Config of an endpoint of the other mode for a
// PollHandler: without the callbacks of the Conn's handler form, which a
// PollHandler has as fields of its own, and with keepalive and the write
// timeout off where the endpoint turned them off (negative, see orOff).
func pollConfig(o wsutil.AcceptOptions) wsutil.Config {
	cfg := o.Config
	cfg.OnMessage, cfg.OnClose = nil, nil
	cfg.PingInterval = max(cfg.PingInterval, 0)
	cfg.WriteTimeout = max(cfg.WriteTimeout, 0)
	return cfg
}

// cutQuery splits a request-target at its query.
func cutQuery(target []byte) (path, query []byte, found bool) {
	for i, b := range target {
		if b == '?' {
			return target[:i], target[i+1:], true
		}
	}
	return target, nil, false
}

// serve serves on ln until ctx is cancelled, then closes every connection
// with 1001 (going away) and waits for the closing handshakes, at most
// cfg.shutdownTimeout. It returns an error only when serving fails (on a
// system without epoll, at once).
func (p *pollServer) serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- p.poll.Serve(ln) }()
	// Tests parse the address from this line: keep its shape.
	p.log.Info("listening", "addr", ln.Addr().String(), "mode", "poll")

	var serveErr error
	select {
	case serveErr = <-errc:
		p.log.Error("serve failed", "err", serveErr)
	case <-ctx.Done():
		p.log.Info("shutting down", "timeout", p.cfg.shutdownTimeout, "connections", p.poll.Len())
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.shutdownTimeout)
	defer cancel()
	open := p.poll.Len()
	if err := p.poll.Shutdown(sctx, ws.StatusGoingAway, shutdownReason); err != nil {
		p.log.Warn("shutdown", "err", err, "dropped", p.poll.Len())
	}
	if serveErr == nil {
		if err := <-errc; !errors.Is(err, wsutil.ErrServerClosed) {
			serveErr = err
		}
	}
	p.log.Info("stopped", "closed", open)
	if serveErr != nil {
		return fmt.Errorf("serve: %w", serveErr)
	}
	return nil
}

// opened logs a new /echo connection.
func (p *pollServer) opened(c *wsutil.PollConn) { p.logOpen("/echo", c) }

// closed logs the end of an /echo connection.
func (p *pollServer) closed(c *wsutil.PollConn) { p.logClose("/echo", c) }

// joined adds a /chat connection to the room.
func (p *pollServer) joined(c *wsutil.PollConn) {
	p.logOpen("/chat", c)
	n := p.room.join(c)
	p.log.Debug("chat joined", "remote", remote(c), "members", n)
}

// left removes a /chat connection from the room.
func (p *pollServer) left(c *wsutil.PollConn) {
	p.room.leave(c)
	p.logClose("/chat", c)
}

func (p *pollServer) logOpen(path string, c *wsutil.PollConn) {
	p.log.Debug("connected", "path", path, "remote", remote(c), "protocol", c.Protocol(),
		"extensions", formatExtensions(c.Extensions()))
}

func (p *pollServer) logClose(path string, c *wsutil.PollConn) {
	st := c.Stats()
	err := c.Err()
	p.log.Debug("disconnected", "path", path, "remote", remote(c),
		"code", int(ws.CloseStatus(err)), "err", err,
		"messages_in", st.MessagesIn, "messages_out", st.MessagesOut,
		"bytes_in", st.BytesIn, "bytes_out", st.BytesOut, "dropped", st.Dropped)
}

// remote is c's peer address for the log.
func remote(c *wsutil.PollConn) string {
	if a := c.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

// pollRoom is the chat room of serve -poll, for PollConns: what the
// other mode gets from wsutil.Server.Broadcast. broadcast runs on the
// loop of the sender; Send never waits, and a member whose queue is full
// is closed with 1008 (OverflowClose, see chatConnConfig), so one slow
// member holds up no loop.
type pollRoom struct {
	log     *slog.Logger
	mu      sync.Mutex                    // held during a whole broadcast: one order for all
	members map[*wsutil.PollConn]struct{} // guarded by mu
}

func (r *pollRoom) join(c *wsutil.PollConn) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.members[c] = struct{}{}
	return len(r.members)
}

func (r *pollRoom) leave(c *wsutil.PollConn) {
	r.mu.Lock()
	delete(r.members, c)
	r.mu.Unlock()
}

// broadcast queues m, prepared once, on every member.
func (r *pollRoom) broadcast(m wsutil.Message) {
	m = wsutil.Prepare(m.OpCode, m.Payload)
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.members {
		if err := c.Send(context.Background(), m); errors.Is(err, wsutil.ErrQueueFull) {
			r.log.Warn("chat: client too slow, closed with 1008", "remote", remote(c))
			delete(r.members, c)
		}
	}
}
