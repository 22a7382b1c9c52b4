package wsutil_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// AcceptOptions chooses the subprotocol, adds response fields and
// configures the server's Conn.
func ExampleAcceptOptions() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsutil.Accept(w, r, &wsutil.AcceptOptions{
			Protocols: []string{"chat.v2", "chat.v1"}, // by preference
			Header:    http.Header{"X-Server": {"sluice"}},
			Config:    wsutil.Config{MaxMessageSize: 1 << 10},
		})
		if err != nil {
			return // refused: Accept has answered the client
		}
		go func() {
			for m := range c.Inbound() {
				_ = c.Send(context.Background(), m)
			}
		}()
	}))
	defer srv.Close()

	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	c, resp, err := wsutil.Dial(context.Background(), url, &wsutil.DialOptions{Protocols: []string{"chat.v1", "chat.v2"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Protocol, resp.Header.Get("X-Server"))
	fmt.Println(c.Close(ws.StatusNormalClosure, ""))
	// Output:
	// chat.v2 sluice
	// <nil>
}

// AcceptConn runs the server side of the handshake on a raw connection,
// one that no HTTP server has read from: here one end of net.Pipe, whose
// other end a client upgrades with ws.Dialer.
func ExampleAcceptConn() {
	a, b := net.Pipe()
	accepted := make(chan *wsutil.Conn, 1)
	go func() {
		s, err := wsutil.AcceptConn(a, &wsutil.AcceptOptions{Protocols: []string{"echo"}})
		if err != nil {
			fmt.Println(err)
			accepted <- nil
			return
		}
		accepted <- s
		for m := range s.Inbound() {
			_ = s.Send(context.Background(), m)
		}
	}()

	d := ws.Dialer{Protocols: []string{"echo"}}
	hs, err := d.Upgrade(context.Background(), b, &url.URL{Scheme: "ws", Host: "example.com", Path: "/echo"})
	if err != nil {
		fmt.Println(err)
		b.Close()
		<-accepted
		return
	}
	c, err := wsutil.NewConn(b, ws.ClientSide, hs, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	s := <-accepted
	_ = c.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("ping")})
	fmt.Println(s.Protocol(), string((<-c.Inbound()).Payload))
	fmt.Println(c.Close(ws.StatusNormalClosure, ""))
	<-s.Done()
	// Output:
	// echo ping
	// <nil>
}
