package ws_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sluice-ws/sluice/ws"
)

// A client writes a masked text frame; the server reads it back, checks it
// and sees the plain payload.
func ExampleWriteFrame() {
	var conn bytes.Buffer
	f := ws.NewTextFrame([]byte("Hello")).Masked([4]byte{0x37, 0xfa, 0x21, 0x3d})
	if err := ws.WriteFrame(&conn, f); err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", conn.Bytes())
	// Output: 81 85 37 fa 21 3d 7f 9f 4d 51 58
}

func ExampleReadFrame() {
	wire := []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}
	r := bufio.NewReader(bytes.NewReader(wire))
	f, err := ws.ReadFrame(r, 1<<20)
	if err != nil {
		panic(err)
	}
	if err := ws.CheckHeader(f.Header, ws.ServerSide, 0); err != nil {
		panic(err)
	}
	fmt.Println(f.Header.OpCode, f.Header.Fin, f.Header.Masked, string(f.Payload))
	// Output: text true true Hello
}

func ExampleReadHeader() {
	wire := []byte{0x82, 0x7e, 0x01, 0x00} // binary, 256-byte payload follows
	h, err := ws.ReadHeader(bytes.NewReader(wire))
	if err != nil {
		panic(err)
	}
	fmt.Println(h.OpCode, h.Length)
	// Output: binary 256
}

func ExampleWriteHeader() {
	bw := bufio.NewWriter(io.Discard)
	h := ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 70000}
	if err := ws.WriteHeader(bw, h); err != nil {
		panic(err)
	}
	fmt.Println(bw.Buffered(), "bytes")
	// Output: 10 bytes
}

func ExampleParseHeader() {
	h, n, err := ws.ParseHeader([]byte{0x89, 0x00, 0xff})
	fmt.Println(h.OpCode, n, err)
	_, _, err = ws.ParseHeader([]byte{0x82, 0x7f, 0x00})
	fmt.Println(err)
	// Output:
	// ping 2 <nil>
	// short buffer
}

func ExampleAppendHeader() {
	b := ws.AppendHeader(nil, ws.Header{Fin: true, OpCode: ws.OpText, Length: 5})
	fmt.Printf("% x\n", b)
	// Output: 81 05
}

// Broadcast: encode a server frame once and write the same bytes to every
// connection.
func ExampleAppendFrame() {
	compiled := ws.AppendFrame(nil, ws.NewTextFrame([]byte("news")))
	var conns [3]bytes.Buffer
	for i := range conns {
		conns[i].Write(compiled)
	}
	fmt.Printf("% x\n", conns[2].Bytes())
	// Output: 81 04 6e 65 77 73
}

func ExampleCipher() {
	p := []byte("Hello")
	mask := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	ws.Cipher(p, mask, 0)
	fmt.Printf("% x\n", p)
	// Unmask in two pieces, as they might arrive.
	ws.Cipher(p[:2], mask, 0)
	ws.Cipher(p[2:], mask, 2)
	fmt.Println(string(p))
	// Output:
	// 7f 9f 4d 51 58
	// Hello
}

func ExampleCheckHeader() {
	// An unmasked frame sent to a server breaks RFC 6455 §5.1.
	h := ws.Header{Fin: true, OpCode: ws.OpText, Length: 3}
	err := ws.CheckHeader(h, ws.ServerSide, 0)
	var pe *ws.ProtocolError
	if errors.As(err, &pe) {
		fmt.Println(pe.Code, int(pe.Code), err)
	}
	// Output: protocol error 1002 ws: unmasked frame from client
}

func ExampleParseCloseBody() {
	f := ws.NewCloseFrame(ws.StatusGoingAway, "restarting")
	code, reason, err := ws.ParseCloseBody(f.Payload)
	fmt.Println(int(code), string(reason), err)
	_, _, err = ws.ParseCloseBody([]byte{0x03, 0xed}) // 1005 may not be sent
	fmt.Println(err)
	// Output:
	// 1001 restarting <nil>
	// ws: invalid close code
}

// An event loop feeds the parser whatever arrived, here in two pieces that
// split the header.
func ExampleParser_Parse() {
	wire := ws.AppendFrame(nil, ws.NewTextFrame([]byte("hi there")).Masked([4]byte{1, 2, 3, 4}))
	ps := ws.Parser{Side: ws.ServerSide, MaxPayload: 1 << 20}
	for _, arrived := range [][]byte{wire[:3], wire[3:]} {
		for len(arrived) > 0 {
			c, n, err := ps.Parse(arrived)
			arrived = arrived[n:]
			if err == io.ErrShortBuffer {
				fmt.Println("need more")
				break
			}
			if err != nil {
				panic(err)
			}
			fmt.Printf("first=%v final=%v %q\n", c.First, c.Final, c.Payload)
		}
	}
	// Output:
	// need more
	// first=true final=true "hi there"
}

func ExampleParseFrame() {
	buf := ws.AppendFrame(nil, ws.NewBinaryFrame([]byte{1, 2, 3}))
	buf = append(buf, 0x89) // first byte of the next frame
	f, n, err := ws.ParseFrame(buf)
	fmt.Println(f.Header.OpCode, f.Payload, n, err)
	_, _, err = ws.ParseFrame(buf[n:])
	fmt.Println(err)
	// Output:
	// binary [1 2 3] 5 <nil>
	// short buffer
}

func ExampleCloseStatus() {
	err := fmt.Errorf("read: %w", ws.CloseError{Code: ws.StatusGoingAway, Reason: "bye"})
	fmt.Println(int(ws.CloseStatus(err)))
	// Output: 1001
}

func ExampleAppendAccept() {
	// The key and answer of RFC 6455 §1.3.
	fmt.Println(string(ws.AppendAccept(nil, []byte("dGhlIHNhbXBsZSBub25jZQ=="))))
	// Output: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
}

func ExampleStatusCode_ValidOnWire() {
	for _, c := range []ws.StatusCode{1000, 1005, 3000, 5000} {
		fmt.Println(int(c), c.ValidOnWire())
	}
	// Output:
	// 1000 true
	// 1005 false
	// 3000 true
	// 5000 false
}

func ExampleAppendCloseBody() {
	body := ws.AppendCloseBody(nil, ws.StatusGoingAway, "restart")
	fmt.Printf("% x\n", body)
	// Output: 03 e9 72 65 73 74 61 72 74
}

func ExampleCheckAccept() {
	// A client checks the server's answer to its key (RFC 6455 §4.1).
	key := []byte("dGhlIHNhbXBsZSBub25jZQ==")
	fmt.Println(ws.CheckAccept(key, []byte("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")))
	fmt.Println(ws.CheckAccept(key, []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAA=")))
	// Output:
	// true
	// false
}

func ExampleHeaderSize() {
	for _, n := range []int64{125, 126, 65536} {
		fmt.Println(n, ws.HeaderSize(ws.Header{Length: n}), ws.HeaderSize(ws.Header{Length: n, Masked: true}))
	}
	// Output:
	// 125 2 6
	// 126 4 8
	// 65536 10 14
}

// A client masks each frame it builds by hand with a fresh key.
func ExampleNewMask() {
	f := ws.NewTextFrame([]byte("hi")).Masked(ws.NewMask())
	wire := ws.AppendFrame(nil, f)
	back, _, _ := ws.ParseFrame(wire)
	fmt.Println(back.Header.Masked, string(back.Payload))
	// Output: true hi
}

// A hook refuses a connection with its own status; the client gets it,
// with the reason in X-WebSocket-Reject-Reason.
func ExampleReject() {
	u := ws.Upgrader{OnRequest: func(uri []byte) error {
		if string(uri) != "/chat" {
			return ws.Reject(404, "no such room")
		}
		return nil
	}}
	req := "GET /lobby HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	resp, _, err := u.UpgradeBuffer(nil, []byte(req))
	fmt.Println(err)
	fmt.Println(strings.SplitN(string(resp), "\r\n", 2)[0])
	// Output:
	// ws: handshake rejected: 404 Not Found: no such room
	// HTTP/1.1 404 Not Found
}
