package wsroom_test

import (
	"context"
	"fmt"
	"net"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsroom"
	"github.com/sluice-ws/sluice/wsutil"
)

// Joining puts a connection in a room; a connection may be in several.
func ExampleHub_Join() {
	hub := &wsroom.Hub{}
	nc, peer := net.Pipe()
	defer peer.Close()
	c, err := wsutil.NewConn(nc, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	defer c.Terminate()

	fmt.Println(hub.Join(c, "news"), hub.Join(c, "sport"))
	fmt.Println(hub.Rooms(c), len(hub.Members("news")))
	// Output:
	// <nil> <nil>
	// [news sport] 1
}

// Leaving takes a connection out of one room, LeaveAll out of all of them.
func ExampleHub_Leave() {
	hub := &wsroom.Hub{}
	nc, peer := net.Pipe()
	defer peer.Close()
	c, err := wsutil.NewConn(nc, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	defer c.Terminate()

	_ = hub.Join(c, "news")
	_ = hub.Join(c, "sport")
	fmt.Println(hub.Leave(c, "news"), hub.Rooms(c))
	// Output:
	// <nil> [sport]
}

// LeaveAll fits Config.OnClose: a closed connection leaves every room.
func ExampleHub_LeaveAll() {
	hub := &wsroom.Hub{}
	closed := make(chan struct{})
	cfg := wsutil.Config{OnClose: func(c *wsutil.Conn) {
		hub.LeaveAll(c)
		close(closed)
	}}
	nc, peer := net.Pipe()
	c, err := wsutil.NewConn(nc, ws.ServerSide, ws.Handshake{}, cfg)
	if err != nil {
		panic(err)
	}
	_ = hub.Join(c, "news")
	_ = hub.Join(c, "sport")
	fmt.Println(len(hub.Members("news")), len(hub.Members("sport")))

	peer.Close() // the client goes away
	<-closed
	fmt.Println(len(hub.Members("news")), len(hub.Members("sport")))
	// Output:
	// 1 1
	// 0 0
}

// Members lists a room's connections on this node, in the order they
// joined.
func ExampleHub_Members() {
	hub := &wsroom.Hub{}
	var conns []*wsutil.Conn
	for range 3 {
		nc, peer := net.Pipe()
		defer peer.Close()
		c, err := wsutil.NewConn(nc, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
		if err != nil {
			panic(err)
		}
		defer c.Terminate()
		_ = hub.Join(c, "news")
		conns = append(conns, c)
	}
	members := hub.Members("news")
	fmt.Println(len(members), members[0] == conns[0], members[2] == conns[2])
	// Output:
	// 3 true true
}

// Rooms lists the rooms of a connection, such as to publish what it sends
// to each of them.
func ExampleHub_Rooms() {
	hub := &wsroom.Hub{}
	nc, peer := net.Pipe()
	defer peer.Close()
	c, err := wsutil.NewConn(nc, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	defer c.Terminate()
	fmt.Println(hub.Rooms(c))
	_ = hub.Join(c, "b")
	_ = hub.Join(c, "a")
	fmt.Println(hub.Rooms(c))
	// Output:
	// []
	// [b a]
}

// Publish frames a message once for every member of the room.
func ExampleHub_Publish() {
	hub := &wsroom.Hub{}
	var clients []*wsutil.Conn
	for range 2 {
		nc, peer := net.Pipe()
		c, err := wsutil.NewConn(nc, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
		if err != nil {
			panic(err)
		}
		defer c.Terminate()
		client, err := wsutil.NewConn(peer, ws.ClientSide, ws.Handshake{}, wsutil.Config{})
		if err != nil {
			panic(err)
		}
		defer client.Terminate()
		_ = hub.Join(c, "news")
		clients = append(clients, client)
	}

	msg := wsutil.Message{OpCode: ws.OpText, Payload: []byte("extra! extra!")}
	n, err := hub.Publish(context.Background(), "news", msg)
	fmt.Println(n, err)
	for _, client := range clients {
		fmt.Println(string((<-client.Inbound()).Payload))
	}
	// Output:
	// 2 <nil>
	// extra! extra!
	// extra! extra!
}
