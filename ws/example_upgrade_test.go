package ws_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/sluice-ws/sluice/ws"
)

// A server upgrades a connection, here one end of a net.Pipe, and greets
// the client with a text frame.
func ExampleUpgrader_Upgrade() {
	// The opening handshake of RFC 6455 §1.2, with a subprotocol offer.
	const request = "GET /chat HTTP/1.1\r\n" +
		"Host: server.example.com\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Protocol: chat, superchat\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"\r\n"
	server, client := net.Pipe()
	defer client.Close()

	done := make(chan ws.Handshake, 1)
	go func() {
		defer server.Close()
		u := ws.Upgrader{Protocols: []string{"superchat", "chat"}}
		hs, err := u.Upgrade(server)
		if err != nil {
			close(done)
			return
		}
		done <- hs
		_ = ws.WriteFrame(server, ws.NewTextFrame([]byte("welcome")))
	}()

	if _, err := io.WriteString(client, request); err != nil {
		panic(err)
	}
	br := bufio.NewReader(client)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Status)
	fmt.Println("accept:", resp.Header.Get("Sec-WebSocket-Accept"))
	fmt.Println("protocol:", resp.Header.Get("Sec-WebSocket-Protocol"))
	hs := <-done
	fmt.Println("server chose:", hs.Protocol)
	f, err := ws.ReadFrame(br, 1<<10)
	if err != nil {
		panic(err)
	}
	fmt.Println("frame:", string(f.Payload))
	// Output:
	// 101 Switching Protocols
	// accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
	// protocol: superchat
	// server chose: superchat
	// frame: welcome
}

// Hooks look at the request as it is parsed; one that returns a
// *RejectError chooses the HTTP answer.
func ExampleUpgrader_Upgrade_hooks() {
	// The opening handshake of RFC 6455 §1.2, with a subprotocol offer.
	const request = "GET /chat HTTP/1.1\r\n" +
		"Host: server.example.com\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Protocol: chat, superchat\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"\r\n"
	u := ws.Upgrader{
		OnRequest: func(uri []byte) error {
			if string(uri) != "/live" {
				return ws.Reject(http.StatusNotFound, "no such endpoint")
			}
			return nil
		},
	}
	resp, _, err := u.UpgradeBuffer(nil, []byte(request))
	fmt.Println(err)
	fmt.Println(strings.SplitN(string(resp), "\r\n", 2)[0])
	// Output:
	// ws: handshake rejected: 404 Not Found: no such endpoint
	// HTTP/1.1 404 Not Found
}

// An event loop collects bytes as they arrive and calls UpgradeBuffer each
// time, until the request head is complete.
func ExampleUpgrader_UpgradeBuffer() {
	// The opening handshake of RFC 6455 §1.2, with a subprotocol offer.
	const request = "GET /chat HTTP/1.1\r\n" +
		"Host: server.example.com\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Protocol: chat, superchat\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"\r\n"
	var u ws.Upgrader
	frame := "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58" // masked "Hello"
	arrivals := []string{request[:50], request[50:] + frame}

	var in []byte
	for _, chunk := range arrivals {
		in = append(in, chunk...)
		resp, hs, err := u.UpgradeBuffer(nil, in)
		if err == io.ErrShortBuffer {
			fmt.Println("waiting for more bytes")
			continue
		}
		// Write resp to the client in any case; on error, close after.
		if err != nil {
			fmt.Println("rejected:", err)
			return
		}
		fmt.Print(strings.ReplaceAll(string(resp), "\r\n", "\n"))
		fmt.Println("buffered frame bytes:", len(hs.Buffered))
	}
	// Output:
	// waiting for more bytes
	// HTTP/1.1 101 Switching Protocols
	// Upgrade: websocket
	// Connection: Upgrade
	// Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
	//
	// buffered frame bytes: 11
}

// A net/http handler upgrades the request it serves; here a client written
// by hand talks to it over the loopback interface.
func ExampleHTTPUpgrader_Upgrade() {
	// The opening handshake of RFC 6455 §1.2, with a subprotocol offer.
	const request = "GET /chat HTTP/1.1\r\n" +
		"Host: server.example.com\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Protocol: chat, superchat\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"\r\n"
	u := ws.HTTPUpgrader{Protocols: []string{"chat"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Server", "sluice")
		conn, hs, err := u.Upgrade(w, r)
		if err != nil {
			return // Upgrade has answered the client
		}
		defer conn.Close()
		_ = ws.WriteFrame(conn, ws.NewTextFrame([]byte("hello, "+hs.Protocol)))
	}))
	defer srv.Close()

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	req := strings.Replace(request, "server.example.com", srv.Listener.Addr().String(), 1)
	if _, err := io.WriteString(conn, req); err != nil {
		panic(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Status, resp.Header.Get("X-Server"))
	f, err := ws.ReadFrame(br, 1<<10)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(f.Payload))
	// Output:
	// 101 Switching Protocols sluice
	// hello, chat
}

func ExampleAllowOrigins() {
	check := ws.AllowOrigins("*.example.com", "localhost:*", "https://*.partner.org")
	host := []byte("api.example.net")
	for _, origin := range []string{
		"https://app.example.com",
		"http://localhost:3000",
		"https://eu.partner.org",
		"http://eu.partner.org",
		"https://evil.com",
		"https://api.example.net",
	} {
		fmt.Println(origin, check([]byte(origin), host) == nil)
	}
	// Output:
	// https://app.example.com true
	// http://localhost:3000 true
	// https://eu.partner.org true
	// http://eu.partner.org false
	// https://evil.com false
	// https://api.example.net true
}

func ExampleSameOrigin() {
	host := []byte("example.com")
	fmt.Println(ws.SameOrigin([]byte("https://example.com:443"), host))
	fmt.Println(ws.SameOrigin([]byte("https://example.org"), host))
	fmt.Println(ws.SameOrigin([]byte("null"), host))
	// Output:
	// <nil>
	// ws: handshake rejected: 403 Forbidden: origin not allowed
	// ws: handshake rejected: 403 Forbidden: origin not allowed
}

// AnyOrigin suits endpoints that authenticate by token rather than by
// cookie, so that any web page may connect.
func ExampleAnyOrigin() {
	// The opening handshake of RFC 6455 §1.2, with a subprotocol offer.
	const request = "GET /chat HTTP/1.1\r\n" +
		"Host: server.example.com\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Protocol: chat, superchat\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"\r\n"
	u := ws.Upgrader{CheckOrigin: ws.AnyOrigin}
	req := strings.Replace(request, "\r\n\r\n", "\r\nOrigin: https://elsewhere.example\r\n\r\n", 1)
	_, _, err := u.UpgradeBuffer(nil, []byte(req))
	fmt.Println(err)
	// Output: <nil>
}

// RejectHTTP answers a refusal of your own, before Upgrade, the way
// HTTPUpgrader answers its own: status, reason field and body.
func ExampleRejectHTTP() {
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/chat", nil)
	if r.URL.Query().Get("token") == "" {
		ws.RejectHTTP(rec, r, ws.Reject(http.StatusUnauthorized, "token required"))
	}
	fmt.Println(rec.Code, rec.Header().Get("X-WebSocket-Reject-Reason"))
	// Output: 401 token required
}
