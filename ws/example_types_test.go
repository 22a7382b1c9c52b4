package ws_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gobwas/httphead"

	"github.com/sluice-ws/sluice/ws"
)

// --- frames ------------------------------------------------------------------

// A Frame is a header and its payload; the constructors fill in the header.
func ExampleFrame() {
	f := ws.Frame{
		Header:  ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 3},
		Payload: []byte{1, 2, 3},
	}
	fmt.Printf("% x\n", ws.AppendFrame(nil, f))
	// Output: 82 03 01 02 03
}

func ExampleNewFrame() {
	// The first of two fragments of a text message (RFC 6455 §5.4).
	first := ws.NewFrame(ws.OpText, false, []byte("Hel"))
	last := ws.NewFrame(ws.OpContinuation, true, []byte("lo"))
	fmt.Printf("% x\n", ws.AppendFrame(ws.AppendFrame(nil, first), last))
	// Output: 01 03 48 65 6c 80 02 6c 6f
}

func ExampleNewTextFrame() {
	f := ws.NewTextFrame([]byte("Hello"))
	fmt.Println(f.Header.OpCode, f.Header.Fin, f.Header.Length)
	// Output: text true 5
}

func ExampleNewBinaryFrame() {
	f := ws.NewBinaryFrame([]byte{0xca, 0xfe})
	fmt.Printf("% x\n", ws.AppendFrame(nil, f))
	// Output: 82 02 ca fe
}

func ExampleNewPingFrame() {
	f := ws.NewPingFrame([]byte("are you there?"))
	fmt.Println(f.Header.OpCode, string(f.Payload))
	// Output: ping are you there?
}

// A pong answers a ping with the ping's payload (RFC 6455 §5.5.3).
func ExampleNewPongFrame() {
	ping := ws.NewPingFrame([]byte("42"))
	pong := ws.NewPongFrame(ping.Payload)
	fmt.Println(pong.Header.OpCode, string(pong.Payload))
	// Output: pong 42
}

func ExampleNewCloseFrame() {
	f := ws.NewCloseFrame(ws.StatusGoingAway, "restarting")
	fmt.Printf("% x\n", f.Payload[:2])
	fmt.Println(string(f.Payload[2:]))
	fmt.Println(len(ws.NewCloseFrame(0, "").Payload)) // no code: an empty body
	// Output:
	// 03 e9
	// restarting
	// 0
}

// A client masks every frame it sends (RFC 6455 §5.1); the payload itself
// is left as it is.
func ExampleFrame_Masked() {
	payload := []byte("Hello")
	f := ws.NewTextFrame(payload).Masked([4]byte{0x37, 0xfa, 0x21, 0x3d})
	fmt.Printf("% x\n", ws.AppendFrame(nil, f))
	fmt.Println(string(payload))
	// Output:
	// 81 85 37 fa 21 3d 7f 9f 4d 51 58
	// Hello
}

func ExampleHeader() {
	h := ws.Header{Fin: true, OpCode: ws.OpBinary, Masked: true, Mask: [4]byte{1, 2, 3, 4}, Length: 300}
	wire := ws.AppendHeader(nil, h)
	fmt.Printf("% x\n", wire)
	back, n, err := ws.ParseHeader(wire)
	fmt.Println(back == h, n == ws.HeaderSize(h), err)
	// Output:
	// 82 fe 01 2c 01 02 03 04
	// true true <nil>
}

// --- opcodes, sides and status codes -----------------------------------------

func ExampleOpCode() {
	for _, op := range []ws.OpCode{ws.OpContinuation, ws.OpText, ws.OpBinary, ws.OpClose, ws.OpPing, ws.OpPong, 0x3} {
		fmt.Printf("%#x %v\n", byte(op), op)
	}
	// Output:
	// 0x0 continuation
	// 0x1 text
	// 0x2 binary
	// 0x8 close
	// 0x9 ping
	// 0xa pong
	// 0x3 OpCode(3)
}

func ExampleOpCode_String() {
	fmt.Println(ws.OpPing.String())
	// Output: ping
}

// Control frames may come between the fragments of a message (RFC 6455
// §5.5).
func ExampleOpCode_IsControl() {
	fmt.Println(ws.OpPing.IsControl(), ws.OpClose.IsControl(), ws.OpText.IsControl())
	// Output: true true false
}

func ExampleOpCode_IsData() {
	fmt.Println(ws.OpText.IsData(), ws.OpContinuation.IsData(), ws.OpPong.IsData())
	// Output: true true false
}

func ExampleOpCode_IsReserved() {
	for _, op := range []ws.OpCode{0x3, 0x7, 0x8, 0xb} {
		fmt.Printf("%#x %v\n", byte(op), op.IsReserved())
	}
	// Output:
	// 0x3 true
	// 0x7 true
	// 0x8 false
	// 0xb true
}

// A Side says which end of the connection this is: a server's frames go
// unmasked, a client's masked.
func ExampleSide() {
	h := ws.Header{Fin: true, OpCode: ws.OpText, Length: 2} // unmasked
	for _, side := range []ws.Side{ws.ClientSide, ws.ServerSide} {
		fmt.Println(side, "receiving an unmasked frame:", ws.CheckHeader(h, side, 0))
	}
	// Output:
	// client receiving an unmasked frame: <nil>
	// server receiving an unmasked frame: ws: unmasked frame from client
}

func ExampleSide_Peer() {
	fmt.Println(ws.ServerSide.Peer(), ws.ClientSide.Peer())
	// Output: client server
}

func ExampleSide_String() {
	fmt.Println(ws.ServerSide.String())
	// Output: server
}

func ExampleStatusCode() {
	for _, c := range []ws.StatusCode{ws.StatusNormalClosure, ws.StatusGoingAway, ws.StatusInvalidFramePayloadData, 4001} {
		fmt.Println(int(c), c)
	}
	// Output:
	// 1000 normal closure
	// 1001 going away
	// 1007 invalid frame payload data
	// 4001 StatusCode(4001)
}

func ExampleStatusCode_String() {
	fmt.Println(ws.StatusMessageTooBig.String())
	// Output: message too big
}

func ExampleStatusCode_IsRegistered() {
	fmt.Println(ws.StatusCode(1011).IsRegistered(), ws.StatusCode(1016).IsRegistered())
	// Output: true false
}

// Codes 3000–3999 are registered by libraries and applications with IANA.
func ExampleStatusCode_IsApplication() {
	fmt.Println(ws.StatusCode(3000).IsApplication(), ws.StatusCode(4000).IsApplication())
	// Output: true false
}

// Codes 4000–4999 are an application's own, agreed with its peers.
func ExampleStatusCode_IsPrivate() {
	fmt.Println(ws.StatusCode(4001).IsPrivate(), ws.StatusCode(1000).IsPrivate())
	// Output: true false
}

// --- errors ------------------------------------------------------------------

// A reader returns a CloseError once the peer has closed; errors.As finds
// it through any wrapping.
func ExampleCloseError() {
	err := fmt.Errorf("read: %w", ws.CloseError{Code: 4001, Reason: "room closed"})
	var ce ws.CloseError
	if errors.As(err, &ce) {
		fmt.Println(int(ce.Code), ce.Reason)
	}
	// CloseError is comparable: errors.Is matches an exact code and reason.
	fmt.Println(errors.Is(err, ws.CloseError{Code: 4001, Reason: "room closed"}))
	// Output:
	// 4001 room closed
	// true
}

func ExampleCloseError_Error() {
	fmt.Println(ws.CloseError{Code: ws.StatusGoingAway, Reason: "restarting"})
	// Output: ws: closed by peer: 1001 going away: restarting
}

// A ProtocolError carries the close code to answer the peer with.
func ExampleProtocolError() {
	h := ws.Header{Fin: false, OpCode: ws.OpPing, Masked: true} // a fragmented ping
	err := ws.CheckHeader(h, ws.ServerSide, 0)
	var pe *ws.ProtocolError
	if errors.As(err, &pe) {
		fmt.Println(int(pe.Code), pe.Reason)
		reply := ws.NewCloseFrame(pe.Code, pe.Reason)
		fmt.Println(reply.Header.OpCode, len(reply.Payload))
	}
	fmt.Println(errors.Is(err, ws.ErrControlFragmented))
	// Output:
	// 1002 fragmented control frame
	// close 26
	// true
}

func ExampleProtocolError_Error() {
	fmt.Println(ws.ErrReservedOpCode)
	// Output: ws: reserved opcode
}

// A RejectError chooses the HTTP answer to a refused handshake, extra
// headers included.
func ExampleRejectError() {
	u := ws.Upgrader{OnRequest: func(uri []byte) error {
		if !strings.HasPrefix(string(uri), "/v2/") {
			return &ws.RejectError{
				Status: http.StatusGone,
				Reason: "this API moved to /v2/",
				Header: http.Header{"Link": {`</v2/feed>; rel="alternate"`}},
			}
		}
		return nil
	}}
	req := "GET /v1/feed HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	resp, _, err := u.UpgradeBuffer(nil, []byte(req))
	var re *ws.RejectError
	fmt.Println(errors.As(err, &re), re.Status)
	for _, line := range strings.Split(string(resp), "\r\n") {
		if strings.HasPrefix(line, "HTTP/") || strings.HasPrefix(line, "Link:") || strings.HasPrefix(line, "X-WebSocket-Reject-Reason:") {
			fmt.Println(line)
		}
	}
	// Output:
	// true 410
	// HTTP/1.1 410 Gone
	// X-WebSocket-Reject-Reason: this API moved to /v2/
	// Link: </v2/feed>; rel="alternate"
}

func ExampleRejectError_Error() {
	fmt.Println(ws.Reject(http.StatusTooManyRequests, "slow down"))
	// Output: ws: handshake rejected: 429 Too Many Requests: slow down
}

// --- the parser --------------------------------------------------------------

// A Parser hands out a frame's payload as it arrives, in Chunks: the
// first carries the header, the last has Final set.
func ExampleChunk() {
	wire := ws.AppendFrame(nil, ws.NewBinaryFrame([]byte("0123456789")).Masked([4]byte{9, 8, 7, 6}))
	var ps ws.Parser // server side, no limit
	for _, arrived := range [][]byte{wire[:8], wire[8:12], wire[12:]} {
		for len(arrived) > 0 {
			c, n, err := ps.Parse(arrived)
			arrived = arrived[n:]
			if err != nil {
				break // io.ErrShortBuffer: wait for more bytes
			}
			fmt.Printf("first=%-5v final=%-5v %v %q\n", c.First, c.Final, c.Header.OpCode, c.Payload)
		}
	}
	// Output:
	// first=true  final=false binary "01"
	// first=false final=false binary "2345"
	// first=false final=true  binary "6789"
}

// A Parser for a client that negotiated permessage-deflate (RSV1) and
// refuses frames over 1 KiB from their header alone.
func ExampleParser() {
	ps := ws.Parser{Side: ws.ClientSide, Rsv: ws.Rsv1, MaxPayload: 1 << 10}
	big := ws.AppendHeader(nil, ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 1 << 20})
	_, _, err := ps.Parse(big)
	fmt.Println(err)
	// Output: ws: frame too big
}

// Buffered reports the bytes of a header the parser holds while it waits
// for the rest.
func ExampleParser_Buffered() {
	wire := ws.AppendFrame(nil, ws.NewTextFrame([]byte("hi")).Masked([4]byte{1, 2, 3, 4}))
	var ps ws.Parser
	_, n, err := ps.Parse(wire[:3])
	fmt.Println(n, err, ps.Buffered())
	// Output: 3 short buffer 3
}

// Reset forgets a partial frame, as when a connection is reused from a
// pool.
func ExampleParser_Reset() {
	wire := ws.AppendFrame(nil, ws.NewTextFrame([]byte("hi")).Masked([4]byte{1, 2, 3, 4}))
	var ps ws.Parser
	_, _, _ = ps.Parse(wire[:3])
	ps.Reset()
	c, _, err := ps.Parse(wire)
	fmt.Println(ps.Buffered(), string(c.Payload), err)
	// Output: 0 hi <nil>
}

// --- handshakes --------------------------------------------------------------

// Handshake is what both ends agreed on, and the frames that came early.
func ExampleHandshake() {
	u := ws.Upgrader{
		Protocols: []string{"chat"},
		Extension: func(offer httphead.Option) (httphead.Option, bool) {
			return httphead.NewOption("x-trace", nil), string(offer.Name) == "x-trace"
		},
	}
	req := "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: x-trace\r\n\r\n"
	frame := ws.AppendFrame(nil, ws.NewTextFrame([]byte("early")).Masked([4]byte{1, 2, 3, 4}))
	_, hs, err := u.UpgradeBuffer(nil, append([]byte(req), frame...))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(hs.Protocol, string(hs.Extensions[0].Name), len(hs.Buffered))
	f, _, _ := ws.ParseFrame(hs.Buffered)
	fmt.Println(string(f.Payload))
	// Output:
	// chat x-trace 11
	// early
}

// An Upgrader is the server's configuration, shared by every connection:
// the subprotocols it speaks, the origins it allows, a look at each header.
func ExampleUpgrader() {
	u := ws.Upgrader{
		Protocols:   []string{"graphql-transport-ws"},
		CheckOrigin: ws.AllowOrigins("https://app.example.com"),
		OnHeader: func(key, value []byte) error {
			if strings.EqualFold(string(key), "Cookie") && !strings.Contains(string(value), "session=") {
				return ws.Reject(http.StatusUnauthorized, "log in first")
			}
			return nil
		},
	}
	for _, origin := range []string{"https://app.example.com", "https://evil.example"} {
		req := "GET /graphql HTTP/1.1\r\nHost: api.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
			"Sec-WebSocket-Protocol: graphql-transport-ws\r\nCookie: session=abc\r\nOrigin: " + origin + "\r\n\r\n"
		resp, hs, err := u.UpgradeBuffer(nil, []byte(req))
		fmt.Printf("%s: %s %q %v\n", origin, strings.SplitN(string(resp), "\r\n", 2)[0], hs.Protocol, err)
	}
	// Output:
	// https://app.example.com: HTTP/1.1 101 Switching Protocols "graphql-transport-ws" <nil>
	// https://evil.example: HTTP/1.1 403 Forbidden "" ws: handshake rejected: 403 Forbidden: origin not allowed
}

// An HTTPUpgrader refuses what the handshake rules refuse with an HTTP
// answer, before hijacking anything: here a page of another site.
func ExampleHTTPUpgrader() {
	u := ws.HTTPUpgrader{
		Protocol:    func(offered string) bool { return strings.HasPrefix(offered, "chat.") },
		CheckOrigin: ws.SameOrigin,
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, hs, err := u.Upgrade(w, r)
		if err != nil {
			fmt.Println("refused:", err)
			return // Upgrade has answered the client
		}
		defer conn.Close()
		fmt.Println("upgraded:", hs.Protocol)
	})
	r := httptest.NewRequest(http.MethodGet, "http://chat.example.com/ws", nil)
	r.Header = http.Header{
		"Upgrade":                {"websocket"},
		"Connection":             {"Upgrade"},
		"Sec-Websocket-Key":      {"dGhlIHNhbXBsZSBub25jZQ=="},
		"Sec-Websocket-Version":  {"13"},
		"Sec-Websocket-Protocol": {"chat.v1"},
		"Origin":                 {"https://evil.example"},
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	body, _ := io.ReadAll(w.Body)
	fmt.Println(w.Code, strings.TrimSpace(string(body)))
	// Output:
	// refused: ws: handshake rejected: 403 Forbidden: origin not allowed
	// 403 origin not allowed
}
