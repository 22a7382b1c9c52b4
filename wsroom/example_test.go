package wsroom_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsroom"
	"github.com/sluice-ws/sluice/wsutil"
)

// A chat server with rooms: a client joins the room its URL names, and
// what it sends goes to everyone in that room.
func ExampleHub() {
	hub := &wsroom.Hub{}
	srv := &wsutil.Server{}
	srv.Config.Overflow = wsutil.OverflowClose // a member too slow for the room is closed
	srv.Config.OnClose = hub.LeaveAll
	srv.OnAccept = func(c *wsutil.Conn, r *wsutil.Request) {
		_ = hub.Join(c, r.HTTP.URL.Query().Get("room"))
	}
	srv.Config.OnMessage = func(c *wsutil.Conn, m wsutil.Message) {
		m.Payload = bytes.Clone(m.Payload) // valid only during OnMessage
		for _, room := range hub.Rooms(c) {
			_, _ = hub.Publish(context.Background(), room, m)
		}
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	url := "ws" + strings.TrimPrefix(hs.URL, "http")

	join := func(room string) *wsutil.Conn {
		nc, h, err := ws.Dial(context.Background(), url+"/?room="+room)
		if err != nil {
			panic(err)
		}
		c, err := wsutil.NewConn(nc, ws.ClientSide, h, wsutil.Config{})
		if err != nil {
			panic(err)
		}
		return c
	}
	alice, bob, carol := join("go"), join("go"), join("rust")
	fmt.Println("members of go:", len(hub.Members("go")))

	_ = alice.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("hi gophers")})
	fmt.Println("bob got:", string((<-bob.Inbound()).Payload))
	fmt.Println("alice got:", string((<-alice.Inbound()).Payload))
	_ = carol.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("hi crabs")})
	fmt.Println("carol got:", string((<-carol.Inbound()).Payload))

	for _, c := range []*wsutil.Conn{alice, bob, carol} {
		_ = c.Close(ws.StatusNormalClosure, "")
	}
	_ = srv.Shutdown(context.Background())
	// Output:
	// members of go: 2
	// bob got: hi gophers
	// alice got: hi gophers
	// carol got: hi crabs
}

// A message for one member of a room, such as a reply to its command.
func ExampleHub_SendTo() {
	hub := &wsroom.Hub{}
	srv := &wsutil.Server{}
	srv.Config.OnClose = hub.LeaveAll
	srv.OnAccept = func(c *wsutil.Conn, _ *wsutil.Request) { _ = hub.Join(c, "lobby") }
	hs := httptest.NewServer(srv)
	defer hs.Close()

	nc, h, err := ws.Dial(context.Background(), "ws"+strings.TrimPrefix(hs.URL, "http"))
	if err != nil {
		panic(err)
	}
	client, err := wsutil.NewConn(nc, ws.ClientSide, h, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	member := hub.Members("lobby")[0]
	fmt.Println(hub.SendTo("lobby", member, wsutil.Message{OpCode: ws.OpText, Payload: []byte("welcome")}))
	fmt.Println(string((<-client.Inbound()).Payload))
	_ = client.Close(ws.StatusNormalClosure, "")
	_ = srv.Shutdown(context.Background())
	// Output:
	// <nil>
	// welcome
}
