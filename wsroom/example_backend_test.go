package wsroom_test

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsroom"
	"github.com/sluice-ws/sluice/wsutil"
)

// localBus is a Backend for two Hubs in one process: what one node
// publishes, the other delivers. A real one, such as package wsnats,
// crosses the network.
type localBus struct {
	mu    sync.Mutex
	peer  *localBus
	rooms map[string]func(ws.OpCode, []byte)
}

func (b *localBus) Subscribe(room string, deliver func(ws.OpCode, []byte)) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rooms == nil {
		b.rooms = make(map[string]func(ws.OpCode, []byte))
	}
	b.rooms[room] = deliver
	return nil
}

func (b *localBus) Unsubscribe(room string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.rooms, room)
	return nil
}

func (b *localBus) Publish(_ context.Context, room string, op ws.OpCode, payload []byte) error {
	b.peer.mu.Lock()
	deliver := b.peer.rooms[room]
	b.peer.mu.Unlock()
	if deliver != nil {
		deliver(op, payload)
	}
	return nil
}

// Two nodes share a room through a Backend: a member on each, and a
// message published on the first reaches both.
func ExampleBackend() {
	first, second := &localBus{}, &localBus{}
	first.peer, second.peer = second, first
	nodes := []*wsroom.Hub{{Backend: first}, {Backend: second}}

	var clients []*wsutil.Conn
	for _, hub := range nodes {
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

	n, err := nodes[0].Publish(context.Background(), "news",
		wsutil.Message{OpCode: ws.OpText, Payload: []byte("on every node")})
	fmt.Println("members on the first node:", n, err)
	for i, client := range clients {
		fmt.Println(i, string((<-client.Inbound()).Payload))
	}
	// Output:
	// members on the first node: 1 <nil>
	// 0 on every node
	// 1 on every node
}
