package wsutil_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// DialOptions add fields to the handshake request, offer subprotocols and
// configure the Conn.
func ExampleDialOptions() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.Header.Get("Authorization")
		c, err := wsutil.Accept(w, r, &wsutil.AcceptOptions{Protocols: []string{"feed.v1"}})
		if err != nil {
			return
		}
		_ = c.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("hello, " + token)})
	}))
	defer srv.Close()

	c, resp, err := wsutil.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), &wsutil.DialOptions{
		Header:           http.Header{"Authorization": {"Bearer abc"}},
		Protocols:        []string{"feed.v2", "feed.v1"},
		HandshakeTimeout: 10 * time.Second,
		Config:           wsutil.Config{MaxMessageSize: 1 << 20},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Protocol)
	fmt.Println(string((<-c.Inbound()).Payload))
	fmt.Println(c.Close(ws.StatusNormalClosure, ""))
	// Output:
	// feed.v1
	// hello, Bearer abc
	// <nil>
}

// DialResponse tells where the redirects led and what the server
// answered.
func ExampleDialResponse() {
	mux := http.NewServeMux()
	mux.Handle("/old", http.RedirectHandler("/new", http.StatusMovedPermanently))
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) {
		c, err := wsutil.Accept(w, r, &wsutil.AcceptOptions{Header: http.Header{"X-Region": {"eu"}}})
		if err != nil {
			return
		}
		go func() {
			for range c.Inbound() {
			}
		}()
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c, resp, err := wsutil.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/old",
		&wsutil.DialOptions{MaxRedirects: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.StatusCode, resp.URL.Path, resp.Header.Get("X-Region"), resp.Protocol == "")
	fmt.Println(c.Close(ws.StatusNormalClosure, ""))
	// Output:
	// 101 /new eu true
	// <nil>
}

// A Client dials again when its connection is lost: here the server
// closes the first connection, and the Client carries on with the second.
func ExampleClient() {
	var accepted atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsutil.Accept(w, r, nil)
		if err != nil {
			return
		}
		if accepted.Add(1) == 1 {
			go func() { _ = c.Close(ws.StatusServiceRestart, "restarting") }()
			return
		}
		go func() {
			for m := range c.Inbound() {
				_ = c.Send(context.Background(), m)
			}
		}()
	}))
	defer srv.Close()

	connected := make(chan int, 2)
	n := 0
	cl, err := wsutil.Reconnect(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), &wsutil.ReconnectOptions{
		Backoff: wsutil.Backoff{Min: 10 * time.Millisecond},
		OnConnect: func(context.Context, *wsutil.Conn, *wsutil.DialResponse) error {
			n++
			connected <- n
			return nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("connection", <-connected)
	fmt.Println("connection", <-connected)
	_ = cl.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("hello again")})
	m, err := cl.Receive(context.Background())
	fmt.Println(string(m.Payload), err)
	fmt.Println(cl.Close(ws.StatusNormalClosure, ""))
	// Output:
	// connection 1
	// connection 2
	// hello again <nil>
	// <nil>
}

// ReconnectOptions bound the attempts: here the server is gone, and the
// Client gives up after three.
func ExampleReconnectOptions() {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	srv.Close() // nothing listens there any more

	_, err := wsutil.Reconnect(context.Background(), url, &wsutil.ReconnectOptions{
		Backoff:     wsutil.Backoff{Min: time.Millisecond, Max: 10 * time.Millisecond},
		MaxAttempts: 3,
	})
	fmt.Println(errors.Is(err, wsutil.ErrGaveUp), strings.Contains(err.Error(), "3 attempts"))
	// Output: true true
}

// Send queues a message for the current connection or the next one; Done
// tells when it was written.
func ExampleClient_Send() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsutil.Accept(w, r, nil)
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
	cl, err := wsutil.Reconnect(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}

	written := make(chan error, 1)
	err = cl.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("order 42"), Done: written})
	fmt.Println(err, <-written)
	fmt.Println(string((<-cl.Inbound()).Payload))
	_ = cl.Close(ws.StatusNormalClosure, "")
	// Output:
	// <nil> <nil>
	// order 42
}

// Receive waits for the next message of any connection, within ctx.
func ExampleClient_Receive() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsutil.Accept(w, r, nil)
		if err != nil {
			return
		}
		_ = c.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("tick")})
	}))
	defer srv.Close()
	cl, err := wsutil.Reconnect(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := cl.Receive(ctx)
	fmt.Println(string(m.Payload), err)
	_ = cl.Close(ws.StatusNormalClosure, "")
	// Output: tick <nil>
}

// Inbound carries the messages of every connection, in order; it is
// closed once the Client has ended.
func ExampleClient_Inbound() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsutil.Accept(w, r, nil)
		if err != nil {
			return
		}
		for _, s := range []string{"one", "two", "bye"} {
			_ = c.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte(s)})
		}
	}))
	defer srv.Close()
	cl, err := wsutil.Reconnect(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}

	for m := range cl.Inbound() {
		fmt.Println(string(m.Payload))
		if string(m.Payload) == "bye" {
			go func() { _ = cl.Close(ws.StatusNormalClosure, "") }()
		}
	}
	fmt.Println(cl.Err())
	// Output:
	// one
	// two
	// bye
	// ws: closed by peer: 1000 normal closure
}

// Conn returns the connection open now, nil while there is none: for its
// subprotocol, its Stats or a Ping.
func ExampleClient_Conn() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsutil.Accept(w, r, &wsutil.AcceptOptions{Protocols: []string{"feed.v1"}})
		if err != nil {
			return
		}
		go func() {
			for range c.Inbound() {
			}
		}()
	}))
	defer srv.Close()
	cl, err := wsutil.Reconnect(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), &wsutil.ReconnectOptions{
		DialOptions: wsutil.DialOptions{Protocols: []string{"feed.v1"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	if c := cl.Conn(); c != nil {
		_, err := c.Ping(context.Background())
		fmt.Println(c.Protocol(), err)
	}
	_ = cl.Close(ws.StatusNormalClosure, "")
	fmt.Println(cl.Conn() == nil)
	// Output:
	// feed.v1 <nil>
	// true
}

// Close ends the Client with a closing handshake; it never reconnects
// after it.
func ExampleClient_Close() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsutil.Accept(w, r, nil)
		if err != nil {
			return
		}
		go func() {
			for range c.Inbound() {
			}
		}()
	}))
	defer srv.Close()
	cl, err := wsutil.Reconnect(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}

	fmt.Println(cl.Close(ws.StatusGoingAway, "app exit"))
	fmt.Println(errors.Is(cl.Close(ws.StatusGoingAway, ""), net.ErrClosed))
	// Output:
	// <nil>
	// true
}

// Done is closed once the Client has ended: here it gives up, because the
// server refuses to take it back (a 403 will not change by retrying).
func ExampleClient_Done() {
	var accepted atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if accepted.Add(1) > 1 {
			http.Error(w, "banned", http.StatusForbidden)
			return
		}
		c, err := wsutil.Accept(w, r, nil)
		if err != nil {
			return
		}
		go func() { _ = c.Close(ws.StatusPolicyViolation, "banned") }()
	}))
	defer srv.Close()
	cl, err := wsutil.Reconnect(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), &wsutil.ReconnectOptions{
		Backoff: wsutil.Backoff{Min: time.Millisecond},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	go func() {
		for range cl.Inbound() { // keep reading, or the loss goes unnoticed
		}
	}()
	<-cl.Done()
	fmt.Println(errors.Is(cl.Err(), wsutil.ErrGaveUp))
	// Output: true
}

// Err tells why the Client ended: an error matching ErrGaveUp, wrapping
// the last attempt's error, when it stopped trying.
func ExampleClient_Err() {
	var accepted atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if accepted.Add(1) > 1 {
			http.Error(w, "gone", http.StatusGone)
			return
		}
		c, err := wsutil.Accept(w, r, nil)
		if err != nil {
			return
		}
		go func() { _ = c.Close(ws.StatusGoingAway, "moving") }()
	}))
	defer srv.Close()
	cl, err := wsutil.Reconnect(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), &wsutil.ReconnectOptions{
		Backoff: wsutil.Backoff{Min: time.Millisecond},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	_, err = cl.Receive(context.Background()) // returns Err once the Client has ended
	var refused *ws.HandshakeError
	fmt.Println(errors.Is(err, wsutil.ErrGaveUp), errors.As(err, &refused) && refused.StatusCode == http.StatusGone)
	// Output: true true
}

// Under OfflineFail a message goes out on the connection open when it was
// sent, or not at all: Send refuses it while there is none.
func ExampleOfflinePolicy() {
	var accepted atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsutil.Accept(w, r, nil)
		if err != nil {
			return
		}
		if accepted.Add(1) == 1 {
			go func() { _ = c.Close(ws.StatusServiceRestart, "") }()
		}
	}))
	defer srv.Close()
	lost := make(chan struct{})
	cl, err := wsutil.Reconnect(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), &wsutil.ReconnectOptions{
		Offline:      wsutil.OfflineFail,
		Backoff:      wsutil.Backoff{Min: time.Hour}, // not back before the Send below
		OnDisconnect: func(*wsutil.Conn) { close(lost) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	go func() {
		for range cl.Inbound() {
		}
	}()

	<-lost
	err = cl.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("now or never")})
	fmt.Println(err)
	_ = cl.Close(ws.StatusNormalClosure, "")
	// Output: wsutil: reconnect: not connected
}

// A Backoff's zero value waits up to DefaultBackoffMin before the first
// attempt after a loss, doubling the bound with each failure up to
// DefaultBackoffMax.
func ExampleBackoff() {
	var b wsutil.Backoff
	fmt.Println(b.Delay(1) < wsutil.DefaultBackoffMin)
	fmt.Println(b.Delay(100) < wsutil.DefaultBackoffMax)
	// Output:
	// true
	// true
}

// Delay is random below a ceiling that doubles with each attempt: 100 ms,
// 200 ms, 400 ms, then Max.
func ExampleBackoff_Delay() {
	b := wsutil.Backoff{Min: 100 * time.Millisecond, Max: 500 * time.Millisecond}
	for n, ceiling := range []time.Duration{100, 200, 400, 500, 500} {
		d := b.Delay(n + 1)
		fmt.Println(n+1, d >= 0 && d < ceiling*time.Millisecond)
	}
	// Output:
	// 1 true
	// 2 true
	// 3 true
	// 4 true
	// 5 true
}
