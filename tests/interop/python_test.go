package interop

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sluice-ws/sluice/internal/wstest"
)

// pythonCandidates are the interpreters tried, in order: Debian's, which
// sees python3-websockets, then whatever python3 is first on PATH (often
// pyenv's, which does not).
var pythonCandidates = []string{"/usr/bin/python3", "python3"}

// pythonPeer starts python/peer.py, one process for every case of the
// test.
func pythonPeer(t *testing.T) *peer {
	t.Helper()
	requirePeer(t, "python")
	python := ""
	for _, c := range pythonCandidates {
		err := exec.CommandContext(wstest.Context(t, c+" importing websockets"), c, "-c", "import websockets.legacy.client, websockets.legacy.server").Run()
		if err == nil {
			python = c
			break
		}
	}
	if python == "" {
		missingPeer(t, "no python3 (tried %v) can import websockets (Debian package python3-websockets)", pythonCandidates)
	}
	tr, ready := startStdioPeer(t, "python", python, filepath.Join("python", "peer.py"), "--wait-ms", peerWaitMS(t))
	t.Logf("python peer (%s): %v", python, ready.Versions)
	return &peer{name: "websockets", lib: "websockets", tr: tr, caps: peerAll, proc: tr.proc}
}

// TestPythonAsClient runs the client of Python's websockets against our
// server.
func TestPythonAsClient(t *testing.T) {
	t.Parallel()
	s := newOurServer(t)
	p := pythonPeer(t)
	asClients(&caseT{T: t}, s, p)
	t.Run("deflate", func(t *testing.T) { deflateAsClients(&caseT{T: t}, s, p, pythonClientSetups) })
}

// TestPythonAsServer runs our client against the server of Python's
// websockets.
func TestPythonAsServer(t *testing.T) {
	t.Parallel()
	p := pythonPeer(t)
	asServers(&caseT{T: t}, p)
	t.Run("deflate", func(t *testing.T) { deflateAsServers(&caseT{T: t}, p, pythonServerSetups) })
}
