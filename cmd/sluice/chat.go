package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/sluice-ws/sluice/wsflate"
	"github.com/sluice-ws/sluice/wsutil"
)

// chatConnConfig is the Conn configuration of a chat client.
//
// The send queue is the per-client buffer of the room, and its overflow
// policy decides what a slow client costs the others. We close it:
// OverflowClose fails the connection with 1008 (policy violation) the
// moment its queue is full, without waiting, so that
//   - a broadcast never blocks: one stalled reader cannot hold up the room
//     (OverflowBlock with a timeout would stall everyone for the timeout,
//     once per message);
//   - every client that stays sees every message, in the same order as
//     everyone else (OverflowDrop would leave silent gaps in the
//     conversation);
//   - memory stays bounded by clients × queue bytes, and the
//     client learns why it was cut off and may reconnect.
//
// deflate, when not nil, is the chat's permessage-deflate configuration
// (chatDeflate), the one its upgrader negotiates with; budget is the
// server's memory budget.
func chatConnConfig(cfg serveConfig, deflate *wsflate.Extension, budget *wsutil.Budget) wsutil.Config {
	c := wsutil.Config{
		MaxMessageSize: int64(cfg.chatMaxMessage),
		MaxFrameSize:   int64(cfg.maxFrame),
		OutboundBytes:  int64(cfg.chatQueue),
		Overflow:       wsutil.OverflowClose,
		PingInterval:   cfg.pingInterval,
		WriteTimeout:   cfg.writeTimeout,
		MessageTimeout: cfg.messageTimeout,
		Budget:         budget,
	}
	if deflate != nil {
		c.Extension = deflate // not a nil *Extension in a non-nil interface
	}
	return c
}

// chatDeflate returns the chat's permessage-deflate configuration, or nil
// with -compress=false. The server compresses without context takeover
// (it answers server_no_context_takeover to every offer, RFC 7692
// §7.1.1.1), so that a broadcast prepared with wsutil.Prepare is
// compressed once per window size for every compressing member, instead
// of once per member; and a member costs no compression history between
// messages. With context takeover each member's stream depends on what
// that member was sent before, so every message would be compressed
// again for each of them, and each would keep up to 32 KiB of history.
// Small messages compress worse without the history (chat lines under
// -compress-threshold are not compressed at all either way); with a room
// of any size the CPU time saved dominates (docs/serve.md has the
// numbers, from BenchmarkChatBroadcast). Members still compress what they
// send with context takeover when they like: that costs the server one
// inflater history per member, the same as on /echo.
func chatDeflate(cfg serveConfig) *wsflate.Extension {
	return cfg.deflate.extension(true)
}

// hub is the chat room: it sends every message to every member.
type hub struct {
	log     *slog.Logger
	mu      sync.Mutex                // held during a whole broadcast: one order for all
	members map[*wsutil.Conn]struct{} // guarded by mu
}

func newHub(log *slog.Logger) *hub {
	return &hub{log: log, members: make(map[*wsutil.Conn]struct{})}
}

// join adds c to the room and returns the number of members.
func (h *hub) join(c *wsutil.Conn) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.members[c] = struct{}{}
	return len(h.members)
}

// leave removes c from the room.
func (h *hub) leave(c *wsutil.Conn) {
	h.mu.Lock()
	delete(h.members, c)
	h.mu.Unlock()
}

// broadcast queues m on every member, the sender included, and returns
// how many queued it. It does not wait for slow members: their Conns are
// configured by chatConnConfig to close when their queue is full, and
// they are removed from the room then. Holding mu across the fan-out makes
// every member see the messages of concurrent senders in the same order.
//
// The message is prepared (wsutil.Prepare): its frame is built once for
// the uncompressed members and compressed once for each window size
// among the compressed ones (they compress without context takeover, see
// chatDeflate), then written as it is to each. The payload is shared by
// all members; nobody modifies it.
func (h *hub) broadcast(ctx context.Context, m wsutil.Message) (queued int) {
	m = wsutil.Prepare(m.OpCode, m.Payload)
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.members {
		err := c.Send(ctx, m)
		switch {
		case err == nil:
			queued++
		case errors.Is(err, wsutil.ErrQueueFull):
			h.log.Warn("chat: client too slow, closed with 1008", "remote", c.NetConn().RemoteAddr().String())
			delete(h.members, c)
		default:
			// Closing or closed: its handler will make it leave.
		}
	}
	return queued
}

// handleChat joins the client to the room and broadcasts what it sends.
func (s *server) handleChat(w http.ResponseWriter, r *http.Request) {
	c := s.upgrade(w, r, &s.chatUpgrader, s.chatConfig)
	if c == nil {
		return
	}
	defer s.release(r.URL.Path, c)
	n := s.room.join(c)
	s.log.Debug("chat joined", "remote", r.RemoteAddr, "members", n)
	defer s.room.leave(c)
	for m := range c.Inbound() {
		s.room.broadcast(r.Context(), m)
	}
}
