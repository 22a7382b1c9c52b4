// Command gobwas-helpers is the echo server of gobwas/ws v1.5.0's wsutil
// helpers, written as its README: UpgradeHTTP, then ReadClientData and
// WriteServerMessage on a goroutine of their own while the handler
// returns. The helpers do not negotiate extensions.
package main

import (
	"net/http"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/sluice-ws/sluice/bench/internal/server"
)

func main() {
	f := server.Parse("gobwas-helpers", false)
	server.ServeHTTP("gobwas-helpers", f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, _, err := ws.UpgradeHTTP(r, w)
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			for {
				msg, op, err := wsutil.ReadClientData(conn)
				if err != nil {
					return
				}
				if err := wsutil.WriteServerMessage(conn, op, msg); err != nil {
					return
				}
			}
		}()
	}))
}
