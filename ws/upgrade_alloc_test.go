//go:build !race

package ws

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUpgradeZeroAllocs proves that the happy path of the server handshake
// allocates nothing: a browser-like request with an Origin, no subprotocol
// negotiated, no extension, no hook that allocates. A subprotocol chosen
// from Upgrader.Protocols is free as well, since Handshake.Protocol is then
// the server's own string. The race detector makes sync.Pool drop items on
// purpose, so this file is excluded under -race.
func TestUpgradeZeroAllocs(t *testing.T) {
	req := upBenchRequest()
	withProtocol := upRequest("Sec-WebSocket-Protocol: v2.chat, chat")
	var conn upConn
	conn.reset(req)
	dst := make([]byte, 0, 512)

	plain := Upgrader{}
	hooks := Upgrader{
		OnRequest: func([]byte) error { return nil },
		OnHost:    func([]byte) error { return nil },
		OnHeader:  func([]byte, []byte) error { return nil },
	}
	protocols := Upgrader{Protocols: []string{"chat", "v2.chat"}}

	cases := map[string]func(){
		"Upgrade": func() {
			conn.reset(req)
			if _, err := plain.Upgrade(&conn); err != nil {
				panic(err)
			}
		},
		"Upgrade/hooks": func() {
			conn.reset(req)
			if _, err := hooks.Upgrade(&conn); err != nil {
				panic(err)
			}
		},
		"Upgrade/Protocols": func() {
			conn.reset(withProtocol)
			if _, err := protocols.Upgrade(&conn); err != nil {
				panic(err)
			}
		},
		"UpgradeBuffer": func() {
			if _, _, err := plain.UpgradeBuffer(dst[:0], req); err != nil {
				panic(err)
			}
		},
		"UpgradeBuffer/short": func() {
			_, _, _ = plain.UpgradeBuffer(dst[:0], req[:len(req)-1])
		},
		"SameOrigin": func() {
			_ = SameOrigin([]byte("https://Server.Example.com:443"), []byte("server.example.com"))
		},
	}
	for name, f := range cases {
		f() // warm the pool and grow the buffers
		assert.Zero(t, testing.AllocsPerRun(100, f), name)
	}

	// The cases above did run the handshake they claim to.
	conn.reset(withProtocol)
	hs, err := protocols.Upgrade(&conn)
	require.NoError(t, err)
	assert.Equal(t, "chat", hs.Protocol)
	resp, _, err := plain.UpgradeBuffer(dst[:0], req)
	require.NoError(t, err)
	assert.Equal(t, upGolden, string(resp))
}
