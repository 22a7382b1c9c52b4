package interop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// The lines of the logs the test waits for: sluice serve's address and
// its record of each connection (at -log-level debug), and the DevTools
// endpoint Chromium prints when --remote-debugging-port is 0.
var (
	serveListening = regexp.MustCompile(`msg=listening addr=(\S+)`)
	serveConnected = regexp.MustCompile(`msg=connected path=/chat remote=(\S+) .*?extensions=("(?:[^"\\]|\\.)*"|\S+)`)
	devtoolsURL    = regexp.MustCompile(`DevTools listening on (ws://127\.0\.0\.1:(\d+)/\S+)`)
)

// TestChromiumChat runs the chat of `sluice serve` end to end in a real
// browser: headless Chromium loads the chat page, a Go client joins the
// same room, and each sees what the other says, through the page's own
// form and DOM. The page is driven through the DevTools protocol, over a
// WebSocket connection of sluice's own client. Chromium's connection must
// have negotiated permessage-deflate, which the server's log shows.
func TestChromiumChat(t *testing.T) {
	t.Parallel()
	requirePeer(t, "chromium")
	browser, err := exec.LookPath("chromium")
	if err != nil {
		missingPeer(t, "chromium is not on PATH (Debian package chromium)")
	}
	ctx := wstest.Context(t, "the chat in chromium")

	// sluice serve, built as it is deployed (no -race), on a free port.
	dir := t.TempDir()
	bin := filepath.Join(dir, "sluice")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/sluice-ws/sluice/cmd/sluice")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building sluice: %s", out)
	serve := startProcess(t, "sluice serve", false, bin, "serve", "-addr", "127.0.0.1:0", "-log-level", "debug")
	var addr string
	require.NoError(t, serve.log.await(ctx, serve.exited, "sluice serve to listen", func(log string) bool {
		if m := serveListening.FindStringSubmatch(log); m != nil {
			addr = m[1]
		}
		return addr != ""
	}))
	require.True(t, strings.HasPrefix(addr, "127.0.0.1:"), "serve listens on %s", addr)

	// The Go member of the room, without compression.
	gopher, _, err := wsutil.Dial(ctx, "ws://"+addr+"/chat", nil)
	require.NoError(t, err)
	defer gopher.Terminate()
	goAddr := gopher.NetConn().LocalAddr().String()

	// The browser member: the chat page, with DevTools on 127.0.0.1.
	profile, err := os.MkdirTemp("", "sluice-chromium-chat-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(profile) }) // after the kill: cleanups run last first
	argv := append([]string{browser}, chromiumFlags...)
	argv = append(argv, "--user-data-dir="+profile, "--remote-debugging-address=127.0.0.1",
		"--remote-debugging-port=0", "http://"+addr+"/")
	chromium := startProcess(t, "chromium", false, argv...)
	var devtoolsPort string
	require.NoError(t, chromium.log.await(ctx, chromium.exited, "the DevTools endpoint", func(log string) bool {
		if m := devtoolsURL.FindStringSubmatch(log); m != nil {
			devtoolsPort = m[2]
		}
		return devtoolsPort != ""
	}))

	// The page's connection, seen by the server: its extensions.
	var pageExt string
	require.NoError(t, serve.log.await(ctx, serve.exited, "the page to join the chat", func(log string) bool {
		for _, m := range serveConnected.FindAllStringSubmatch(log, -1) {
			if m[1] != goAddr {
				pageExt = m[2]
			}
		}
		return pageExt != ""
	}))
	t.Logf("chromium negotiated: %s", pageExt)
	assert.Contains(t, pageExt, "permessage-deflate", "the compression Chromium negotiated with sluice serve")

	page := devtoolsPage(ctx, t, devtoolsPort, "http://"+addr+"/")
	defer page.conn.Terminate()
	_, err = page.eval(ctx, `new Promise(resolve => {
		const state = document.getElementById("state");
		const open = () => state.className === "open" && resolve(true);
		new MutationObserver(open).observe(state, {attributes: true});
		open();
	})`)
	require.NoError(t, err, "the page's WebSocket to open")

	// The page speaks through its form; the Go client hears it.
	_, err = page.eval(ctx, `(() => {
		document.getElementById("name").value = "chromium";
		document.getElementById("text").value = "hello from the browser";
		document.getElementById("form").requestSubmit();
		return true;
	})()`)
	require.NoError(t, err)
	for {
		m, err := gopher.Receive(ctx)
		require.NoError(t, err, "the browser's message at the Go client")
		if string(m.Payload) == "chromium: hello from the browser" {
			assert.Equal(t, ws.OpText, m.OpCode)
			break
		}
	}

	// The Go client speaks; the page shows it, after its own line.
	require.NoError(t, gopher.Send(ctx, wsutil.Message{OpCode: ws.OpText, Payload: []byte("gopher: hello from Go")}))
	lines, err := page.eval(ctx, `new Promise(resolve => {
		const log = document.getElementById("log");
		const seen = () => {
			const lines = Array.from(log.children, li => li.textContent);
			if (lines.includes("gopher: hello from Go")) resolve(lines);
		};
		new MutationObserver(seen).observe(log, {childList: true});
		seen();
	})`)
	require.NoError(t, err, "the Go client's message in the page")
	var shown []string
	require.NoError(t, json.Unmarshal(lines, &shown))
	assert.Equal(t, []string{"chromium: hello from the browser", "gopher: hello from Go"}, shown,
		"the page's log: its own line broadcast back, then the Go client's")

	require.NoError(t, page.conn.Close(ws.StatusNormalClosure, ""))
	require.NoError(t, gopher.Close(ws.StatusNormalClosure, ""))
}

// cdpPage is a page of Chromium driven through the DevTools protocol.
type cdpPage struct {
	conn *wsutil.Conn
	seq  int
}

// devtoolsPage finds the page showing url among Chromium's targets and
// connects to it.
func devtoolsPage(ctx context.Context, t *testing.T, port, url string) *cdpPage {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port+"/json/list", nil)
	require.NoError(t, err)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var targets []struct {
		Type, URL            string
		WebSocketDebuggerURL string `json:"webSocketDebuggerUrl"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&targets))
	for _, tg := range targets {
		if tg.Type == "page" && tg.URL == url {
			c, _, err := wsutil.Dial(ctx, tg.WebSocketDebuggerURL, nil)
			require.NoError(t, err, "DevTools WebSocket of the page")
			return &cdpPage{conn: c}
		}
	}
	t.Fatalf("no page showing %s among Chromium's targets: %+v", url, targets)
	return nil
}

// eval evaluates expr in the page, awaiting it when it is a promise, and
// returns its value as JSON (Runtime.evaluate).
func (p *cdpPage) eval(ctx context.Context, expr string) (json.RawMessage, error) {
	p.seq++
	req := map[string]any{
		"id":     p.seq,
		"method": "Runtime.evaluate",
		"params": map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true},
	}
	if err := wsutil.SendJSON(ctx, p.conn, req); err != nil {
		return nil, err
	}
	for {
		var res struct {
			ID     int `json:"id"`
			Result struct {
				Result struct {
					Value json.RawMessage `json:"value"`
				} `json:"result"`
				Exception *struct {
					Text      string `json:"text"`
					Exception struct {
						Description string `json:"description"`
					} `json:"exception"`
				} `json:"exceptionDetails"`
			} `json:"result"`
			Error *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := wsutil.ReceiveJSON(ctx, p.conn, &res); err != nil {
			return nil, fmt.Errorf("devtools: %w", err)
		}
		switch {
		case res.ID != p.seq:
			continue // an event, or a late answer
		case res.Error != nil:
			return nil, errors.New("devtools: " + res.Error.Message)
		case res.Result.Exception != nil:
			return nil, fmt.Errorf("devtools: %s %s", res.Result.Exception.Text, res.Result.Exception.Exception.Description)
		}
		return res.Result.Result.Value, nil
	}
}
