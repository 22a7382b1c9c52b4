// Command sluice-handler is the echo server of sluice's handler form: the
// Conn calls OnMessage on its reading goroutine, the HTTP handler returns
// right after the upgrade, and the application runs no goroutine of its
// own. It is how sluice serve runs /echo.
package main

import (
	"context"
	"net/http"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/sluice-ws/sluice/wsutil"

	"github.com/sluice-ws/sluice/bench/internal/server"
)

func main() {
	f := server.Parse("sluice-handler", true)
	u := ws.HTTPUpgrader{CheckOrigin: ws.AnyOrigin}
	cfg := wsutil.Config{
		OnMessage: func(c *wsutil.Conn, m wsutil.Message) { _ = c.Send(context.Background(), m) },
	}
	if f.Compress {
		// Without context takeover both ways, as every server of the
		// comparison.
		ext := &wsflate.Extension{ServerNoContextTakeover: true, ClientNoContextTakeover: true}
		u.Extension = ext.Negotiate
		cfg.Extension = ext
	}
	server.ServeHTTP("sluice-handler", f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, hs, err := u.Upgrade(w, r)
		if err != nil {
			return
		}
		if _, err := wsutil.NewConn(nc, ws.ServerSide, hs, cfg); err != nil {
			_ = nc.Close()
		}
	}))
}
