// Command gorilla is the echo server of gorilla/websocket v1.5.3, written
// as its own examples/echo: ReadMessage and WriteMessage in the handler.
package main

import (
	"net/http"

	"github.com/gorilla/websocket"

	"github.com/sluice-ws/sluice/bench/internal/server"
)

func main() {
	f := server.Parse("gorilla", true)
	u := websocket.Upgrader{
		CheckOrigin: func(*http.Request) bool { return true },
		// Compression in gorilla is without context takeover, both ways.
		EnableCompression: f.Compress,
	}
	server.ServeHTTP("gorilla", f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := u.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, p); err != nil {
				return
			}
		}
	}))
}
