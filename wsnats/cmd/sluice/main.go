// Command sluice is the sluice command of github.com/sluice-ws/sluice/cmd/sluice
// with NATS linked in: the same subcommands and flags, and serve's -nats
// flag works. With -nats URL, the /chat room spans every sluice serve
// started with the same NATS server or cluster, so that a message sent on
// any node reaches the room's members on all of them:
//
//	nats-server -a 127.0.0.1 -p 4222 &
//	sluice serve -addr 127.0.0.1:8081 -nats nats://127.0.0.1:4222 &
//	sluice serve -addr 127.0.0.1:8082 -nats nats://127.0.0.1:4222 &
//	sluice serve -addr 127.0.0.1:8083 -nats nats://127.0.0.1:4222 &
//
// Build it from a checkout of the repository:
//
//	cd wsnats && go build -o sluice ./cmd/sluice
//
// (go install with @version needs a release of the wsnats module, whose
// go.mod then requires a release of sluice instead of replacing it with
// the checkout, docs/scale-out.md.)
//
// It lives in the wsnats module so that the core module, and every
// program that imports only ws, wsutil, wsflate or wsroom, never requires
// NATS. docs/scale-out.md has the design and the guarantees.
package main

import (
	"log/slog"
	"os"

	"github.com/sluice-ws/sluice/internal/cli"
	"github.com/sluice-ws/sluice/wsnats"
)

func main() {
	os.Exit(cli.Main(cli.Options{ConnectRooms: connect}))
}

// connect connects serve's /chat room to NATS at url.
func connect(url, name string, log *slog.Logger) (cli.Rooms, error) {
	return wsnats.Connect(url, wsnats.Config{
		Name: name,
		OnDisconnect: func(err error) {
			log.Warn("chat: NATS connection lost, reconnecting; messages for the other nodes wait in a bounded buffer",
				"buffer_bytes", wsnats.DefaultReconnectBuffer, "err", err)
		},
		OnReconnect: func() { log.Info("chat: NATS connection back") },
	})
}
