package wsroom_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/sluice-ws/sluice/wsroom"
	"github.com/sluice-ws/sluice/wsutil"
)

// node is a wsutil.Server whose connections join the room named by their
// ?room= query, on a loopback httptest server.
type node struct {
	hub    *wsroom.Hub
	srv    *wsutil.Server
	http   *httptest.Server
	url    string
	joined chan *wsutil.Conn // each connection once it joined its room
}

func newNode(t *testing.T, hub *wsroom.Hub, cfg wsutil.Config) *node {
	t.Helper()
	n := &node{hub: hub, srv: &wsutil.Server{}, joined: make(chan *wsutil.Conn, 64)}
	n.srv.Config = cfg
	n.srv.Config.OnClose = hub.LeaveAll
	n.srv.OnAccept = func(c *wsutil.Conn, r *wsutil.Request) {
		// A client that gave up already is closing: Join refuses it.
		if err := hub.Join(c, r.HTTP.URL.Query().Get("room")); err == nil {
			n.joined <- c
		}
	}
	n.http = httptest.NewServer(n.srv)
	n.url = "ws" + strings.TrimPrefix(n.http.URL, "http")
	t.Cleanup(func() {
		ctx := wstest.Context(t, "the node's shutdown")
		assert.NoError(t, n.srv.Shutdown(ctx))
		n.http.Close()
	})
	return n
}

// member returns the server's side of the next connection to join a room
// on n.
func (n *node) member(t *testing.T) *wsutil.Conn {
	t.Helper()
	select {
	case c := <-n.joined:
		return c
	case <-wstest.After(t):
		t.Fatal(wstest.Expired(t, "a connection joining its room"))
		return nil
	}
}

// dial connects a client to n's room, and returns it once the server has
// made it a member, with the server's side of it.
func (n *node) dial(t *testing.T, room string, d ws.Dialer, cfg wsutil.Config) (*wsutil.Conn, *wsutil.Conn) {
	t.Helper()
	ctx := wstest.Context(t, "a dial")
	nc, hs, err := d.Dial(ctx, n.url+"/?room="+room)
	require.NoError(t, err)
	c, err := wsutil.NewConn(nc, ws.ClientSide, hs, cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = c.Close(ws.StatusNormalClosure, "")
		select {
		case <-c.Done():
		case <-wstest.After(t):
			t.Error(wstest.Expired(t, "a client's end"))
		}
	})
	return c, n.member(t)
}

// receive returns the next message of c, or fails at the run's deadline.
func receive(t *testing.T, c *wsutil.Conn) wsutil.Message {
	t.Helper()
	ctx := wstest.Context(t, "a room message")
	m, err := c.Receive(ctx)
	require.NoError(t, err, "receive")
	return m
}

func text(s string) wsutil.Message { return wsutil.Message{OpCode: ws.OpText, Payload: []byte(s)} }

// Members are who joined and did not leave; a message published to a room
// reaches its members once each, in order, and no one else.
func TestHubRooms(t *testing.T) {
	t.Parallel()
	hub := &wsroom.Hub{}
	n := newNode(t, hub, wsutil.Config{})
	a, _ := n.dial(t, "red", ws.Dialer{}, wsutil.Config{})
	b, _ := n.dial(t, "red", ws.Dialer{}, wsutil.Config{})
	c, _ := n.dial(t, "blue", ws.Dialer{}, wsutil.Config{})

	red := hub.Members("red")
	require.Len(t, red, 2)
	blue := hub.Members("blue")
	require.Len(t, blue, 1)
	assert.Empty(t, hub.Members("green"))
	require.NoError(t, hub.Join(red[0], "blue"))
	require.NoError(t, hub.Join(red[0], "blue"), "joining twice is one membership")
	assert.Equal(t, []string{"red", "blue"}, hub.Rooms(red[0]))
	assert.Len(t, hub.Members("blue"), 2)

	ctx := wstest.Context(t, "publishing")
	for i := range 3 {
		got, err := hub.Publish(ctx, "red", text(fmt.Sprint("red ", i)))
		require.NoError(t, err)
		assert.Equal(t, 2, got, "both red members took it")
	}
	got, err := hub.Publish(ctx, "blue", text("blue"))
	require.NoError(t, err)
	assert.Equal(t, 2, got)
	for i := range 3 {
		assert.Equal(t, fmt.Sprint("red ", i), string(receive(t, a).Payload))
		assert.Equal(t, fmt.Sprint("red ", i), string(receive(t, b).Payload))
	}
	assert.Equal(t, "blue", string(receive(t, a).Payload), "a is in blue too")
	assert.Equal(t, "blue", string(receive(t, c).Payload))

	require.NoError(t, hub.Leave(red[0], "red"))
	require.NoError(t, hub.Leave(red[0], "red"), "leaving twice does nothing")
	assert.Equal(t, []string{"blue"}, hub.Rooms(red[0]))
	got, err = hub.Publish(ctx, "red", text("without a"))
	require.NoError(t, err)
	assert.Equal(t, 1, got)
	assert.Equal(t, "without a", string(receive(t, b).Payload))

	// b ends: the server's OnClose takes it out of its rooms.
	require.NoError(t, b.Close(ws.StatusNormalClosure, ""))
	<-b.Done()
	require.Eventually(t, func() bool { return len(hub.Members("red")) == 0 },
		wstest.Remaining(t), 10*time.Millisecond, "b left red when it closed")
	got, err = hub.Publish(ctx, "red", text("to no one"))
	require.NoError(t, err)
	assert.Zero(t, got)

	// a receives nothing more from red: the next message it sees is blue's.
	_, err = hub.Publish(ctx, "blue", text("blue again"))
	require.NoError(t, err)
	assert.Equal(t, "blue again", string(receive(t, a).Payload))
}

// SendTo reaches one member; Publish and SendTo refuse what they cannot
// send.
func TestHubSendTo(t *testing.T) {
	t.Parallel()
	hub := &wsroom.Hub{}
	n := newNode(t, hub, wsutil.Config{})
	a, _ := n.dial(t, "red", ws.Dialer{}, wsutil.Config{})
	b, _ := n.dial(t, "red", ws.Dialer{}, wsutil.Config{})
	red := hub.Members("red")

	require.NoError(t, hub.SendTo("red", red[1], text("just b")))
	require.ErrorIs(t, hub.SendTo("blue", red[1], text("no")), wsroom.ErrNotMember)
	_, err := hub.Publish(context.Background(), "red", wsutil.Message{OpCode: ws.OpPing})
	require.ErrorIs(t, err, wsutil.ErrOpCode)
	require.ErrorIs(t, hub.SendTo("red", red[1], wsutil.Message{OpCode: ws.OpClose}), wsutil.ErrOpCode)
	got, err := hub.Publish(context.Background(), "red", wsutil.Message{Payload: []byte{1, 2}})
	require.NoError(t, err)
	assert.Equal(t, 2, got)

	assert.Equal(t, "just b", string(receive(t, b).Payload))
	m := receive(t, b)
	assert.Equal(t, ws.OpBinary, m.OpCode, "no opcode is binary")
	m = receive(t, a)
	assert.Equal(t, []byte{1, 2}, m.Payload, "a saw only the room's message")
}

// One room holds compressing and plain members: each gets the message
// as its connection negotiated it.
func TestHubCompression(t *testing.T) {
	t.Parallel()
	hub := &wsroom.Hub{}
	ext := &wsflate.Extension{ServerNoContextTakeover: true}
	n := newNode(t, hub, wsutil.Config{Extension: ext})
	client := &wsflate.Extension{}
	deflated, _ := n.dial(t, "r", ws.Dialer{Extensions: []httphead.Option{client.Offer()}}, wsutil.Config{Extension: client})
	plain, _ := n.dial(t, "r", ws.Dialer{}, wsutil.Config{})

	payload := strings.Repeat("compressible ", 200)
	got, err := hub.Publish(context.Background(), "r", text(payload))
	require.NoError(t, err)
	require.Equal(t, 2, got)
	assert.Equal(t, payload, string(receive(t, deflated).Payload))
	assert.Equal(t, payload, string(receive(t, plain).Payload))
	assert.Less(t, deflated.Stats().BytesIn, int64(len(payload)), "compressed for the member that asked")
	assert.Greater(t, plain.Stats().BytesIn, int64(len(payload)), "plain for the other")
}

// A member that reads nothing never holds up a room, whatever its
// Overflow: with OverflowBlock (the default) the messages it has no room
// for are dropped for it alone; with OverflowClose it is closed and leaves
// the room. Everyone else gets every message in order.
func TestHubSlowMember(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		overflow wsutil.Overflow
	}{
		// A member with OverflowBlock gets no burst allowance from a
		// Hub: room for a few messages keeps the fast one whole while
		// its writer catches up.
		{"block", wsutil.OverflowBlock},
		{"close", wsutil.OverflowClose},
		{"drop", wsutil.OverflowDrop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hub := &wsroom.Hub{}
			n := newNode(t, hub, wsutil.Config{OutboundBytes: 256 << 10, Overflow: tc.overflow})
			fast, _ := n.dial(t, "r", ws.Dialer{}, wsutil.Config{})
			// The slow member is a raw connection that never reads.
			nc, _, err := ws.Dial(wstest.Context(t, "the slow dial"), n.url+"/?room=r")
			require.NoError(t, err)
			defer nc.Close()
			n.member(t)

			// The publisher waits for the fast member to have each message
			// before the next, so only the slow member falls behind.
			const count, size = 400, 32 << 10 // 12.5 MiB: more than loopback buffers hold
			short := make(chan int, count)
			published := make(chan struct{})
			go func() {
				defer close(published)
				ctx := wstest.Context(t, "the fast member's messages")
				for i := range count {
					p := make([]byte, size)
					p[0], p[1] = byte(i>>8), byte(i)
					got, err := hub.Publish(ctx, "r", wsutil.Message{Payload: p})
					if !assert.NoError(t, err) {
						return
					}
					if got < 2 {
						short <- got
					}
					m, err := fast.Receive(ctx)
					if !assert.NoError(t, err) ||
						!assert.Equal(t, i, int(m.Payload[0])<<8|int(m.Payload[1]), "the fast member gets every message in order") {
						return
					}
				}
			}()
			select {
			case <-published:
			case <-wstest.After(t):
				t.Fatal(wstest.Expired(t, "the publisher, which must not wait for the slow member"))
			}
			close(short)
			require.NotEmpty(t, short, "the slow member's queue filled up")
			assert.Equal(t, 1, <-short, "only the slow member missed a message")
			if tc.overflow == wsutil.OverflowClose {
				require.Eventually(t, func() bool { return len(hub.Members("r")) == 1 },
					wstest.Remaining(t), 10*time.Millisecond, "the slow member was closed and left")
			} else {
				assert.Len(t, hub.Members("r"), 2, "the slow member stays")
			}
		})
	}
}

// bus is an in-memory Backend network: a message one hub publishes reaches
// the other hubs subscribed to its room.
type bus struct {
	mu   sync.Mutex
	subs map[*busNode]map[string]func(ws.OpCode, []byte)
	log  []string
}

type busNode struct {
	bus  *bus
	name string
}

func (b *bus) node(name string) *busNode {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := &busNode{b, name}
	if b.subs == nil {
		b.subs = make(map[*busNode]map[string]func(ws.OpCode, []byte))
	}
	b.subs[n] = make(map[string]func(ws.OpCode, []byte))
	return n
}

func (n *busNode) Subscribe(room string, deliver func(ws.OpCode, []byte)) error {
	n.bus.mu.Lock()
	defer n.bus.mu.Unlock()
	n.bus.subs[n][room] = deliver
	n.bus.log = append(n.bus.log, n.name+" sub "+room)
	return nil
}

func (n *busNode) Unsubscribe(room string) error {
	n.bus.mu.Lock()
	defer n.bus.mu.Unlock()
	delete(n.bus.subs[n], room)
	n.bus.log = append(n.bus.log, n.name+" unsub "+room)
	return nil
}

func (n *busNode) Publish(_ context.Context, room string, op ws.OpCode, payload []byte) error {
	n.bus.mu.Lock()
	defer n.bus.mu.Unlock()
	for other, rooms := range n.bus.subs {
		if deliver := rooms[room]; deliver != nil && other != n {
			deliver(op, payload)
		}
	}
	return nil
}

// With a Backend, a node subscribes to a room while it has members there,
// and a message published on one node reaches the members of every node
// once.
func TestHubBackend(t *testing.T) {
	t.Parallel()
	var b bus
	hubA, hubB := &wsroom.Hub{Backend: b.node("A")}, &wsroom.Hub{Backend: b.node("B")}
	a := newNode(t, hubA, wsutil.Config{})
	bn := newNode(t, hubB, wsutil.Config{})
	a1, _ := a.dial(t, "r", ws.Dialer{}, wsutil.Config{})
	b1, _ := bn.dial(t, "r", ws.Dialer{}, wsutil.Config{})
	b2, _ := bn.dial(t, "r", ws.Dialer{}, wsutil.Config{})

	ctx := wstest.Context(t, "publishing")
	got, err := hubA.Publish(ctx, "r", text("from A"))
	require.NoError(t, err)
	assert.Equal(t, 1, got, "A's own member, directly")
	_, err = hubB.Publish(ctx, "r", text("from B"))
	require.NoError(t, err)
	for _, c := range []*wsutil.Conn{a1, b1, b2} {
		first, second := string(receive(t, c).Payload), string(receive(t, c).Payload)
		assert.ElementsMatch(t, []string{"from A", "from B"}, []string{first, second})
	}
	// Nothing twice: the next message each member sees is the next one.
	_, err = hubA.Publish(ctx, "r", text("last"))
	require.NoError(t, err)
	for _, c := range []*wsutil.Conn{a1, b1, b2} {
		assert.Equal(t, "last", string(receive(t, c).Payload))
	}

	for _, c := range hubB.Members("r") {
		require.NoError(t, hubB.Leave(c, "r"))
	}
	_, err = hubA.Publish(ctx, "elsewhere", text("no members anywhere"))
	require.NoError(t, err)
	b.mu.Lock()
	defer b.mu.Unlock()
	assert.Equal(t, []string{"A sub r", "B sub r", "B unsub r"}, b.log)
}
