//go:build linux

package memory

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/ws"
)

// sluiceBin is the sluice binary TestMain builds for the tests to run.
var sluiceBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-memory")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sluiceBin = filepath.Join(dir, "sluice")
	// Built without -race whatever the tests run with: what is measured
	// is the server as it is deployed.
	build := exec.Command("go", "build", "-o", sluiceBin, "github.com/sluice-ws/sluice/cmd/sluice")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building sluice:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a sluice serve child process.
type server struct {
	cmd  *exec.Cmd
	addr string
	log  *logBuffer
}

// logBuffer collects the server's log.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startServe runs sluice serve with args on a free port of 127.0.0.1 and
// waits until it listens.
func startServe(ctx context.Context, t *testing.T, args ...string) *server {
	t.Helper()
	s := &server{log: &logBuffer{}}
	s.cmd = exec.Command(sluiceBin, append([]string{"serve", "-addr", "127.0.0.1:0"}, args...)...)
	s.cmd.Stderr = s.log
	require.NoError(t, s.cmd.Start())
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("sluice serve log:\n%s", s.log.String())
		}
	})
	for s.addr == "" {
		if m := listening.FindStringSubmatch(s.log.String()); m != nil {
			s.addr = m[1]
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("sluice serve did not start listening: %v\n%s", ctx.Err(), s.log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return s
}

// peakRSS returns the process's peak resident set (VmHWM) in bytes.
func (s *server) peakRSS(t *testing.T) int64 { return procStatus(t, s.cmd.Process.Pid, "VmHWM") }

// rss returns the process's resident set (VmRSS) in bytes.
func (s *server) rss(t *testing.T) int64 { return procStatus(t, s.cmd.Process.Pid, "VmRSS") }

func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// dial opens a raw WebSocket connection to path, offering extensions when
// not empty, and returns it with its buffered reader.
func (s *server) dial(ctx context.Context, t *testing.T, path, extensions string) (net.Conn, *bufio.Reader) {
	t.Helper()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", s.addr)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	req := "GET " + path + " HTTP/1.1\r\nHost: " + s.addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	if extensions != "" {
		req += "Sec-WebSocket-Extensions: " + extensions + "\r\n"
	}
	_, err = nc.Write([]byte(req + "\r\n"))
	require.NoError(t, err)
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	return nc, br
}

// readClose reads frames from br until a close frame and returns its code.
func readClose(br *bufio.Reader) (ws.StatusCode, error) {
	for {
		f, err := ws.ReadFrame(br, 0)
		if err != nil {
			return 0, err
		}
		if f.Header.OpCode == ws.OpClose {
			code, _, err := ws.ParseCloseBody(f.Payload)
			return code, err
		}
	}
}
