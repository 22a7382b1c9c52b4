package wsutil_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// A Client that reconnects when its connection is lost, and subscribes
// again on every connection; messages sent while it is down wait for the
// next one (OfflineQueue, within QueueBytes).
func ExampleReconnect() {
	// A server that echoes, to have something to talk to.
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

	ctx := context.Background()
	cl, err := wsutil.Reconnect(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &wsutil.ReconnectOptions{
		Backoff:     wsutil.Backoff{Min: 100 * time.Millisecond, Max: 10 * time.Second},
		MaxDowntime: time.Minute, // then give up: Err matches ErrGaveUp
		OnConnect: func(ctx context.Context, c *wsutil.Conn, resp *wsutil.DialResponse) error {
			// Goes out before anything queued while disconnected.
			return c.Send(ctx, wsutil.Message{OpCode: ws.OpText, Payload: []byte("subscribe prices")})
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := cl.Send(ctx, wsutil.Message{OpCode: ws.OpText, Payload: []byte("hello")}); err != nil {
		fmt.Println(err)
		return
	}
	for range 2 {
		m, err := cl.Receive(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(string(m.Payload))
	}
	fmt.Println(cl.Close(ws.StatusNormalClosure, ""))
	// Output:
	// subscribe prices
	// hello
	// <nil>
}
