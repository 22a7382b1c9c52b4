package cli

import (
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
)

// benchMask masks every frame bench sends. RFC 6455 §5.3 wants an
// unpredictable key so that a browser's page cannot steer the bytes a
// proxy sees; a load generator on loopback has no such page, and one key
// lets every frame be computed once.
var benchMask = [4]byte{0x5a, 0x17, 0xc3, 0x9e}

// benchFrames are the precomputed bytes bench writes: depth copies of one
// masked message frame back to back, so that k messages are one write of
// all[:k*len(one)], and the masked close frame. They are shared, read
// only, by every connection.
type benchFrames struct {
	all     []byte
	one     int // length of one frame
	op      ws.OpCode
	size    int64 // payload size before compression
	deflate bool  // payloads are compressed: echoes vary in length
	close   []byte
}

// newBenchFrames builds the frames of cfg.
func newBenchFrames(cfg benchConfig) (*benchFrames, error) {
	op := ws.OpBinary
	if cfg.text {
		op = ws.OpText
	}
	var payload []byte
	if cfg.compress {
		payload = jsonLikeText(int(cfg.size))
	} else {
		payload = make([]byte, cfg.size)
		for i := range payload {
			payload[i] = 'a' + byte(i%26) // valid UTF-8 for -text
		}
	}
	h := ws.Header{Fin: true, OpCode: op, Masked: true, Mask: benchMask}
	if cfg.compress {
		// RFC 7692 §7.2.1: the message compressed on its own, without
		// the flush marker, RSV1 on the first frame. A stream without
		// history is valid whatever context takeover was negotiated.
		var err error
		payload, err = wsflate.AppendCompress(nil, payload, wsflate.DefaultLevel, 0)
		if err != nil {
			return nil, err
		}
		h.Rsv = ws.Rsv1
	}
	h.Length = int64(len(payload))
	one := ws.AppendFrame(nil, ws.Frame{Header: h, Payload: payload})
	f := &benchFrames{
		one:     len(one),
		op:      op,
		size:    int64(cfg.size),
		deflate: cfg.compress,
		close:   ws.AppendFrame(nil, ws.NewCloseFrame(ws.StatusNormalClosure, "").Masked(benchMask)),
	}
	depth := 1
	if cfg.mode == modeEcho {
		depth = cfg.depth
	}
	f.all = make([]byte, 0, depth*len(one))
	for range depth {
		f.all = append(f.all, one...)
	}
	return f, nil
}

// rsv returns the RSV bits the server may set: RSV1 with compression.
func (f *benchFrames) rsv() byte {
	if f.deflate {
		return ws.Rsv1
	}
	return 0
}

// jsonLikeText returns n bytes of text shaped like a JSON array of event
// records, compressible about as well as real application messages.
func jsonLikeText(n int) []byte {
	events := []string{"click", "view", "scroll", "purchase", "login"}
	b := make([]byte, 0, n+128)
	b = append(b, '[')
	for i := 0; len(b) < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, int64(100000+i*7919%90000), 10)
		b = append(b, `,"user":"user-`...)
		b = strconv.AppendInt(b, int64(i*37%1000), 10)
		b = append(b, `","event":"`...)
		b = append(b, events[i%len(events)]...)
		b = append(b, `","ts":`...)
		b = strconv.AppendInt(b, int64(1700000000+i*13), 10)
		b = append(b, `,"ok":true}`...)
	}
	b = b[:n]
	b[n-1] = ']'
	return b
}

// frameScanner counts the messages in the server's stream of frames
// without copying payloads. It checks what an echo must be: unmasked
// frames, the opcode sent, whole messages of the size sent (unless
// compressed). It is not safe for concurrent use.
type frameScanner struct {
	frames *benchFrames
	skip   int64 // payload bytes of the current data frame not yet seen
	inData bool  // inside a data frame's payload
	fin    bool  // the current data frame ends its message
	inMsg  bool  // a message has started
	msgLen int64 // payload bytes of the current message so far
}

// scanEvent is what scan stopped on besides running out of bytes.
type scanEvent struct {
	op      ws.OpCode // OpPing or OpClose; 0 for none
	payload []byte    // the control frame's payload, aliasing the buffer
}

// minRoom is the free space the read buffer keeps after its data, so
// that a whole header and control frame always fit.
const minRoom = ws.MaxHeaderSize + ws.MaxControlPayload

// scan consumes the frames in p and returns how many bytes it used, how
// many messages ended in them, and a ping or close frame if one arrived
// (scan stops right after it). Bytes of an incomplete header or control
// frame are left unused, for the next call with more bytes.
func (s *frameScanner) scan(p []byte) (used, msgs int, ev scanEvent, err error) {
	for {
		if s.inData {
			d := min(s.skip, int64(len(p)-used))
			used += int(d)
			s.skip -= d
			if s.skip > 0 {
				return used, msgs, ev, nil
			}
			s.inData = false
			if s.fin {
				if !s.frames.deflate && s.msgLen != s.frames.size {
					return used, msgs, ev, fmt.Errorf("server echoed %d bytes for a message of %d", s.msgLen, s.frames.size)
				}
				s.inMsg, s.msgLen = false, 0
				msgs++
			}
		}
		h, n, herr := ws.ParseHeader(p[used:])
		if errors.Is(herr, io.ErrShortBuffer) {
			return used, msgs, ev, nil
		}
		if herr != nil {
			return used, msgs, ev, herr
		}
		if err := ws.CheckHeader(h, ws.ClientSide, s.frames.rsv()); err != nil {
			return used, msgs, ev, err
		}
		if h.OpCode.IsControl() {
			if len(p)-used < n+int(h.Length) {
				return used, msgs, ev, nil
			}
			payload := p[used+n : used+n+int(h.Length)]
			used += n + int(h.Length)
			if h.OpCode == ws.OpPong {
				continue
			}
			return used, msgs, scanEvent{op: h.OpCode, payload: payload}, nil
		}
		switch {
		case h.OpCode == ws.OpContinuation && !s.inMsg:
			return used, msgs, ev, fmt.Errorf("server sent a continuation frame outside a message")
		case h.OpCode != ws.OpContinuation && s.inMsg:
			return used, msgs, ev, fmt.Errorf("server began a message inside another")
		case h.OpCode != ws.OpContinuation && h.OpCode != s.frames.op:
			return used, msgs, ev, fmt.Errorf("server echoed a %v message for a %v one", h.OpCode, s.frames.op)
		}
		used += n
		s.inMsg, s.inData, s.fin = true, true, h.Fin
		s.skip = h.Length
		s.msgLen += h.Length
	}
}
