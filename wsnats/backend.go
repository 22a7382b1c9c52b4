package wsnats

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsroom"
)

// Defaults of a zero Config.
const (
	DefaultPrefix          = "sluice.room"
	DefaultReconnectWait   = time.Second
	DefaultReconnectBuffer = 8 << 20 // bytes, the NATS client's own default
)

// noDeadline is the deadline Flush gives a context without one.
const noDeadline = 100 * 365 * 24 * time.Hour

// Config configures a Backend. The zero value is ready to use.
type Config struct {
	// Prefix is the subject prefix of the rooms: room r is the subject
	// Prefix + "." + base64url(r). Nodes that share rooms share it;
	// different applications on one NATS keep apart with different
	// prefixes. "" means DefaultPrefix.
	Prefix string
	// Name names the node's NATS connection in the server's monitoring.
	Name string
	// ReconnectWait is the pause between attempts to reconnect to NATS,
	// which go on for ever; 0 means DefaultReconnectWait.
	ReconnectWait time.Duration
	// ReconnectBuffer bounds in bytes the messages kept while NATS is
	// unreachable, sent once reconnected; a Publish that does not fit
	// fails with ErrBufferFull. 0 means DefaultReconnectBuffer; a
	// negative value keeps nothing: every Publish during an outage fails.
	ReconnectBuffer int
	// OnDisconnect, if set, is called when the connection to NATS is
	// lost (err says why, or is nil), not when Close closes it; the
	// Backend then reconnects by itself. OnReconnect, if set, is called
	// once it has, with every room subscribed again. Both run on a
	// goroutine of the NATS client, one call at a time, and must not
	// block: log, or count.
	OnDisconnect func(err error)
	OnReconnect  func()
}

// Backend is a wsroom.Backend on one NATS connection. Make one with
// Connect; it is safe for concurrent use.
type Backend struct {
	nc     *nats.Conn
	prefix string
	// slow counts the slow-consumer events; gone, the messages dropped
	// by the subscriptions since unsubscribed.
	slow, gone atomic.Int64

	mu   sync.Mutex
	subs map[string]*nats.Subscription // guarded by mu
}

var _ wsroom.Backend = (*Backend)(nil)

// Stats are a Backend's counters.
type Stats struct {
	// Dropped counts the messages the NATS client dropped for this node
	// because its subscriptions fell behind their pending limits.
	Dropped int64
	// SlowConsumer counts the times a subscription of this node fell
	// behind (the NATS client's slow-consumer error); each time, one
	// message or more is dropped.
	SlowConsumer int64
	// Reconnects counts the reconnections to NATS.
	Reconnects uint64
}

// Connect connects to the NATS server or cluster at url (a comma-separated
// list of nats:// URLs is fine) and returns a Backend on that connection.
// It fails when no server answers; once connected, the Backend reconnects
// by itself whenever the connection is lost, for ever, until Close.
func Connect(url string, cfg Config) (*Backend, error) {
	b := &Backend{prefix: cfg.Prefix, subs: make(map[string]*nats.Subscription)}
	if b.prefix == "" {
		b.prefix = DefaultPrefix
	}
	wait := cfg.ReconnectWait
	if wait <= 0 {
		wait = DefaultReconnectWait
	}
	buf := cfg.ReconnectBuffer
	switch {
	case buf == 0:
		buf = DefaultReconnectBuffer
	case buf < 0:
		buf = -1
	}
	nc, err := nats.Connect(url,
		nats.Name(cfg.Name),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if cfg.OnDisconnect != nil && !nc.IsClosed() {
				cfg.OnDisconnect(err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			if cfg.OnReconnect != nil {
				cfg.OnReconnect()
			}
		}),
		nats.NoEcho(), // the Hub delivers to this node's members itself
		nats.MaxReconnects(-1),
		nats.ReconnectWait(wait),
		nats.ReconnectBufSize(buf),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				b.slow.Add(1)
			}
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("wsnats: connect: %w", err)
	}
	b.nc = nc
	return b, nil
}

// subject returns the NATS subject of room.
func (b *Backend) subject(room string) string {
	return b.prefix + "." + base64.RawURLEncoding.EncodeToString([]byte(room))
}

// Subscribe starts delivering the messages other nodes publish to room.
// deliver runs on a goroutine of the NATS client, one message at a time.
func (b *Backend) Subscribe(room string, deliver func(op ws.OpCode, payload []byte)) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs == nil {
		return ErrClosed
	}
	if _, ok := b.subs[room]; ok {
		return nil
	}
	sub, err := b.nc.Subscribe(b.subject(room), func(m *nats.Msg) {
		if len(m.Data) == 0 {
			return // not ours
		}
		deliver(ws.OpCode(m.Data[0]), m.Data[1:])
	})
	if err != nil {
		return fmt.Errorf("wsnats: subscribe: %w", err)
	}
	b.subs[room] = sub
	return nil
}

// Unsubscribe stops the deliveries of room.
func (b *Backend) Unsubscribe(room string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	sub, ok := b.subs[room]
	if !ok {
		return nil
	}
	delete(b.subs, room)
	if n, err := sub.Dropped(); err == nil {
		b.gone.Add(int64(n))
	}
	if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("wsnats: unsubscribe: %w", err)
	}
	return nil
}

// Publish sends a message to room's members on the other nodes. It
// returns once the NATS client has the message, before any node does;
// while NATS is unreachable the message waits in the reconnect buffer, or
// Publish fails with ErrBufferFull (see the package documentation). ctx
// is not used: a NATS publish does not wait for the network.
func (b *Backend) Publish(_ context.Context, room string, op ws.OpCode, payload []byte) error {
	data := make([]byte, 1+len(payload))
	data[0] = byte(op)
	copy(data[1:], payload)
	if err := b.nc.Publish(b.subject(room), data); err != nil {
		if errors.Is(err, nats.ErrConnectionClosed) {
			return ErrClosed
		}
		return fmt.Errorf("wsnats: publish: %w", err)
	}
	return nil
}

// Flush waits until NATS has processed everything this node sent before,
// subscriptions included: once it returns, the messages other nodes
// publish to the rooms this node has subscribed reach it. It returns an
// error matching ctx.Err() when ctx ends first, and an error while NATS
// is unreachable.
func (b *Backend) Flush(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		// The NATS client wants a deadline; ctx's cancellation still
		// ends the wait.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, noDeadline)
		defer cancel()
	}
	if err := b.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("wsnats: flush: %w", err)
	}
	return nil
}

// Connected reports whether the NATS connection is up now.
func (b *Backend) Connected() bool { return b.nc.IsConnected() }

// Stats returns the Backend's counters.
func (b *Backend) Stats() Stats {
	st := Stats{Dropped: b.gone.Load(), SlowConsumer: b.slow.Load(), Reconnects: b.nc.Stats().Reconnects}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, sub := range b.subs {
		if n, err := sub.Dropped(); err == nil {
			st.Dropped += int64(n)
		}
	}
	return st
}

// Close closes the NATS connection: messages still in its buffers are
// sent if the connection is up, and deliveries stop. Later calls do
// nothing and return nil; after Close, the other methods return an error
// matching ErrClosed.
func (b *Backend) Close() error {
	b.mu.Lock()
	b.subs = nil
	b.mu.Unlock()
	b.nc.Close()
	return nil
}
