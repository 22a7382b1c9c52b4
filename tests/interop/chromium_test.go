package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
)

// chromiumFlags run Debian's Chromium headless, as root, on a machine whose
// network is closed: without the background-networking flags it keeps
// trying to reach Google's hosts.
var chromiumFlags = []string{
	"--headless",
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--disable-dev-shm-usage",
}

// browserTransport carries the control protocol to chromium/peer.html by
// HTTP: the page long-polls for requests and posts the answers.
type browserTransport struct {
	calls  calls
	reqs   chan request  // requests waiting for the page
	ready  chan response // the page's first post
	over   chan struct{} // closed when the test ends: the page stops
	exited <-chan struct{}
}

func newBrowserTransport(t *testing.T, mux *http.ServeMux) *browserTransport {
	t.Helper()
	page, err := os.ReadFile(filepath.Join("chromium", "peer.html"))
	require.NoError(t, err)
	b := &browserTransport{
		reqs:  make(chan request),
		ready: make(chan response, 1),
		over:  make(chan struct{}),
	}
	mux.HandleFunc("GET /peer/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
	mux.HandleFunc("POST /peer/ready", func(w http.ResponseWriter, r *http.Request) {
		var res response
		if json.NewDecoder(r.Body).Decode(&res) == nil {
			select {
			case b.ready <- res:
			default:
			}
		}
	})
	mux.HandleFunc("GET /peer/next", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		select {
		case req := <-b.reqs:
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(req)
		case <-b.over:
			w.WriteHeader(http.StatusGone)
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("POST /peer/result", func(w http.ResponseWriter, r *http.Request) {
		var res response
		if err := json.NewDecoder(r.Body).Decode(&res); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b.calls.answer(res)
	})
	t.Cleanup(func() { close(b.over) })
	return b
}

func (b *browserTransport) call(ctx context.Context, req request) (response, error) {
	id, ch := b.calls.add()
	defer b.calls.remove(id)
	req.ID = id
	select {
	case b.reqs <- req:
	case <-b.exited:
		return response{}, fmt.Errorf("chromium: %s: the browser process ended", req.Op)
	case <-ctx.Done():
		return response{}, fmt.Errorf("chromium: %s: not taken by the page: %w", req.Op, wstest.Err(ctx))
	}
	select {
	case r := <-ch:
		return r, nil
	case <-b.exited:
		return response{}, fmt.Errorf("chromium: %s: the browser process ended", req.Op)
	case <-ctx.Done():
		return response{}, fmt.Errorf("chromium: %s: %w", req.Op, wstest.Err(ctx))
	}
}

// chromiumPeer starts headless Chromium on a page of s and returns the
// browser as a client peer.
func chromiumPeer(t *testing.T, s *ourServer) *peer {
	t.Helper()
	requirePeer(t, "chromium")
	bin, err := exec.LookPath("chromium")
	if err != nil {
		missingPeer(t, "chromium is not on PATH (Debian package chromium)")
	}
	tr := newBrowserTransport(t, s.mux)
	argv := append([]string{bin}, chromiumFlags...)
	// Not t.TempDir: a straggling child may still write to the profile
	// after the kill, and a failed removal must not fail the test.
	profile, err := os.MkdirTemp("", "sluice-chromium-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(profile) })
	argv = append(argv, "--user-data-dir="+profile, s.http.URL+"/peer/?wait_ms="+peerWaitMS(t))
	proc := startProcess(t, "chromium", false, argv...)
	tr.exited = proc.exited
	select {
	case r := <-tr.ready:
		t.Logf("chromium peer: %v", r.Versions)
	case <-proc.exited:
		t.FailNow() // the process reported why
	case <-wstest.After(t):
		t.Fatalf("chromium: %v; output:\n%s", wstest.Expired(t, "the page's ready post"), proc.log)
	}
	return &peer{name: "chromium", lib: "browser", tr: tr, proc: proc}
}

// TestChromiumAsClient runs the WebSocket client of headless Chromium, in
// a page served by our test server, against our server.
func TestChromiumAsClient(t *testing.T) {
	t.Parallel()
	s := newOurServer(t)
	p := chromiumPeer(t, s)
	asClients(&caseT{T: t}, s, p)
	t.Run("deflate", func(t *testing.T) { deflateAsClients(&caseT{T: t}, s, p, chromiumSetups) })
}
