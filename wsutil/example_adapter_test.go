package wsutil_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// NetConn turns a Conn into a net.Conn: here io.Copy echoes on the server
// and a line protocol runs over the client, with bufio.
func ExampleNetConn() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsutil.Accept(w, r, nil)
		if err != nil {
			return
		}
		go func() {
			nc := wsutil.NetConn(c, ws.OpBinary)
			_, _ = io.Copy(nc, nc) // until the client closes: io.EOF
		}()
	}))
	defer srv.Close()

	c, _, err := wsutil.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	nc := wsutil.NetConn(c, ws.OpBinary)
	defer nc.Close()
	fmt.Fprintf(nc, "HELLO %s\r\n", "sluice")
	line, err := bufio.NewReader(nc).ReadString('\n')
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(line)
	// Output:
	// HELLO sluice
}

// SendJSON and ReceiveJSON carry Go values as JSON text messages, over a
// Conn or a Client.
func ExampleSendJSON() {
	type quote struct {
		Symbol string
		Price  float64
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsutil.Accept(w, r, nil)
		if err != nil {
			return
		}
		go func() {
			var q quote
			for wsutil.ReceiveJSON(context.Background(), c, &q) == nil {
				q.Price *= 2
				_ = wsutil.SendJSON(context.Background(), c, q)
			}
		}()
	}))
	defer srv.Close()

	ctx := context.Background()
	c, _, err := wsutil.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(ws.StatusNormalClosure, "")
	if err := wsutil.SendJSON(ctx, c, quote{"SLC", 21}); err != nil {
		fmt.Println(err)
		return
	}
	var q quote
	if err := wsutil.ReceiveJSON(ctx, c, &q); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s %.2f\n", q.Symbol, q.Price)
	// Output:
	// SLC 42.00
}
