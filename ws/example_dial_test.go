package ws_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/sluice-ws/sluice/ws"
)

// startExampleDialServer starts a one-connection WebSocket server on a
// loopback port: it accepts the first subprotocol offered, sends a text
// frame and closes. It stands in for a real server so that the examples run
// offline.
func startExampleDialServer() (addr string, stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		exampleServe(c)
	}()
	return ln.Addr().String(), func() { ln.Close(); <-done }
}

// exampleServe answers one handshake on c and sends "hello".
func exampleServe(c net.Conn) {
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return
	}
	resp := []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ")
	resp = ws.AppendAccept(resp, []byte(req.Header.Get("Sec-WebSocket-Key")))
	if p := req.Header.Get("Sec-WebSocket-Protocol"); p != "" {
		first, _, _ := bytes.Cut([]byte(p), []byte(","))
		resp = append(append(append(resp, "\r\nSec-WebSocket-Protocol: "...), first...), "\r\n\r\n"...)
	} else {
		resp = append(resp, "\r\n\r\n"...)
	}
	resp = ws.AppendFrame(resp, ws.NewTextFrame([]byte("hello")))
	_, _ = c.Write(resp)
}

func ExampleDialer_Dial() {
	addr, stop := startExampleDialServer()
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := ws.Dialer{
		Protocols: []string{"chat.v2", "chat.v1"},
		Origin:    "https://example.com",
	}
	conn, hs, err := d.Dial(ctx, "ws://"+addr+"/chat")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	fmt.Println("protocol:", hs.Protocol)

	// Frames that came with the response are in hs.Buffered: read them
	// first.
	r := io.MultiReader(bytes.NewReader(hs.Buffered), conn)
	f, err := ws.ReadFrame(r, 1<<20)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: %s\n", f.Header.OpCode, f.Payload)
	// Output:
	// protocol: chat.v2
	// text: hello
}

func ExampleDial() {
	addr, stop := startExampleDialServer()
	defer stop()

	conn, hs, err := ws.Dial(context.Background(), "ws://"+addr+"/")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	f, err := ws.ReadFrame(io.MultiReader(bytes.NewReader(hs.Buffered), conn), 1<<20)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(f.Payload))
	// Output: hello
}

func ExampleDialer_Upgrade() {
	// The caller owns the transport: here an in-memory pipe, whose other
	// end plays the server.
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		defer server.Close()
		exampleServe(server)
	}()

	d := ws.Dialer{Protocols: []string{"chat"}}
	u := &url.URL{Scheme: "ws", Host: "example.com", Path: "/chat"}
	hs, err := d.Upgrade(context.Background(), client, u)
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := ws.ReadFrame(io.MultiReader(bytes.NewReader(hs.Buffered), client), 1<<20)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(hs.Protocol, string(f.Payload))
	// Output: chat hello
}

func ExampleHandshakeError() {
	// A server that refuses the handshake.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
			_, _ = io.WriteString(c, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 13\r\n\r\ntoken missing")
		}
	}()

	_, _, err = (&ws.Dialer{}).Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
	var he *ws.HandshakeError
	if errors.As(err, &he) {
		fmt.Println(he.Status)
		fmt.Println(string(he.Body))
	}
	// Output:
	// 401 Unauthorized
	// token missing
}

func ExampleGenerateKey() {
	key := ws.GenerateKey() // random: 16 bytes, base64-encoded
	fmt.Println(len(key), len(key) == ws.KeySize)
	// Output: 24 true
}
