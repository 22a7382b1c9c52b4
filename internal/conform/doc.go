// Package conform is sluice's RFC 6455 and RFC 7692 conformance suite for
// servers, shared by `sluice conform URL` (cmd/sluice) and the tests of
// tests/conformance, which run it against `sluice serve`.
//
// A scripted raw-socket client (client.go: net.Conn and the frame functions
// of package ws, none of wsutil) talks to the echo endpoint of the server
// under test. It can send anything, illegal frames and frames cut short
// included, in one Write, one byte per Write, or odd-sized chunks, and
// checks the exact reaction the RFCs require: the echoed message
// (reassembled when the server fragments it, inflated when it compresses
// it), the pong, or the close code, followed by the server closing TCP.
// Every frame the server sends is itself checked: unmasked, no RSV bit (but
// RSV1 on the first frame of a compressed message), no reserved opcode,
// control frames final and at most 125 bytes, a close body with a valid
// code and a UTF-8 reason, nothing after the close frame. The expectations
// come from the RFCs, not from what sluice happens to do: a failing case is
// a server bug to fix, not a case to relax.
//
// Sections lists the cases, grouped; Case.Run runs one over a new
// connection and RunAll runs a selection in parallel. A case's id is
// section/name. Bounds bound the waits: an exchange that should succeed
// (only a server that hangs, or waits for data that never comes, reaches
// it) and the time the server may take to close TCP after its close frame.
// The limits section needs a server whose message limit is 1 KiB
// (LimitedMaxMessage); the deflate section is skipped by a server that
// declines permessage-deflate.
//
// It is internal rather than API: a conformance suite is a tool, not
// something a program builds on, and its cases change as the suite grows.
//
// # How a case reads
//
// A case (cases.go, deflate.go) is a named list of steps: send(frames...)
// writes frames, optionally .by(byteWrites) or .by(oddChunks); echoText,
// echoBinary and pong expect an answer; fails(code) expects a close frame
// with that code and then the end of TCP; failsFast(code) is the same after
// frames whose rest never comes, so that only a server that fails the
// connection at once answers; echoesClose(code, reason) expects the
// server's answer to the client's close. An echo due before a close the
// case expects may be missing: a server that closes first, dropping
// replies, breaks no rule of RFC 6455, and the case passes with
// Result.NonStrict set (the Autobahn Testsuite's NON-STRICT), or fails
// under Options.Strict. A case that leaves the connection open ends with a
// close 1000 that must be echoed with nothing before it, so a stray pong or
// echo fails it.
// The client never answers the server's close frame: a server that fails
// the connection must close TCP by itself (§7.1.7), and after a closing
// handshake the server closes TCP first (§7.1.1).
//
// # Cases (208)
//
//	framing (32)              text and binary of 0, 1, 125, 126, 127, 65535 and 65536 bytes
//	                          (every length encoding, §5.2), each in one write and split
//	                          (1-byte writes up to 127 bytes, odd chunks above); a 16 MiB
//	                          binary message in one write and a 16 MiB text message in odd
//	                          chunks; a zero masking key; ten messages in one write
//	ping-pong (8)             pings of 0 and 125 bytes (also in 1-byte writes) get identical
//	                          pongs; ping then message: pong then echo; ping of 126 bytes and
//	                          fragmented ping: 1002; unsolicited pongs of 0 and 125 bytes are
//	                          ignored, the next message is echoed
//	reserved-bits (10)        RSV1, RSV2, RSV3 on text and on ping, all three on binary, RSV1
//	                          on close and on a continuation, RSV2 after a valid message
//	                          (echoed first): 1002
//	reserved-opcodes (20)     opcodes 3-7 and 0xB-0xF, alone and right after a valid
//	                          message, which must be echoed first: 1002
//	masking (7)               unmasked text, binary, empty text, ping, close, continuation,
//	                          and after a valid message: 1002 (§5.1)
//	fragmentation (17)        fragmented text and binary (one write, 1-byte writes, odd
//	                          chunks, empty fragments, 100 one-byte fragments) echoed as one
//	                          message; ping between fragments (pong arrives, also before the
//	                          last fragment is sent) and pong between fragments; close between
//	                          fragments is echoed; continuation without a message (FIN=1 and
//	                          FIN=0) and after a finished message, text/binary inside an
//	                          unfinished message: 1002 (§5.4)
//	utf8 (48)                 2-, 3- and 4-byte sequences, U+10FFFF, U+FFFE/U+FFFF, a mixed
//	                          string and the edges of each sequence length, each in one frame
//	                          and split into two fragments at every byte boundary, plus one
//	                          byte per fragment: echoed; overlong forms, surrogates, above
//	                          U+10FFFF, F5, FE, FF, lone continuation, truncated sequences
//	                          (inside and at the end of a message, across fragments):
//	                          1007 (§8.1); fail fast: the invalid bytes in a frame or fragment
//	                          whose rest never comes get 1007 all the same
//	close (41)                each valid code (1000-1003, 1007-1014, 3000, 3999, 4000, 4999)
//	                          with a UTF-8 reason: the same code and reason echoed, then TCP
//	                          closed; empty body, code without reason, 123-byte reason, close
//	                          in 1-byte writes; codes 0, 999, 1004-1006, 1015, 1016, 1100,
//	                          2000, 2999, 5000, 65535: 1002; reason not UTF-8: 1007; 1-byte
//	                          and 126-byte bodies: 1002; data after the close (after the echo,
//	                          and in the same write) and a second close are ignored; messages
//	                          then close in one write: the echoes come before the close reply
//	                          (Autobahn 7.1.1)
//	limits (8)                with a 1 KiB limit (serve -max-message 1024): 1 KiB echoed (whole and in fragments,
//	                          with a ping between them); 1 KiB + 1 and 2 KiB (also in odd
//	                          chunks): 1009; a fragmented 2 KiB message gets 1009 before its
//	                          last fragment is sent, and a frame whose header claims 2 KiB
//	                          gets it from the header alone (wsutil.Reader's contract)
//	handshake (5)             a valid handshake gets 101 with the right Sec-WebSocket-Accept;
//	                          POST: 405; missing or short Sec-WebSocket-Key: 400; version 8:
//	                          426 with Sec-WebSocket-Version: 13 (§4.2.2, §4.4)
//	deflate (12)              permessage-deflate offered without context takeover either way
//	                          and with client_max_window_bits: the answer must be one element
//	                          with server_no_context_takeover and nothing not offered (RFC 7692
//	                          §7); compressed text, 64 KiB binary in odd chunks, an empty
//	                          message, three fragments with RSV1 on the first only, a ping
//	                          between fragments, an uncompressed message: echoed, and every
//	                          compressed echo inflates on its own; ten similar messages; RSV1
//	                          on a continuation or a ping: 1002 (§6.1); data that does not
//	                          inflate: 1007 or 1002; invalid UTF-8 after inflating: 1007.
//	                          Skipped when the server declines the offer.
package conform
