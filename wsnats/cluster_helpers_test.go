package wsnats_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsnats"
	"github.com/sluice-ws/sluice/wsroom"
	"github.com/sluice-ws/sluice/wsutil"
)

// node is one sluice node: a wsutil.Server on a loopback httptest
// server whose connections join room "r", a Hub, and a NATS Backend.
type node struct {
	name    string
	hub     *wsroom.Hub
	backend *wsnats.Backend // nil for a node on its own
	srv     *wsutil.Server
	http    *httptest.Server
	url     string
	joined  chan *wsutil.Conn
	stop    sync.Once
}

const room = "r"

// newNode starts a node on the NATS at natsURL, or a node on its own,
// with no Backend, for "".
func newNode(t testing.TB, name, natsURL string, cfg wsutil.Config, ncfg wsnats.Config) *node {
	t.Helper()
	n := &node{name: name, hub: &wsroom.Hub{}, srv: &wsutil.Server{}, joined: make(chan *wsutil.Conn, 1024)}
	if natsURL != "" {
		if ncfg.ReconnectWait == 0 {
			ncfg.ReconnectWait = 20 * time.Millisecond
		}
		ncfg.Name = name
		b, err := wsnats.Connect(natsURL, ncfg)
		require.NoError(t, err)
		n.hub.Backend, n.backend = b, b
	}
	n.srv.Config = cfg
	n.srv.Config.OnClose = n.hub.LeaveAll
	n.srv.OnAccept = func(c *wsutil.Conn, _ *wsutil.Request) {
		if err := n.hub.Join(c, room); err == nil {
			n.joined <- c
		}
	}
	n.http = httptest.NewServer(n.srv)
	n.url = "ws" + strings.TrimPrefix(n.http.URL, "http")
	t.Cleanup(n.close)
	return n
}

// close stops the node: its members are closed, its NATS connection too.
func (n *node) close() {
	n.stop.Do(func() {
		ctx, cancel := wstest.RunContext("a node's shutdown")
		defer cancel()
		_ = n.srv.Shutdown(ctx)
		n.http.Close()
		if n.backend != nil {
			_ = n.backend.Close()
		}
	})
}

// member dials n and returns the client once it is a member of the room.
func (n *node) member(t testing.TB, cfg wsutil.Config) *wsutil.Conn {
	t.Helper()
	ctx, cancel := wstest.RunContext("a dial")
	defer cancel()
	nc, hs, err := ws.Dial(ctx, n.url)
	require.NoError(t, err)
	c, err := wsutil.NewConn(nc, ws.ClientSide, hs, cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = c.Terminate()
		<-c.Done()
	})
	select {
	case <-n.joined:
	case <-ctx.Done():
		t.Fatal(wstest.Err(ctx))
	}
	return c
}

// flush waits until NATS has every node's subscriptions.
func flush(t *testing.T, nodes ...*node) {
	t.Helper()
	for _, n := range nodes {
		require.NoError(t, n.backend.Flush(wstest.Context(t, "a NATS flush")))
	}
}

// msg is a test message: who published it, its sequence number, padding.
func msg(from, seq, size int) wsutil.Message {
	p := fmt.Appendf(nil, "%d %d ", from, seq)
	if len(p) < size {
		p = append(p, make([]byte, size-len(p))...)
	}
	return wsutil.Message{OpCode: ws.OpBinary, Payload: p}
}

func parse(t testing.TB, p []byte) (from, seq int) {
	t.Helper()
	_, err := fmt.Sscanf(string(p), "%d %d ", &from, &seq)
	require.NoError(t, err, "a test message")
	return from, seq
}

// log is what one member received, per publisher, in order.
type log struct {
	mu   sync.Mutex
	seqs map[int][]int
	cond chan struct{} // closed and replaced on every message
}

// record receives from c until it ends, into a log.
func record(t testing.TB, c *wsutil.Conn, wg *sync.WaitGroup) *log {
	l := &log{seqs: map[int][]int{}, cond: make(chan struct{})}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for m := range c.Inbound() {
			from, seq := parse(t, m.Payload)
			l.mu.Lock()
			l.seqs[from] = append(l.seqs[from], seq)
			close(l.cond)
			l.cond = make(chan struct{})
			l.mu.Unlock()
		}
	}()
	return l
}

// waitFor waits until l has seq from publisher from (or later ones).
func (l *log) waitFor(t testing.TB, what string, from, seq int) {
	t.Helper()
	ctx, cancel := wstest.RunContext(what)
	defer cancel()
	if err := l.wait(ctx, from, seq); err != nil {
		t.Fatalf("%v; got %v", err, l.snapshot()[from])
	}
}

// wait waits until l has seq from publisher from (or later ones), or ctx
// ends.
func (l *log) wait(ctx context.Context, from, seq int) error {
	for {
		l.mu.Lock()
		s := l.seqs[from]
		done := len(s) > 0 && s[len(s)-1] >= seq
		wait := l.cond
		l.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return wstest.Err(ctx)
		}
	}
}

func (l *log) snapshot() map[int][]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int][]int{}
	for k, v := range l.seqs {
		out[k] = append([]int(nil), v...)
	}
	return out
}

// seq returns first, first+1, ..., last.
func seq(first, last int) []int {
	var s []int
	for i := first; i <= last; i++ {
		s = append(s, i)
	}
	return s
}

// increasing asserts that s never repeats or goes back.
func increasing(t testing.TB, s []int, msgAndArgs ...any) {
	t.Helper()
	for i := 1; i < len(s); i++ {
		if !assert.Greater(t, s[i], s[i-1], msgAndArgs...) {
			return
		}
	}
}
