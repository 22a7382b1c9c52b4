package ws

import (
	"encoding/binary"
	"unicode/utf8"
)

// MaxCloseReason is the longest close reason that fits in a control frame
// after the 2-byte code.
const MaxCloseReason = MaxControlPayload - 2

// AppendCloseBody appends the body of a close frame to dst: code in network
// byte order, then reason (RFC 6455 §5.5.1). Code 0 appends nothing, for a
// close frame without a body. A reason over MaxCloseReason bytes is cut at
// the last whole UTF-8 sequence that fits, so that the frame stays a valid
// control frame.
func AppendCloseBody(dst []byte, code StatusCode, reason string) []byte {
	if code == 0 {
		return dst
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, truncateUTF8(reason, MaxCloseReason)...)
}

// truncateUTF8 returns the longest prefix of s of at most n bytes that does
// not end inside a UTF-8 sequence.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	// Step back over continuation bytes to the start of the cut sequence,
	// then drop it if it does not fit whole.
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// ParseCloseBody parses the body of a received close frame. An empty body
// gives StatusNoStatusRcvd. A 1-byte body fails with ErrCloseBodyShort, a
// code that may not be sent (see StatusCode.ValidOnWire) with
// ErrCloseCodeInvalid, and a reason that is not UTF-8 with
// ErrCloseReasonUTF8 (RFC 6455 §5.5.1, §7.4). The reason aliases p.
//
// ParseCloseBody never allocates.
func ParseCloseBody(p []byte) (code StatusCode, reason []byte, err error) {
	switch {
	case len(p) == 0:
		return StatusNoStatusRcvd, nil, nil
	case len(p) == 1:
		return 0, nil, ErrCloseBodyShort
	}
	code = StatusCode(binary.BigEndian.Uint16(p))
	if !code.ValidOnWire() {
		return code, nil, ErrCloseCodeInvalid
	}
	reason = p[2:]
	if !utf8.Valid(reason) {
		return code, nil, ErrCloseReasonUTF8
	}
	return code, reason, nil
}
