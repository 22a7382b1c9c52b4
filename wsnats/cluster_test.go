package wsnats_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsnats"
	"github.com/sluice-ws/sluice/wsnats/internal/natstest"
	"github.com/sluice-ws/sluice/wsutil"
)

// cluster is three nodes on one NATS, with members on every node, each
// recording what it receives.
type cluster struct {
	nodes   []*node
	members [][]*wsutil.Conn // per node
	logs    [][]*log         // per node
	wg      sync.WaitGroup
}

func newCluster(t *testing.T, natsURL string, perNode int, cfg wsutil.Config, ncfg []wsnats.Config) *cluster {
	t.Helper()
	cl := &cluster{}
	// The recorders end with their members, which later cleanups close.
	t.Cleanup(cl.wg.Wait)
	for i := range 3 {
		var nc wsnats.Config
		if i < len(ncfg) {
			nc = ncfg[i]
		}
		n := newNode(t, fmt.Sprint("node", i), natsURL, cfg, nc)
		cl.nodes = append(cl.nodes, n)
		var members []*wsutil.Conn
		var logs []*log
		for range perNode {
			c := n.member(t, wsutil.Config{})
			members = append(members, c)
			logs = append(logs, record(t, c, &cl.wg))
		}
		cl.members = append(cl.members, members)
		cl.logs = append(cl.logs, logs)
	}
	flush(t, cl.nodes...)
	return cl
}

// publish makes node i publish messages first..last, one after the other.
func (cl *cluster) publish(t *testing.T, i, first, last int) {
	t.Helper()
	for s := first; s <= last; s++ {
		_, err := cl.nodes[i].hub.Publish(context.Background(), room, msg(i, s, 64))
		require.NoError(t, err)
	}
}

// round makes every node publish messages first..last and waits until
// every member has them all.
func (cl *cluster) round(t *testing.T, what string, first, last int) {
	t.Helper()
	for i := range cl.nodes {
		cl.publish(t, i, first, last)
	}
	for _, logs := range cl.logs {
		for _, l := range logs {
			for from := range cl.nodes {
				l.waitFor(t, what, from, last)
			}
		}
	}
}

// Three nodes, three members each, a publisher on every node at once:
// every member gets every message exactly once, each publisher's in order.
func TestThreeNodes(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, 0)
	cl := newCluster(t, srv.ClientURL(), 3, wsutil.Config{}, nil)

	const count = 300
	var pubs sync.WaitGroup
	for i := range cl.nodes {
		pubs.Go(func() {
			for s := range count {
				_, err := cl.nodes[i].hub.Publish(context.Background(), room, msg(i, s, 64))
				assert.NoError(t, err)
			}
		})
	}
	pubs.Wait()
	for n, logs := range cl.logs {
		for m, l := range logs {
			for from := range cl.nodes {
				l.waitFor(t, fmt.Sprintf("node %d member %d: publisher %d's last", n, m, from), from, count-1)
			}
			got := l.snapshot()
			for from := range cl.nodes {
				assert.Equal(t, seq(0, count-1), got[from], "node %d member %d, from node %d: all, once, in order", n, m, from)
			}
		}
	}
	for _, n := range cl.nodes {
		assert.Zero(t, n.backend.Stats().Dropped)
	}
}

// A node stopped mid-stream, while every node publishes: the other two go
// on, and their members get everything published on them, once and in
// order; of the stopped node's messages, a first part, in order, and
// nothing after its Publish failed.
func TestNodeStops(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, 0)
	cl := newCluster(t, srv.ClientURL(), 2, wsutil.Config{}, nil)
	cl.round(t, "the first round", 0, 49)

	const last = 299
	var pubs sync.WaitGroup
	for i := range 2 {
		pubs.Go(func() {
			for s := 50; s <= last; s++ {
				_, err := cl.nodes[i].hub.Publish(context.Background(), room, msg(i, s, 64))
				assert.NoError(t, err)
			}
		})
	}
	// Node 2 publishes each message once the previous one reached a
	// member on node 0: a steady stream, not a flood that would outrun the
	// subscriptions' pending limits (core NATS drops what a slow consumer
	// cannot take: an unpaced loop once lost 1,700 of 12,000 messages).
	// Once the stop begins it publishes once more, after the node has
	// closed, and that Publish fails.
	stopped := make(chan int, 1)
	stopping, stop := context.WithCancel(context.Background())
	defer stop()
	closed := make(chan struct{})
	go func() {
		for s := 50; ; s++ {
			if stopping.Err() != nil {
				<-closed
			}
			if _, err := cl.nodes[2].hub.Publish(context.Background(), room, msg(2, s, 64)); err != nil {
				assert.ErrorIs(t, err, wsnats.ErrClosed, "the stopped node's backend is closed")
				stopped <- s
				return
			}
			_ = cl.logs[0][0].wait(stopping, 2, s) // or until the stop begins
		}
	}()
	cl.logs[0][0].waitFor(t, "node 0's messages to be flowing", 0, 100)
	cl.logs[0][0].waitFor(t, "node 2's messages to be flowing", 2, 100)
	stop()
	cl.nodes[2].close()
	close(closed)
	for _, c := range cl.members[2] {
		select {
		case <-c.Done():
		case <-wstest.After(t):
			t.Fatal(wstest.Expired(t, "the stopped node's members to be closed"))
		}
	}
	var failed int
	select {
	case failed = <-stopped:
	case <-wstest.After(t):
		t.Fatal(wstest.Expired(t, "node 2's Publish to fail once it is stopped"))
	}
	pubs.Wait()

	for n, logs := range cl.logs[:2] {
		for m, l := range logs {
			for from := range 2 {
				l.waitFor(t, "the messages of the nodes still up", from, last)
			}
			got := l.snapshot()
			for from := range 2 {
				assert.Equal(t, seq(0, last), got[from], "node %d member %d from node %d", n, m, from)
			}
			s := got[2]
			require.GreaterOrEqual(t, len(s), 50, "node %d member %d: the stopped node's first round", n, m)
			assert.Equal(t, seq(0, len(s)-1), s, "node %d member %d: a first part of the stopped node's messages", n, m)
			assert.Less(t, s[len(s)-1], failed, "node %d member %d: none from after the stopped node's Publish failed", n, m)
		}
	}
}

// NATS stops and comes back on the same address: the nodes keep serving
// their own members meanwhile, reconnect by themselves, and the room
// resumes. Of what was published during the outage, each member gets
// everything from its own node, and from each other node the latest of
// what that node's reconnect buffer took, in order and never twice (the
// messages that reached NATS after the member's node subscribed again);
// a node whose reconnect buffer is full has Publish fail with
// ErrBufferFull, and that message reaches no other node.
func TestNATSRestart(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, 0)
	port := natstest.Port(t, srv)
	url := srv.ClientURL()
	// Node 0 has room for a few messages only. Every node counts its
	// disconnections and reconnections.
	var downs, ups [3]atomic.Int32
	ncfg := make([]wsnats.Config, 3)
	ncfg[0].ReconnectBuffer = 2048
	for i := range ncfg {
		ncfg[i].OnDisconnect = func(error) { downs[i].Add(1) }
		ncfg[i].OnReconnect = func() { ups[i].Add(1) }
	}
	cl := newCluster(t, url, 2, wsutil.Config{}, ncfg)

	cl.round(t, "the messages before the outage", 0, 19)

	natstest.Stop(srv)
	waitConnected(t, cl.nodes, false)
	// accepted are the outage messages each node's Publish took.
	accepted := make([][]int, len(cl.nodes))
	for i := range cl.nodes {
		for s := 20; s <= 59; s++ {
			n, err := cl.nodes[i].hub.Publish(context.Background(), room, msg(i, s, 64))
			assert.Equal(t, 2, n, "the node's own members, during the outage")
			if err != nil {
				require.ErrorIs(t, err, wsnats.ErrBufferFull)
				require.Zero(t, i, "only node 0's buffer is that small")
				continue
			}
			accepted[i] = append(accepted[i], s)
		}
	}
	require.Less(t, len(accepted[0]), 40, "node 0's reconnect buffer filled up")
	require.Len(t, accepted[1], 40)
	for i, logs := range cl.logs {
		for _, l := range logs {
			l.waitFor(t, "the node's own messages during the outage", i, 59)
		}
	}

	natstest.Start(t, port)
	waitConnected(t, cl.nodes, true)
	flush(t, cl.nodes...)
	for i := range cl.nodes {
		cl.publish(t, i, 60, 79)
	}
	for n, logs := range cl.logs {
		for m, l := range logs {
			for from := range cl.nodes {
				l.waitFor(t, "the messages after the outage", from, 79)
			}
			got := l.snapshot()
			for from := range cl.nodes {
				s := got[from]
				if from == n {
					assert.Equal(t, seq(0, 79), s, "node %d member %d: all of its own node's", n, m)
					continue
				}
				increasing(t, s, "node %d member %d from node %d: in order, never twice", n, m, from)
				require.GreaterOrEqual(t, len(s), 40)
				assert.Equal(t, seq(0, 19), s[:20], "before the outage: all")
				assert.Equal(t, seq(60, 79), s[len(s)-20:], "after it: all")
				// Of the outage, the latest of what the publisher's
				// buffer took: those that reached NATS after this node
				// subscribed again. Never one whose Publish failed.
				outage := s[20 : len(s)-20]
				took := accepted[from]
				require.LessOrEqual(t, len(outage), len(took), "node %d member %d from node %d: %v", n, m, from, outage)
				assert.Equal(t, took[len(took)-len(outage):], outage,
					"node %d member %d from node %d: a tail of the %d messages its buffer took", n, m, from, len(took))
				t.Logf("node %d member %d got %d of node %d's %d buffered outage messages", n, m, len(outage), from, len(took))
			}
		}
	}
	for i, n := range cl.nodes {
		assert.Positive(t, n.backend.Stats().Reconnects)
		// The NATS client calls them on a goroutine of its own.
		assert.Eventually(t, func() bool { return downs[i].Load() > 0 && ups[i].Load() > 0 },
			wstest.Remaining(t), 10*time.Millisecond, "node %d: OnDisconnect and OnReconnect", i)
	}
}

// waitConnected waits until every node's NATS connection is up, or down.
func waitConnected(t *testing.T, nodes []*node, up bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, n := range nodes {
			if n.backend.Connected() != up {
				return false
			}
		}
		return true
	}, wstest.Remaining(t), 10*time.Millisecond, "every node's NATS connection up: %v", up)
}

// A member that reads nothing, on one node, delays no one: everyone else
// on every node gets every message, while the publisher waits for them
// (not for it). Its node closes it once its queue is full (OverflowClose).
func TestSlowMember(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, 0)
	cfg := wsutil.Config{OutboundBytes: 256 << 10, Overflow: wsutil.OverflowClose}
	cl := newCluster(t, srv.ClientURL(), 1, cfg, nil)
	// The slow member: a raw connection on node 0 that never reads.
	slow := cl.nodes[0]
	ctx := wstest.Context(t, "the room's messages, which must not wait for the slow member")
	nc, _, err := ws.Dial(ctx, slow.url)
	require.NoError(t, err)
	defer nc.Close()
	<-slow.joined
	require.Len(t, slow.hub.Members(room), 2)
	flush(t, cl.nodes...)

	const count, size = 400, 32 << 10 // 12.5 MiB: more than loopback buffers hold
	done := make(chan error, 1)
	go func() {
		for s := range count {
			if _, err := cl.nodes[1].hub.Publish(context.Background(), room, msg(1, s, size)); err != nil {
				done <- err
				return
			}
			// In step with the fast members, so that only the slow one
			// falls behind.
			for _, logs := range cl.logs {
				if err := logs[0].wait(ctx, 1, s); err != nil {
					done <- err
					return
				}
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal(wstest.Err(ctx))
	}
	for n, logs := range cl.logs {
		assert.Equal(t, seq(0, count-1), logs[0].snapshot()[1], "node %d's member: all, in order", n)
	}
	require.Eventually(t, func() bool { return len(slow.hub.Members(room)) == 1 },
		wstest.Remaining(t), 10*time.Millisecond, "the slow member was closed and left the room")
	for _, n := range cl.nodes {
		assert.Zero(t, n.backend.Stats().Dropped, "NATS dropped nothing")
	}
}
