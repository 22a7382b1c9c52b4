package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// TestMain fails the package when a test leaves a goroutine behind: serve
// must wait for every handler and Conn, dial for everything it starts.
func TestMain(m *testing.M) {
	// The servers these tests start run in this process: keep serve from
	// setting the process's memory limit (limitGoMemory).
	os.Setenv("GOMEMLIMIT", "off")
	goleak.VerifyTestMain(m)
}

// Every wait in these tests ends with the test, or at the run's deadline
// (go test -timeout) less a margin to report it: wstest.Deadline. A slow
// machine cannot reach that bound while the code is right; a hang does.

// testCtx returns a context for one operation of t that ends with the
// test or at wstest.Deadline.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	return wstest.Context(t, "an operation of "+t.Name())
}

// syncBuffer is an io.Writer that run may write from any goroutine while
// the test waits for a pattern to show up.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until the buffer matches re and returns the submatches.
func (b *syncBuffer) waitFor(t *testing.T, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	var m []string
	b.wait(t, re, func(p []byte) bool {
		m = rx.FindStringSubmatch(string(p))
		return m != nil
	})
	return m
}

// waitLen waits until the buffer holds at least n bytes.
func (b *syncBuffer) waitLen(t *testing.T, n int) {
	t.Helper()
	b.wait(t, fmt.Sprintf("%d bytes", n), func(p []byte) bool { return len(p) >= n })
}

// wait waits until done, called with the contents after every write,
// reports true.
func (b *syncBuffer) wait(t *testing.T, what string, done func([]byte) bool) {
	t.Helper()
	timeout := time.NewTimer(time.Until(wstest.Deadline(t)))
	defer timeout.Stop()
	for {
		b.mu.Lock()
		ok := done(b.buf.Bytes())
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		changed := b.changed
		b.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			s := b.String()
			if len(s) > 2000 {
				s = "…" + s[len(s)-2000:]
			}
			require.FailNowf(t, "never happened", "%v; got %d bytes:\n%s", wstest.Expired(t, what), b.Len(), s)
		}
	}
}

// Len returns the number of bytes written.
func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// testServer is serve running in-process through run.
type testServer struct {
	addr   string // host:port from the listening line
	logs   *syncBuffer
	cancel context.CancelFunc
	errc   chan error
}

// startServe runs "sluice serve -addr 127.0.0.1:0 args..." and waits for
// its listening line. The server is stopped when the test ends, and must
// then return nil.
func startServe(t *testing.T, args ...string) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &testServer{logs: &syncBuffer{}, cancel: cancel, errc: make(chan error, 1)}
	// serve's production bounds (keepalive, write timeout: 30 s) are
	// bounds a loaded machine reaches while a 16 MiB message is compressed
	// under -race: here only a hang may reach them. A test that sets them
	// itself wins, since the last flag counts.
	hang := wstest.Remaining(t).Round(time.Second).String()
	argv := append([]string{"serve", "-addr", "127.0.0.1:0", "-log-level", "debug",
		"-ping-interval", hang, "-write-timeout", hang}, args...)
	go func() { s.errc <- run(ctx, argv, strings.NewReader(""), io.Discard, s.logs) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, s.wait(t))
	})
	s.addr = s.logs.waitFor(t, `level=INFO msg=listening addr=(\S+)`)[1]
	return s
}

// wait waits for run to return.
func (s *testServer) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.errc:
		s.errc <- err // let a later wait see it too
		return err
	case <-wstest.After(t):
		return wstest.Expired(t, "serve to return")
	}
}

func (s *testServer) url(path string) string { return "ws://" + s.addr + path }

// dialConn opens a client Conn with d (nil for a zero Dialer). It is
// dropped when the test ends.
func dialConn(t *testing.T, d *ws.Dialer, url string, cfg wsutil.Config) *wsutil.Conn {
	t.Helper()
	if d == nil {
		d = &ws.Dialer{}
	}
	if cfg.CloseTimeout == 0 {
		// Only a hang may end a closing handshake here.
		cfg.CloseTimeout = wstest.Remaining(t)
	}
	nc, hs, err := d.Dial(testCtx(t), url)
	require.NoError(t, err)
	c, err := wsutil.NewConn(nc, ws.ClientSide, hs, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Terminate() })
	return c
}

// recv returns the next message of c.
func recv(t *testing.T, c *wsutil.Conn) wsutil.Message {
	t.Helper()
	select {
	case m, ok := <-c.Inbound():
		require.True(t, ok, "connection ended: %v", c.Err())
		return m
	case <-wstest.After(t):
		require.FailNow(t, wstest.Expired(t, "a message").Error())
		return wsutil.Message{}
	}
}

// waitDone waits for c to end and returns why.
func waitDone(t *testing.T, c *wsutil.Conn) error {
	t.Helper()
	select {
	case <-c.Done():
		return c.Err()
	case <-wstest.After(t):
		require.FailNow(t, wstest.Expired(t, "the connection to end").Error())
		return nil
	}
}

func TestRunDispatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want error
		exit int
	}{
		{"no command", nil, errUsage, 2},
		{"unknown command", []string{"frobnicate"}, errUsage, 2},
		{"help", []string{"help"}, errHelp, 0},
		{"-h", []string{"-h"}, errHelp, 0},
		{"help serve", []string{"help", "serve"}, errHelp, 0},
		{"serve -h", []string{"serve", "-h"}, errHelp, 0},
		{"dial -help", []string{"dial", "-help"}, errHelp, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			err := run(t.Context(), tc.args, strings.NewReader(""), &out, &errOut)
			require.ErrorIs(t, err, tc.want)
			assert.Equal(t, tc.exit, exitCode(err, io.Discard))
			assert.Contains(t, out.String()+errOut.String(), "Usage: sluice")
		})
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	assert.Equal(t, 0, exitCode(nil, &stderr))
	assert.Equal(t, 1, exitCode(errUncleanClose, &stderr))
	assert.Equal(t, "sluice: "+errUncleanClose.Error()+"\n", stderr.String())
}
