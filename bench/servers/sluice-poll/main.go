// Command sluice-poll is the echo server of sluice's event-loop mode: a
// wsutil.PollServer does the handshake itself and runs every connection
// on its event loops (epoll, one per core it may use), with no goroutine
// and no buffer per idle connection. OnMessage sends the message back as
// it came.
package main

import (
	"context"
	"errors"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/sluice-ws/sluice/wsutil"

	"github.com/sluice-ws/sluice/bench/internal/server"
)

func main() {
	f := server.Parse("sluice-poll", true)
	h := &wsutil.PollHandler{
		Upgrader:  ws.Upgrader{CheckOrigin: ws.AnyOrigin},
		OnMessage: func(c *wsutil.PollConn, m wsutil.Message) { _ = c.Send(context.Background(), m) },
	}
	if f.Compress {
		// Without context takeover both ways, as every server of the
		// comparison.
		ext := &wsflate.Extension{ServerNoContextTakeover: true, ClientNoContextTakeover: true}
		h.Upgrader.Extension = ext.Negotiate
		h.Config.Extension = ext
	}
	s := &wsutil.PollServer{Handler: h}
	ln := server.Listen("sluice-poll", f)
	go func() {
		server.WaitSignal()
		_ = s.Close()
	}()
	if err := s.Serve(ln); !errors.Is(err, wsutil.ErrServerClosed) {
		server.Fatal("sluice-poll", err)
	}
}
