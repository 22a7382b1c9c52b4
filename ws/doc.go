// Package ws is the low level of sluice: RFC 6455 frames, masking, close
// codes, the checks the protocol requires, and the opening handshake on both
// sides. It knows nothing of messages, goroutines or compression beyond the
// RSV bits, so it fits any I/O model, including event loops (epoll,
// netpoll) that keep no goroutine per connection.
//
// # When to use it
//
// Most programs want package wsutil, which turns a connection into whole
// messages (or a pair of channels) and handles control frames, UTF-8 and
// limits. Use ws directly to write your own read loop, a proxy that moves
// frames without decoding them, a broadcast that writes one compiled frame
// to many connections, or an event-loop server.
//
// # Frames
//
// Header, ReadHeader/WriteHeader (streams) and ParseHeader/AppendHeader
// (buffers) encode and decode frame headers without allocating. Frame,
// ReadFrame, WriteFrame and AppendFrame handle whole frames, and Cipher
// applies the masking key. CheckHeader enforces the per-frame rules of
// RFC 6455 and returns a *ProtocolError that carries the close code to
// send. Parser and ParseFrame decode frames from bytes you already have,
// returning io.ErrShortBuffer until enough have arrived.
//
//	h, err := ws.ReadHeader(br)
//	if err == nil {
//		err = ws.CheckHeader(h, ws.ServerSide, 0)
//	}
//	if err != nil { /* close with the code in err */ }
//	payload := make([]byte, h.Length)
//	io.ReadFull(br, payload)
//	ws.Cipher(payload, h.Mask, 0)
//
// # Handshake
//
// Upgrader upgrades a raw connection, parsing the request itself without
// allocating; UpgradeBuffer is the same parser for bytes an event loop has
// collected. HTTPUpgrader upgrades inside a net/http handler. Dialer opens a
// client connection. All of them return a Handshake whose Buffered field
// holds bytes that arrived right after the handshake: read them first.
//
// # Concurrency
//
// Package ws starts no goroutine that outlives a call (Dial watches its
// context for the length of the call) and holds no locks. Functions are safe to
// call concurrently on different values. Parser is a stateful value and is
// not safe for concurrent use; Upgrader, HTTPUpgrader and Dialer are
// configuration and may be shared by any number of goroutines once set up.
// Two goroutines must not write frames to one connection at once: frames
// would interleave. wsutil serialises writers for you.
package ws
