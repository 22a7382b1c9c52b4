// Command coder is the echo server of coder/websocket v1.8.15, written as
// its own echo example: Reader, Writer and io.Copy in the handler.
package main

import (
	"context"
	"io"
	"net/http"

	"github.com/coder/websocket"

	"github.com/sluice-ws/sluice/bench/internal/server"
)

func main() {
	f := server.Parse("coder", true)
	opts := &websocket.AcceptOptions{InsecureSkipVerify: true}
	if f.Compress {
		// Without context takeover, as every server of the comparison.
		opts.CompressionMode = websocket.CompressionNoContextTakeover
	}
	server.ServeHTTP("coder", f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, opts)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(server.MaxMessage) // the default, 32 KiB, refuses 64 KiB
		ctx := context.Background()
		for {
			typ, rd, err := c.Reader(ctx)
			if err != nil {
				return
			}
			wr, err := c.Writer(ctx, typ)
			if err != nil {
				return
			}
			if _, err := io.Copy(wr, rd); err != nil {
				return
			}
			if err := wr.Close(); err != nil {
				return
			}
		}
	}))
}
