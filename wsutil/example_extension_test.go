package wsutil_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/gobwas/httphead"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/sluice-ws/sluice/wsutil"
)

// An Extension binds to a connection whose handshake accepted it: it
// returns the halves that decode received messages and encode sent ones.
// wsflate.Extension is one; Config.Extension takes it.
func ExampleExtension() {
	var ext wsutil.Extension = &wsflate.Extension{}
	accepted := []httphead.Option{{Name: []byte("permessage-deflate")}}
	recv, send, err := ext.Bind(ws.ServerSide, accepted)
	fmt.Println(recv != nil, send != nil, err)

	recv, send, err = ext.Bind(ws.ServerSide, nil) // not accepted: nothing to do
	fmt.Println(recv == nil, send == nil, err)
	// Output:
	// true true <nil>
	// true true <nil>
}

// A SendExtension compresses what a Writer sends, a RecvExtension
// inflates what a Reader receives; here the two halves of
// permessage-deflate, for a server and its client.
func ExampleSendExtension() {
	accepted := []httphead.Option{{Name: []byte("permessage-deflate")}}
	_, send, err := (&wsflate.Extension{}).Bind(ws.ServerSide, accepted)
	if err != nil {
		panic(err)
	}
	text := strings.Repeat("sluice ", 100)

	var conn bytes.Buffer
	w := wsutil.NewWriter(&conn, ws.ServerSide, ws.OpText)
	w.Extension = send
	_, _ = w.Write([]byte(text))
	_ = w.Flush()
	fmt.Printf("%d bytes of text, %d on the wire, first byte %x (FIN, RSV1, text)\n",
		len(text), conn.Len(), conn.Bytes()[0])
	// Output: 700 bytes of text, 17 on the wire, first byte c1 (FIN, RSV1, text)
}

// The receiving half: a Reader with the RecvExtension decodes every
// message whose first frame has RSV1 set.
func ExampleRecvExtension() {
	accepted := []httphead.Option{{Name: []byte("permessage-deflate")}}
	_, send, err := (&wsflate.Extension{}).Bind(ws.ServerSide, accepted)
	if err != nil {
		panic(err)
	}
	recv, _, err := (&wsflate.Extension{}).Bind(ws.ClientSide, accepted)
	if err != nil {
		panic(err)
	}

	var conn bytes.Buffer
	w := wsutil.NewWriter(&conn, ws.ServerSide, ws.OpText)
	w.Extension = send
	_, _ = w.Write([]byte(strings.Repeat("la", 50)))
	_ = w.Flush()

	r := wsutil.NewReader(&conn, ws.ClientSide)
	r.Extension = recv
	_, p, err := r.ReadMessage(nil)
	fmt.Println(len(p), string(p[:6]), err)
	// Output: 100 lalala <nil>
}

// A MessageEncoder encodes one message: Write it the data, then Finish.
// The SendExtension returns one, with the RSV bits to set, or nil for a
// message it leaves alone.
func ExampleMessageEncoder() {
	accepted := []httphead.Option{{Name: []byte("permessage-deflate")}}
	_, send, err := (&wsflate.Extension{}).Bind(ws.ServerSide, accepted)
	if err != nil {
		panic(err)
	}
	msg := []byte(strings.Repeat("abc", 200))

	var encoded bytes.Buffer
	enc, rsv := send.NextWriter(&encoded, len(msg))
	if enc == nil {
		fmt.Println("sent as it is")
		return
	}
	_, _ = enc.Write(msg)
	_ = enc.Finish()
	fmt.Printf("rsv %#x, %d bytes -> %v\n", rsv, len(msg), encoded.Len() < len(msg)/10)
	// Output: rsv 0x4, 600 bytes -> true
}

// A SharedEncoder encodes a message the same way on every connection
// with the same key: a broadcast (Prepare) is then compressed once. The
// send half of permessage-deflate is one when it keeps no context
// between messages.
func ExampleSharedEncoder() {
	accepted := []httphead.Option{{Name: []byte("permessage-deflate"), Parameters: httphead.Parameters{}}}
	accepted[0].Parameters.Set([]byte("server_no_context_takeover"), nil)
	_, send, err := (&wsflate.Extension{}).Bind(ws.ServerSide, accepted)
	if err != nil {
		panic(err)
	}
	se, ok := send.(wsutil.SharedEncoder)
	if !ok {
		fmt.Println("not shared")
		return
	}
	_, stateless := se.SharedKey()
	p, rsv, err := se.AppendShared(nil, []byte(strings.Repeat("tick ", 100)))
	fmt.Println(stateless, rsv != 0, len(p) < 100, err)
	// Output: true true true <nil>
}

// A Sender is a Conn or a Client: code that only sends can take either.
func ExampleSender() {
	greet := func(ctx context.Context, s wsutil.Sender, name string) error {
		return s.Send(ctx, wsutil.Message{OpCode: ws.OpText, Payload: []byte("hello, " + name)})
	}

	a, b := net.Pipe()
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	c, err := wsutil.NewConn(b, ws.ClientSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	_ = greet(context.Background(), s, "client")
	fmt.Println(string((<-c.Inbound()).Payload))
	_ = c.Close(ws.StatusNormalClosure, "")
	<-s.Done()
	// Output: hello, client
}

// A Receiver is a Conn or a Client: ReceiveJSON takes either, and so can
// your own code.
func ExampleReceiver() {
	next := func(ctx context.Context, r wsutil.Receiver) string {
		m, err := r.Receive(ctx)
		if err != nil {
			return err.Error()
		}
		return string(m.Payload)
	}

	a, b := net.Pipe()
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	c, err := wsutil.NewConn(b, ws.ClientSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	_ = c.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("order 1")})
	fmt.Println(next(context.Background(), s))
	_ = s.Close(ws.StatusNormalClosure, "")
	fmt.Println(next(context.Background(), c))
	// Output:
	// order 1
	// ws: closed by peer: 1000 normal closure
}
