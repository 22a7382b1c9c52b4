package wsflate

import (
	"bytes"
	"strconv"

	"github.com/gobwas/httphead"
)

// ExtensionName is the extension token of permessage-deflate in
// Sec-WebSocket-Extensions (RFC 7692 §7).
const ExtensionName = "permessage-deflate"

// The range of the *_max_window_bits parameters: the base-2 logarithm of
// the LZ77 window, from 256 bytes to 32 KiB (RFC 7692 §7.1.2).
const (
	MinWindowBits = 8
	MaxWindowBits = 15
)

// WindowBitsNoValue in Params.ClientMaxWindowBits stands for
// client_max_window_bits without a value: in an offer, the client says it
// can limit its window if the server answers with a value
// (RFC 7692 §7.1.2.2). It is not allowed in a response.
const WindowBitsNoValue = -1

// The parameter names of RFC 7692 §7.1.
const (
	paramServerNoContextTakeover = "server_no_context_takeover"
	paramClientNoContextTakeover = "client_no_context_takeover"
	paramServerMaxWindowBits     = "server_max_window_bits"
	paramClientMaxWindowBits     = "client_max_window_bits"
)

// Byte forms of the names and of the values 8 to 15, shared by every Option
// that Params.Option builds so that building one does not allocate.
var (
	nameBytes                    = []byte(ExtensionName)
	bytesServerNoContextTakeover = []byte(paramServerNoContextTakeover)
	bytesClientNoContextTakeover = []byte(paramClientNoContextTakeover)
	bytesServerMaxWindowBits     = []byte(paramServerMaxWindowBits)
	bytesClientMaxWindowBits     = []byte(paramClientMaxWindowBits)
	bitsBytes                    = [MaxWindowBits + 1][]byte{
		8: []byte("8"), 9: []byte("9"), 10: []byte("10"), 11: []byte("11"),
		12: []byte("12"), 13: []byte("13"), 14: []byte("14"), 15: []byte("15"),
	}
)

// Params are the parameters of one permessage-deflate element of a
// Sec-WebSocket-Extensions field: an offer from a client or the response
// of a server (RFC 7692 §7.1). The zero value is the element without
// parameters: both ends may use context takeover and a 32 KiB window.
type Params struct {
	// ServerNoContextTakeover is server_no_context_takeover: the server
	// compresses every message on its own, without the history of
	// earlier messages (§7.1.1.1).
	ServerNoContextTakeover bool
	// ClientNoContextTakeover is client_no_context_takeover, the same for
	// the client (§7.1.1.2).
	ClientNoContextTakeover bool
	// ServerMaxWindowBits is server_max_window_bits: the server's LZ77
	// window is at most 2^ServerMaxWindowBits bytes (§7.1.2.1). 0 means
	// the parameter is absent; otherwise it is 8 to 15.
	ServerMaxWindowBits int
	// ClientMaxWindowBits is client_max_window_bits, the same for the
	// client (§7.1.2.2). 0 means absent; WindowBitsNoValue means present
	// without a value, which only an offer may do.
	ClientMaxWindowBits int
}

// ParseParams parses one element of a Sec-WebSocket-Extensions field, as
// ws.Upgrader passes offers to its Extension hook and as ws.Handshake lists
// the accepted ones. It fails with ErrNotDeflate when the element is another
// extension, and with ErrUnknownParam, ErrDuplicateParam or ErrParamValue
// when a parameter breaks RFC 7692 §7.1: a server must then decline the
// offer, and a client must fail the connection. A parameter sent as an
// empty quoted string counts as one without a value. ParseParams does not
// allocate.
func ParseParams(o httphead.Option) (Params, error) {
	var p Params
	if string(o.Name) != ExtensionName {
		return p, ErrNotDeflate
	}
	var err error
	var seen uint8
	o.Parameters.ForEach(func(k, v []byte) bool {
		var bit uint8
		switch string(k) {
		case paramServerNoContextTakeover:
			bit, p.ServerNoContextTakeover = 1, true
			if len(v) != 0 {
				err = ErrParamValue
			}
		case paramClientNoContextTakeover:
			bit, p.ClientNoContextTakeover = 2, true
			if len(v) != 0 {
				err = ErrParamValue
			}
		case paramServerMaxWindowBits:
			bit = 4
			if p.ServerMaxWindowBits = parseBits(v); p.ServerMaxWindowBits == 0 {
				err = ErrParamValue
			}
		case paramClientMaxWindowBits:
			bit = 8
			if len(v) == 0 {
				p.ClientMaxWindowBits = WindowBitsNoValue
			} else if p.ClientMaxWindowBits = parseBits(v); p.ClientMaxWindowBits == 0 {
				err = ErrParamValue
			}
		default:
			err = ErrUnknownParam
			return false
		}
		if seen&bit != 0 {
			err = ErrDuplicateParam
		}
		seen |= bit
		return err == nil
	})
	if err != nil {
		return Params{}, err
	}
	return p, nil
}

// parseBits parses a window-bits value: a decimal integer from 8 to 15
// without leading zeros (RFC 7692 §7.1.2.1). It returns 0 for anything
// else.
func parseBits(v []byte) int {
	switch len(v) {
	case 1:
		if v[0] == '8' || v[0] == '9' {
			return int(v[0] - '0')
		}
	case 2:
		if v[0] == '1' && v[1] >= '0' && v[1] <= '5' {
			return 10 + int(v[1]-'0')
		}
	}
	return 0
}

// ParseExtensions parses a whole Sec-WebSocket-Extensions field value and
// returns the parameters of its permessage-deflate elements, in order;
// other extensions are skipped. A client lists several offers in order of
// preference (RFC 7692 §5); a response holds at most one. It fails with
// ErrMalformedHeader when the value does not parse, or with the error of
// ParseParams for the first invalid permessage-deflate element.
func ParseExtensions(value []byte) ([]Params, error) {
	if bytes.IndexByte(value, '\t') >= 0 {
		// Optional whitespace may be HTAB (RFC 9110 §5.6.3), which
		// httphead's lexer does not take for whitespace; ws reads it as
		// SP too. A HTAB inside a quoted-string becomes a SP as well,
		// which changes no permessage-deflate value from valid to
		// invalid or back.
		value = bytes.ReplaceAll(value, []byte{'\t'}, []byte{' '})
	}
	opts, ok := httphead.ParseOptions(value, nil)
	if !ok && len(value) > 0 {
		return nil, ErrMalformedHeader
	}
	var ps []Params
	for _, o := range opts {
		if string(o.Name) != ExtensionName {
			continue
		}
		p, err := ParseParams(o)
		if err != nil {
			return ps, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// validBits reports whether b is 0 (absent) or 8 to 15.
func validBits(b int) bool {
	return b == 0 || b >= MinWindowBits && b <= MaxWindowBits
}

// Option returns p as an element for ws.Dialer.Extensions or for the answer
// of an Upgrader's Extension hook. Parameters come in the order of
// RFC 7692 §7.1. Window bits outside 8 to 15 (other than 0 and
// WindowBitsNoValue) are left out: check them first. The option's byte
// slices are shared by every call and must not be modified; Option does
// not allocate.
func (p Params) Option() httphead.Option {
	o := httphead.Option{Name: nameBytes}
	if p.ServerNoContextTakeover {
		o.Parameters.Set(bytesServerNoContextTakeover, nil)
	}
	if p.ClientNoContextTakeover {
		o.Parameters.Set(bytesClientNoContextTakeover, nil)
	}
	if b := p.ServerMaxWindowBits; b >= MinWindowBits && b <= MaxWindowBits {
		o.Parameters.Set(bytesServerMaxWindowBits, bitsBytes[b])
	}
	switch b := p.ClientMaxWindowBits; {
	case b == WindowBitsNoValue:
		o.Parameters.Set(bytesClientMaxWindowBits, nil)
	case b >= MinWindowBits && b <= MaxWindowBits:
		o.Parameters.Set(bytesClientMaxWindowBits, bitsBytes[b])
	}
	return o
}

// String returns p in Sec-WebSocket-Extensions syntax, such as
// "permessage-deflate; client_max_window_bits=10".
func (p Params) String() string {
	b := []byte(ExtensionName)
	if p.ServerNoContextTakeover {
		b = append(b, "; "+paramServerNoContextTakeover...)
	}
	if p.ClientNoContextTakeover {
		b = append(b, "; "+paramClientNoContextTakeover...)
	}
	if p.ServerMaxWindowBits != 0 {
		b = append(b, "; "+paramServerMaxWindowBits+"="...)
		b = strconv.AppendInt(b, int64(p.ServerMaxWindowBits), 10)
	}
	if p.ClientMaxWindowBits != 0 {
		b = append(b, "; "+paramClientMaxWindowBits...)
		if p.ClientMaxWindowBits != WindowBitsNoValue {
			b = append(b, '=')
			b = strconv.AppendInt(b, int64(p.ClientMaxWindowBits), 10)
		}
	}
	return string(b)
}
