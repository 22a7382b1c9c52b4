package wsroom

import (
	"context"

	"github.com/sluice-ws/sluice/ws"
)

// Backend carries a Hub's room messages between the nodes that serve the
// same rooms: a message one node publishes reaches the Hubs of the other
// nodes that have members in the room. A Hub delivers to its own members
// itself, so a Backend must not hand a node back what that node
// published.
//
// A Hub calls Subscribe when a room gets its first member on this node
// and Unsubscribe when it loses its last, so that a node receives only
// the rooms it serves; the calls for one room alternate, starting with
// Subscribe. Publish is called for every published message, whether or
// not this node has members in the room.
//
// A Backend states its delivery guarantees: what it keeps of a
// publisher's order, and what is lost when a node or the messaging system
// restarts. All methods may be called concurrently.
type Backend interface {
	// Subscribe starts calling deliver with every message published to
	// room on another node. deliver is called from one goroutine at a
	// time per room, in the order the messages of each publisher were
	// published; it may keep payload, which no one changes afterwards.
	Subscribe(room string, deliver func(op ws.OpCode, payload []byte)) error
	// Unsubscribe stops the deliveries of room.
	Unsubscribe(room string) error
	// Publish sends a message to the room's members on the other nodes.
	// It may return before they have it; an error says the message will
	// not reach them. payload does not change afterwards.
	Publish(ctx context.Context, room string, op ws.OpCode, payload []byte) error
}
