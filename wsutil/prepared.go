package wsutil

import (
	"sync"

	"github.com/sluice-ws/sluice/ws"
)

// SharedEncoder is an optional interface of a SendExtension whose encoding
// of a message does not depend on earlier messages (permessage-deflate
// without context takeover on the sending side). A broadcast message
// (Prepare) is then encoded once for every connection whose extension
// reports the same key, instead of once per connection.
type SharedEncoder = interface {
	// SharedKey reports whether this connection encodes messages without
	// state, and a key that equals another connection's exactly when
	// both would encode every message into the same bytes.
	SharedKey() (key uint64, ok bool)
	// AppendShared appends the encoded payload of msg to dst and returns
	// it with the RSV bits for the frame; rsv 0 means the message is sent
	// as it is (below a size threshold, say) and nothing was appended.
	AppendShared(dst, msg []byte) ([]byte, byte, error)
}

// Prepare returns a message to send on many connections, such as a
// broadcast: each Conn a server sends it on writes a frame compiled once
// per kind of connection (uncompressed, or compressed with the same
// parameters and no context takeover) instead of encoding it again.
// Clients, which mask every frame with a fresh key, and connections that
// compress with context takeover encode it as any other message. A
// prepared message is sent as a single frame, whatever
// Config.FragmentSize says. op is ws.OpText or ws.OpBinary; payload must
// not change once prepared.
func Prepare(op ws.OpCode, payload []byte) Message {
	return Message{OpCode: op, Payload: payload, prep: &prepared{}}
}

// prepared caches the compiled frames of a prepared message.
type prepared struct {
	mu     sync.Mutex
	plain  []byte          // guarded by mu
	shared []preparedFrame // guarded by mu
}

type preparedFrame struct {
	key   uint64
	frame []byte
	err   error
}

// frame returns the compiled server frame of m for a connection that
// sends through ext (nil: uncompressed), and false when the connection
// must encode m itself.
func (p *prepared) frame(m Message, ext SendExtension) ([]byte, bool, error) {
	if ext == nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.plain == nil {
			p.plain = ws.AppendFrame(nil, ws.NewFrame(m.OpCode, true, m.Payload))
		}
		return p.plain, true, nil
	}
	se, ok := ext.(SharedEncoder)
	if !ok {
		return nil, false, nil
	}
	key, ok := se.SharedKey()
	if !ok {
		return nil, false, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.shared {
		if f.key == key {
			return f.frame, true, f.err
		}
	}
	frame, err := compileShared(m, se)
	p.shared = append(p.shared, preparedFrame{key: key, frame: frame, err: err})
	return frame, true, err
}

// compileShared encodes m with se and frames it.
func compileShared(m Message, se SharedEncoder) ([]byte, error) {
	// Encode behind room for the longest server header, then move the
	// payload down against the header it needs.
	const room = ws.MaxHeaderSize - 4 // a server frame has no mask
	buf := make([]byte, room, room+len(m.Payload)/2+64)
	buf, rsv, err := se.AppendShared(buf, m.Payload)
	if err != nil {
		return nil, err
	}
	if rsv == 0 {
		return ws.AppendFrame(nil, ws.NewFrame(m.OpCode, true, m.Payload)), nil
	}
	payload := buf[room:]
	h := ws.Header{Fin: true, Rsv: rsv, OpCode: m.OpCode, Length: int64(len(payload))}
	n := len(ws.AppendHeader(buf[:0], h))
	copy(buf[n:], payload)
	return buf[:n+len(payload)], nil
}
