// Command sluice-helpers is the echo server of sluice's one-call helpers:
// wsutil.ReadMessage and wsutil.WriteMessage over a bufio.ReadWriter, as
// their documentation advises. The helpers do not negotiate extensions.
package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"

	"github.com/sluice-ws/sluice/bench/internal/server"
)

func main() {
	f := server.Parse("sluice-helpers", false)
	u := ws.HTTPUpgrader{CheckOrigin: ws.AnyOrigin}
	server.ServeHTTP("sluice-helpers", f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, hs, err := u.Upgrade(w, r)
		if err != nil {
			return
		}
		defer nc.Close()
		rw := bufio.NewReadWriter(bufio.NewReader(source(nc, hs)), bufio.NewWriter(nc))
		var buf []byte
		for {
			op, p, err := wsutil.ReadMessage(rw, ws.ServerSide, buf)
			if err != nil {
				return // a close frame has been answered
			}
			buf = p
			if err := wsutil.WriteMessage(rw, ws.ServerSide, op, p); err != nil {
				return
			}
			if err := rw.Flush(); err != nil {
				return
			}
		}
	}))
}

// source is what to read frames from: the bytes that came with the
// handshake, then the connection.
func source(nc net.Conn, hs ws.Handshake) io.Reader {
	if len(hs.Buffered) == 0 {
		return nc
	}
	return io.MultiReader(bytes.NewReader(hs.Buffered), nc)
}
