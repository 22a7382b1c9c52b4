// Package interop holds sluice's interoperability tests: real third-party
// WebSocket implementations talk to packages ws and wsutil over real
// sockets on 127.0.0.1. It has no API; everything is in the _test.go files
// and in the peer programs beside them.
//
// # Peers
//
//   - npm ws and npm websocket (WebSocket-Node), versions pinned in
//     node/package-lock.json, run by node/peer.js;
//   - Python's websockets from Debian (python3-websockets, 10.4 on
//     bookworm; legacy asyncio API), run by python/peer.py with
//     /usr/bin/python3;
//   - headless Chromium (Debian package chromium), running
//     chromium/peer.html served by the Go test server.
//
// `make deps` (scripts/deps.sh, run first by `make test`) installs them all.
// When a peer is missing, its tests FAIL with a message that says to run
// `make deps`. Set SLUICE_INTEROP=skip to skip them instead, with that
// reason, on a machine that cannot install them.
//
// # How the tests drive a peer
//
// Each peer program is started once per test (exec.CommandContext, a time
// bound, its own process group killed at cleanup, stderr in the log on
// failure) and serves every case of that test: one process per direction
// and language, five in all. The Go side sends it requests as JSON lines on
// stdin (connect, listen, accept, send, recv, ping, close, closed, kill;
// node/peer.js documents them) and reads the answers on stdout; the browser
// page gets the same requests by long-polling the test server and posts the
// answers back. Payloads travel base64-encoded. So every case is written
// once in Go, with our end and the peer's end side by side, and runs over
// every pair whose ends can do what it needs. Compression is off on every
// peer; the scripts take a "compress" option for when permessage-deflate
// cases arrive.
//
// # Matrix
//
// Our server, in two variants: "conn" (ws.HTTPUpgrader in a net/http
// handler, then wsutil.NewConn) and "helpers" (ws.Upgrader on a raw
// listener, then wsutil.ReadMessage, WriteMessage and CloseHandshake over a
// bufio.ReadWriter), against the clients of ws, websocket, websockets and
// Chromium (TestNodeAsClient, TestPythonAsClient, TestChromiumAsClient).
// Our client (ws.Dialer, then wsutil.NewConn) against the servers of ws,
// websocket and websockets (TestNodeAsServer, TestPythonAsServer).
//
// Cases, each over a new connection:
//
//	echo                              text (empty, ASCII, multi-byte, 1 MiB) and binary
//	                                  (empty, bytes, 1 MiB) both ways, then a 1000 close
//	fragmented-by-peer                a text message split inside a character, and a binary
//	                                  one with an empty middle frame          [peer fragments]
//	fragmented-by-us                  Config.FragmentSize 1000, cutting characters  [conn]
//	ping-by-us                        Conn.Ping round trips                         [conn]
//	ping-by-peer                      the peer's ping is answered while we wait
//	                                  for the next message                     [peer pings]
//	subprotocol                       client offers chat.v1, chat.v2; the server
//	                                  picks chat.v2; both ends report it
//	close-by-peer                     4001 + UTF-8 reason: Err is exactly that CloseError,
//	                                  the peer sees it echoed, one close frame from us
//	close-by-us                       4002 + reason: the peer sees exactly that
//	abnormal-close-by-peer            the peer drops TCP: Err matches
//	                                  wsutil.ErrAbnormalClosure                  [peer kills]
//	invalid-utf8-by-peer              a text frame with a surrogate: the peer sees 1007,
//	                                  Err matches wsutil.ErrInvalidUTF8        [peer raw text]
//	invalid-utf8-unfinished-fragment  the same in the first frame of a message that never
//	                                  ends: we fail at once                    [peer raw text]
//
// A browser cannot ping, fragment, send invalid UTF-8 or drop TCP, so
// Chromium runs only the cases without a bracketed need; the helpers
// variant has no Conn.Ping and no FragmentSize. TestCloseEchoAfterPeerHalfClose
// reproduces, with a few lines of Go, what WebSocket-Node does on close
// (close frame, then TCP half-close) many times over.
package interop
