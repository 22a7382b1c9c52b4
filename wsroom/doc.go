// Package wsroom groups the connections of a wsutil.Server into named
// rooms: join, leave, list the members, publish to a room, send to one
// member. A message published to a room is framed once, and compressed
// once per kind of compressing member (wsutil.Prepare), for all of the
// room's members on this node.
//
// # Choosing a level
//
// wsutil.Server.Broadcast reaches every connection of one endpoint, with
// a filter. A Hub is for many groups within an endpoint (chat rooms,
// dashboards, game tables), and for groups that span several processes:
// give it a Backend, such as the NATS one of package
// github.com/sluice-ws/sluice/wsnats, and a message published on any node
// reaches the room's members on every node. Without a Backend rooms stay
// in the process and need nothing else.
//
//	hub := &wsroom.Hub{}
//	srv := &wsutil.Server{}
//	srv.Config.OnClose = hub.LeaveAll // the registry forgets closed members
//	srv.OnAccept = func(c *wsutil.Conn, r *wsutil.Request) { _ = hub.Join(c, "lobby") }
//	srv.Config.OnMessage = func(c *wsutil.Conn, m wsutil.Message) {
//		m.Payload = bytes.Clone(m.Payload) // valid only during OnMessage
//		_, _ = hub.Publish(ctx, "lobby", m)
//	}
//
// # Slow members
//
// Publish never waits for a member. Each member's Conn applies its own
// Config.Overflow when its send queue is full: OverflowClose and
// OverflowTryAgain close that member, OverflowDrop drops the message for
// it alone. A member configured with OverflowBlock, the wsutil default,
// would make the whole room wait for it; for room messages a Hub drops
// instead what does not fit in its Config.OutboundBytes, without the
// burst of up to twice OutboundBytes that OverflowDrop grants a member
// whose writer is making progress. Choose OverflowClose for rooms whose members
// must see every message or nothing (a chat), OverflowDrop for rooms
// where the latest message supersedes the others (a dashboard).
//
// # Order and delivery
//
// On one node, the messages of one publisher (one goroutine calling
// Publish in turn) reach each member in the order published. Messages of
// concurrent publishers may interleave differently for different members;
// serialise the publishers when every member must see the same order.
// What a Backend adds is stated by the Backend.
//
// # Concurrency
//
// All methods of a Hub may be called concurrently. A Hub's methods start
// no goroutines; a Backend may.
package wsroom
