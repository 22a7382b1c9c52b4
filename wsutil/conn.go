package wsutil

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/httphead"
	"github.com/sluice-ws/sluice/ws"
)

//go:generate go run golang.org/x/tools/cmd/stringer@v0.52.0 -type=State,Overflow -linecomment -output=string.go

// Defaults of a zero Config.
const (
	DefaultInboundSize  = 16
	DefaultOutboundSize = 64
	DefaultCloseTimeout = 5 * time.Second
)

// Message is one WebSocket message travelling through a Conn.
type Message struct {
	// OpCode is ws.OpText or ws.OpBinary (ws.OpContinuation for the
	// later frames of a message in Config.FrameMode).
	OpCode ws.OpCode
	// Payload is the message data. A received payload belongs to the
	// receiver. A sent payload must not be modified until the Conn has
	// written it; Send and Outbound do not copy it.
	Payload []byte
	// Fragment is set in Config.FrameMode on every frame of a message but
	// the last. It is ignored on sent messages.
	Fragment bool
	// NoCompress sends this message uncompressed even when compression
	// was negotiated (the seeds' send(data, {compress: false})).
	NoCompress bool
	// Done, if set on a sent message, receives its outcome (the seeds'
	// send callback): nil once the message has been written to the
	// socket, or the error that kept it from being written, such as
	// net.ErrClosed when the connection ended first. It must have room
	// for one value: the Conn never waits on it. It is not used when Send
	// itself returns an error.
	Done chan<- error

	prep *prepared // set by Prepare
}

// Overflow is what Send does when the send queue is full.
type Overflow uint8

// Overflow policies for a slow peer.
const (
	// OverflowBlock waits for room until the context is done.
	OverflowBlock Overflow = iota // block
	// OverflowDrop drops the message, counts it in Stats.Dropped and
	// returns ErrDropped.
	OverflowDrop // drop
	// OverflowClose fails the connection with 1008 (policy violation)
	// and returns ErrQueueFull.
	OverflowClose // close
	// OverflowTryAgain fails the connection with 1013 (try again later)
	// and returns ErrQueueFull.
	OverflowTryAgain // try again later
)

// State is the life-cycle stage of a connection (the seeds' readyState).
type State int32

// Connection states.
const (
	StateConnecting State = iota // connecting
	StateOpen                    // open
	StateClosing                 // closing
	StateClosed                  // closed
)

// Config configures a Conn. The zero value is ready to use: 16 MiB
// messages, UTF-8 checks on, no keepalive, a 5 s close timeout.
type Config struct {
	// MaxMessageSize and MaxFrameSize are the Reader's limits (0 means
	// DefaultMaxMessageSize and no frame limit).
	MaxMessageSize int64
	MaxFrameSize   int64
	// SkipUTF8 turns off UTF-8 validation of received text.
	SkipUTF8 bool
	// ReadBufferSize and WriteBufferSize size the socket buffers
	// (0 means 4096).
	ReadBufferSize  int
	WriteBufferSize int
	// InboundSize is the capacity of the Inbound channel (0 means
	// DefaultInboundSize). When it is full the Conn stops reading the
	// socket, so a slow receiver slows the peer down through TCP flow
	// control (the seeds' pause()/resume(), automatic).
	InboundSize int
	// OutboundSize is the capacity of the send queue (0 means
	// DefaultOutboundSize).
	OutboundSize int
	// Overflow is what Send does when the queue is full. Sends straight
	// on the Outbound channel always block.
	Overflow Overflow
	// PingInterval, when positive, sends a ping whenever the connection
	// has been quiet that long. If nothing at all arrives within
	// PongTimeout after such a ping (0 means PingInterval), the
	// connection is dropped with ErrKeepaliveTimeout. Time the Conn spends
	// waiting for the application to drain Inbound does not count, and
	// once closing has begun CloseTimeout bounds the rest instead. A ping
	// cannot leave while a write is blocked on a peer that does not read:
	// set WriteTimeout to catch that.
	PingInterval time.Duration
	PongTimeout  time.Duration
	// CloseTimeout bounds the wait for the peer's close frame after ours,
	// and for the server's TCP close after the handshake on a client (0
	// means DefaultCloseTimeout; WebSocket-Node's closeTimeout).
	CloseTimeout time.Duration
	// WriteTimeout, when positive, bounds every socket write; a peer that
	// does not read for that long fails the connection.
	WriteTimeout time.Duration
	// FragmentSize, when positive, splits sent messages into frames of
	// at most that many bytes.
	FragmentSize int
	// FrameMode delivers each data frame on Inbound as it arrives instead
	// of whole messages (WebSocket-Node's assembleFragments: false). A
	// compressed message arrives whole: see Reader.NextFrame.
	FrameMode bool
	// Extension, when set, binds the extension negotiated in the
	// handshake to the connection: permessage-deflate is
	// Extension: &wsflate.Extension{...}.
	Extension Extension
	// OnPing, if set, sees every ping (on the reading goroutine; do not
	// block, and do not call Close, Drop or Terminate from it: they wait
	// for that goroutine). Returning false suppresses the automatic pong.
	OnPing func(payload []byte) bool
	// OnPong, if set, sees every pong, on the reading goroutine, with the
	// same restrictions as OnPing.
	OnPong func(payload []byte)
}

// Stats are a connection's counters. Bytes count everything on the wire,
// frame headers included (the seeds' bytesReceived).
type Stats struct {
	BytesIn, BytesOut       int64
	MessagesIn, MessagesOut int64
	// Dropped counts messages that were not delivered: refused by
	// OverflowDrop, put on Outbound with an opcode other than text or
	// binary or after our close frame, or received while closing with
	// the application no longer reading Inbound.
	Dropped int64
}

// Conn is a WebSocket connection driven by two goroutines: one reads
// messages into the Inbound channel, one writes what arrives on the
// Outbound channel (and through Send). Control frames, keepalive, the
// closing handshake and backpressure are handled for it. It works over any
// net.Conn whose opening handshake is done, on either side.
//
// Every write to the socket goes through the writing goroutine, pongs and
// close frames included, so frames never interleave and any number of
// goroutines may send at once. Messages leave in the order each path
// received them: Outbound in channel order, Send calls in call order, and
// a goroutine that uses both sees its own order kept because both feed
// the same queue.
//
// Closing: Close(code, reason) or closing the Outbound channel starts the
// closing handshake after the messages already queued; Terminate drops
// the connection at once. Inbound is closed when the connection has ended;
// Err then tells why. Every goroutine a Conn starts has exited once Done
// is closed. All methods are safe for concurrent use.
type Conn struct {
	nc   countingConn
	side ws.Side
	cfg  Config
	hs   ws.Handshake
	recv RecvExtension
	send SendExtension

	in   chan Message
	out  chan Message
	ctl  chan control
	fail chan control // a failure close, ahead of everything else

	stop    chan struct{} // closed when the socket is closed
	done    chan struct{} // closed when both goroutines have exited
	closing chan struct{} // closed when the closing handshake begins
	closeMu sync.Once
	// readDone is closed by the reader when reading ended and we still
	// owe the peer a close frame: its close frame arrived first, or it
	// broke the protocol. pendCode and pendReason, the code and reason
	// to send, are set before; the writer sends them once the
	// application's replies are out.
	readDone   chan struct{}
	pendCode   ws.StatusCode
	pendReason string
	// appDone is closed when Receive has seen the end of Inbound: the
	// application has handled every message.
	appDone     chan struct{}
	appDoneOnce sync.Once
	inOnce      sync.Once
	inDone      atomic.Bool   // Inbound is closed
	peerGone    atomic.Bool   // the peer closed TCP after its close frame
	closeSentCh chan struct{} // closed when closeSent is set
	// receiving is set once Receive has handed out a message: the
	// application reads with Receive, so the end of Inbound, not a lull
	// in the send queue, tells that its replies are queued.
	receiving atomic.Bool
	// writerGone is set when the writer stops taking messages; a Send
	// that races it drains the queue itself, so every queued message gets
	// its outcome.
	writerGone atomic.Bool
	// stalled is set when the application stopped taking messages while
	// the connection closes: later messages are dropped at once.
	stalled atomic.Bool

	stopped atomic.Bool
	running atomic.Int32 // goroutines still running

	state       atomic.Int32
	closeSent   atomic.Bool // our close frame is on the wire
	closeRecv   atomic.Bool // the peer's close frame has arrived
	closeCalled atomic.Bool
	delivering  atomic.Bool // the reader waits for room in Inbound

	mu      sync.Mutex
	err     error                     // guarded by mu; why the connection ended
	pings   map[uint64]chan time.Time // guarded by mu; Ping waiters
	pingSeq uint64                    // guarded by mu

	msgsIn, msgsOut, dropped atomic.Int64
}

// control is a request to the writing goroutine.
type control struct {
	op      ws.OpCode // OpPing, OpPong or OpClose
	code    ws.StatusCode
	n       uint8
	payload [ws.MaxControlPayload]byte
	reason  string
	flush   bool // for OpClose: send queued messages first
	fail    bool // for OpClose: ahead of queued messages, no flush
	drop    bool // for OpClose: close the socket right after
}

// NewConn takes over conn, whose opening handshake hs is complete, and
// starts its reading and writing goroutines. side is the role of this end.
// Bytes in hs.Buffered are read before the socket. It fails only when
// cfg.Extension cannot honour what the handshake accepted; conn is then
// left open.
func NewConn(conn net.Conn, side ws.Side, hs ws.Handshake, cfg Config) (*Conn, error) {
	c := &Conn{
		side:        side,
		cfg:         cfg,
		hs:          hs,
		stop:        make(chan struct{}),
		done:        make(chan struct{}),
		closing:     make(chan struct{}),
		readDone:    make(chan struct{}),
		appDone:     make(chan struct{}),
		fail:        make(chan control, 1),
		closeSentCh: make(chan struct{}),
	}
	c.nc.Conn = conn
	c.nc.epoch = time.Now()
	c.nc.touch()
	if cfg.Extension != nil {
		var err error
		if c.recv, c.send, err = cfg.Extension.Bind(side, hs.Extensions); err != nil {
			return nil, fmt.Errorf("wsutil: extension: %w", err)
		}
	}
	c.in = make(chan Message, withDefault(cfg.InboundSize, DefaultInboundSize))
	c.out = make(chan Message, withDefault(cfg.OutboundSize, DefaultOutboundSize))
	c.ctl = make(chan control, 4)
	c.state.Store(int32(StateOpen))
	c.running.Store(2)
	go c.readLoop()
	go c.writeLoop()
	return c, nil
}

func withDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Inbound returns the channel of received messages. It is closed when no
// more messages will come: the peer closed, or the connection ended; Err
// then reports why.
//
// When the peer closes first, the Conn does not answer at once: replies to
// the last messages may still be on their way. It sends its close frame
// (echoing the peer's code and reason) after the messages queued by then,
// as soon as the application closes Outbound, calls Close, or receives the
// end of Inbound through Receive; failing that, once Inbound is drained
// and the send queue has stayed empty for 50 ms; and at the latest after
// CloseTimeout. A protocol violation by the peer ends Inbound the same way,
// and the close frame that fails the connection (1002, 1007, 1009) follows
// the same rules.
func (c *Conn) Inbound() <-chan Message { return c.in }

// Outbound returns the channel that feeds the send queue. Sending blocks
// while the queue is full. Once the connection has ended, a send is
// accepted while the queue has room and the message is lost, and blocks
// forever after that: select on Done as well, and use Send or
// Message.Done when the outcome matters. Closing it asks for a graceful close (code 1000)
// after the messages already queued; do not close it while another
// goroutine may still send on it or call Send.
func (c *Conn) Outbound() chan<- Message { return c.out }

// Done returns a channel that is closed once the connection has ended and
// its goroutines have exited.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, or nil while it is open:
//   - ws.CloseError with the peer's code and reason after a closing
//     handshake, whichever side began it;
//   - an error matching ErrAbnormalClosure (code 1006) when the connection
//     ended without a close frame (the seeds' connectionReset), joined with
//     the cause: an I/O error, ErrKeepaliveTimeout, ErrCloseTimeout or
//     net.ErrClosed after Terminate;
//   - the *ws.ProtocolError the peer caused, after we failed the
//     connection with its code;
//   - ErrQueueFull after an overflow policy closed it.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// setErr records the first reason the connection ends.
func (c *Conn) setErr(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

// State returns the connection's state.
func (c *Conn) State() State { return State(c.state.Load()) }

// Protocol returns the negotiated subprotocol, or "".
func (c *Conn) Protocol() string { return c.hs.Protocol }

// Extensions returns the extensions the handshake accepted.
func (c *Conn) Extensions() []httphead.Option { return c.hs.Extensions }

// NetConn returns the underlying connection. Reading or writing it
// directly corrupts the WebSocket stream.
func (c *Conn) NetConn() net.Conn { return c.nc.Conn }

// Buffered returns how many messages wait in the send queue (the seeds'
// bufferedAmount, counted in messages).
func (c *Conn) Buffered() int { return len(c.out) }

// Stats returns the connection's counters.
func (c *Conn) Stats() Stats {
	return Stats{
		BytesIn:     c.nc.in.Load(),
		BytesOut:    c.nc.out.Load(),
		MessagesIn:  c.msgsIn.Load(),
		MessagesOut: c.msgsOut.Load(),
		Dropped:     c.dropped.Load(),
	}
}

// Close runs the closing handshake: after the messages already queued it
// sends a close frame with code and reason (code 0 sends none), waits up to
// Config.CloseTimeout for the peer's close, then closes the socket. When
// the peer has closed first, Close sends the answer instead, echoing the
// peer's code and reason. It returns nil after a clean handshake and the
// reason otherwise (see Err).
// The first call does the work; later calls, and a call after the
// connection already ended, return an error matching net.ErrClosed.
func (c *Conn) Close(code ws.StatusCode, reason string) error {
	if code != 0 && !code.ValidOnWire() {
		return fmt.Errorf("wsutil: close code %d may not be sent", code)
	}
	if !c.closeCalled.CompareAndSwap(false, true) || c.stopped.Load() {
		return errClosed
	}
	// Bound everything, queuing the request included: a writer stuck on
	// a peer that does not read (on a connection without deadlines) must
	// not hold Close.
	timeout := withDefault(c.cfg.CloseTimeout, DefaultCloseTimeout)
	t := time.NewTimer(2*timeout + time.Second)
	defer t.Stop()
	c.beginClosing()
	select {
	case c.ctl <- control{op: ws.OpClose, code: code, reason: reason, flush: true}:
		select {
		case <-c.done:
		case <-t.C:
			c.shutdown(errors.Join(ErrAbnormalClosure, ErrCloseTimeout))
		}
	case <-c.stop:
	case <-t.C:
		c.shutdown(errors.Join(ErrAbnormalClosure, ErrCloseTimeout))
	}
	<-c.done
	err := c.Err()
	var ce ws.CloseError
	if errors.As(err, &ce) && ce.Code != ws.StatusAbnormalClosure {
		return nil
	}
	return err
}

// Drop sends a close frame with code and reason ahead of anything queued,
// then closes the socket without waiting for the peer's answer
// (WebSocket-Node's drop(), for error conditions), and waits for the
// goroutines to exit. Queued messages are not sent. Err then matches
// ErrAbnormalClosure and net.ErrClosed. It returns an error matching
// net.ErrClosed when the connection is already closing or closed.
func (c *Conn) Drop(code ws.StatusCode, reason string) error {
	if code != 0 && !code.ValidOnWire() {
		return fmt.Errorf("wsutil: close code %d may not be sent", code)
	}
	if !c.closeCalled.CompareAndSwap(false, true) || c.stopped.Load() || c.closeSent.Load() {
		return errClosed
	}
	c.setErr(errors.Join(ErrAbnormalClosure, net.ErrClosed))
	c.beginClosing()
	select {
	case c.fail <- control{op: ws.OpClose, code: code, reason: reason, fail: true, drop: true}:
	default:
		// A failure is already on its way: end it now.
		c.shutdown(nil)
	}
	// Bounded even on a connection without deadlines.
	t := time.NewTimer(withDefault(c.cfg.CloseTimeout, DefaultCloseTimeout))
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		c.shutdown(nil)
		<-c.done
	}
	return nil
}

// Terminate closes the socket at once, without a closing handshake (the
// seeds' terminate()/destroy()), and waits for the goroutines to exit. Err
// then matches ErrAbnormalClosure and net.ErrClosed. Later calls return an
// error matching net.ErrClosed.
func (c *Conn) Terminate() error {
	if !c.shutdown(errors.Join(ErrAbnormalClosure, net.ErrClosed)) {
		<-c.done
		return errClosed
	}
	<-c.done
	return nil
}

// shutdown records err, closes the socket and wakes every goroutine. It
// reports whether this call did it.
func (c *Conn) shutdown(err error) bool {
	c.setErr(err)
	if !c.stopped.CompareAndSwap(false, true) {
		return false
	}
	c.state.Store(int32(StateClosing))
	_ = c.nc.Close()
	close(c.stop)
	return true
}

// exit marks one goroutine as finished; the last one closes done.
func (c *Conn) exit() {
	if c.running.Add(-1) == 0 {
		c.state.Store(int32(StateClosed))
		c.mu.Lock()
		for seq, ch := range c.pings {
			close(ch)
			delete(c.pings, seq)
		}
		c.mu.Unlock()
		close(c.done)
	}
}
