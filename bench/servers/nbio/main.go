// Command nbio is the echo server of lesismal/nbio v1.6.8: its nbhttp
// engine (epoll, no goroutine per connection) and nbhttp/websocket with an
// OnMessage callback, as in nbio's websocket examples.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/sluice-ws/sluice/bench/internal/server"
)

func main() {
	f := server.Parse("nbio", true)
	u := websocket.NewUpgrader()
	u.CheckOrigin = func(*http.Request) bool { return true }
	// nbio compresses without context takeover.
	u.EnableCompression(f.Compress)
	u.OnMessage(func(c *websocket.Conn, mt websocket.MessageType, p []byte) {
		_ = c.WriteMessage(mt, p)
	})
	engine := nbhttp.NewEngine(nbhttp.Config{
		Network: "tcp",
		Addrs:   []string{f.Addr},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = u.Upgrade(w, r, nil)
		}),
	})
	if err := engine.Start(); err != nil {
		server.Fatal("nbio", err)
	}
	fmt.Fprintf(os.Stderr, "nbio: listening on %s (compress %v)\n", f.Addr, f.Compress)
	server.WaitSignal()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = engine.Shutdown(ctx)
}
