package wsroom

import "errors"

var (
	// ErrNotMember reports a send to a connection that is not a member
	// of the room.
	ErrNotMember = errors.New("wsroom: not a member of the room")
	// ErrDropped reports a message a member's send queue had no room
	// for; the member's Config.Overflow decided what became of the
	// member (see the package documentation).
	ErrDropped = errors.New("wsroom: message dropped for a slow member")
)
