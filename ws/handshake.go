package ws

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"net/http"

	"github.com/gobwas/httphead"
)

// Handshake is the outcome of an opening handshake, on either side.
type Handshake struct {
	// Protocol is the subprotocol both ends agreed on, or "".
	Protocol string
	// Extensions are the extensions the server accepted, with the
	// parameters it answered, in the order of its response. They are
	// copies: they stay valid after the handshake.
	Extensions []httphead.Option
	// Buffered holds bytes the peer sent after its handshake message and
	// that arrived with it: the start of the WebSocket stream. It is nil
	// in the common case. Read these bytes before reading from the
	// connection again, or frames that arrived early are lost.
	Buffered []byte
	// Header holds the fields of the server's 101 response, on the client
	// side (Set-Cookie among them), with canonical keys; nil on the server
	// side.
	Header http.Header
	// Response is the 101 response a server has yet to write, when its
	// Upgrader or HTTPUpgrader has DeferResponse set: write it before
	// anything else (wsutil.NewConn does). nil otherwise.
	Response []byte
}

// KeySize is the length of a Sec-WebSocket-Key value: the base64 encoding of
// 16 bytes (RFC 6455 §4.1).
const KeySize = 24

// acceptSize is the length of a Sec-WebSocket-Accept value: the base64
// encoding of a 20-byte SHA-1 digest.
const acceptSize = 28

// keyGUID is the string RFC 6455 §1.3 appends to the key before hashing.
const keyGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// GenerateKey returns a new Sec-WebSocket-Key: 16 bytes from crypto/rand,
// base64-encoded (RFC 6455 §4.1).
func GenerateKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	return base64.StdEncoding.EncodeToString(b[:])
}

// AppendAccept appends to dst the Sec-WebSocket-Accept value that answers
// key: the base64 SHA-1 of key followed by the RFC 6455 GUID (§4.2.2). It
// does not allocate when dst has room for 28 bytes.
func AppendAccept(dst, key []byte) []byte {
	var buf [KeySize + len(keyGUID)]byte
	n := copy(buf[:], key)
	if n < len(key) {
		// Not a valid key; hash it anyway so that the result is defined.
		h := sha1.New()
		h.Write(key)
		h.Write([]byte(keyGUID))
		return base64.StdEncoding.AppendEncode(dst, h.Sum(nil))
	}
	n += copy(buf[n:], keyGUID)
	sum := sha1.Sum(buf[:n])
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}

// CheckAccept reports whether accept is the right Sec-WebSocket-Accept
// value for key.
func CheckAccept(key, accept []byte) bool {
	var buf [acceptSize]byte
	return len(accept) == acceptSize && bytes.Equal(AppendAccept(buf[:0], key), accept)
}

// validKey reports whether k is the base64 encoding of exactly 16 bytes.
func validKey(k []byte) bool {
	if len(k) != KeySize {
		return false
	}
	var b [18]byte
	n, err := base64.StdEncoding.Decode(b[:], k)
	return err == nil && n == 16
}

// The header fields the opening handshake looks at, on either side.
const (
	fieldOther = iota
	fieldHost
	fieldUpgrade
	fieldConnection
	fieldOrigin
	fieldKey
	fieldVersion
	fieldAccept
	fieldProtocol
	fieldExtensions
)

// handshakeFields holds, at the index of its length, each field name the
// handshake looks at. The names have distinct lengths, so that one
// comparison classifies a name.
var handshakeFields = [...]struct {
	name string
	kind int
}{
	len("Host"):                     {"Host", fieldHost},
	len("Origin"):                   {"Origin", fieldOrigin},
	len("Upgrade"):                  {"Upgrade", fieldUpgrade},
	len("Connection"):               {"Connection", fieldConnection},
	len("Sec-WebSocket-Key"):        {"Sec-WebSocket-Key", fieldKey},
	len("Sec-WebSocket-Accept"):     {"Sec-WebSocket-Accept", fieldAccept},
	len("Sec-WebSocket-Version"):    {"Sec-WebSocket-Version", fieldVersion},
	len("Sec-WebSocket-Protocol"):   {"Sec-WebSocket-Protocol", fieldProtocol},
	len("Sec-WebSocket-Extensions"): {"Sec-WebSocket-Extensions", fieldExtensions},
}

// handshakeField classifies a header field name, ignoring ASCII case
// (RFC 9110 §5.1): one of the field* constants.
func handshakeField[T string | []byte](name T) int {
	if len(name) >= len(handshakeFields) {
		return fieldOther
	}
	f := &handshakeFields[len(name)]
	if f.name == "" || !foldEqual(name, f.name) {
		return fieldOther
	}
	return f.kind
}
