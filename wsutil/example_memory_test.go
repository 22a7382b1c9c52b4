package wsutil_test

import (
	"context"
	"fmt"
	"net"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// The handler form: the Conn calls OnMessage on its reading goroutine, so
// the server runs no goroutine of its own per connection, and OnClose
// says when the connection is over. An HTTP handler would return right
// after NewConn.
func ExampleConfig_onMessage() {
	serverEnd, clientEnd := net.Pipe()
	closed := make(chan error, 1)
	_, err := wsutil.NewConn(serverEnd, ws.ServerSide, ws.Handshake{}, wsutil.Config{
		OnMessage: func(c *wsutil.Conn, m wsutil.Message) {
			_ = c.Send(context.Background(), m) // an echo: Send keeps m alive until written
		},
		OnClose: func(c *wsutil.Conn) { closed <- c.Err() },
	})
	if err != nil {
		panic(err)
	}

	client, err := wsutil.NewConn(clientEnd, ws.ClientSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	_ = client.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("hello")})
	fmt.Println(string((<-client.Inbound()).Payload))
	fmt.Println(client.Close(ws.StatusNormalClosure, "bye"))
	fmt.Println(<-closed)
	// Output:
	// hello
	// <nil>
	// ws: closed by peer: 1000 normal closure: bye
}

// One Budget bounds the bytes every Conn that shares it holds: messages
// being read, waiting in Inbound, and queued for sending. Once messages
// are taken and sent, their bytes are back.
func ExampleNewBudget() {
	budget := wsutil.NewBudget(64<<20, wsutil.BudgetWait)
	serverEnd, clientEnd := net.Pipe()
	server, err := wsutil.NewConn(serverEnd, ws.ServerSide, ws.Handshake{}, wsutil.Config{Budget: budget})
	if err != nil {
		panic(err)
	}
	client, err := wsutil.NewConn(clientEnd, ws.ClientSide, ws.Handshake{}, wsutil.Config{Budget: budget})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	_ = client.Send(ctx, wsutil.Message{OpCode: ws.OpBinary, Payload: make([]byte, 1<<20)})
	m, _ := server.Receive(ctx)
	fmt.Println(len(m.Payload), "bytes received")
	_ = client.Close(ws.StatusNormalClosure, "")
	<-server.Done()
	fmt.Println(budget.Used(), "bytes held of", budget.Limit())
	// Output:
	// 1048576 bytes received
	// 0 bytes held of 67108864
}

// Release gives a received message's buffer back to the pool, so that the
// next large message reuses it. A message passed to Send may be released
// as soon as Send returns.
func ExampleMessage_Release() {
	serverEnd, clientEnd := net.Pipe()
	server, err := wsutil.NewConn(serverEnd, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	go func() {
		ctx := context.Background()
		for m := range server.Inbound() {
			_ = server.Send(ctx, m)
			m.Release()
		}
	}()
	client, err := wsutil.NewConn(clientEnd, ws.ClientSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	payload := make([]byte, 64<<10)
	for range 3 {
		_ = client.Send(context.Background(), wsutil.Message{OpCode: ws.OpBinary, Payload: payload})
		m := <-client.Inbound()
		fmt.Println(len(m.Payload))
		m.Release()
	}
	_ = client.Close(ws.StatusNormalClosure, "")
	// Output:
	// 65536
	// 65536
	// 65536
}
