package main

import (
	"bytes"
	"context"

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

// chatMessage broadcasts what a member sends to every member, the sender
// included, on the sender's reading goroutine. It does not wait for slow
// members: their Conns are configured by chatConnConfig to close when
// their queue is full, and the registry forgets them then. Holding
// chatOrder across the fan-out makes every member see the messages of
// concurrent senders in the same order.
//
// Server.Broadcast prepares the message (wsutil.Prepare): its frame is
// built once for the uncompressed members and compressed once for each
// window size among the compressed ones (they compress without context
// takeover, see chatDeflate), then written as it is to each. The payload
// is shared by all members, so it is copied out of the sender's buffer,
// which is valid only during OnMessage.
func (s *server) chatMessage(_ *wsutil.Conn, m wsutil.Message) {
	m.Payload = bytes.Clone(m.Payload)
	s.chatOrder.Lock()
	defer s.chatOrder.Unlock()
	s.chat.Broadcast(context.Background(), m, nil)
}

// chatJoined logs a new member.
func (s *server) chatJoined(c *wsutil.Conn, r *wsutil.Request) {
	s.accepted("/chat")(c, r)
	s.log.Debug("chat joined", "remote", r.HTTP.RemoteAddr, "members", s.chat.Len())
}
