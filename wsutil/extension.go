package wsutil

import (
	"io"

	"github.com/gobwas/httphead"
	"github.com/sluice-ws/sluice/ws"
)

// RecvExtension decodes the data messages a Reader receives, the way
// permessage-deflate (package wsflate) inflates them. wsutil declares it and
// wsflate satisfies it without either package importing the other.
//
// The extension interfaces are aliases of interface literals: a method
// whose results are interfaces only satisfies another package's interface
// when the result types are identical, and an alias of a literal is the
// same type wherever it is spelled out, so wsflate can declare its own.
type RecvExtension = interface {
	// Rsv returns the RSV bits the extension may set on the first frame of
	// a message. The Reader lets exactly these bits through on first
	// frames, and none on continuation or control frames (RFC 7692 §6.1).
	Rsv() byte
	// NextReader returns the reader of the decoded data of the message
	// whose first frame header is h; the Reader calls it only for messages
	// whose first frame carries some of the Rsv bits. src yields the
	// message's raw payload, unmasked, across all its fragments, and
	// returns io.EOF at the end of the last one. The returned reader must
	// return io.EOF only after src has (data after the end of the encoded
	// stream is an error). It is read until io.EOF, an error, or the next
	// call. A decoding error should be a *ws.ProtocolError carrying the
	// close code to send (1007 for corrupt data).
	NextReader(h ws.Header, src io.Reader) (io.Reader, error)
}

// SendExtension encodes the data messages a Writer sends.
type SendExtension = interface {
	// NextWriter starts encoding a message whose encoded bytes go to dst.
	// size is the length of the whole message when the caller knows it,
	// or -1; an extension may use it to leave short messages alone. It
	// returns the encoder and the RSV bits to set on the message's first
	// frame, or (nil, 0) to send this message unencoded.
	NextWriter(dst io.Writer, size int) (MessageEncoder, byte)
}

// MessageEncoder encodes one message for a SendExtension.
type MessageEncoder = interface {
	// Write encodes message data; encoded bytes may reach dst at once or
	// later.
	io.Writer
	// Finish writes the rest of the encoded message to dst. The encoder
	// is not used again after Finish.
	Finish() error
}

// Extension makes the per-connection state of an extension once the
// handshake has settled its parameters. Config.Extension takes one, so that
// turning compression on is one field:
//
//	cfg := wsutil.Config{Extension: &wsflate.Extension{}}
type Extension = interface {
	// Bind returns the receive and send halves for a connection on side
	// whose handshake accepted the given extensions, or two nils when
	// this extension is not among them. An error means the accepted
	// parameters cannot be honoured; the connection should fail.
	Bind(side ws.Side, accepted []httphead.Option) (RecvExtension, SendExtension, error)
}
