//go:build linux

package wsutil_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"sync"
	"time"

	"github.com/gobwas/httphead"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/sluice-ws/sluice/wsutil"
)

// An echo server on event loops: no goroutine per connection. The client
// here uses the one-call helpers.
func ExamplePollServer() {
	s := &wsutil.PollServer{Handler: &wsutil.PollHandler{
		OnMessage: func(c *wsutil.PollConn, m wsutil.Message) {
			_ = c.Send(context.Background(), m) // the payload is copied or kept alive as needed
		},
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(ln) // returns wsutil.ErrServerClosed after Close
	defer s.Close()

	nc, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	if err := wsutil.WriteMessage(nc, ws.ClientSide, ws.OpText, []byte("hello, loop")); err != nil {
		log.Fatal(err)
	}
	_, p, err := wsutil.ReadMessage(nc, ws.ClientSide, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", p)
	// Output: hello, loop
}

// Serve on a listener; Serve returns ErrServerClosed once the server is
// shut down or closed.
func ExamplePollServer_Serve() {
	s := &wsutil.PollServer{Handler: &wsutil.PollHandler{
		OnMessage: func(*wsutil.PollConn, wsutil.Message) {},
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	s.Close()
	fmt.Println(errors.Is(<-served, wsutil.ErrServerClosed))
	// Output: true
}

// Route picks a handler, with its own limits and handshake settings, by
// the request-target; other paths get 404.
func ExamplePollServer_Route() {
	upper := &wsutil.PollHandler{
		Config: wsutil.Config{MaxMessageSize: 1 << 10},
		OnMessage: func(c *wsutil.PollConn, m wsutil.Message) {
			_ = c.Send(context.Background(), wsutil.Message{OpCode: m.OpCode, Payload: bytes.ToUpper(m.Payload)})
		},
	}
	s := &wsutil.PollServer{Route: func(target []byte) *wsutil.PollHandler {
		if string(target) == "/upper" {
			return upper
		}
		return nil
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()

	ctx := context.Background()
	if _, _, err := ws.Dial(ctx, "ws://"+ln.Addr().String()+"/lower"); err != nil {
		var he *ws.HandshakeError
		if errors.As(err, &he) {
			fmt.Println("/lower:", he.StatusCode)
		}
	}
	nc, _, err := ws.Dial(ctx, "ws://"+ln.Addr().String()+"/upper")
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	_ = wsutil.WriteMessage(nc, ws.ClientSide, ws.OpText, []byte("quiet"))
	_, p, _ := wsutil.ReadMessage(nc, ws.ClientSide, nil)
	fmt.Printf("/upper: %s\n", p)
	// Output:
	// /lower: 404
	// /upper: QUIET
}

// Shutdown closes every connection with the closing handshake and waits
// for them, within ctx.
func ExamplePollServer_Shutdown() {
	s := &wsutil.PollServer{Handler: &wsutil.PollHandler{
		OnMessage: func(*wsutil.PollConn, wsutil.Message) {},
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(ln)

	nc, hs, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
	if err != nil {
		log.Fatal(err)
	}
	c, err := wsutil.NewConn(nc, ws.ClientSide, hs, wsutil.Config{})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx, ws.StatusGoingAway, "maintenance"); err != nil {
		log.Fatal(err)
	}
	<-c.Done()
	fmt.Println(c.Err())
	// Output: ws: closed by peer: 1001 going away: maintenance
}

// Close drops every connection at once, without a closing handshake.
func ExamplePollServer_Close() {
	s := &wsutil.PollServer{Handler: &wsutil.PollHandler{
		OnMessage: func(*wsutil.PollConn, wsutil.Message) {},
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(ln)

	nc, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	s.Close()
	_, _, err = wsutil.ReadMessage(nc, ws.ClientSide, nil)
	fmt.Println(err)
	// Output: EOF
}

// Len counts the connections, handshakes in progress included.
func ExamplePollServer_Len() {
	opened := make(chan struct{})
	s := &wsutil.PollServer{Handler: &wsutil.PollHandler{
		OnOpen:    func(*wsutil.PollConn) { opened <- struct{}{} },
		OnMessage: func(*wsutil.PollConn, wsutil.Message) {},
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()

	for range 3 {
		nc, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
		if err != nil {
			log.Fatal(err)
		}
		defer nc.Close()
		<-opened
	}
	fmt.Println(s.Len())
	// Output: 3
}

// OnOpen and OnClose see a connection begin and end: here a greeting, and
// the code the client closed with. A server that speaks first may have its
// first frames arrive with the 101 response: the client reads them from
// the handshake's Buffered bytes, which wsutil.NewConn does.
func ExamplePollHandler() {
	closed := make(chan error, 1)
	s := &wsutil.PollServer{Handler: &wsutil.PollHandler{
		OnOpen: func(c *wsutil.PollConn) {
			_ = c.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("welcome")})
		},
		OnMessage: func(*wsutil.PollConn, wsutil.Message) {},
		OnClose:   func(c *wsutil.PollConn) { closed <- c.Err() },
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()

	ctx := context.Background()
	nc, hs, err := ws.Dial(ctx, "ws://"+ln.Addr().String()+"/")
	if err != nil {
		log.Fatal(err)
	}
	c, err := wsutil.NewConn(nc, ws.ClientSide, hs, wsutil.Config{})
	if err != nil {
		log.Fatal(err)
	}
	m, err := c.Receive(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("client got %q\n", m.Payload)
	_ = c.Close(ws.StatusNormalClosure, "bye")
	fmt.Println("server ended with", <-closed)
	// Output:
	// client got "welcome"
	// server ended with ws: closed by peer: 1000 normal closure: bye
}

// Send works from any goroutine and never waits; Message.Done tells when
// the message has been written.
func ExamplePollConn_Send() {
	conns := make(chan *wsutil.PollConn, 1)
	s := &wsutil.PollServer{Handler: &wsutil.PollHandler{
		OnOpen:    func(c *wsutil.PollConn) { conns <- c },
		OnMessage: func(*wsutil.PollConn, wsutil.Message) {},
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()

	nc, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	c := <-conns
	written := make(chan error, 1)
	err = c.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("news"), Done: written})
	fmt.Println("queued:", err)
	fmt.Println("written:", <-written)
	_, p, _ := wsutil.ReadMessage(nc, ws.ClientSide, nil)
	fmt.Printf("client got %q\n", p)
	// Output:
	// queued: <nil>
	// written: <nil>
	// client got "news"
}

// Close starts the closing handshake after what is queued: the client
// reads the reply, then the close frame.
func ExamplePollConn_Close() {
	s := &wsutil.PollServer{Handler: &wsutil.PollHandler{
		OnMessage: func(c *wsutil.PollConn, m wsutil.Message) {
			_ = c.Send(context.Background(), m)
			_ = c.Close(4000, "one is enough")
		},
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()

	nc, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	_ = wsutil.WriteMessage(nc, ws.ClientSide, ws.OpText, []byte("one"))
	_, p, _ := wsutil.ReadMessage(nc, ws.ClientSide, nil)
	fmt.Printf("%s\n", p)
	_, _, err = wsutil.ReadMessage(nc, ws.ClientSide, nil) // answers the close
	fmt.Println(err)
	// Output:
	// one
	// ws: closed by peer: 4000: one is enough
}

// Drop sends a close frame ahead of anything queued and closes the socket
// without waiting for the answer.
func ExamplePollConn_Drop() {
	closed := make(chan error, 1)
	s := &wsutil.PollServer{Handler: &wsutil.PollHandler{
		OnMessage: func(c *wsutil.PollConn, m wsutil.Message) {
			_ = c.Drop(ws.StatusPolicyViolation, "not allowed")
		},
		OnClose: func(c *wsutil.PollConn) { closed <- c.Err() },
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()

	nc, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	_ = wsutil.WriteMessage(nc, ws.ClientSide, ws.OpText, []byte("forbidden"))
	_, _, err = wsutil.ReadMessage(nc, ws.ClientSide, nil)
	fmt.Println("client:", err)
	fmt.Println("server:", errors.Is(<-closed, wsutil.ErrAbnormalClosure))
	// Output:
	// client: ws: closed by peer: 1008 policy violation: not allowed
	// server: true
}

// Terminate closes the socket without a closing handshake.
func ExamplePollConn_Terminate() {
	s := &wsutil.PollServer{Handler: &wsutil.PollHandler{
		OnMessage: func(c *wsutil.PollConn, m wsutil.Message) { _ = c.Terminate() },
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()

	nc, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	_ = wsutil.WriteMessage(nc, ws.ClientSide, ws.OpText, []byte("bye"))
	_, _, err = wsutil.ReadMessage(nc, ws.ClientSide, nil)
	fmt.Println(err)
	// Output: EOF
}

// WriteControl sends a ping (or an unsolicited pong) with a payload of
// your choice, behind what is queued.
func ExamplePollConn_WriteControl() {
	s := &wsutil.PollServer{Handler: &wsutil.PollHandler{
		OnOpen: func(c *wsutil.PollConn) {
			_ = c.WriteControl(context.Background(), ws.OpPing, []byte("are you there?"))
		},
		OnMessage: func(*wsutil.PollConn, wsutil.Message) {},
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()

	nc, hs, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
	if err != nil {
		log.Fatal(err)
	}
	pinged := make(chan string, 1)
	c, err := wsutil.NewConn(nc, ws.ClientSide, hs, wsutil.Config{OnPing: func(p []byte) bool {
		pinged <- string(p)
		return true // and answer it
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Terminate()
	fmt.Printf("ping %q\n", <-pinged)
	// Output: ping "are you there?"
}

// Err tells why a connection ended, once Done is closed.
func ExamplePollConn_Err() {
	ended := make(chan *wsutil.PollConn, 1)
	s := &wsutil.PollServer{Handler: &wsutil.PollHandler{
		OnMessage: func(*wsutil.PollConn, wsutil.Message) {},
		OnClose:   func(c *wsutil.PollConn) { ended <- c },
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()

	nc, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
	if err != nil {
		log.Fatal(err)
	}
	_ = wsutil.WriteMessage(nc, ws.ClientSide, ws.OpText, []byte("\xff is not UTF-8"))
	_, _, err = wsutil.ReadMessage(nc, ws.ClientSide, nil)
	fmt.Println("client:", err)
	nc.Close()
	c := <-ended
	fmt.Println("server:", c.Err())
	// Output:
	// client: ws: closed by peer: 1007 invalid frame payload data: invalid UTF-8 in text message
	// server: ws: invalid UTF-8 in text message
}

// Done is closed once the connection has ended, for goroutines that wait
// for it.
func ExamplePollConn_Done() {
	conns := make(chan *wsutil.PollConn, 1)
	s := &wsutil.PollServer{Handler: &wsutil.PollHandler{
		OnOpen:    func(c *wsutil.PollConn) { conns <- c },
		OnMessage: func(*wsutil.PollConn, wsutil.Message) {},
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()

	nc, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
	if err != nil {
		log.Fatal(err)
	}
	c := <-conns
	nc.Close() // without a close frame
	<-c.Done()
	fmt.Println(errors.Is(c.Err(), wsutil.ErrAbnormalClosure))
	// Output: true
}

// State follows the connection from open to closed.
func ExamplePollConn_State() {
	states := make(chan wsutil.State, 2)
	s := &wsutil.PollServer{Handler: &wsutil.PollHandler{
		OnOpen:    func(c *wsutil.PollConn) { states <- c.State() },
		OnMessage: func(*wsutil.PollConn, wsutil.Message) {},
		OnClose:   func(c *wsutil.PollConn) { states <- c.State() },
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()

	nc, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-states)
	_ = wsutil.CloseHandshake(nc, ws.ClientSide, ws.StatusNormalClosure, "")
	nc.Close()
	fmt.Println(<-states)
	// Output:
	// open
	// closed
}

// Stats counts what went through a connection; Buffered is what waits to
// be written (0 once it has all gone out).
func ExamplePollConn_Stats() {
	ended := make(chan *wsutil.PollConn, 1)
	s := &wsutil.PollServer{Handler: &wsutil.PollHandler{
		OnMessage: func(c *wsutil.PollConn, m wsutil.Message) { _ = c.Send(context.Background(), m) },
		OnClose:   func(c *wsutil.PollConn) { ended <- c },
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()

	nc, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range []string{"one", "two"} {
		_ = wsutil.WriteMessage(nc, ws.ClientSide, ws.OpText, []byte(p))
		_, _, _ = wsutil.ReadMessage(nc, ws.ClientSide, nil)
	}
	_ = wsutil.CloseHandshake(nc, ws.ClientSide, ws.StatusNormalClosure, "")
	nc.Close()
	c := <-ended
	st := c.Stats()
	fmt.Println(st.MessagesIn, st.MessagesOut, st.Dropped, c.Buffered())
	// Output: 2 2 0 0
}

// Protocol is the subprotocol the handshake settled: the server's
// preference among the client's offers.
func ExamplePollConn_Protocol() {
	opened := make(chan string, 1)
	s := &wsutil.PollServer{Handler: &wsutil.PollHandler{
		Upgrader:  ws.Upgrader{Protocols: []string{"chat.v2", "chat.v1"}},
		OnOpen:    func(c *wsutil.PollConn) { opened <- c.Protocol() },
		OnMessage: func(*wsutil.PollConn, wsutil.Message) {},
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()

	d := ws.Dialer{Protocols: []string{"chat.v1", "chat.v2"}}
	nc, _, err := d.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	fmt.Println(<-opened)
	// Output: chat.v2
}

// Extensions are those the handshake accepted: here permessage-deflate,
// which the handler's Config.Extension then runs.
func ExamplePollConn_Extensions() {
	deflate := &wsflate.Extension{}
	opened := make(chan string, 1)
	s := &wsutil.PollServer{Handler: &wsutil.PollHandler{
		Upgrader: ws.Upgrader{Extension: deflate.Negotiate},
		Config:   wsutil.Config{Extension: deflate},
		OnOpen: func(c *wsutil.PollConn) {
			for _, e := range c.Extensions() {
				opened <- string(e.Name)
			}
		},
		OnMessage: func(c *wsutil.PollConn, m wsutil.Message) { _ = c.Send(context.Background(), m) },
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()

	d := ws.Dialer{Extensions: []httphead.Option{deflate.Offer()}, OnExtensions: deflate.CheckResponse}
	nc, hs, err := d.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
	if err != nil {
		log.Fatal(err)
	}
	c, err := wsutil.NewConn(nc, ws.ClientSide, hs, wsutil.Config{Extension: deflate})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Terminate()
	fmt.Println(<-opened)
	text := bytes.Repeat([]byte("compress me "), 100)
	_ = c.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: text})
	m, err := c.Receive(context.Background())
	fmt.Println(err, bytes.Equal(m.Payload, text))
	// Output:
	// permessage-deflate
	// <nil> true
}

// RemoteAddr is the peer's address.
func ExamplePollConn_RemoteAddr() {
	opened := make(chan net.Addr, 1)
	s := &wsutil.PollServer{Handler: &wsutil.PollHandler{
		OnOpen:    func(c *wsutil.PollConn) { opened <- c.RemoteAddr() },
		OnMessage: func(*wsutil.PollConn, wsutil.Message) {},
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()

	nc, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	fmt.Println((<-opened).String() == nc.LocalAddr().String())
	// Output: true
}

// A PollConn is the connection a handler's callbacks are given, and it
// may serve as the key of the application's state for it: here, how many
// messages each connection has sent. The callbacks of one connection run
// on one loop, one at a time.
func ExamplePollConn() {
	var mu sync.Mutex
	counts := make(map[*wsutil.PollConn]int)
	s := &wsutil.PollServer{Handler: &wsutil.PollHandler{
		OnMessage: func(c *wsutil.PollConn, m wsutil.Message) {
			mu.Lock()
			counts[c]++
			n := counts[c]
			mu.Unlock()
			_ = c.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: fmt.Appendf(nil, "%s #%d", m.Payload, n)})
		},
		OnClose: func(c *wsutil.PollConn) {
			mu.Lock()
			delete(counts, c)
			mu.Unlock()
		},
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()

	nc, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	for _, p := range []string{"a", "b"} {
		_ = wsutil.WriteMessage(nc, ws.ClientSide, ws.OpText, []byte(p))
		_, reply, _ := wsutil.ReadMessage(nc, ws.ClientSide, nil)
		fmt.Printf("%s\n", reply)
	}
	// Output:
	// a #1
	// b #2
}

// Buffered is what waits in the send queue: inside a callback, what was
// queued, for the loop writes it once the callback has returned.
func ExamplePollConn_Buffered() {
	queued := make(chan int64, 1)
	s := &wsutil.PollServer{Handler: &wsutil.PollHandler{
		OnOpen: func(c *wsutil.PollConn) {
			_ = c.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("hello")})
			queued <- c.Buffered()
		},
		OnMessage: func(*wsutil.PollConn, wsutil.Message) {},
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()

	nc, hs, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
	if err != nil {
		log.Fatal(err)
	}
	c, err := wsutil.NewConn(nc, ws.ClientSide, hs, wsutil.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Terminate()
	m, err := c.Receive(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("queued in OnOpen:", <-queued)
	fmt.Printf("client got %q\n", m.Payload)
	// Output:
	// queued in OnOpen: 5
	// client got "hello"
}
