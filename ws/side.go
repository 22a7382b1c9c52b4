package ws

// Side is the role of this end of a connection. Readers, writers and checks
// take it once, when they are built, and derive from it which frames must be
// masked: a client masks what it sends, a server never does (RFC 6455 §5.1).
type Side uint8

// The two roles. The zero value is ServerSide.
const (
	ServerSide Side = iota // server
	ClientSide             // client
)

// Peer returns the opposite role.
func (s Side) Peer() Side { return 1 - s }
