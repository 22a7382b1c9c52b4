package wsflate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/gobwas/httphead"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
)

// A server accepts permessage-deflate by using Negotiate as the Upgrader's
// Extension hook, then binds the connection's compression state to what
// the handshake settled.
func ExampleExtension_Negotiate() {
	e := &wsflate.Extension{ClientMaxWindowBits: 12}
	u := ws.Upgrader{Extension: e.Negotiate}

	// A browser's request, as an event loop would have read it.
	req := "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
	resp, hs, err := u.UpgradeBuffer(nil, []byte(req))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, line := range strings.Split(string(resp), "\r\n") {
		if strings.HasPrefix(line, "Sec-WebSocket-Extensions") {
			fmt.Println(line)
		}
	}
	recv, send, err := e.Bind(ws.ServerSide, hs.Extensions)
	fmt.Println(recv != nil, send != nil, err)
	// Output:
	// Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=12
	// true true <nil>
}

// A client offers permessage-deflate in the Dialer's Extensions and checks
// the server's answer with OnExtensions.
func ExampleExtension_Offer() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		server := &wsflate.Extension{ServerNoContextTakeover: true}
		u := ws.Upgrader{Extension: server.Negotiate}
		_, _ = u.Upgrade(conn)
	}()

	client := &wsflate.Extension{ClientMaxWindowBits: wsflate.WindowBitsNoValue}
	d := ws.Dialer{
		Extensions:   []httphead.Option{client.Offer()},
		OnExtensions: client.CheckResponse,
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, hs, err := d.Dial(ctx, "ws://"+ln.Addr().String()+"/")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	p, err := wsflate.ParseParams(hs.Extensions[0])
	offer, _ := wsflate.ParseParams(client.Offer())
	fmt.Println("offered:", offer)
	fmt.Println("accepted:", p, err)
	// Output:
	// offered: permessage-deflate; client_max_window_bits
	// accepted: permessage-deflate; server_no_context_takeover <nil>
}

// Without wsutil, the halves that Bind returns compress and inflate whole
// messages around ws frames.
func ExampleExtension_Bind() {
	answer := []httphead.Option{wsflate.Params{}.Option()}
	var e wsflate.Extension
	_, send, _ := e.Bind(ws.ServerSide, answer)
	recv, _, _ := e.Bind(ws.ClientSide, answer)

	// Server: compress a message into one frame with the bits given.
	var payload bytes.Buffer
	enc, rsv := send.NextWriter(&payload, -1)
	_, _ = io.WriteString(enc, strings.Repeat("sluice ", 40))
	_ = enc.Finish()
	var wire bytes.Buffer
	_ = ws.WriteFrame(&wire, ws.Frame{
		Header:  ws.Header{Fin: true, Rsv: rsv, OpCode: ws.OpText, Length: int64(payload.Len())},
		Payload: payload.Bytes(),
	})

	// Client: read the frame and inflate it.
	f, _ := ws.ReadFrame(&wire, 0)
	dec, _ := recv.NextReader(f.Header, bytes.NewReader(f.Payload))
	msg, err := io.ReadAll(dec)
	fmt.Println(len(msg), "bytes from", len(f.Payload), err)
	// Output:
	// 280 bytes from 13 <nil>
}

// AppendCompress and AppendDecompress handle one message without context
// takeover, with no connection state.
func ExampleAppendCompress() {
	msg := []byte(strings.Repeat("Hello, WebSocket! ", 20))
	payload, _ := wsflate.AppendCompress(nil, msg, wsflate.BestSpeed, 0)
	back, err := wsflate.AppendDecompress(nil, payload, 1<<20)
	fmt.Println(len(msg), len(payload), bytes.Equal(msg, back), err)
	// Output:
	// 360 24 true <nil>
}

// AppendDecompress reads the example of RFC 7692 §7.2.3.1, and refuses to
// inflate past its limit.
func ExampleAppendDecompress() {
	msg, err := wsflate.AppendDecompress(nil, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, 1<<20)
	fmt.Printf("%s %v\n", msg, err)
	msg, err = wsflate.AppendDecompress(nil, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, 4)
	fmt.Printf("%s %v\n", msg, err)
	// Output:
	// Hello <nil>
	// Hell ws: permessage-deflate: inflated message over the limit
}

// A broadcast compresses a message once into a compiled frame and writes
// the same bytes to every connection without context takeover.
func ExampleAppendFrame() {
	msg := []byte(strings.Repeat(`{"price":101.5,"qty":3}`, 10))
	frame, _ := wsflate.AppendFrame(nil, ws.OpText, msg, 0, 0)
	// Then, for every connection c: c.Write(frame).
	h, n, _ := ws.ParseHeader(frame)
	fmt.Printf("fin=%v rsv1=%v op=%v header=%d payload=%d\n", h.Fin, h.Rsv == ws.Rsv1, h.OpCode, n, h.Length)
	// Output:
	// fin=true rsv1=true op=text header=2 payload=28
}

// ParseExtensions lists the permessage-deflate offers of a request, in the
// client's order.
func ExampleParseExtensions() {
	ps, err := wsflate.ParseExtensions([]byte("permessage-deflate; server_max_window_bits=10, x-foo, permessage-deflate"))
	for _, p := range ps {
		fmt.Println(p)
	}
	fmt.Println(err)
	// Output:
	// permessage-deflate; server_max_window_bits=10
	// permessage-deflate
	// <nil>
}

// ParseParams reads one element, as the Upgrader's hook receives it, and
// rejects what RFC 7692 §7 forbids.
func ExampleParseParams() {
	for _, s := range []string{
		"permessage-deflate; client_max_window_bits; server_max_window_bits=10",
		"permessage-deflate; server_max_window_bits=16",
		"permessage-deflate; mem_level=8",
	} {
		opts, _ := httphead.ParseOptions([]byte(s), nil)
		p, err := wsflate.ParseParams(opts[0])
		fmt.Println(p.ServerMaxWindowBits, p.ClientMaxWindowBits == wsflate.WindowBitsNoValue, err)
	}
	// Output:
	// 10 true <nil>
	// 0 false wsflate: invalid permessage-deflate parameter value
	// 0 false wsflate: unknown permessage-deflate parameter
}

// Params.Option builds the element to send, and String shows it as it
// goes on the wire.
func ExampleParams_Option() {
	p := wsflate.Params{ClientNoContextTakeover: true, ClientMaxWindowBits: 10}
	o := p.Option()
	fmt.Println(string(o.Name), p)
	// Output:
	// permessage-deflate permessage-deflate; client_no_context_takeover; client_max_window_bits=10
}

// CheckResponse refuses an answer the client cannot honour; the Dialer
// then fails the handshake with the error wrapped.
func ExampleExtension_CheckResponse() {
	client := &wsflate.Extension{ServerMaxWindowBits: 10}
	for _, answer := range []string{
		"permessage-deflate; server_max_window_bits=9",
		"permessage-deflate; server_max_window_bits=12",
		"permessage-deflate; server_max_window_bits=10; client_max_window_bits=10",
	} {
		accepted, _ := httphead.ParseOptions([]byte(answer), nil)
		err := client.CheckResponse(accepted)
		fmt.Println(err, errors.Is(err, wsflate.ErrResponseClientWindow))
	}
	// Output:
	// <nil> false
	// wsflate: server did not honour the server_max_window_bits offered false
	// wsflate: server answered a client_max_window_bits that was not offered true
}
