// Command gws is the echo server of lxzan/gws v1.8.9, written as its
// README's "best practice": the upgrade on net/http, then ReadLoop on a
// goroutine of its own while the handler returns. Messages are handled in
// order (ParallelEnabled off, the default): an echo must keep the order.
package main

import (
	"net/http"

	"github.com/lxzan/gws"

	"github.com/sluice-ws/sluice/bench/internal/server"
)

type handler struct{ gws.BuiltinEventHandler }

func (handler) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	_ = c.WriteMessage(m.Opcode, m.Bytes())
}

func main() {
	f := server.Parse("gws", true)
	u := gws.NewUpgrader(handler{}, &gws.ServerOption{
		Recovery: gws.Recovery,
		// Without context takeover both ways, gws's default.
		PermessageDeflate: gws.PermessageDeflate{Enabled: f.Compress},
	})
	server.ServeHTTP("gws", f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := u.Upgrade(w, r)
		if err != nil {
			return
		}
		go c.ReadLoop()
	}))
}
