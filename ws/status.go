package ws

// StatusCode is a close status code (RFC 6455 §7.4).
type StatusCode uint16

// Close status codes from RFC 6455 §7.4.1 and the IANA "WebSocket Close Code
// Number Registry".
const (
	StatusNormalClosure   StatusCode = 1000 // normal closure
	StatusGoingAway       StatusCode = 1001 // going away
	StatusProtocolError   StatusCode = 1002 // protocol error
	StatusUnsupportedData StatusCode = 1003 // unsupported data
	// StatusReserved (1004) has no meaning yet; it never appears on the wire.
	StatusReserved StatusCode = 1004 // reserved
	// StatusNoStatusRcvd (1005) reports a close frame without a code. It is
	// never sent on the wire.
	StatusNoStatusRcvd StatusCode = 1005 // no status received
	// StatusAbnormalClosure (1006) reports a connection that ended without a
	// close frame. It is never sent on the wire.
	StatusAbnormalClosure         StatusCode = 1006 // abnormal closure
	StatusInvalidFramePayloadData StatusCode = 1007 // invalid frame payload data
	StatusPolicyViolation         StatusCode = 1008 // policy violation
	StatusMessageTooBig           StatusCode = 1009 // message too big
	StatusMandatoryExtension      StatusCode = 1010 // mandatory extension
	StatusInternalError           StatusCode = 1011 // internal error
	StatusServiceRestart          StatusCode = 1012 // service restart
	StatusTryAgainLater           StatusCode = 1013 // try again later
	StatusBadGateway              StatusCode = 1014 // bad gateway
	// StatusTLSHandshake (1015) reports a failed TLS handshake. It is never
	// sent on the wire.
	StatusTLSHandshake StatusCode = 1015 // TLS handshake
)

// IsRegistered reports whether c is one of the codes 1000–1015 defined by
// RFC 6455 and the IANA registry.
func (c StatusCode) IsRegistered() bool {
	return c >= StatusNormalClosure && c <= StatusTLSHandshake
}

// IsApplication reports whether c lies in 3000–3999, the range registered
// with IANA for libraries, frameworks and applications.
func (c StatusCode) IsApplication() bool { return c >= 3000 && c <= 3999 }

// IsPrivate reports whether c lies in 4000–4999, the range for private use.
func (c StatusCode) IsPrivate() bool { return c >= 4000 && c <= 4999 }

// ValidOnWire reports whether c may appear in a close frame. RFC 6455 §7.4.1
// forbids 1005, 1006 and 1015 on the wire, 1004 and 1016–2999 are reserved
// without a meaning, and codes below 1000 or above 4999 are not used (§7.4.2).
func (c StatusCode) ValidOnWire() bool {
	switch {
	case c.IsRegistered():
		return c != StatusReserved && c != StatusNoStatusRcvd &&
			c != StatusAbnormalClosure && c != StatusTLSHandshake
	case c.IsApplication(), c.IsPrivate():
		return true
	}
	return false
}
