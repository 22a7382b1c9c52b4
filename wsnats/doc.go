// Package wsnats is a wsroom.Backend on NATS (https://nats.io): the rooms
// of a wsroom.Hub span every node connected to the same NATS server or
// cluster, so that a message published on any node reaches the room's
// members on all of them.
//
// It is a module of its own, github.com/sluice-ws/sluice/wsnats, so that
// a program that does not import it never compiles NATS in.
//
//	b, err := wsnats.Connect("nats://127.0.0.1:4222", wsnats.Config{})
//	if err != nil {
//		return err
//	}
//	defer b.Close()
//	hub := &wsroom.Hub{Backend: b}
//
// # Design
//
// A room is one NATS subject, Config.Prefix and the room name in
// unpadded base64url (any name, even one with dots or spaces, is one
// subject token). A node subscribes to a room's subject while the room
// has members on it, and to nothing else: it receives only the rooms it
// serves. A message travels as one NATS message, the WebSocket opcode in
// its first byte and the payload after it. The node that publishes
// delivers to its own members directly (wsroom.Hub), and its NATS
// connection is opened with no echo, so it never receives its own
// messages back.
//
// # Guarantees
//
// Delivery is core NATS's: at most once. In steady state, with every node
// connected, a message published on any node reaches each member of the
// room on every node exactly once, and the messages published on one node
// reach every member in the order they were published there (NATS keeps
// the order of one connection's messages to each subscriber; a Hub's
// members on the publishing node get them directly, in the same order).
// Messages of different nodes may interleave differently on different
// nodes.
//
// Nothing is stored and nothing is retransmitted, so:
//
//   - A member sees the messages published after its node subscribed to
//     the room, which happens when the room's first member there joins;
//     Flush waits until NATS has the subscription.
//   - When a node stops, its members are gone; the other nodes go on.
//     Messages it published that NATS had not yet received are lost.
//   - When NATS is unreachable, every node keeps serving its own members,
//     and reconnects by itself, for ever, every Config.ReconnectWait.
//     Messages published meanwhile are kept in the NATS client's
//     reconnect buffer, bounded by Config.ReconnectBuffer bytes, and sent
//     once it reconnects; Publish fails with an error matching
//     ErrBufferFull when the buffer is full: that message reaches no other
//     node, and the members on the publishing node have it already. Of
//     what a node's buffer took, a member on another node gets the
//     messages that reach NATS after its own node has subscribed again:
//     none, all, or the latest ones, in order and never twice. Messages
//     published in the moment between NATS going away and the client
//     noticing are lost without an error, as they are when a node stops.
//   - A node whose subscribers fall behind the NATS client's pending
//     limits (500,000 messages or 64 MiB per room by default) loses
//     messages: the client drops them and reports a slow consumer, counted
//     in Stats.Dropped and Stats.SlowConsumer. A Hub's delivery never
//     waits for a member, so only a node short of CPU falls behind.
//   - NATS refuses messages over its max_payload (1 MiB by default):
//     Publish then fails.
//
// # Concurrency
//
// A Backend's methods may be called concurrently. It owns one NATS
// connection, whose goroutines run until Close.
package wsnats
