package ws

// CheckHeader reports whether a received frame header obeys RFC 6455. side
// is the role of the receiving end: a server requires masked frames, a
// client rejects them (§5.1). rsv is the set of RSV bits that negotiated
// extensions define (Rsv1 once permessage-deflate is on); any other set bit
// fails (§5.2). Reserved opcodes fail (§5.2), and control frames must have
// FIN set and a payload of at most 125 bytes (§5.5).
//
// CheckHeader checks a frame on its own. Rules that span frames, such as a
// continuation without a message in progress, belong to the reader that
// tracks the message (wsutil.Reader). The returned error is one of the
// *ProtocolError sentinels of this package, or nil.
func CheckHeader(h Header, side Side, rsv byte) error {
	switch {
	case h.Rsv&^rsv != 0:
		return ErrReservedBits
	case h.OpCode.IsReserved():
		return ErrReservedOpCode
	case h.OpCode.IsControl() && h.Length > MaxControlPayload:
		return ErrControlTooLong
	case h.OpCode.IsControl() && !h.Fin:
		return ErrControlFragmented
	case side == ServerSide && !h.Masked:
		return ErrMaskRequired
	case side == ClientSide && h.Masked:
		return ErrMaskUnexpected
	}
	return nil
}
