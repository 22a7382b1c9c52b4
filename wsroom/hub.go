package wsroom

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// Hub groups connections into named rooms. A room exists while it has
// members; a connection may be in any number of rooms.
//
// The zero value is a ready in-process Hub; set Backend before the first
// Join to span several nodes. Remove a closed connection from every room
// with LeaveAll, best from its Config.OnClose (wsutil.Server's
// AcceptOptions.Config); Publish also forgets members it finds closed.
// A Hub is safe for concurrent use.
type Hub struct {
	// Backend, if set, carries the messages published on this node to
	// the other nodes, and theirs to the members on this node. nil keeps
	// every room in this process.
	Backend Backend

	mu    sync.RWMutex
	rooms map[string][]*wsutil.Conn // guarded by mu; replaced, never changed in place
	of    map[*wsutil.Conn][]string // guarded by mu; the rooms of each member
}

// closedCtx is the context of the sends to members: done already, so
// that a member configured with wsutil.OverflowBlock drops what does not
// fit instead of making the room wait.
var closedCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// Join makes c a member of room; joining a room twice is one membership.
// With a Backend, the first member of a room on this node subscribes the
// node to it, and an error of the Backend's Subscribe leaves c out. Join
// returns an error matching net.ErrClosed when c is closing or closed.
func (h *Hub) Join(c *wsutil.Conn, room string) error {
	if c.State() >= wsutil.StateClosing {
		return fmt.Errorf("wsroom: join %q: %w", room, net.ErrClosed)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	members := h.rooms[room]
	if slices.Contains(members, c) {
		return nil
	}
	if len(members) == 0 && h.Backend != nil {
		if err := h.Backend.Subscribe(room, func(op ws.OpCode, payload []byte) {
			h.deliver(room, wsutil.Prepare(op, payload))
		}); err != nil {
			return fmt.Errorf("wsroom: join %q: %w", room, err)
		}
	}
	if h.rooms == nil {
		h.rooms = make(map[string][]*wsutil.Conn)
		h.of = make(map[*wsutil.Conn][]string)
	}
	h.rooms[room] = append(slices.Clip(members), c)
	h.of[c] = append(h.of[c], room)
	return nil
}

// Leave removes c from room; it does nothing when c is not a member. With
// a Backend, the last member of a room on this node unsubscribes the node
// from it, and Leave returns the Backend's error.
func (h *Hub) Leave(c *wsutil.Conn, room string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.leaveLocked(c, room)
}

// LeaveAll removes c from every room it is in. Its signature fits
// wsutil.Config.OnClose. Errors of the Backend's Unsubscribe are ignored:
// a node subscribed to a room it no longer serves only receives messages
// it delivers to no one.
func (h *Hub) LeaveAll(c *wsutil.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, room := range slices.Clone(h.of[c]) {
		_ = h.leaveLocked(c, room)
	}
}

func (h *Hub) leaveLocked(c *wsutil.Conn, room string) error {
	members := h.rooms[room]
	i := slices.Index(members, c)
	if i < 0 {
		return nil
	}
	rooms := slices.DeleteFunc(h.of[c], func(r string) bool { return r == room })
	if len(rooms) == 0 {
		delete(h.of, c)
	} else {
		h.of[c] = rooms
	}
	if len(members) == 1 {
		delete(h.rooms, room)
		if h.Backend != nil {
			if err := h.Backend.Unsubscribe(room); err != nil {
				return fmt.Errorf("wsroom: leave %q: %w", room, err)
			}
		}
		return nil
	}
	// Copy, since Publish may be ranging over the old slice.
	h.rooms[room] = slices.Delete(slices.Clone(members), i, i+1)
	return nil
}

// Members returns the members of room on this node, in the order they
// joined.
func (h *Hub) Members(room string) []*wsutil.Conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return slices.Clone(h.rooms[room])
}

// Rooms returns the rooms c is a member of, in the order it joined them.
func (h *Hub) Rooms(c *wsutil.Conn) []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return slices.Clone(h.of[c])
}

// Publish sends m to every member of room: on this node at once, and
// through the Backend, if any, to the room's members on the other nodes.
// It returns how many members on this node accepted the message into
// their send queues; a member whose queue is full is handled by its
// Config.Overflow (see the package documentation) and not counted.
// Publish does not wait for any member; ctx bounds only the Backend's
// Publish, whose error it returns wrapped.
//
// m.OpCode is ws.OpText or ws.OpBinary (0 means binary), or Publish
// returns wsutil.ErrOpCode. The frame is built once for every member on
// this node (wsutil.Prepare); m.Payload must not change afterwards, so
// copy a received message's payload first.
func (h *Hub) Publish(ctx context.Context, room string, m wsutil.Message) (int, error) {
	op, ok := dataOpCode(m.OpCode)
	if !ok {
		return 0, wsutil.ErrOpCode
	}
	n := h.deliver(room, wsutil.Prepare(op, m.Payload))
	if h.Backend != nil {
		if err := h.Backend.Publish(ctx, room, op, m.Payload); err != nil {
			return n, fmt.Errorf("wsroom: publish to %q: %w", room, err)
		}
	}
	return n, nil
}

// SendTo sends m to c, a member of room on this node, under the same
// rules as Publish: it returns ErrNotMember when c is not in room,
// ErrDropped when c's send queue had no room for m, and an error matching
// net.ErrClosed when c is closing or closed.
func (h *Hub) SendTo(room string, c *wsutil.Conn, m wsutil.Message) error {
	op, ok := dataOpCode(m.OpCode)
	if !ok {
		return wsutil.ErrOpCode
	}
	h.mu.RLock()
	member := slices.Contains(h.rooms[room], c)
	h.mu.RUnlock()
	if !member {
		return ErrNotMember
	}
	m.OpCode = op
	return h.send(c, m)
}

// deliver sends the prepared message m to the members of room on this
// node and returns how many took it.
func (h *Hub) deliver(room string, m wsutil.Message) int {
	h.mu.RLock()
	members := h.rooms[room]
	h.mu.RUnlock()
	n := 0
	var closed []*wsutil.Conn
	for _, c := range members {
		switch err := h.send(c, m); {
		case err == nil:
			n++
		case errors.Is(err, net.ErrClosed):
			closed = append(closed, c)
		}
	}
	for _, c := range closed {
		h.LeaveAll(c)
	}
	return n
}

// send queues m on c without waiting.
func (h *Hub) send(c *wsutil.Conn, m wsutil.Message) error {
	err := c.Send(closedCtx, m)
	if errors.Is(err, context.Canceled) {
		return ErrDropped // OverflowBlock, full
	}
	return err
}

// dataOpCode returns the opcode a published message goes out with.
func dataOpCode(op ws.OpCode) (ws.OpCode, bool) {
	switch op {
	case ws.OpText, ws.OpBinary:
		return op, true
	case 0:
		return ws.OpBinary, true
	}
	return 0, false
}
