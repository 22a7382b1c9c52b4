package cli

import (
	"errors"
	"log/slog"

	"github.com/sluice-ws/sluice/wsroom"
)

// Options are what a build of the command adds to the core one.
type Options struct {
	// ConnectRooms, when set, connects serve's /chat room to the other
	// nodes on the NATS server or cluster at url (serve -nats url), as
	// the node called name, logging to log what becomes of the
	// connection. nil, as in cmd/sluice, makes -nats fail with a message
	// naming the build that has it.
	ConnectRooms func(url, name string, log *slog.Logger) (Rooms, error)
}

// Rooms carries the /chat room between nodes: a wsroom.Backend, closed
// by serve once its WebSocket connections are.
type Rooms interface {
	wsroom.Backend
	Close() error
}

// chatRoom is the name of /chat's room in the Hub, and so on NATS.
const chatRoom = "chat"

// errNoNATS reports serve -nats in a build without NATS.
var errNoNATS = errors.New("-nats: this build of sluice has no NATS; " +
	"build github.com/sluice-ws/sluice/wsnats/cmd/sluice, the same command with NATS (docs/scale-out.md)")
