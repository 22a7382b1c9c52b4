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

// A client dials a server, here one running in the example on a loopback
// port: it accepts the first subprotocol offered and greets the client.
func ExampleDialer_Dial() {
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
		u := ws.Upgrader{Protocol: func([]byte) bool { return true }, CheckOrigin: ws.AnyOrigin}
		if _, err := u.Upgrade(conn); err == nil {
			_ = ws.WriteFrame(conn, ws.NewTextFrame([]byte("hello")))
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := ws.Dialer{
		Protocols: []string{"chat.v2", "chat.v1"},
		Origin:    "https://example.com",
	}
	conn, hs, err := d.Dial(ctx, "ws://"+ln.Addr().String()+"/chat")
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

// Dial uses DefaultDialer, which honours the proxy environment variables.
func ExampleDial() {
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
		if _, err := (&ws.Upgrader{}).Upgrade(conn); err == nil {
			_ = ws.WriteFrame(conn, ws.NewTextFrame([]byte("hello")))
		}
	}()

	conn, hs, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
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

// Upgrade runs the handshake on a connection the caller opened: here an
// in-memory pipe, whose other end plays the server.
func ExampleDialer_Upgrade() {
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		defer server.Close()
		u := ws.Upgrader{Protocols: []string{"chat"}}
		if _, err := u.Upgrade(server); err == nil {
			_ = ws.WriteFrame(server, ws.NewTextFrame([]byte("hello")))
		}
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

// A Dialer is configuration: this one reaches a server by an address of
// its choosing (NetDial, here an in-memory pipe) while the URL still names
// the Host header, offers a subprotocol and sends a token.
func ExampleDialer() {
	d := ws.Dialer{
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			client, server := net.Pipe()
			go func() {
				defer server.Close()
				u := ws.Upgrader{
					Protocols: []string{"feed.v1"},
					OnHeader: func(key, value []byte) error {
						if string(key) == "Authorization" {
							fmt.Printf("server sees %s: %s\n", key, value)
						}
						return nil
					},
					OnHost: func(host []byte) error {
						fmt.Printf("server sees Host: %s (dialled %s)\n", host, addr)
						return nil
					},
				}
				_, _ = u.Upgrade(server)
			}()
			return client, nil
		},
		Header:    http.Header{"Authorization": {"Bearer s3cr3t"}},
		Protocols: []string{"feed.v1"},
		Timeout:   time.Minute,
	}
	conn, hs, err := d.Dial(context.Background(), "ws://feed.example.com/live")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	fmt.Println("protocol:", hs.Protocol)
	// Output:
	// server sees Host: feed.example.com (dialled feed.example.com:80)
	// server sees Authorization: Bearer s3cr3t
	// protocol: feed.v1
}

// A server that refuses the handshake: the error carries its answer.
func ExampleHandshakeError() {
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

func ExampleHandshakeError_Error() {
	err := &ws.HandshakeError{StatusCode: 404, Status: "404 Not Found", Body: []byte("no such room")}
	fmt.Println(err)
	// Output: ws: handshake failed: server answered 404 Not Found
}

func ExampleGenerateKey() {
	key := ws.GenerateKey() // random: 16 bytes, base64-encoded
	fmt.Println(len(key), len(key) == ws.KeySize)
	// Output: 24 true
}
