package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sluice-ws/sluice/internal/cli"
	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsnats/internal/natstest"
	"github.com/sluice-ws/sluice/wsutil"
)

// TestMain fails the package when a test leaves a goroutine behind: the
// nodes, their NATS connections and the embedded server included.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// serve runs "sluice serve -nats natsURL" of this build until the test
// ends, and returns its address and log.
func serve(t *testing.T, natsURL string) (string, *wstest.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &wstest.Buffer{}
	errc := make(chan error, 1)
	args := []string{"serve", "-addr", "127.0.0.1:0", "-nats", natsURL, "-log-level", "debug"}
	opts := cli.Options{ConnectRooms: connect}
	go func() { errc <- cli.Run(ctx, args, strings.NewReader(""), io.Discard, l, opts) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			assert.NoError(t, err, "serve")
		case <-wstest.After(t):
			t.Error(wstest.Expired(t, "serve to shut down"))
		}
	})
	return l.WaitFor(t, `level=INFO msg=listening addr=(\S+)`)[1], l
}

// member is a /chat client that records what it receives.
type member struct {
	c    *wsutil.Conn
	mu   sync.Mutex
	got  []string
	more chan struct{} // closed and replaced on every message
}

func join(t *testing.T, addr string) *member {
	t.Helper()
	nc, hs, err := ws.Dial(wstest.Context(t, "a dial"), "ws://"+addr+"/chat")
	require.NoError(t, err)
	c, err := wsutil.NewConn(nc, ws.ClientSide, hs, wsutil.Config{})
	require.NoError(t, err)
	m := &member{c: c, more: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for msg := range c.Inbound() {
			m.mu.Lock()
			m.got = append(m.got, string(msg.Payload))
			close(m.more)
			m.more = make(chan struct{})
			m.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = c.Terminate()
		<-done
	})
	return m
}

// has reports whether m received a message that starts with prefix.
func (m *member) has(prefix string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, g := range m.got {
		if strings.HasPrefix(g, prefix) {
			return true
		}
	}
	return false
}

// waitFor waits until m has received the message s.
func (m *member) waitFor(t *testing.T, s string) {
	t.Helper()
	ctx := wstest.Context(t, "message "+s)
	for {
		m.mu.Lock()
		more := m.more
		m.mu.Unlock()
		if m.has(s + "\n") {
			return
		}
		select {
		case <-more:
		case <-ctx.Done():
			t.Fatal(wstest.Err(ctx))
		}
	}
}

// Three sluice serve -nats on one NATS, two chat members on each: once
// every node has subscribed, every message sent on any node reaches every
// member on every node exactly once, each sender's in the order sent.
func TestServeNATS(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, 0)
	const nodes, perNode, count = 3, 2, 100
	var members [][]*member
	for range nodes {
		addr, l := serve(t, srv.ClientURL())
		l.WaitFor(t, `msg="chat room on NATS"`)
		var ms []*member
		for i := range perNode {
			ms = append(ms, join(t, addr))
			l.WaitFor(t, fmt.Sprintf(`msg="chat joined" .*members=%d\b`, i+1))
		}
		members = append(members, ms)
	}
	// A node subscribes when its first member joins, and NATS gets the
	// subscription a moment later.
	probe(t, members, "the probes of every node to reach every node")
	ctx := wstest.Context(t, "the messages of every node")

	var senders sync.WaitGroup
	for n := range nodes {
		senders.Go(func() {
			for s := range count {
				assert.NoError(t, members[n][1].c.Send(ctx, text("m %d %d\n", n, s)))
			}
		})
	}
	senders.Wait()
	for n, ms := range members {
		for i, m := range ms {
			for from := range nodes {
				m.waitFor(t, fmt.Sprintf("m %d %d", from, count-1))
			}
			m.mu.Lock()
			got := map[int][]int{}
			for _, g := range m.got {
				var from, s int
				if _, err := fmt.Sscanf(g, "m %d %d", &from, &s); err == nil {
					got[from] = append(got[from], s)
				}
			}
			m.mu.Unlock()
			for from := range nodes {
				want := make([]int, count)
				for s := range want {
					want[s] = s
				}
				assert.Equal(t, want, got[from], "node %d member %d, from node %d: all, once, in order", n, i, from)
			}
		}
	}
}

// probe makes the first member of every node send probes until a probe
// of every node has reached every member, which proves every node's
// subscription is in place. A probe carries a word of its own, so that a
// later probe proves it again.
func probe(t *testing.T, members [][]*member, what string) {
	t.Helper()
	word := fmt.Sprint(time.Now().UnixNano())
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	ctx := wstest.Context(t, what)
	for round := 0; !everyoneHeard(members, word); round++ {
		for n := range members {
			require.NoError(t, members[n][0].c.Send(ctx, text("probe %s %d %d", word, n, round)))
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatal(wstest.Err(ctx))
		}
	}
}

// everyoneHeard reports whether every member has a probe with word from
// every node.
func everyoneHeard(members [][]*member, word string) bool {
	for _, ms := range members {
		for _, m := range ms {
			for from := range members {
				if !m.has(fmt.Sprintf("probe %s %d ", word, from)) {
					return false
				}
			}
		}
	}
	return true
}

func text(format string, args ...any) wsutil.Message {
	return wsutil.Message{OpCode: ws.OpText, Payload: fmt.Appendf(nil, format, args...)}
}

// serve -nats with no NATS server at the URL exits with an error instead
// of serving a room that would silently span nothing.
func TestServeNATSUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	nobody := "nats://" + ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there any more
	l := &wstest.Buffer{}
	args := []string{"serve", "-addr", "127.0.0.1:0", "-nats", nobody}
	err = cli.Run(wstest.Context(t, "serve to give up"), args, strings.NewReader(""), io.Discard, l, cli.Options{ConnectRooms: connect})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "wsnats: connect")
	assert.NotContains(t, l.String(), "msg=listening", "no node without its room")
}

// NATS stops and starts again on the same port: every node logs the loss
// and the return, and the room spans the nodes again by itself.
func TestServeNATSRestart(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, 0)
	port := natstest.Port(t, srv)
	var members [][]*member
	var logs []*wstest.Buffer
	for range 2 {
		addr, l := serve(t, srv.ClientURL())
		members = append(members, []*member{join(t, addr)})
		l.WaitFor(t, `msg="chat joined"`)
		logs = append(logs, l)
	}
	probe(t, members, "the probes before the outage")

	natstest.Stop(srv)
	for _, l := range logs {
		l.WaitFor(t, `level=WARN msg="chat: NATS connection lost`)
	}
	natstest.Start(t, port)
	for _, l := range logs {
		l.WaitFor(t, `level=INFO msg="chat: NATS connection back"`)
	}
	probe(t, members, "the probes after the outage")
}
