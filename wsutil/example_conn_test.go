package wsutil_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/gobwas/httphead"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/sluice-ws/sluice/wsutil"
)

// A request/response loop with Receive: when the peer closes, the replies
// to everything it sent go out before the answer to its close.
func ExampleConn_Receive() {
	a, b := net.Pipe() // an in-memory connection, its handshake done
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	c, err := wsutil.NewConn(b, ws.ClientSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	go func() {
		for {
			m, err := s.Receive(context.Background())
			if err != nil {
				return // a ws.CloseError after a clean close
			}
			reply := append([]byte("re: "), m.Payload...)
			_ = s.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: reply})
		}
	}()
	_ = c.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("question")})
	fmt.Println(string((<-c.Inbound()).Payload))
	fmt.Println(c.Close(ws.StatusNormalClosure, ""))
	<-s.Done()
	fmt.Println(s.Err())
	// Output:
	// re: question
	// <nil>
	// ws: closed by peer: 1000 normal closure
}

// Message.Done reports when a message has been written: Node's
// send(data, callback).
func ExampleMessage_done() {
	a, b := net.Pipe() // an in-memory connection, its handshake done
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	c, err := wsutil.NewConn(b, ws.ClientSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	written := make(chan error, 1)
	_ = s.Send(context.Background(), wsutil.Message{OpCode: ws.OpBinary, Payload: []byte{1, 2, 3}, Done: written})
	fmt.Println((<-c.Inbound()).Payload, <-written)
	_ = c.Close(ws.StatusNormalClosure, "")
	// Output: [1 2 3] <nil>
}

func ExampleConn_Ping() {
	a, b := net.Pipe() // an in-memory connection, its handshake done
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	c, err := wsutil.NewConn(b, ws.ClientSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	rtt, err := c.Ping(context.Background())
	fmt.Println(rtt > 0, err)
	_ = c.Close(ws.StatusNormalClosure, "")
	<-s.Done()
	// Output: true <nil>
}

// A pong with a payload of your choice, as a one-way heartbeat.
func ExampleConn_WriteControl() {
	pongs := make(chan string, 1)
	a, b := net.Pipe() // an in-memory connection, its handshake done
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{OnPong: func(p []byte) { pongs <- string(p) }})
	if err != nil {
		panic(err)
	}
	c, err := wsutil.NewConn(b, ws.ClientSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	_ = c.WriteControl(context.Background(), ws.OpPong, []byte("still here"))
	fmt.Println(<-pongs)
	_ = c.Close(ws.StatusNormalClosure, "")
	<-s.Done()
	// Output: still here
}

// Drop ends a misbehaving connection with a reason, without waiting.
func ExampleConn_Drop() {
	a, b := net.Pipe() // an in-memory connection, its handshake done
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	c, err := wsutil.NewConn(b, ws.ClientSide, ws.Handshake{}, wsutil.Config{CloseTimeout: time.Second})
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Drop(ws.StatusPolicyViolation, "too chatty"))
	<-c.Done()
	fmt.Println(c.Err())
	// Output:
	// <nil>
	// ws: closed by peer: 1008 policy violation: too chatty
}

// Send under a slow peer: OverflowDrop refuses messages instead of waiting.
func ExampleConn_Send() {
	a, b := net.Pipe() // nobody reads b: the queue fills up
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{OutboundBytes: 4, Overflow: wsutil.OverflowDrop})
	if err != nil {
		panic(err)
	}
	var dropped error
	for dropped == nil {
		dropped = s.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("tick")})
	}
	fmt.Println(dropped, s.Stats().Dropped)
	_ = s.Terminate()
	b.Close()
	// Output: wsutil: send queue full: message dropped 1
}

// A Conn is a running WebSocket connection: messages arrive on Inbound
// and leave with Send. Here an echo server and its client talk over an
// in-memory connection whose handshake is taken as done.
func ExampleConn() {
	a, b := net.Pipe()
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	c, err := wsutil.NewConn(b, ws.ClientSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	go func() { // the server echoes every message until the client closes
		for m := range s.Inbound() {
			_ = s.Send(context.Background(), m)
		}
	}()
	_ = c.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("hello")})
	m := <-c.Inbound()
	fmt.Println(m.OpCode == ws.OpText, string(m.Payload))
	fmt.Println(c.Close(ws.StatusNormalClosure, "bye"))
	<-s.Done()
	fmt.Println(s.Err())
	// Output:
	// true hello
	// <nil>
	// ws: closed by peer: 1000 normal closure: bye
}

// Reading with a range loop over Inbound: it ends once the connection
// has ended, and Err then tells why.
func ExampleConn_Inbound() {
	a, b := net.Pipe()
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	c, err := wsutil.NewConn(b, ws.ClientSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	go func() {
		for _, word := range []string{"one", "two"} {
			_ = c.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte(word)})
		}
		_ = c.Close(ws.StatusGoingAway, "")
	}()
	for m := range s.Inbound() {
		fmt.Println(string(m.Payload))
	}
	fmt.Println(s.Err())
	<-c.Done()
	// Output:
	// one
	// two
	// ws: closed by peer: 1001 going away
}

// Sending on Outbound, in a select with other channels; closing it closes
// the connection gracefully (code 1000) after what was sent.
func ExampleConn_Outbound() {
	a, b := net.Pipe()
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	c, err := wsutil.NewConn(b, ws.ClientSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	go func() {
		out := c.Outbound()
		for _, word := range []string{"one", "two"} {
			select {
			case out <- wsutil.Message{OpCode: ws.OpText, Payload: []byte(word)}:
			case <-c.Done():
				return
			}
		}
		close(out)
	}()
	for m := range s.Inbound() {
		fmt.Println(string(m.Payload))
	}
	fmt.Println(s.Err())
	<-c.Done()
	// Output:
	// one
	// two
	// ws: closed by peer: 1000 normal closure
}

// Done is closed once the connection has ended and its goroutines have
// exited: a select can wait for it next to other work.
func ExampleConn_Done() {
	a, b := net.Pipe()
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	c, err := wsutil.NewConn(b, ws.ClientSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	go func() { _ = c.Close(ws.StatusNormalClosure, "") }()
	select {
	case <-s.Done():
		fmt.Println(s.State(), s.Err())
	case <-time.After(time.Minute):
		fmt.Println("still open")
	}
	<-c.Done()
	// Output: closed ws: closed by peer: 1000 normal closure
}

// Close runs the closing handshake and returns nil when it was clean.
// Later calls report net.ErrClosed.
func ExampleConn_Close() {
	a, b := net.Pipe()
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	c, err := wsutil.NewConn(b, ws.ClientSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Close(ws.StatusNormalClosure, "done"))
	fmt.Println(errors.Is(c.Close(ws.StatusNormalClosure, "again"), net.ErrClosed))
	<-s.Done()
	fmt.Println(s.Err())
	// Output:
	// <nil>
	// true
	// ws: closed by peer: 1000 normal closure: done
}

// Terminate drops the connection at once, without a closing handshake:
// both ends see an abnormal closure (1006).
func ExampleConn_Terminate() {
	a, b := net.Pipe()
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	c, err := wsutil.NewConn(b, ws.ClientSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Terminate())
	fmt.Println(errors.Is(s.Err(), wsutil.ErrAbnormalClosure), errors.Is(s.Err(), net.ErrClosed))
	<-c.Done()
	fmt.Println(errors.Is(c.Err(), wsutil.ErrAbnormalClosure))
	// Output:
	// <nil>
	// true true
	// true
}

// State follows the connection from open to closed.
func ExampleConn_State() {
	a, b := net.Pipe()
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	c, err := wsutil.NewConn(b, ws.ClientSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	fmt.Println(c.State())
	_ = c.Close(ws.StatusNormalClosure, "")
	fmt.Println(c.State())
	<-s.Done()
	// Output:
	// open
	// closed
}

// Buffered tells how many payload bytes wait to be written: here the peer
// reads nothing, so all of them.
func ExampleConn_Buffered() {
	a, b := net.Pipe() // nobody reads b
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	for range 3 {
		_ = s.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("hello")})
	}
	fmt.Println(s.Buffered())
	_ = s.Terminate()
	b.Close()
	// Output: 15
}

// Stats counts the messages and bytes that went each way.
func ExampleConn_Stats() {
	a, b := net.Pipe()
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	c, err := wsutil.NewConn(b, ws.ClientSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	written := make(chan error, 2)
	for range 2 {
		_ = c.Send(context.Background(), wsutil.Message{OpCode: ws.OpBinary, Payload: []byte{1, 2, 3}, Done: written})
	}
	<-written
	<-written
	<-s.Inbound()
	<-s.Inbound()
	fmt.Println(c.Stats().MessagesOut, s.Stats().MessagesIn, s.Stats().Dropped)
	_ = c.Close(ws.StatusNormalClosure, "")
	<-s.Done()
	// Output: 2 2 0
}

// SetReadLimit bounds the size of the messages accepted from now on: a
// larger one fails the connection with 1009.
func ExampleConn_SetReadLimit() {
	a, b := net.Pipe()
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	c, err := wsutil.NewConn(b, ws.ClientSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	s.SetReadLimit(4)
	_ = c.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("too long")})
	<-c.Done()
	fmt.Println(c.Err())
	<-s.Done()
	// Output: ws: closed by peer: 1009 message too big: message too big
}

// Protocol and Extensions report what the opening handshake agreed on.
func ExampleConn_Protocol() {
	a, b := net.Pipe()
	defer b.Close()
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{Protocol: "chat.v2"}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q %d\n", s.Protocol(), len(s.Extensions()))
	_ = s.Terminate()
	// Output: "chat.v2" 0
}

// Extensions lists the extensions the handshake accepted, with their
// parameters: here permessage-deflate, which Config.Extension runs.
func ExampleConn_Extensions() {
	a, b := net.Pipe()
	defer b.Close()
	hs := ws.Handshake{Extensions: []httphead.Option{{Name: []byte("permessage-deflate")}}}
	s, err := wsutil.NewConn(a, ws.ServerSide, hs, wsutil.Config{Extension: &wsflate.Extension{}})
	if err != nil {
		panic(err)
	}
	for _, e := range s.Extensions() {
		fmt.Println(string(e.Name))
	}
	_ = s.Terminate()
	// Output: permessage-deflate
}

// NetConn gives the underlying connection, for its addresses or TLS
// state; reading or writing it would corrupt the stream.
func ExampleConn_NetConn() {
	a, b := net.Pipe()
	defer b.Close()
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	fmt.Println(s.NetConn().RemoteAddr().Network())
	_ = s.Terminate()
	// Output: pipe
}
