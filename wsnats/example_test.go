package wsnats_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsnats"
	"github.com/sluice-ws/sluice/wsroom"
	"github.com/sluice-ws/sluice/wsutil"
)

// Two nodes share a room through NATS: a member on each, and a message
// published on the first reaches both. The examples start an embedded
// NATS server (github.com/nats-io/nats-server/v2); in production the
// nodes connect to a nats-server of their own.
func ExampleBackend() {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		panic(err)
	}
	ns.Start()
	defer ns.WaitForShutdown()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		panic("NATS is not ready")
	}

	var nodes []*wsroom.Hub
	var clients []*wsutil.Conn
	for i := range 2 {
		b, err := wsnats.Connect(ns.ClientURL(), wsnats.Config{Name: fmt.Sprint("node ", i)})
		if err != nil {
			panic(err)
		}
		defer b.Close()
		hub := &wsroom.Hub{Backend: b}
		// A member, over an in-memory connection for the example.
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
		if err := hub.Join(c, "news"); err != nil { // subscribes the node
			panic(err)
		}
		// Until NATS has the subscription, other nodes' messages may
		// miss this one.
		if err := b.Flush(context.Background()); err != nil {
			panic(err)
		}
		nodes = append(nodes, hub)
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

// Connect fails when no NATS server answers; once connected, a Backend
// reconnects by itself.
func ExampleConnect() {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		panic(err)
	}
	ns.Start()
	defer ns.WaitForShutdown()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		panic("NATS is not ready")
	}

	b, err := wsnats.Connect(ns.ClientURL(), wsnats.Config{Name: "node 1"})
	fmt.Println("connect:", err)
	fmt.Println("connected:", b.Connected())
	_ = b.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	nobody := "nats://" + ln.Addr().String()
	_ = ln.Close() // nothing listens there any more
	_, err = wsnats.Connect(nobody, wsnats.Config{})
	fmt.Println("no server:", err != nil)
	// Output:
	// connect: <nil>
	// connected: true
	// no server: true
}

// A negative ReconnectBuffer keeps nothing while NATS is unreachable:
// every Publish fails at once, and the rooms' members on other nodes miss
// those messages; the members on the publishing node have them.
func ExampleConfig() {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		panic(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		panic("NATS is not ready")
	}

	b, err := wsnats.Connect(ns.ClientURL(), wsnats.Config{
		Prefix:          "chat.rooms",
		ReconnectWait:   100 * time.Millisecond,
		ReconnectBuffer: -1,
	})
	if err != nil {
		panic(err)
	}
	defer b.Close()
	fmt.Println("publish:", b.Publish(context.Background(), "lobby", ws.OpText, []byte("hi")))

	ns.Shutdown()
	ns.WaitForShutdown()
	for b.Connected() {
		time.Sleep(10 * time.Millisecond)
	}
	err = b.Publish(context.Background(), "lobby", ws.OpText, []byte("anyone?"))
	fmt.Println("publish during the outage fails:", errors.Is(err, wsnats.ErrBufferFull))
	// Output:
	// publish: <nil>
	// publish during the outage fails: true
}

// What a node publishes to a room reaches the other nodes subscribed to
// it, never the node itself: its Hub delivers to its own members.
func ExampleBackend_Subscribe() {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		panic(err)
	}
	ns.Start()
	defer ns.WaitForShutdown()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		panic("NATS is not ready")
	}
	first, err := wsnats.Connect(ns.ClientURL(), wsnats.Config{})
	if err != nil {
		panic(err)
	}
	defer first.Close()
	second, err := wsnats.Connect(ns.ClientURL(), wsnats.Config{})
	if err != nil {
		panic(err)
	}
	defer second.Close()

	got := make(chan string, 4)
	for name, b := range map[string]*wsnats.Backend{"first": first, "second": second} {
		err := b.Subscribe("news", func(op ws.OpCode, payload []byte) {
			got <- fmt.Sprintf("%s got %v %q", name, op, payload)
		})
		if err != nil {
			panic(err)
		}
		if err := b.Flush(context.Background()); err != nil {
			panic(err)
		}
	}
	_ = first.Publish(context.Background(), "news", ws.OpText, []byte("from the first"))
	_ = second.Publish(context.Background(), "news", ws.OpBinary, []byte{1, 2})
	fmt.Println(<-got)
	fmt.Println(<-got)
	// Unordered output:
	// second got text "from the first"
	// first got binary "\x01\x02"
}

// After Unsubscribe a node receives nothing more of the room.
func ExampleBackend_Unsubscribe() {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		panic(err)
	}
	ns.Start()
	defer ns.WaitForShutdown()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		panic("NATS is not ready")
	}
	pub, err := wsnats.Connect(ns.ClientURL(), wsnats.Config{})
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	sub, err := wsnats.Connect(ns.ClientURL(), wsnats.Config{})
	if err != nil {
		panic(err)
	}
	defer sub.Close()

	got := make(chan string, 4)
	for _, room := range []string{"news", "sport"} {
		_ = sub.Subscribe(room, func(_ ws.OpCode, payload []byte) { got <- room + ": " + string(payload) })
	}
	_ = sub.Unsubscribe("news")
	if err := sub.Flush(context.Background()); err != nil {
		panic(err)
	}
	// One publisher's messages arrive in order: once "sport" is in,
	// "news" would have been too.
	_ = pub.Publish(context.Background(), "news", ws.OpText, []byte("not for us"))
	_ = pub.Publish(context.Background(), "sport", ws.OpText, []byte("goal"))
	fmt.Println(<-got)
	fmt.Println("more:", len(got))
	// Output:
	// sport: goal
	// more: 0
}

// Publish returns once the NATS client has the message; after Close it
// fails.
func ExampleBackend_Publish() {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		panic(err)
	}
	ns.Start()
	defer ns.WaitForShutdown()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		panic("NATS is not ready")
	}
	b, err := wsnats.Connect(ns.ClientURL(), wsnats.Config{})
	if err != nil {
		panic(err)
	}
	fmt.Println(b.Publish(context.Background(), "any room, any name", ws.OpText, []byte("hello")))
	_ = b.Close()
	err = b.Publish(context.Background(), "lobby", ws.OpText, []byte("late"))
	fmt.Println(errors.Is(err, wsnats.ErrClosed), errors.Is(err, net.ErrClosed))
	// Output:
	// <nil>
	// true true
}

// Flush waits until NATS has the node's subscriptions: messages other
// nodes publish afterwards reach it.
func ExampleBackend_Flush() {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		panic(err)
	}
	ns.Start()
	defer ns.WaitForShutdown()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		panic("NATS is not ready")
	}
	b, err := wsnats.Connect(ns.ClientURL(), wsnats.Config{})
	if err != nil {
		panic(err)
	}
	defer b.Close()
	_ = b.Subscribe("lobby", func(ws.OpCode, []byte) {})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fmt.Println(b.Flush(ctx))
	// Output:
	// <nil>
}

// Connected reports the NATS connection's state now: false while NATS is
// unreachable, and after Close.
func ExampleBackend_Connected() {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		panic(err)
	}
	ns.Start()
	defer ns.WaitForShutdown()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		panic("NATS is not ready")
	}
	b, err := wsnats.Connect(ns.ClientURL(), wsnats.Config{})
	if err != nil {
		panic(err)
	}
	fmt.Println(b.Connected())
	_ = b.Close()
	fmt.Println(b.Connected())
	// Output:
	// true
	// false
}

// Stats counts what NATS dropped for the node and its reconnections.
func ExampleBackend_Stats() {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		panic(err)
	}
	ns.Start()
	defer ns.WaitForShutdown()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		panic("NATS is not ready")
	}
	b, err := wsnats.Connect(ns.ClientURL(), wsnats.Config{})
	if err != nil {
		panic(err)
	}
	defer b.Close()
	fmt.Printf("%+v\n", b.Stats())
	// Output:
	// {Dropped:0 SlowConsumer:0 Reconnects:0}
}

// NATS restarted on the same address: the Backend reconnects by itself
// and counts it.
func ExampleStats() {
	opts := &server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true}
	ns, err := server.NewServer(opts)
	if err != nil {
		panic(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		panic("NATS is not ready")
	}
	b, err := wsnats.Connect(ns.ClientURL(), wsnats.Config{ReconnectWait: 20 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	defer b.Close()

	opts.Port = ns.Addr().(*net.TCPAddr).Port
	ns.Shutdown()
	ns.WaitForShutdown()
	for b.Connected() {
		time.Sleep(10 * time.Millisecond)
	}
	ns, err = server.NewServer(opts) // the same address again
	if err != nil {
		panic(err)
	}
	ns.Start()
	defer ns.WaitForShutdown()
	defer ns.Shutdown()
	for !b.Connected() {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("reconnects:", b.Stats().Reconnects)
	// Output:
	// reconnects: 1
}

// Close ends the node's NATS connection; later calls do nothing.
func ExampleBackend_Close() {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		panic(err)
	}
	ns.Start()
	defer ns.WaitForShutdown()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		panic("NATS is not ready")
	}
	b, err := wsnats.Connect(ns.ClientURL(), wsnats.Config{})
	if err != nil {
		panic(err)
	}
	fmt.Println(b.Close(), b.Close())
	err = b.Subscribe("lobby", func(ws.OpCode, []byte) {})
	fmt.Println(errors.Is(err, wsnats.ErrClosed))
	// Output:
	// <nil> <nil>
	// true
}
