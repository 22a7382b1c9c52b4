package wsutil_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// An echo server and a client on the channel API, over a real loopback
// connection.
func ExampleNewConn() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, hs, err := (&ws.HTTPUpgrader{}).Upgrade(w, r)
		if err != nil {
			return
		}
		c, err := wsutil.NewConn(nc, ws.ServerSide, hs, wsutil.Config{})
		if err != nil {
			nc.Close()
			return
		}
		for m := range c.Inbound() {
			c.Outbound() <- m
		}
	}))
	defer srv.Close()

	nc, hs, err := ws.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"))
	if err != nil {
		panic(err)
	}
	c, err := wsutil.NewConn(nc, ws.ClientSide, hs, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	if err := c.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("hello")}); err != nil {
		panic(err)
	}
	m := <-c.Inbound()
	fmt.Println(m.OpCode, string(m.Payload))
	fmt.Println(c.Close(ws.StatusNormalClosure, "bye"), c.State())
	// Output:
	// text hello
	// <nil> closed
}

// Err tells a clean close from a dropped connection.
func ExampleConn_Err() {
	a, b := net.Pipe()
	c, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	b.Close() // the peer vanishes without a close frame
	for range c.Inbound() {
	}
	fmt.Println(ws.CloseStatus(c.Err()) == ws.StatusAbnormalClosure)
	// Output: true
}

func ExampleReader_ReadMessage() {
	var conn bytes.Buffer // what a client sent
	_ = wsutil.WriteMessage(&conn, ws.ClientSide, ws.OpText, []byte("first"))
	_ = wsutil.WriteMessage(&conn, ws.ClientSide, ws.OpBinary, []byte{1, 2})

	r := wsutil.NewReader(&conn, ws.ServerSide)
	buf := make([]byte, 0, 512) // reused: no allocation per message
	for {
		op, p, err := r.ReadMessage(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		fmt.Println(op, p)
	}
	// Output:
	// text [102 105 114 115 116]
	// binary [1 2]
}

// Frame mode hands out fragments as they arrive (WebSocket-Node's
// assembleFragments: false).
func ExampleReader_NextFrame() {
	var conn bytes.Buffer
	w := wsutil.NewWriter(&conn, ws.ServerSide, ws.OpText)
	w.FragmentSize = 4
	_, _ = io.WriteString(w, "fragmented")
	_ = w.Flush()

	r := wsutil.NewReader(&conn, ws.ClientSide)
	for {
		h, err := r.NextFrame()
		if err != nil {
			break
		}
		p, _ := io.ReadAll(r)
		fmt.Printf("%v fin=%v %q\n", h.OpCode, h.Fin, p)
	}
	// Output:
	// text fin=false "frag"
	// continuation fin=false "ment"
	// continuation fin=true "ed"
}

// Streaming a message of unknown length (the seeds' stream()).
func ExampleWriter_ReadFrom() {
	var conn bytes.Buffer
	w := wsutil.NewWriterSize(&conn, ws.ServerSide, ws.OpText, 8)
	_, _ = w.ReadFrom(strings.NewReader("a long text that arrives in pieces"))
	_ = w.Flush()

	r := wsutil.NewReader(&conn, ws.ClientSide)
	_, p, _ := r.ReadMessage(nil)
	fmt.Println(string(p))
	// Output: a long text that arrives in pieces
}

func ExampleWriter() {
	var conn bytes.Buffer
	w := wsutil.NewWriter(&conn, ws.ServerSide, ws.OpBinary)
	_, _ = w.Write([]byte{1, 2, 3})
	_ = w.Flush() // ends the message
	fmt.Printf("% x\n", conn.Bytes())
	// Output: 82 03 01 02 03
}

// A Reader with a ControlHandler answers pings between fragments and
// echoes the peer's close.
func ExampleControlHandler() {
	var in, out bytes.Buffer
	_ = wsutil.WriteMessage(&in, ws.ClientSide, ws.OpPing, []byte("beat"))
	_ = wsutil.WriteClose(&in, ws.ClientSide, ws.StatusGoingAway, "")

	ch := &wsutil.ControlHandler{Dst: &out, Side: ws.ServerSide}
	r := wsutil.NewReader(&in, ws.ServerSide)
	r.OnControl = ch.Handle
	_, _, err := r.ReadMessage(nil)
	fmt.Println(err)
	for {
		f, err := ws.ReadFrame(&out, 0)
		if err != nil {
			break
		}
		fmt.Printf("%v % x\n", f.Header.OpCode, f.Payload)
	}
	// Output:
	// ws: closed by peer: 1001 going away
	// pong 62 65 61 74
	// close 03 e9
}

// The one-call helpers on a client connection: every frame is masked with
// a fresh key.
func ExampleWriteMessage() {
	server, client := net.Pipe()
	go func() {
		_ = wsutil.WriteMessage(client, ws.ClientSide, ws.OpText, []byte("hi"))
		// Write our close and wait for the server's answer.
		_ = wsutil.CloseHandshake(client, ws.ClientSide, ws.StatusNormalClosure, "done")
		client.Close()
	}()
	rw := bufio.NewReadWriter(bufio.NewReader(server), bufio.NewWriter(server))
	op, p, err := wsutil.ReadMessage(rw, ws.ServerSide, nil)
	fmt.Println(op, string(p), err)
	_, _, err = wsutil.ReadMessage(rw, ws.ServerSide, nil)
	fmt.Println(err)
	// Output:
	// text hi <nil>
	// ws: closed by peer: 1000 normal closure: done
}

func ExampleCloseCode() {
	fmt.Println(int(wsutil.CloseCode(wsutil.ErrInvalidUTF8)))
	fmt.Println(int(wsutil.CloseCode(wsutil.ErrMessageTooBig)))
	// Output:
	// 1007
	// 1009
}

// A broadcast frames a message once for all the connections a server
// sends it on, however many there are.
func ExamplePrepare() {
	m := wsutil.Prepare(ws.OpText, []byte("news for everyone"))
	var peers []net.Conn
	var conns []*wsutil.Conn
	for range 3 {
		a, b := net.Pipe()
		c, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
		if err != nil {
			panic(err)
		}
		conns, peers = append(conns, c), append(peers, b)
	}
	for _, c := range conns {
		_ = c.Send(context.Background(), m)
	}
	for _, p := range peers {
		f, _ := ws.ReadFrame(p, 0)
		fmt.Println(f.Header.OpCode, string(f.Payload))
		p.Close()
	}
	for _, c := range conns {
		<-c.Done()
	}
	// Output:
	// text news for everyone
	// text news for everyone
	// text news for everyone
}

// ReadMessage on a server: a client's ping is answered on the way to the
// message.
func ExampleReadMessage() {
	var conn bytes.Buffer
	_ = wsutil.WriteMessage(&conn, ws.ClientSide, ws.OpPing, nil)
	_ = wsutil.WriteMessage(&conn, ws.ClientSide, ws.OpText, []byte("hello"))
	var replies bytes.Buffer
	rw := struct {
		io.Reader
		io.Writer
	}{&conn, &replies}
	op, p, err := wsutil.ReadMessage(rw, ws.ServerSide, nil)
	fmt.Println(op, string(p), err)
	pong, _ := ws.ReadFrame(&replies, 0)
	fmt.Println(pong.Header.OpCode)
	// Output:
	// text hello <nil>
	// pong
}

// WriteClose fires a close frame; CloseHandshake (see ExampleWriteMessage)
// also waits for the answer.
func ExampleWriteClose() {
	var conn bytes.Buffer
	_ = wsutil.WriteClose(&conn, ws.ServerSide, ws.StatusGoingAway, "restarting")
	f, _ := ws.ReadFrame(&conn, 0)
	code, reason, _ := ws.ParseCloseBody(f.Payload)
	fmt.Println(f.Header.OpCode, int(code), string(reason))
	// Output: close 1001 restarting
}

func ExampleCloseHandshake() {
	server, client := net.Pipe()
	go func() {
		// The server reads, answering the close.
		rw := bufio.NewReadWriter(bufio.NewReader(server), bufio.NewWriter(server))
		_, _, _ = wsutil.ReadMessage(rw, ws.ServerSide, nil)
		server.Close()
	}()
	err := wsutil.CloseHandshake(client, ws.ClientSide, ws.StatusNormalClosure, "bye")
	fmt.Println(err)
	// Output: ws: closed by peer: 1000 normal closure: bye
}
