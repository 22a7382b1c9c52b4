// Command sluice-conn is the echo server of sluice's channel API, as in
// sluice's README: ws.HTTPUpgrader, wsutil.NewConn, range over Inbound,
// Send each message back and Release it (Send keeps the buffer until the
// message is written; Release lets the next message reuse it).
//
// Keep it to NewConn, Inbound, Send, Release and Close: wsutil.Conn's
// internals are being rewritten, and this server must follow with at most
// a line or two changed.
package main

import (
	"net/http"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/sluice-ws/sluice/wsutil"

	"github.com/sluice-ws/sluice/bench/internal/server"
)

func main() {
	f := server.Parse("sluice-conn", true)
	u := ws.HTTPUpgrader{CheckOrigin: ws.AnyOrigin}
	var cfg wsutil.Config
	if f.Compress {
		// Without context takeover both ways, as every server of the
		// comparison.
		ext := &wsflate.Extension{ServerNoContextTakeover: true, ClientNoContextTakeover: true}
		u.Extension = ext.Negotiate
		cfg.Extension = ext
	}
	server.ServeHTTP("sluice-conn", f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, hs, err := u.Upgrade(w, r)
		if err != nil {
			return
		}
		c, err := wsutil.NewConn(nc, ws.ServerSide, hs, cfg)
		if err != nil {
			_ = nc.Close()
			return
		}
		for m := range c.Inbound() {
			if c.Send(r.Context(), m) != nil {
				break
			}
			m.Release()
		}
		// The peer has closed: answer now rather than after a lull.
		_ = c.Close(ws.StatusNormalClosure, "")
	}))
}
