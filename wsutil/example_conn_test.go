package wsutil_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// pair returns a server and a client Conn over an in-memory connection.
func pair(scfg, ccfg wsutil.Config) (*wsutil.Conn, *wsutil.Conn) {
	a, b := net.Pipe()
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, scfg)
	if err != nil {
		panic(err)
	}
	c, err := wsutil.NewConn(b, ws.ClientSide, ws.Handshake{}, ccfg)
	if err != nil {
		panic(err)
	}
	return s, c
}

// A request/response loop with Receive: when the peer closes, the replies
// to everything it sent go out before the answer to its close.
func ExampleConn_Receive() {
	s, c := pair(wsutil.Config{}, wsutil.Config{})
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
	s, c := pair(wsutil.Config{}, wsutil.Config{})
	written := make(chan error, 1)
	_ = s.Send(context.Background(), wsutil.Message{OpCode: ws.OpBinary, Payload: []byte{1, 2, 3}, Done: written})
	fmt.Println((<-c.Inbound()).Payload, <-written)
	_ = c.Close(ws.StatusNormalClosure, "")
	// Output: [1 2 3] <nil>
}

func ExampleConn_Ping() {
	s, c := pair(wsutil.Config{}, wsutil.Config{})
	rtt, err := c.Ping(context.Background())
	fmt.Println(rtt > 0, err)
	_ = c.Close(ws.StatusNormalClosure, "")
	<-s.Done()
	// Output: true <nil>
}

// A pong with a payload of your choice, as a one-way heartbeat.
func ExampleConn_WriteControl() {
	pongs := make(chan string, 1)
	s, c := pair(wsutil.Config{OnPong: func(p []byte) { pongs <- string(p) }}, wsutil.Config{})
	_ = c.WriteControl(context.Background(), ws.OpPong, []byte("still here"))
	fmt.Println(<-pongs)
	_ = c.Close(ws.StatusNormalClosure, "")
	<-s.Done()
	// Output: still here
}

// Drop ends a misbehaving connection with a reason, without waiting.
func ExampleConn_Drop() {
	s, c := pair(wsutil.Config{}, wsutil.Config{CloseTimeout: time.Second})
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
