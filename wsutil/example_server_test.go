package wsutil_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// One call turns a request into a running connection. Return from the
// handler right away: the goroutine that ranges over Inbound serves it.
func ExampleAccept() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsutil.Accept(w, r, nil) // production defaults
		if err != nil {
			return // the client has its answer; nothing is left open
		}
		go func() {
			for m := range c.Inbound() {
				_ = c.Send(context.Background(), m)
			}
		}()
	}))
	defer srv.Close()

	nc, hs, err := ws.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"))
	if err != nil {
		panic(err)
	}
	client, err := wsutil.NewConn(nc, ws.ClientSide, hs, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	_ = client.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("hello")})
	fmt.Println(string((<-client.Inbound()).Payload))
	err = client.Close(ws.StatusNormalClosure, "")
	fmt.Println(err, wsutil.IsCleanClose(client.Err()))
	// Output:
	// hello
	// <nil> true
}

// A Server is an http.Handler with a registry: here a room where every
// message goes to every member, the sender included, framed once.
func ExampleServer() {
	room := &wsutil.Server{}
	room.Config.OnMessage = func(_ *wsutil.Conn, m wsutil.Message) {
		m.Payload = append([]byte(nil), m.Payload...) // valid only during OnMessage
		room.Broadcast(context.Background(), m, nil)
	}
	srv := httptest.NewServer(room)
	defer srv.Close()

	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	var members []*wsutil.Conn
	for range 3 {
		nc, hs, err := ws.Dial(context.Background(), url)
		if err != nil {
			panic(err)
		}
		c, err := wsutil.NewConn(nc, ws.ClientSide, hs, wsutil.Config{})
		if err != nil {
			panic(err)
		}
		members = append(members, c)
	}
	fmt.Println(room.Len(), "members")
	_ = members[0].Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("hi all")})
	for _, c := range members {
		fmt.Println(string((<-c.Inbound()).Payload))
	}
	for _, c := range members {
		_ = c.Close(ws.StatusNormalClosure, "")
	}
	// Output:
	// 3 members
	// hi all
	// hi all
	// hi all
}

// CheckRequest admits or refuses a request before the handshake, and tags
// the connection with data that Broadcast filters on.
func ExampleServer_Broadcast() {
	s := &wsutil.Server{
		CheckRequest: func(r *wsutil.Request) error {
			room := r.HTTP.URL.Query().Get("room")
			if room == "" {
				return ws.Reject(http.StatusBadRequest, "which room?")
			}
			r.Data = room
			return nil
		},
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	join := func(room string) *wsutil.Conn {
		nc, hs, err := ws.Dial(context.Background(), url+"?room="+room)
		if err != nil {
			panic(err)
		}
		c, err := wsutil.NewConn(nc, ws.ClientSide, hs, wsutil.Config{})
		if err != nil {
			panic(err)
		}
		return c
	}
	red, blue := join("red"), join("blue")
	n := s.Broadcast(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("red team, go")},
		func(_ *wsutil.Conn, room any) bool { return room == "red" })
	fmt.Println(n, string((<-red.Inbound()).Payload))

	_, _, err := ws.Dial(context.Background(), url)
	var refused *ws.HandshakeError
	if errors.As(err, &refused) {
		fmt.Println(refused.StatusCode, refused.Header.Get("X-WebSocket-Reject-Reason"))
	}
	_ = red.Close(ws.StatusNormalClosure, "")
	_ = blue.Close(ws.StatusNormalClosure, "")
	// Output:
	// 1 red team, go
	// 400 which room?
}

// Shutdown closes every connection with 1001 (going away) and waits for
// the closing handshakes; http.Server.Shutdown calls it by itself for a
// Server it has served.
func ExampleServer_Shutdown() {
	s := &wsutil.Server{}
	srv := httptest.NewServer(s)
	defer srv.Close()
	nc, hs, err := ws.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"))
	if err != nil {
		panic(err)
	}
	client, err := wsutil.NewConn(nc, ws.ClientSide, hs, wsutil.Config{
		OnMessage: func(*wsutil.Conn, wsutil.Message) {},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Shutdown(context.Background()), s.Len())
	<-client.Done()
	fmt.Println(client.Err())
	// Output:
	// <nil> 0
	// ws: closed by peer: 1001 going away: server shutting down
}
