package wsutil_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/sluice-ws/sluice/wsutil"
)

// Dial connects and returns a running Conn and the server's response. One
// field turns compression on: Config.Extension is both offered and used.
func ExampleDial() {
	// An echo server on 127.0.0.1, to have something to talk to.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsutil.Accept(w, r, &wsutil.AcceptOptions{
			Protocols: []string{"echo"},
			Config:    wsutil.Config{Extension: &wsflate.Extension{}},
		})
		if err != nil {
			return
		}
		go func() {
			for m := range c.Inbound() {
				_ = c.Send(context.Background(), m)
			}
		}()
	}))
	defer srv.Close()

	ctx := context.Background()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/socket"
	c, resp, err := wsutil.Dial(ctx, url, &wsutil.DialOptions{
		Protocols: []string{"echo"},
		Config:    wsutil.Config{Extension: &wsflate.Extension{}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.StatusCode, resp.Protocol, string(resp.Extensions[0].Name))
	if err := c.Send(ctx, wsutil.Message{OpCode: ws.OpText, Payload: []byte("hello")}); err != nil {
		fmt.Println(err)
		return
	}
	m, err := c.Receive(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(m.Payload))
	fmt.Println(c.Close(ws.StatusNormalClosure, "bye"))
	// Output:
	// 101 echo permessage-deflate
	// hello
	// <nil>
}

// A server that refuses the handshake: the error carries its status,
// fields and the start of its body.
func ExampleDial_refused() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "log in first", http.StatusUnauthorized)
	}))
	defer srv.Close()

	_, _, err := wsutil.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	var he *ws.HandshakeError
	if errors.As(err, &he) {
		fmt.Println(he.StatusCode, strings.TrimSpace(string(he.Body)))
	}
	// Output:
	// 401 log in first
}
