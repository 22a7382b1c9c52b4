package wsutil_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// Writer streams one message of any length, here a generated report,
// without building it in memory: each 16 KiB becomes a frame, Close sends
// the last one. The server reads it frame by frame with Reader (FrameMode)
// and counts its lines.
func ExampleConn_Writer() {
	lines := make(chan int, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsutil.Accept(w, r, &wsutil.AcceptOptions{Config: wsutil.Config{FrameMode: true}})
		if err != nil {
			return
		}
		defer c.Close(ws.StatusNormalClosure, "")
		_, msg, err := c.Reader(r.Context())
		if err != nil {
			return
		}
		b, _ := io.ReadAll(msg)
		lines <- strings.Count(string(b), "\n")
	}))
	defer srv.Close()

	ctx := context.Background()
	c, _, err := wsutil.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(ws.StatusNormalClosure, "")
	w, err := c.Writer(ctx, ws.OpText)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i := range 10000 {
		fmt.Fprintf(w, "line %d of the report\n", i)
	}
	if err := w.Close(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-lines, "lines received")
	// Output:
	// 10000 lines received
}

// Reader hands out the next message as an io.Reader: here the server
// copies each one back, frame by frame, into a streamed reply.
func ExampleConn_Reader() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsutil.Accept(w, r, &wsutil.AcceptOptions{Config: wsutil.Config{FrameMode: true}})
		if err != nil {
			return
		}
		ctx := context.Background()
		for {
			op, msg, err := c.Reader(ctx)
			if err != nil {
				return // the client closed
			}
			reply, err := c.Writer(ctx, op)
			if err != nil {
				return
			}
			_, _ = io.Copy(reply, msg)
			_ = reply.Close()
		}
	}))
	defer srv.Close()

	ctx := context.Background()
	c, _, err := wsutil.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(ws.StatusNormalClosure, "")
	_ = c.Send(ctx, wsutil.Message{OpCode: ws.OpText, Payload: []byte("echo me")})
	op, msg, err := c.Reader(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := io.ReadAll(msg)
	fmt.Println(op == ws.OpText, string(b))
	// Output:
	// true echo me
}
