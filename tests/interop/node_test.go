package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// nodePeer starts node/peer.js, one process for every case of the test,
// and returns its two libraries as peers.
func nodePeer(t *testing.T) (ws, websocket *peer) {
	t.Helper()
	requirePeer(t, "node")
	node, err := exec.LookPath("node")
	if err != nil {
		missingPeer(t, "node is not on PATH")
	}
	for _, pkg := range []string{"ws", "websocket"} {
		if _, err := os.Stat(filepath.Join("node", "node_modules", pkg, "package.json")); err != nil {
			missingPeer(t, "npm package %s is not installed in tests/interop/node/node_modules", pkg)
		}
	}
	tr, ready := startStdioPeer(t, "node", node, filepath.Join("node", "peer.js"), "-wait-ms", peerWaitMS(t))
	t.Logf("node peer: %v", ready.Versions)
	return &peer{name: "ws", lib: "ws", tr: tr, caps: peerAll, proc: tr.proc},
		&peer{name: "websocket", lib: "websocket", tr: tr, caps: peerAll, proc: tr.proc}
}

// TestNodeAsClient runs the clients of npm ws and npm websocket
// (WebSocket-Node) against our server.
func TestNodeAsClient(t *testing.T) {
	t.Parallel()
	s := newOurServer(t)
	ws, websocket := nodePeer(t)
	asClients(&caseT{T: t}, s, ws, websocket)
	t.Run("deflate", func(t *testing.T) {
		deflateAsClients(&caseT{T: t}, s, ws, wsClientSetups)
		deflateAsClients(&caseT{T: t}, s, websocket, websocketClientSetups)
	})
}

// TestNodeAsServer runs our client against the servers of npm ws and npm
// websocket.
func TestNodeAsServer(t *testing.T) {
	t.Parallel()
	ws, websocket := nodePeer(t)
	asServers(&caseT{T: t}, ws, websocket)
	t.Run("deflate", func(t *testing.T) {
		deflateAsServers(&caseT{T: t}, ws, wsServerSetups)
		deflateAsServers(&caseT{T: t}, websocket, websocketServerSetups)
	})
}
