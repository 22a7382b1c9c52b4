//go:build linux

package wsutil

import (
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/ws"
)

// TestPollLoopParksInRuntimePoller checks that an idle loop waits as a
// goroutine parked in the runtime's poller ("IO wait"), not inside an
// epoll_wait system call, which would hold an OS thread and have the
// runtime hand the loop's P from thread to thread.
func TestPollLoopParksInRuntimePoller(t *testing.T) {
	_, addr := startPoll(t, echoHandler(Config{PingInterval: time.Minute}, nil))
	p := dialPeer(t, addr)
	p.send(ws.OpText, true, []byte("hello"))
	assert.Equal(t, "hello", string(p.read().Payload))
	var states []string
	waitFor(t, "both loops to wait for events", func() bool {
		states = loopStates()
		return len(states) == 2 && states[0] == "IO wait" && states[1] == "IO wait"
	})
	// And the loop still serves: a message wakes it.
	p.send(ws.OpText, true, []byte("again"))
	assert.Equal(t, "again", string(p.read().Payload))
}

// loopStates returns the scheduling state of every loop's goroutine, as
// its stack trace's header gives it ("IO wait", "syscall", "runnable").
func loopStates() []string {
	var states []string
	for _, g := range strings.Split(allStacks(), "\n\n") {
		if !strings.Contains(g, "(*pollLoop).run") {
			continue
		}
		if m := goroutineState.FindStringSubmatch(g); m != nil {
			states = append(states, m[1])
		}
	}
	return states
}

// goroutineState finds the state in a goroutine's header, such as
// "goroutine 7 [IO wait]:" or "goroutine 7 [IO wait, 2 minutes]:".
var goroutineState = regexp.MustCompile(`^goroutine \d+ \[([^,\]]*)`)

// TestSysWritevBound checks that one raw writev offers the kernel
// maxWritev bytes at most, however much is queued: a raw system call
// holds its thread without a safe point for as long as it copies.
func TestSysWritevBound(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK, 0)
	require.NoError(t, err)
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	require.NoError(t, syscall.SetsockoptInt(fds[0], syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4<<20))
	big := make([]byte, 3*maxWritev)
	n, err := sysWritev(fds[0], [][]byte{big[:maxWritev/2], big[maxWritev/2:]})
	require.NoError(t, err)
	assert.LessOrEqual(t, n, maxWritev, "bytes written by one writev")
	assert.Positive(t, n)

	// Read back what arrived, then find the socket empty.
	buf := make([]byte, 4*maxWritev)
	got := 0
	for got < n {
		k, err := sysRead(fds[1], buf)
		require.NoError(t, err)
		got += k
	}
	assert.Equal(t, n, got)
	_, err = sysRead(fds[1], buf)
	assert.Equal(t, errWouldBlock, err, "reading an empty non-blocking socket")

	// The end of the stream reads as 0 bytes and no error.
	require.NoError(t, syscall.Shutdown(fds[0], syscall.SHUT_WR))
	k, err := sysRead(fds[1], buf)
	assert.NoError(t, err)
	assert.Zero(t, k)
}
