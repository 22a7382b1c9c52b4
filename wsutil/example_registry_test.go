package wsutil_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// A Server is an http.Handler: mount it on a path of a mux. Handle runs
// each connection on a goroutine of its own.
func ExampleServer_ServeHTTP() {
	s := &wsutil.Server{
		Handle: func(c *wsutil.Conn, _ *wsutil.Request) {
			for m := range c.Inbound() {
				_ = c.Send(context.Background(), m) // echo
			}
		},
	}
	mux := http.NewServeMux()
	mux.Handle("/echo", s)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c, _, err := wsutil.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/echo", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = c.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("hello")})
	fmt.Println(string((<-c.Inbound()).Payload))
	fmt.Println(c.Close(ws.StatusNormalClosure, ""))
	// Output:
	// hello
	// <nil>
}

// Len counts the open connections; a connection is registered before
// its client sees the handshake's answer.
func ExampleServer_Len() {
	s := &wsutil.Server{}
	srv := httptest.NewServer(s)
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	fmt.Println(s.Len())
	var clients []*wsutil.Conn
	for range 2 {
		c, _, err := wsutil.Dial(context.Background(), url, nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		clients = append(clients, c)
	}
	fmt.Println(s.Len())
	for _, c := range clients {
		_ = c.Close(ws.StatusNormalClosure, "")
	}
	// Output:
	// 0
	// 2
}

// CloseAll closes every connection with a code and reason and waits for
// the closing handshakes: here for a restart.
func ExampleServer_CloseAll() {
	s := &wsutil.Server{}
	srv := httptest.NewServer(s)
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	var clients []*wsutil.Conn
	for range 2 {
		c, _, err := wsutil.Dial(context.Background(), url, nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		clients = append(clients, c)
	}
	closed, dropped := s.CloseAll(context.Background(), ws.StatusServiceRestart, "back soon")
	fmt.Println(closed, dropped)
	for _, c := range clients {
		<-c.Done()
		fmt.Println(c.Err())
	}
	// Output:
	// 2 0
	// ws: closed by peer: 1012 service restart: back soon
	// ws: closed by peer: 1012 service restart: back soon
}

// Data returns what CheckRequest attached to a connection: here the
// user's name, to greet them once connected.
func ExampleServer_Data() {
	s := &wsutil.Server{}
	s.CheckRequest = func(r *wsutil.Request) error {
		r.Data = r.HTTP.URL.Query().Get("user")
		return nil
	}
	s.OnAccept = func(c *wsutil.Conn, _ *wsutil.Request) {
		if user, ok := s.Data(c); ok {
			_ = c.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("welcome, " + user.(string))})
		}
	}
	srv := httptest.NewServer(s)
	defer srv.Close()

	c, _, err := wsutil.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http")+"?user=ada", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string((<-c.Inbound()).Payload))
	fmt.Println(c.Close(ws.StatusNormalClosure, ""))
	// Output:
	// welcome, ada
	// <nil>
}

// Range visits every open connection with its Data, in no particular
// order: here to list who is online.
func ExampleServer_Range() {
	s := &wsutil.Server{
		CheckRequest: func(r *wsutil.Request) error {
			r.Data = r.HTTP.URL.Query().Get("user")
			return nil
		},
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	var clients []*wsutil.Conn
	for _, user := range []string{"grace", "ada"} {
		c, _, err := wsutil.Dial(context.Background(), url+"?user="+user, nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		clients = append(clients, c)
	}

	var online []string
	s.Range(func(_ *wsutil.Conn, data any) bool {
		online = append(online, data.(string))
		return true // go on
	})
	slices.Sort(online)
	fmt.Println(online)
	for _, c := range clients {
		_ = c.Close(ws.StatusNormalClosure, "")
	}
	// Output: [ada grace]
}

// Unmount refuses new connections with 503 and keeps the open ones.
func ExampleServer_Unmount() {
	s := &wsutil.Server{}
	srv := httptest.NewServer(s)
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	c, _, err := wsutil.Dial(context.Background(), url, nil)
	if err != nil {
		fmt.Println(err)
		return
	}

	s.Unmount()
	_, _, err = wsutil.Dial(context.Background(), url, nil)
	var refused *ws.HandshakeError
	if errors.As(err, &refused) {
		fmt.Println(refused.StatusCode)
	}
	fmt.Println(s.Len(), c.State())
	_ = c.Close(ws.StatusNormalClosure, "")
	// Output:
	// 503
	// 1 open
}

// Mount accepts connections again after Unmount.
func ExampleServer_Mount() {
	s := &wsutil.Server{}
	srv := httptest.NewServer(s)
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	s.Unmount() // e.g. while a dependency is down
	_, _, err := wsutil.Dial(context.Background(), url, nil)
	fmt.Println(err != nil)
	s.Mount()
	c, _, err := wsutil.Dial(context.Background(), url, nil)
	fmt.Println(err)
	if err == nil {
		_ = c.Close(ws.StatusNormalClosure, "")
	}
	// Output:
	// true
	// <nil>
}

// Hijack runs the Server's checks and handshake and hands over the raw
// connection, here to write frames with package ws directly.
func ExampleServer_Hijack() {
	s := &wsutil.Server{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, _, _, err := s.Hijack(w, r)
		if err != nil {
			return // refused: the client got the answer
		}
		defer nc.Close() // the connection is ours, not the Server's
		_ = ws.WriteFrame(nc, ws.NewTextFrame([]byte("raw hello")))
		_ = ws.WriteFrame(nc, ws.NewCloseFrame(ws.StatusNormalClosure, ""))
	}))
	defer srv.Close()

	c, _, err := wsutil.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string((<-c.Inbound()).Payload), s.Len())
	<-c.Done()
	fmt.Println(c.Err())
	// Output:
	// raw hello 0
	// ws: closed by peer: 1000 normal closure
}

// CheckRequest sees a Request: what the client asked for and where from,
// before any handshake.
func ExampleRequest() {
	s := &wsutil.Server{
		CheckRequest: func(r *wsutil.Request) error {
			fmt.Println(r.HTTP.URL.Path, r.Protocols, r.RemoteAddr.IsLoopback(), r.TLS == nil)
			if r.Origin != "" {
				return ws.Reject(http.StatusForbidden, "no browsers")
			}
			return nil
		},
	}
	srv := httptest.NewServer(s)
	defer srv.Close()

	c, _, err := wsutil.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/feed",
		&wsutil.DialOptions{Protocols: []string{"feed.v1"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Close(ws.StatusNormalClosure, ""))
	// Output:
	// /feed [feed.v1] true true
	// <nil>
}
