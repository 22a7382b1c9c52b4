// Package wsutil is the layer of sluice most programs use: WebSocket
// messages on top of the frames of package ws.
//
// # Choosing a level
//
// Conn is the channel API: a connection whose messages arrive on an
// Inbound channel (or through Receive, or a callback, Config.OnMessage)
// and leave through an Outbound channel or Send, with keepalive, the
// closing handshake, backpressure, byte budgets and a clean shutdown
// handled for you. Start here. Accept (net/http) and AcceptConn (a raw
// connection) run the handshake and return a Conn with production
// defaults:
//
//	c, err := wsutil.Accept(w, r, nil)
//	if err != nil {
//		return // the client has its answer; nothing is left open
//	}
//	go func() {
//		for m := range c.Inbound() {
//			_ = c.Send(ctx, m) // echo
//		}
//		if err := c.Err(); !wsutil.IsCleanClose(err) {
//			log.Println("connection lost:", err)
//		}
//	}()
//
// Server is an http.Handler that accepts connections into a registry:
// an acceptance hook, broadcast, closing all, and a graceful Shutdown. A
// Budget bounds the bytes many Conns hold together.
//
// PollServer is the event-loop mode, for servers on Linux: a few
// goroutines run every connection (epoll), handshake included, and call a
// PollHandler's OnMessage with each message; a PollConn sends without
// ever waiting, under the same limits and Budget as a Conn. An idle
// connection holds about a kilobyte and no goroutine.
//
// ReadMessage, WriteMessage and WriteClose are one-call helpers for
// programs that drive a connection from one goroutine. Reader and Writer
// stream one message at a time with your own buffers and no goroutines,
// for servers that want full control; ControlHandler answers pings and
// close frames for them. Below this sits package ws.
//
// Every reader in this package checks what RFC 6455 requires of a
// receiver: fragmentation rules, control frames between fragments, UTF-8
// of text (failing on the first invalid byte), frame and message limits.
// Violations come back as *ws.ProtocolError carrying the close code to
// send, which Conn sends for you.
//
// Compression plugs in through the Extension, RecvExtension and
// SendExtension interfaces, which package wsflate satisfies.
//
// # Concurrency
//
// Conn is safe for concurrent use: it serialises all writes through one
// writer at a time, so any number of goroutines may send. It runs one
// reading goroutine, and others only while there is work: a writer while
// something is queued, a deliverer while messages wait for room on
// Inbound, and one for Outbound once it is used. All have exited once
// Done is closed. Server is safe for concurrent use. A PollServer starts
// its event loops (GOMAXPROCS by default) and one goroutine per Serve
// call, whatever the number of connections, and they have exited once
// Shutdown or Close returns; a PollHandler's callbacks run on the loops
// and must not block, and a PollConn's methods are safe from any
// goroutine. Reader, Writer and ControlHandler are not safe for
// concurrent use, and nothing else may write a connection while a Writer
// is in the middle of a message or a ControlHandler replies; the one-call
// helpers keep no state and may be used from different goroutines on
// different connections.
package wsutil
