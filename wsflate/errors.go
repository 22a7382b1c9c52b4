package wsflate

import (
	"errors"

	"github.com/sluice-ws/sluice/ws"
)

// Negotiation errors. ParseParams and ParseExtensions return the first four;
// CheckResponse and Bind (on the client side) return any of them, and the
// Dialer wraps them in its handshake error. Compare with errors.Is.
var (
	// ErrNotDeflate reports an extension element that is not
	// permessage-deflate.
	ErrNotDeflate = errors.New("wsflate: extension is not permessage-deflate")
	// ErrUnknownParam reports a parameter that RFC 7692 §7.1 does not
	// define.
	ErrUnknownParam = errors.New("wsflate: unknown permessage-deflate parameter")
	// ErrDuplicateParam reports a parameter given twice in one element
	// (RFC 7692 §7).
	ErrDuplicateParam = errors.New("wsflate: repeated permessage-deflate parameter")
	// ErrParamValue reports a parameter value RFC 7692 §7.1 does not allow:
	// window bits that are not a decimal integer from 8 to 15 without
	// leading zeros, a missing value, a value on a *_no_context_takeover
	// parameter, or client_max_window_bits without a value in a response.
	ErrParamValue = errors.New("wsflate: invalid permessage-deflate parameter value")
	// ErrMalformedHeader reports a Sec-WebSocket-Extensions value that does
	// not parse.
	ErrMalformedHeader = errors.New("wsflate: malformed Sec-WebSocket-Extensions value")
	// ErrResponseRepeated reports a response that accepts
	// permessage-deflate more than once.
	ErrResponseRepeated = errors.New("wsflate: server accepted permessage-deflate more than once")
	// ErrResponseClientWindow reports a response with
	// client_max_window_bits when the offer had none, or with a value
	// above the offered one (RFC 7692 §7.1.2.2).
	ErrResponseClientWindow = errors.New("wsflate: server answered a client_max_window_bits that was not offered")
	// ErrResponseServerWindow reports a response without
	// server_max_window_bits, or with a larger value, when the offer
	// limited the server's window (RFC 7692 §7.1.2.1).
	ErrResponseServerWindow = errors.New("wsflate: server did not honour the server_max_window_bits offered")
	// ErrResponseServerTakeover reports a response without
	// server_no_context_takeover when the offer asked for it
	// (RFC 7692 §7.1.1.1).
	ErrResponseServerTakeover = errors.New("wsflate: server did not honour the server_no_context_takeover offered")
)

// Configuration errors, returned by Bind and by the message helpers when
// an Extension field or an argument is out of range.
var (
	// ErrLevel reports a compression level other than 0, -2 (HuffmanOnly),
	// -1 and 1 to 9.
	ErrLevel = errors.New("wsflate: invalid compression level")
	// ErrWindowBits reports window bits other than 0 and 8 to 15.
	ErrWindowBits = errors.New("wsflate: window bits out of range")
	// ErrOpCode reports a frame opcode other than text and binary: only
	// data messages are compressed (RFC 7692 §6).
	ErrOpCode = errors.New("wsflate: only text and binary messages are compressed")
)

// Data errors. They are *ws.ProtocolError values carrying the close code to
// answer with, preallocated so that the per-message path does not allocate.
var (
	// ErrCorrupt reports compressed data that does not inflate, or that
	// refers further back than the history the peer may use
	// (RFC 7692 §7.2.2). Close with 1007.
	ErrCorrupt = &ws.ProtocolError{Code: ws.StatusInvalidFramePayloadData, Reason: "permessage-deflate: corrupt compressed data"}
	// ErrTrailingData reports more than a few bytes after a DEFLATE block
	// with BFINAL set (RFC 7692 §7.2.3.4 allows only the padding of an
	// empty block there). Close with 1007.
	ErrTrailingData = &ws.ProtocolError{Code: ws.StatusInvalidFramePayloadData, Reason: "permessage-deflate: data after the final DEFLATE block"}
	// ErrMessageTooBig reports a message that inflates to more than the
	// limit given to AppendDecompress. Close with 1009.
	ErrMessageTooBig = &ws.ProtocolError{Code: ws.StatusMessageTooBig, Reason: "permessage-deflate: inflated message over the limit"}
)
