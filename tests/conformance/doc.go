// Package conformance holds sluice's server-side RFC 6455 conformance tests.
// It has no API; everything is in the _test.go files.
//
// A scripted raw-socket client (client_test.go: net.Conn, the frame
// functions of package ws, none of wsutil) talks to the /echo endpoint of the
// real `sluice serve` command. It can send anything, illegal frames and
// frames cut short included, in one Write, one byte per Write, or odd-sized
// chunks, and checks the exact reaction RFC 6455 requires: the echoed
// message (reassembled when the server fragments it), the pong, or the close
// code, followed by the server closing TCP within 2 s. Every frame the
// server sends is itself checked: unmasked, no RSV bit, no reserved opcode,
// control frames final and at most 125 bytes, a close body with a valid code
// and a UTF-8 reason, nothing after the close frame. The expectations come
// from the RFC, not from what the server happens to do: a failing case is a
// server bug to fix, not a test to relax.
//
// # Running
//
//	go test -race ./tests/conformance/
//
// TestMain builds cmd/sluice once (`go build`, with -race when the tests have
// it, so that a data race in the server fails the run) and starts two
// servers per mode as child processes on 127.0.0.1:0: `sluice serve` with its
// defaults (64 MiB messages) and one with `-max-message 1024` for the limit
// cases. The modes are "serve" (a goroutine per connection) and, on Linux,
// "poll" (`sluice serve -poll`, the event loops of wsutil.PollServer); every
// test runs its cases against each, as subtests named after the mode. All
// log at debug level; the address is parsed from the listening line. At the end they get SIGTERM and must exit with status 0 within 15 s
// (their process group is killed otherwise). When a case fails, the server's
// log lines about that case's connection go to the test log.
//
// To run the same cases against a server that is already running:
//
//	SLUICE_CONFORMANCE_URL=ws://127.0.0.1:8080/echo go test ./tests/conformance/
//
// The limit cases then need SLUICE_CONFORMANCE_LIMIT_URL, the echo endpoint
// of a server whose message limit is 1 KiB, and are skipped without it.
//
// Each case opens its own connection. Cases run in parallel, at most
// -test.parallel at once; when the command line does not set that flag,
// TestMain sets it to 8, since the cases wait on the network rather than
// the CPU. Every read and write has a deadline; the package runs in a few
// seconds.
//
// # How a case reads
//
// A case (cases_test.go) is a named list of steps: send(frames...) writes
// frames, optionally .by(byteWrites) or .by(oddChunks); echoText, echoBinary
// and pong expect an answer; fails(code) expects a close frame with that
// code and then the end of TCP; failsFast(code) wants the close frame within
// 2 s of the last byte sent, for frames whose rest never comes;
// echoesClose(code, reason) expects the server's answer to the client's
// close. A case that leaves the connection open ends with a close 1000 that
// must be echoed with nothing before it, so a stray pong or echo fails it.
// The client never answers the server's close frame: a server that fails
// the connection must close TCP by itself (§7.1.7), and after a closing
// handshake the server closes TCP first (§7.1.1).
//
// # Cases (196)
//
//	TestFraming (32)          text and binary of 0, 1, 125, 126, 127, 65535 and 65536 bytes
//	                          (every length encoding, §5.2), each in one write and split
//	                          (1-byte writes up to 127 bytes, odd chunks above); a 16 MiB
//	                          binary message in one write and a 16 MiB text message in odd
//	                          chunks; a zero masking key; ten messages in one write
//	TestPingPong (8)          pings of 0 and 125 bytes (also in 1-byte writes) get identical
//	                          pongs; ping then message: pong then echo; ping of 126 bytes and
//	                          fragmented ping: 1002; unsolicited pongs of 0 and 125 bytes are
//	                          ignored, the next message is echoed
//	TestReservedBits (10)     RSV1, RSV2, RSV3 on text and on ping, all three on binary, RSV1
//	                          on close and on a continuation, RSV2 after a valid message
//	                          (echoed first): 1002
//	TestReservedOpcodes (20)  opcodes 3-7 and 0xB-0xF, alone and right after a valid
//	                          message, which must be echoed first: 1002
//	TestMasking (7)           unmasked text, binary, empty text, ping, close, continuation,
//	                          and after a valid message: 1002 (§5.1)
//	TestFragmentation (17)    fragmented text and binary (one write, 1-byte writes, odd
//	                          chunks, empty fragments, 100 one-byte fragments) echoed as one
//	                          message; ping between fragments (pong arrives, also before the
//	                          last fragment is sent) and pong between fragments; close between
//	                          fragments is echoed; continuation without a message (FIN=1 and
//	                          FIN=0) and after a finished message, text/binary inside an
//	                          unfinished message: 1002 (§5.4)
//	TestUTF8 (48)             2-, 3- and 4-byte sequences, U+10FFFF, U+FFFE/U+FFFF, a mixed
//	                          string and the edges of each sequence length, each in one frame
//	                          and split into two fragments at every byte boundary, plus one
//	                          byte per fragment: echoed; overlong forms, surrogates, above
//	                          U+10FFFF, F5, FE, FF, lone continuation, truncated sequences
//	                          (inside and at the end of a message, across fragments):
//	                          1007 (§8.1); fail fast: the invalid bytes in a frame or fragment
//	                          whose rest never comes get 1007 within 2 s
//	TestCloseHandshake (41)   each valid code (1000-1003, 1007-1014, 3000, 3999, 4000, 4999)
//	                          with a UTF-8 reason: the same code and reason echoed, then TCP
//	                          closed; empty body, code without reason, 123-byte reason, close
//	                          in 1-byte writes; codes 0, 999, 1004-1006, 1015, 1016, 1100,
//	                          2000, 2999, 5000, 65535: 1002; reason not UTF-8: 1007; 1-byte
//	                          and 126-byte bodies: 1002; data after the close (after the echo,
//	                          and in the same write) and a second close are ignored; messages
//	                          then close in one write: the echoes come before the close reply
//	                          (Autobahn 7.1.1)
//	TestLimits (8)            with -max-message 1024: 1 KiB echoed (whole and in fragments,
//	                          with a ping between them); 1 KiB + 1 and 2 KiB (also in odd
//	                          chunks): 1009; a fragmented 2 KiB message gets 1009 before its
//	                          last fragment is sent, and a frame whose header claims 2 KiB
//	                          gets it from the header alone (wsutil.Reader's contract)
//	TestHandshake (5)         a valid handshake gets 101 with the right Sec-WebSocket-Accept;
//	                          POST: 405; missing or short Sec-WebSocket-Key: 400; version 8:
//	                          426 with Sec-WebSocket-Version: 13 (§4.2.2, §4.4)
package conformance
