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
//     chromium/peer.html served by the Go test server; and, in
//     TestChromiumChat, the chat page of a `sluice serve` child process,
//     driven through the DevTools protocol (Runtime.evaluate over a
//     WebSocket of sluice's own client, --remote-debugging-port on
//     127.0.0.1) while a Go client joins the same room.
//
// `make deps` (scripts/deps.sh, run first by `make test`) installs them all.
// When it cannot (no root and no sudo, no apt-get), `make test` sets
// SLUICE_INTEROP_UNAVAILABLE to the suites it could not provide and why
// ("node: …; python: …; chromium: …"); those suites are skipped with that
// reason, and the last line of `make test` names them. That variable is
// the only way to skip a suite: a peer missing without it FAILS its test,
// with a message that says to run `make deps`, so that CI, which runs as
// root, cannot skip anything by accident.
//
// # How the tests drive a peer
//
// Each peer program is started once per test (exec.CommandContext, its own
// process group killed at cleanup, stderr in the log on failure) and serves
// every case of that test: one process per direction
// and language, five in all. The Go side sends it requests as JSON lines on
// stdin (connect, listen, accept, send, recv, echo, ping, close, closed,
// kill; node/peer.js documents them) and reads the answers on stdout; the
// browser page gets the same requests by long-polling the test server and
// posts the answers back. Payloads travel base64-encoded; "echo" has the
// peer send a message back as it came and answer with its size and
// SHA-256 only, since under -race JSON and base64 cost about ten times
// what compressing the same megabyte does. So every case is written
// once in Go, with our end and the peer's end side by side, and runs over
// every pair whose ends can do what it needs. permessage-deflate is off on
// every peer unless a connect or listen request carries "compress" (the
// permessage-deflate matrix below).
//
// No wait has a fixed bound a slow machine could reach while the code is
// right: the peer lives until its test ends, and every wait, ours and the
// peer's (passed to it as -wait-ms, or ?wait_ms= for the browser), ends at
// the run's deadline (go test -timeout, less a margin; internal/wstest).
// A peer that dies before its test ends fails that test once, saying how
// (exit status or signal, the end of its stderr); the cases still using it
// are skipped (caseT) instead of failing one by one without saying why.
//
// Our end's socket is wrapped in a tap (local_test.go) that parses the
// frame headers going each way as the bytes pass, so cases can check what
// was on the wire: close and pong frames we sent, RSV1.
//
// # Matrix
//
// Our server, in three variants: "conn" (ws.HTTPUpgrader in a net/http
// handler, then wsutil.NewConn), "helpers" (ws.Upgrader on a raw
// listener, then wsutil.ReadMessage, WriteMessage and CloseHandshake over a
// bufio.ReadWriter) and, on Linux, "poll" (wsutil.PollServer: the event
// loops do the handshake and run the connection; poll_test.go), against
// the clients of ws, websocket, websockets and Chromium (TestNodeAsClient,
// TestPythonAsClient, TestChromiumAsClient). A PollServer owns its
// sockets, so the peer reaches it through a relay on 127.0.0.1 that
// records the frames both ways, and passes half-closes and resets on.
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
//
// # permessage-deflate matrix
//
// The "deflate" subtests of the same five tests run the deflate cases
// (deflate_test.go) over each setup: the peer library's own options (the
// "compress" field, named after RFC 7692's parameters), our
// wsflate.Extension, and the parameters the handshake must settle. Our
// server runs as "conn" (HTTPUpgrader with Extension.Negotiate, then
// wsutil.Conn with Config.Extension) and "stream" (ws.Upgrader with
// Extension.Negotiate, then a wsutil.Reader and Writer carrying the halves
// of Extension.Bind; stream_test.go), since the one-call helpers do not
// decompress, and "poll" (a PollHandler's Upgrader with
// Extension.Negotiate and its Config.Extension). Our client is ws.Dialer with Offer and CheckResponse, then
// wsutil.Conn.
//
//	npm ws client         defaults; client_max_window_bits without a value;
//	                      server_/client_no_context_takeover;
//	                      server_max_window_bits 8, 9, 10, 15;
//	                      client_max_window_bits 8, 9, 12, 15; our server
//	                      bounding the client to 8 bits, or itself to 10
//	                      bits without context takeover
//	npm ws server         the same options, and our client offering
//	                      client_max_window_bits=8 with server_max_window_bits=10
//	                      and server_no_context_takeover
//	npm websocket         no permessage-deflate: our server, with it on, gets
//	                      no offer; our client's offer is ignored; both go on
//	                      uncompressed
//	websockets client     defaults; client_max_window_bits 9, 12;
//	                      server_max_window_bits 8, 10; both no_context_takeover
//	websockets server     defaults (12 and 12 bits); client_max_window_bits 8;
//	                      server_max_window_bits 9; both no_context_takeover;
//	                      our client offering 8 bits as above
//	Chromium              its fixed offer against our server's defaults, our
//	                      server bounding it to 8 bits, bounding itself to 9
//	                      bits without context takeover, and asking it for
//	                      client_no_context_takeover
//
// Window bits 8: zlib cannot compress with a 256-byte window and uses 512
// bytes (Node and Chromium do so silently); wsflate keeps 512 bytes of
// history to inflate such a peer, and compresses with a true 256 bytes,
// which zlib inflates. Python's zlib module refuses wbits=-8 outright, so
// websockets 10.4 cannot be a client offering client_max_window_bits=8, or
// a server configured with server_max_window_bits=8, with anyone, itself
// included; those two setups are left out (python/peer.py).
//
// Each connection first checks the handshake: ws.Handshake.Extensions,
// parsed with wsflate.ParseParams, and the Sec-WebSocket-Extensions the
// peer reports, parsed with wsflate.ParseExtensions, must both equal the
// setup's parameters (or be empty). Afterwards the tap's headers must show
// RSV1 only on first frames of data messages, never RSV2 or RSV3, and no
// RSV1 at all without the extension (RFC 7692 §6.1). Cases:
//
//	echo                  we send and the peer echoes: text and binary, empty,
//	                      small (under wsflate.DefaultThreshold: wsutil.Conn
//	                      sends them uncompressed), 64 KiB compressible,
//	                      1 MiB text and 1 MiB random binary; the compressible
//	                      ones must have RSV1 and shrink at least three times
//	                      both ways; then a 1000 close
//	series                20 similar 200-byte messages each way, text and binary
//	                      in turn: with context takeover every message after
//	                      the first has RSV1 and a median size under a third
//	                      of the first's (the LZ77 history crosses messages);
//	                      without it, at least half (ws sends them plain,
//	                      under its 1 KiB threshold)
//	fragmented-by-peer    48 KiB text in three frames, a character split
//	                      between two, and binary with an empty middle frame,
//	                      each compressed by the peer frame by frame: RSV1 on
//	                      the first frame only                  [peer fragments]
//	fragmented-by-us      FragmentSize 1000: 64 KiB text and binary, 1 MiB text,
//	                      compressed then cut                   [our fragments]
//	invalid-utf8-by-peer  a compressed text message with a surrogate: 1007
//	                      after inflating                       [peer raw text]
package interop
