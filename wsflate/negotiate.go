package wsflate

import (
	"io"

	"github.com/gobwas/httphead"
	"github.com/sluice-ws/sluice/ws"
)

// MessageEncoder, Receiver and Sender spell out the interfaces that package
// wsutil declares (MessageEncoder, RecvExtension and SendExtension), so that
// wsflate satisfies them without importing wsutil. They are aliases of
// interface literals: any type with these methods fits, on either side.
type (
	// MessageEncoder compresses one message: Write takes its data and
	// Finish writes the rest of the compressed stream.
	MessageEncoder = interface {
		io.Writer
		Finish() error
	}
	// Receiver inflates the messages of one connection. Rsv returns
	// ws.Rsv1; NextReader returns the reader of a message's inflated data
	// given its first frame header and its raw payload across fragments.
	Receiver = interface {
		Rsv() byte
		NextReader(h ws.Header, src io.Reader) (io.Reader, error)
	}
	// Sender compresses the messages of one connection. NextWriter
	// returns the encoder of the next message and ws.Rsv1, or (nil, 0) to
	// send the message as it is.
	Sender = interface {
		NextWriter(dst io.Writer, size int) (MessageEncoder, byte)
	}
)

// Compression levels for Extension.Level and the message helpers. Levels
// 1 to 9 trade speed for size as in compress/flate.
const (
	// HuffmanOnly skips LZ77 matching: fast, window independent, weak.
	HuffmanOnly = -2
	// BestSpeed is level 1.
	BestSpeed = 1
	// BestCompression is level 9.
	BestCompression = 9
	// DefaultLevel is the level used when Level is 0.
	DefaultLevel = BestSpeed
)

// DefaultThreshold is the size under which a message of known size is sent
// uncompressed when Extension.Threshold is 0. Below it DEFLATE seldom saves
// enough to pay for its CPU time.
const DefaultThreshold = 128

// Extension configures permessage-deflate on either side of a connection.
// The zero value offers or accepts permessage-deflate with the defaults of
// RFC 7692: context takeover and 32 KiB windows both ways, unless the
// peer asks for less.
//
// A server uses Negotiate as ws.Upgrader.Extension (or
// ws.HTTPUpgrader.Extension); a client puts Offer in ws.Dialer.Extensions
// and CheckResponse in ws.Dialer.OnExtensions. Either side then passes the
// extensions of the ws.Handshake to Bind, which wsutil does when the
// Extension is set in its configuration.
//
// An Extension is not modified by its methods and may be shared by any
// number of goroutines and connections.
type Extension struct {
	// ServerNoContextTakeover: a client asks the server not to use
	// context takeover (server_no_context_takeover in the offer); a
	// server does not use it whatever the offer says. Without context
	// takeover a connection keeps no compression state between messages.
	ServerNoContextTakeover bool

	// ClientNoContextTakeover: a client promises not to use context
	// takeover; a server makes the client drop it
	// (client_no_context_takeover in the response), so that the server
	// keeps no history between messages it receives.
	ClientNoContextTakeover bool

	// ServerMaxWindowBits bounds the server's LZ77 window to
	// 2^ServerMaxWindowBits bytes, 8 to 15; 0 means no bound (15). A client
	// offers it as server_max_window_bits to save the memory it keeps per
	// connection; a server uses it to bound its own window, and so the
	// memory and CPU time compression with context takeover costs it.
	ServerMaxWindowBits int

	// ClientMaxWindowBits is the same for the client's window. A client
	// offers client_max_window_bits with this value, or without a value
	// when it is WindowBitsNoValue (any window the server picks is fine:
	// the compressor honours them all), or not at all when it is 0. A
	// server answers the offer's client_max_window_bits with the smaller
	// of the offer's value and this one; when the offer has no
	// client_max_window_bits the client cannot be bounded, and the server
	// answers client_no_context_takeover instead, which bounds the memory
	// the server spends on the client's messages even more. A server
	// treats WindowBitsNoValue as 0.
	ClientMaxWindowBits int

	// Level is the compression level: BestSpeed (1) to BestCompression
	// (9), HuffmanOnly (-2), or -1 for level 5; 0 means DefaultLevel.
	// With a window under 32 KiB klauspost's window-bounded encoder, which
	// works like level 5, is used instead of levels 1 to 9: it is the
	// encoder whose matches honour the bound.
	Level int

	// Threshold is the message size under which a message whose size is
	// known when it starts (wsutil's WriteMessage) is sent uncompressed.
	// 0 means DefaultThreshold; a negative value compresses every
	// message. Messages streamed without a known size are always
	// compressed.
	Threshold int

	// KeepCompressor keeps a live compressor per connection when this
	// side compresses with context takeover. By default a connection
	// keeps only its last 2^bits bytes of history and primes a pooled
	// compressor with the end of it before each message: at most 32 KiB
	// per connection, but priming costs CPU time, about as much as
	// compressing the bytes primed (at least 4 KiB, up to the message's
	// size), roughly doubling the cost of a 1 KiB message. A kept
	// compressor costs about 1 MiB per connection instead. Leave it off
	// for many connections; turn it on for a few busy ones.
	KeepCompressor bool
}

// Offer returns the element a client puts in ws.Dialer.Extensions: the
// Params that e's fields describe. See Params.Option for the lifetime of
// its byte slices.
func (e *Extension) Offer() httphead.Option { return e.offer().Option() }

// offer returns the Params of e's offer.
func (e *Extension) offer() Params {
	return Params{
		ServerNoContextTakeover: e.ServerNoContextTakeover,
		ClientNoContextTakeover: e.ClientNoContextTakeover,
		ServerMaxWindowBits:     e.ServerMaxWindowBits,
		ClientMaxWindowBits:     e.ClientMaxWindowBits,
	}
}

// Negotiate answers one offer for a server; its signature fits
// ws.Upgrader.Extension and ws.HTTPUpgrader.Extension, which call it for
// each offer in the client's order and stop at the first one accepted
// (RFC 7692 §5). It declines (ok false) an offer that is not
// permessage-deflate or that breaks RFC 7692 §7.1 (an unknown or repeated
// parameter, an invalid value), and every offer when e itself is invalid;
// the connection then goes on without compression. Any valid offer can be
// honoured: the answer carries what the server will do (RFC 7692 §7.1):
//
//   - server_no_context_takeover when the offer or e asks for it;
//   - client_no_context_takeover when the offer or e asks for it, or when
//     e bounds the client's window and the offer does not allow it;
//   - server_max_window_bits, the smaller of the offer's and e's bound,
//     when either sets one;
//   - client_max_window_bits, the smaller of the offer's value and e's
//     bound, when the offer has the parameter and either sets a value.
//
// The answer's byte slices are shared, as with Params.Option; the Upgrader
// copies them. Negotiate does not allocate.
func (e *Extension) Negotiate(offer httphead.Option) (accept httphead.Option, ok bool) {
	o, err := ParseParams(offer)
	if err != nil || e.Check() != nil {
		return httphead.Option{}, false
	}
	return e.answer(o).Option(), true
}

// answer returns the response to the valid offer o under e's configuration.
func (e *Extension) answer(o Params) Params {
	r := Params{
		ServerNoContextTakeover: o.ServerNoContextTakeover || e.ServerNoContextTakeover,
		ClientNoContextTakeover: o.ClientNoContextTakeover || e.ClientNoContextTakeover,
	}
	// §7.1.2.1: a server that accepts server_max_window_bits answers with
	// the same or a smaller value; it may also bound itself unasked.
	if sb := minBits(o.ServerMaxWindowBits, e.ServerMaxWindowBits); sb != 0 {
		r.ServerMaxWindowBits = sb
	}
	cb := e.ClientMaxWindowBits
	if cb == WindowBitsNoValue {
		cb = 0
	}
	switch o.ClientMaxWindowBits {
	case 0:
		// §7.1.2.2: without the parameter in the offer the response
		// must not have it. Bound the server's memory another way.
		if cb != 0 && cb < MaxWindowBits {
			r.ClientNoContextTakeover = true
		}
	case WindowBitsNoValue:
		r.ClientMaxWindowBits = cb
	default:
		// The offered value is a hint the client keeps to; echoing it
		// lets Bind size the history it keeps.
		r.ClientMaxWindowBits = minBits(o.ClientMaxWindowBits, cb)
	}
	return r
}

// minBits returns the smaller of two window bits where 0 means unbounded.
func minBits(a, b int) int {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}

// bitsOr15 returns b, or MaxWindowBits when b is 0 or WindowBitsNoValue.
func bitsOr15(b int) int {
	if b <= 0 {
		return MaxWindowBits
	}
	return b
}

// CheckResponse checks, for a client, the extensions a server accepted
// against e's offer; its signature fits ws.Dialer.OnExtensions. It returns
// nil when permessage-deflate is not among them (the connection goes on
// without compression) or when its parameters are ones e can honour, and
// otherwise an error: the client must fail the connection (RFC 7692 §7).
// The errors are ErrResponseRepeated, those of ParseParams, ErrParamValue
// for client_max_window_bits without a value, ErrResponseClientWindow,
// ErrResponseServerWindow, ErrResponseServerTakeover, and ErrLevel or
// ErrWindowBits when e is invalid.
func (e *Extension) CheckResponse(accepted []httphead.Option) error {
	_, _, err := e.accepted(accepted, ws.ClientSide)
	return err
}

// accepted finds permessage-deflate among the accepted extensions and
// parses it; on the client side it also checks the response against e's
// offer.
func (e *Extension) accepted(accepted []httphead.Option, side ws.Side) (p Params, found bool, err error) {
	if err := e.Check(); err != nil {
		return p, false, err
	}
	for _, o := range accepted {
		if string(o.Name) != ExtensionName {
			continue
		}
		if found {
			return Params{}, false, ErrResponseRepeated
		}
		found = true
		if p, err = ParseParams(o); err != nil {
			return Params{}, false, err
		}
	}
	if !found {
		return p, false, nil
	}
	if p.ClientMaxWindowBits == WindowBitsNoValue {
		return Params{}, false, ErrParamValue // §7.1.2.2: a response has a value
	}
	if side == ws.ClientSide {
		if err := e.offer().check(p); err != nil {
			return Params{}, false, err
		}
	}
	return p, true, nil
}

// check reports whether the response r honours the offer o
// (RFC 7692 §7.1).
func (o Params) check(r Params) error {
	switch {
	case o.ServerNoContextTakeover && !r.ServerNoContextTakeover:
		// §7.1.1.1: a server that accepts the parameter includes it.
		return ErrResponseServerTakeover
	case o.ServerMaxWindowBits != 0 &&
		(r.ServerMaxWindowBits == 0 || r.ServerMaxWindowBits > o.ServerMaxWindowBits):
		// §7.1.2.1: same or smaller value, and present.
		return ErrResponseServerWindow
	case r.ClientMaxWindowBits != 0 && o.ClientMaxWindowBits == 0,
		r.ClientMaxWindowBits > 0 && o.ClientMaxWindowBits > 0 &&
			r.ClientMaxWindowBits > o.ClientMaxWindowBits:
		// §7.1.2.2: only when offered, and not above the offered value.
		return ErrResponseClientWindow
	}
	return nil
}

// Check reports whether e's fields are in range: ErrLevel or
// ErrWindowBits when they are not. Negotiate declines every offer for an
// invalid Extension, so a server should Check its configuration at start.
func (e *Extension) Check() error {
	if !validLevel(e.Level) {
		return ErrLevel
	}
	if !validBits(e.ServerMaxWindowBits) ||
		!validBits(e.ClientMaxWindowBits) && e.ClientMaxWindowBits != WindowBitsNoValue {
		return ErrWindowBits
	}
	return nil
}

// Bind returns the per-connection halves for a connection on side whose
// handshake accepted the given extensions (ws.Handshake.Extensions); its
// signature fits wsutil's Extension interface. It returns two nils when
// permessage-deflate is not among them. On the client side it checks the
// response as CheckResponse does, and fails with the same errors; on the
// server side it fails only on a response that does not parse or when e
// is invalid.
//
// The Receiver inflates the messages the peer sends and the Sender
// compresses the ones this side sends, each under the context takeover and
// window bits negotiated for its direction. Neither is safe for concurrent
// use; the Receiver may be used from one goroutine while the Sender is used
// from another. Without wsutil, call the Receiver's NextReader with each
// message's first frame header and a reader of its payload, and write
// messages through the Sender's NextWriter, setting the RSV bits it
// returns on the first frame.
func (e *Extension) Bind(side ws.Side, accepted []httphead.Option) (Receiver, Sender, error) {
	p, found, err := e.accepted(accepted, side)
	if err != nil || !found {
		return nil, nil, err
	}
	var (
		sendTakeover, recvTakeover bool
		sendBits, recvBits         int
	)
	if side == ws.ServerSide {
		sendTakeover = !p.ServerNoContextTakeover && !e.ServerNoContextTakeover
		sendBits = bitsOr15(minBits(p.ServerMaxWindowBits, e.ServerMaxWindowBits))
		recvTakeover = !p.ClientNoContextTakeover
		recvBits = bitsOr15(p.ClientMaxWindowBits)
	} else {
		// A client keeps to its own offer too: a value offered in
		// client_max_window_bits and client_no_context_takeover are
		// promises (RFC 7692 §7.1.1.2, §7.1.2.2).
		sendTakeover = !p.ClientNoContextTakeover && !e.ClientNoContextTakeover
		sendBits = bitsOr15(minBits(p.ClientMaxWindowBits, max(e.ClientMaxWindowBits, 0)))
		recvTakeover = !p.ServerNoContextTakeover
		recvBits = bitsOr15(p.ServerMaxWindowBits)
	}
	threshold := e.Threshold
	if threshold == 0 {
		threshold = DefaultThreshold
	}
	r := newReceiver(recvTakeover, recvBits)
	s := newSender(normLevel(e.Level), sendBits, sendTakeover, e.KeepCompressor, threshold)
	return r, s, nil
}
