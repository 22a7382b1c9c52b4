// Package wsflate implements permessage-deflate, the WebSocket compression
// extension of RFC 7692: parameter negotiation for both sides, and
// per-connection compressors and decompressors that honour the negotiated
// context takeover and window sizes.
//
// # When to use it
//
// With package wsutil, compression is one field: put an *Extension in its
// configuration and use the same Extension's Negotiate (server) or Offer
// and CheckResponse (client) in the handshake. wsutil then calls Bind with
// the extensions the handshake settled and runs every message through the
// Receiver and Sender it returns.
//
// Programs that use package ws directly call the same methods themselves:
// Bind's Sender compresses a message into the payload of frames whose
// first carries ws.Rsv1, and its Receiver inflates the payload of a
// message whose first frame carries it. AppendCompress, AppendDecompress
// and AppendFrame handle single messages without context takeover, with
// no connection state at all; AppendFrame compresses a broadcast once for
// every connection.
//
// wsflate imports ws and github.com/klauspost/compress/flate, never
// wsutil: it satisfies wsutil's extension interfaces by their method sets
// (see Receiver and Sender).
//
//	// Server
//	deflate := &wsflate.Extension{ClientMaxWindowBits: 12}
//	u := ws.Upgrader{Extension: deflate.Negotiate}
//	hs, err := u.Upgrade(conn)
//	recv, send, err := deflate.Bind(ws.ServerSide, hs.Extensions)
//
//	// Client
//	deflate := &wsflate.Extension{ClientMaxWindowBits: wsflate.WindowBitsNoValue}
//	d := ws.Dialer{Extensions: []httphead.Option{deflate.Offer()}, OnExtensions: deflate.CheckResponse}
//	conn, hs, err := d.Dial(ctx, "wss://example.com/feed")
//	recv, send, err := deflate.Bind(ws.ClientSide, hs.Extensions)
//
// # Negotiation
//
// A server accepts the first offer it can honour and declines the ones
// that break RFC 7692 §7 (unknown or repeated parameters, invalid values);
// any valid offer can be honoured, as the compressor supports every window
// from 256 bytes to 32 KiB with and without context takeover. When no
// offer is acceptable the connection goes on uncompressed. A client fails
// the handshake when the answer is not one it can accept (§7.1): a
// parameter it did not offer or a window above the one it asked for. The
// errors are listed in errors.go and compare with errors.Is.
//
// # Memory and context takeover
//
// Compressors and decompressors are pooled and borrowed for one message at
// a time: a klauspost flate.Writer holds about 1 MiB and a reader about
// 42 KiB, so keeping them per connection would dominate a server's memory.
// Without context takeover a connection keeps nothing between messages.
//
// With context takeover (§7.2.3.2) a connection keeps only the last 2^bits
// bytes it sent or received, the history the peer may refer to, and primes
// a pooled compressor or inflater with it when the next message starts.
// The history grows with the data, so a connection that exchanged little
// keeps little. Retained heap per idle connection after one 64 KiB message
// (BenchmarkIdleConnMemory, 1,000 connections):
//
//	window bits            8     9    10    11    12    13     14     15
//	wsflate compress      0.4   0.6   1.1   2.1   4.2   8.3   16.5   32.9 KB
//	wsflate decompress    0.6   0.6   1.1   2.1   4.2   8.3   16.5   32.8 KB
//	KeepCompressor        1155 KB (877 KB at 15 bits)
//	live klauspost writer 1081 KB (819 KB at 15 bits); live reader 43 KB
//	live compress/flate   writer 1207 KB (no window bound); reader 45 KB
//
// Priming an inflater copies the history: a few microseconds at 32 KiB.
// Priming a compressor costs about as much as compressing what it is
// primed with, since the encoder hashes it, so a sender primes with only
// the end of its history: as much as the message's size, enough for it to
// refer to a message like it sent just before, and at least 4 KiB (a
// message is held back until its size is known, up to the window's
// size); a message as long as the window cannot reach back to the one
// before it and gets 4 KiB. Small messages find nearly all their
// matches there: 1 KiB JSON messages come out about 1% larger than with
// the whole 32 KiB, at an eighth of the priming cost. Messages under 128 bytes are not primed for,
// as klauspost's fast encoders code them without matches anyway. With
// 1 KiB JSON messages and a 32 KiB window (BenchmarkCompress, level 1):
//
//	no context takeover                  ratio 0.42   1.0x time
//	context takeover, primed (default)   ratio 0.29   2.2x time, 33 KB/conn
//	context takeover, KeepCompressor     ratio 0.29   0.9x time, 1.2 MB/conn
//
// For 64 KiB messages the three cost the same time. Inflating with
// context takeover costs 20% more than without for 1 KiB messages, and
// nothing measurable for 64 KiB ones.
//
// Bounding the window (ServerMaxWindowBits on a server) cuts memory and
// priming alike.
//
// # Window bits
//
// A compressor keeps to the window negotiated for it for real: under 32
// KiB it is klauspost's window-bounded encoder (similar to level 5,
// whatever Level says), whose matches never reach further back than the
// window; the tests check every stream with an independent decoder that
// refuses longer distances. An inflater accepts any stream within the
// window negotiated for the peer and fails with ErrCorrupt when the peer
// refers further back into earlier messages.
//
// Window bits 8 need care: zlib, and every peer built on it (browsers,
// Node's ws, Python), has no 256-byte window for raw DEFLATE and silently
// compresses with 512 bytes when asked for 256. wsflate compresses with a
// true 256-byte window, and its inflater keeps 512 bytes of history for a
// peer told to use 8 bits, so that those peers' streams inflate.
//
// # Limits
//
// An inflater returns at most what each Read asks for and works at most
// one 32 KiB window ahead, so a reader that stops at a message size limit
// (wsutil's MaxMessageSize, AppendDecompress's limit) stops a decompression
// bomb after about that many bytes of work. Corrupt data fails with a
// *ws.ProtocolError carrying close code 1007.
//
// # Coming from Node
//
// The perMessageDeflate options of Node's ws and wsd map onto Extension:
// serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits
// and clientMaxWindowBits are the fields of the same names (true for
// clientMaxWindowBits, "no value", is WindowBitsNoValue); threshold is
// Threshold; the zlib level is Level. zlib's memLevel has no counterpart:
// klauspost's compressor sizes its tables by level, and what a connection
// keeps is bounded by the negotiated window (above), or by KeepCompressor.
//
// # Concurrency
//
// An Extension is configuration: its methods may be called from any number
// of goroutines. The Receiver and Sender of a connection are not safe for
// concurrent use, but one goroutine may use the Receiver while another
// uses the Sender. The message helpers are safe for concurrent use.
package wsflate
