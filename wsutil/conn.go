package wsutil

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/httphead"
	"github.com/sluice-ws/sluice/internal/bufpool"
	"github.com/sluice-ws/sluice/ws"
)

//go:generate go run golang.org/x/tools/cmd/stringer@v0.52.0 -type=State,Overflow,BudgetPolicy -linecomment -output=string.go

// connReadBufferSize is the read buffer a Conn borrows while bytes
// arrive: one read takes in a burst of small messages, and an idle Conn
// holds none.
const connReadBufferSize = 16 << 10

// Defaults of a zero Config.
const (
	DefaultInboundSize    = 16
	DefaultInboundBytes   = 1 << 20
	DefaultOutboundBytes  = 1 << 20
	DefaultCloseTimeout   = 5 * time.Second
	DefaultMessageTimeout = 60 * time.Second // servers only
)

// Message is one WebSocket message travelling through a Conn.
type Message struct {
	// OpCode is ws.OpText or ws.OpBinary (ws.OpContinuation for the
	// later frames of a message in Config.FrameMode). A sent message with
	// no opcode (0) goes out as binary.
	OpCode ws.OpCode
	// Payload is the message data. A sent payload must not be modified
	// until the Conn has written it; Send and Outbound do not copy it. A
	// payload received on Inbound or through Receive belongs to the
	// application (see Release); one handed to Config.OnMessage is valid
	// only until OnMessage returns.
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

	prep *prepared    // set by Prepare
	buf  *bufpool.Buf // the pooled buffer Payload lives in, if any
	acct int64        // Budget bytes it holds while queued
	// frame marks a frame of a message streamed by Conn.Writer:
	// Payload is the whole frame, header included, ready for the wire.
	frame streamFrame
}

// Release gives the buffer of a received message back to the Conn's pool,
// so that a later message reuses it instead of allocating: a server that
// echoes or forwards large messages saves most of its garbage collection
// this way. m.Payload must not be used after Release, which sets it to nil.
// Messages that are never released are simply garbage collected.
//
// A message passed to Send may be released as soon as Send returns: Send
// keeps the buffer until the message is written. Do not release a message
// sent on Outbound, whose hand-over the Conn cannot see. Release does
// nothing for messages whose payload the Conn did not allocate.
func (m *Message) Release() {
	if m.buf != nil {
		m.buf.Release()
	}
	m.buf, m.Payload = nil, nil
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

// Config configures a Conn. The zero value is ready to use and bounds
// everything a peer can make the Conn hold: 16 MiB messages, 1 MiB waiting
// in Inbound, 1 MiB queued for sending, and on a server 60 s to complete a
// message once it has begun. UTF-8 checks are on; keepalive is off.
type Config struct {
	// MaxMessageSize and MaxFrameSize are the Reader's limits (0 means
	// DefaultMaxMessageSize and no frame limit). MaxMessageSize bounds a
	// message after inflating, and the buffer that reassembles it.
	MaxMessageSize int64
	MaxFrameSize   int64
	// SkipUTF8 turns off UTF-8 validation of received text.
	SkipUTF8 bool
	// ReadBufferSize sizes the read buffer a Conn borrows while bytes
	// arrive (0 means 16 KiB); an idle Conn holds none.
	ReadBufferSize int
	// InboundSize is the capacity of the Inbound channel in messages (0
	// means DefaultInboundSize), and InboundBytes bounds the bytes of the
	// messages waiting in it (0 means DefaultInboundBytes). A message
	// goes in only when both have room, or when Inbound is empty; while
	// it waits the Conn reads nothing more from the socket, so a slow
	// receiver slows the peer down through TCP flow control (the seeds'
	// pause()/resume(), automatic). Go channels do not tell a sender when
	// a value is taken, so while InboundBytes is the limit the Conn looks
	// at Inbound again every few milliseconds, and at once after Receive.
	InboundSize  int
	InboundBytes int64
	// OutboundBytes bounds the payload bytes queued for sending and not
	// yet written (0 means DefaultOutboundBytes). One message is always
	// accepted into an empty queue, whatever its size. When a message
	// does not fit, Send follows Overflow.
	OutboundBytes int64
	// Overflow is what Send does when the queue is full. Under the
	// policies that do not wait, a queue whose writer has written within
	// the last second counts as full only at twice OutboundBytes: a peer
	// that reads is not judged slow for a burst. Sends on the Outbound
	// channel always wait for room.
	Overflow Overflow
	// Budget, when set, bounds the bytes held by every Conn that shares
	// it (see Budget), on top of the per-connection limits above.
	Budget *Budget
	// MessageTimeout bounds the time from a message's first frame to its
	// last: a peer that trickles a message slower than that is failed with
	// 1008 (ErrMessageTimeout), so it cannot hold a reassembly buffer for
	// ever. 0 means DefaultMessageTimeout on a server and no bound on a
	// client; a negative value means no bound. Time spent waiting for the
	// Budget counts; time spent waiting for the application does not.
	MessageTimeout time.Duration
	// PingInterval, when positive, sends a ping whenever the connection
	// has been quiet that long. If nothing at all arrives within
	// PongTimeout after such a ping (0 means PingInterval), the
	// connection is dropped with ErrKeepaliveTimeout. Time the Conn spends
	// waiting for the application or the Budget does not count, and once
	// closing has begun CloseTimeout bounds the rest instead. A ping
	// cannot leave while a write is blocked on a peer that does not read:
	// set WriteTimeout to catch that.
	PingInterval time.Duration
	PongTimeout  time.Duration
	// CloseTimeout bounds the wait for the peer's close frame after ours,
	// and for the server's TCP close after the handshake on a client (0
	// means DefaultCloseTimeout; WebSocket-Node's closeTimeout).
	CloseTimeout time.Duration
	// WriteTimeout, when positive, fails the connection when a write to
	// the socket makes no progress for that long (give or take an eighth:
	// the deadline is moved only every WriteTimeout/8 while writing, to
	// spare the cost of moving it before every write).
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
	// OnMessage, when set, is called with every message on the goroutine
	// that reads the connection, instead of delivering it on Inbound: a
	// Conn then needs no goroutine of the application's, which is what
	// keeps an idle connection cheap. The message's payload is valid only
	// until OnMessage returns (Send keeps what it sends alive until it is
	// written; copy anything else you keep). While OnMessage runs the
	// Conn reads nothing, so a slow handler slows the peer down. Close,
	// Drop and Terminate called while OnMessage runs return without
	// waiting for the connection to end, since the goroutine they would
	// wait for is the one running OnMessage. Inbound then carries no
	// messages and is closed when the connection ends.
	OnMessage func(c *Conn, m Message)
	// OnClose, if set, is called once the connection has ended and every
	// goroutine of the Conn has exited (Done is closed), on the last of
	// them; Err tells why it ended. Servers that run connections with
	// OnMessage use it to forget a connection without a goroutine that
	// waits on Done (the seeds' close event).
	OnClose func(c *Conn)
	// OnPing, if set, sees every ping (on the reading goroutine; do not
	// block). Returning false suppresses the automatic pong.
	OnPing func(payload []byte) bool
	// OnPong, if set, sees every pong, on the reading goroutine.
	OnPong func(payload []byte)
}

// withDefaults fills in the defaults of the zero values for side.
func (cfg Config) withDefaults(side ws.Side) Config {
	cfg.InboundSize = withDefault(cfg.InboundSize, DefaultInboundSize)
	cfg.InboundBytes = withDefault(cfg.InboundBytes, DefaultInboundBytes)
	cfg.OutboundBytes = withDefault(cfg.OutboundBytes, DefaultOutboundBytes)
	cfg.CloseTimeout = withDefault(cfg.CloseTimeout, DefaultCloseTimeout)
	cfg.ReadBufferSize = withDefault(cfg.ReadBufferSize, connReadBufferSize)
	switch {
	case cfg.MessageTimeout == 0 && side == ws.ServerSide:
		cfg.MessageTimeout = DefaultMessageTimeout
	case cfg.MessageTimeout < 0:
		cfg.MessageTimeout = 0
	}
	if cfg.PingInterval > 0 {
		cfg.PongTimeout = withDefault(cfg.PongTimeout, cfg.PingInterval)
	}
	return cfg
}

func withDefault[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Stats are a connection's counters. Bytes count everything on the wire,
// frame headers included (the seeds' bytesReceived).
type Stats struct {
	BytesIn, BytesOut       int64
	MessagesIn, MessagesOut int64
	// Dropped counts messages that were not delivered: refused by
	// OverflowDrop, left unsent when the connection ended, or received
	// after our close frame while Inbound was full.
	Dropped int64
}

// counters are the live counts behind Stats, of a Conn or a PollConn.
type counters struct {
	bytesIn, bytesOut        atomic.Int64
	msgsIn, msgsOut, dropped atomic.Int64
}

// stats reads the counters.
func (c *counters) stats() Stats {
	return Stats{
		BytesIn:     c.bytesIn.Load(),
		BytesOut:    c.bytesOut.Load(),
		MessagesIn:  c.msgsIn.Load(),
		MessagesOut: c.msgsOut.Load(),
		Dropped:     c.dropped.Load(),
	}
}

// phase is where a connection is in its closing handshake. Every
// transition happens under Conn.mu; State maps the phases onto the four
// public states.
type phase uint8

const (
	// phaseOpen: messages flow both ways.
	phaseOpen phase = iota
	// phaseOwed: reading ended on the peer's close frame or on its
	// protocol violation, and our close frame is owed once the
	// application's replies are queued (Conn.owed says what it carries).
	phaseOwed
	// phaseQueued: our close frame is queued behind the messages before
	// it; nothing more may be sent.
	phaseQueued
	// phaseSent: our close frame is on the wire. If the peer's has not
	// arrived yet, the reader waits for it within CloseTimeout.
	phaseSent
	// phaseDone: the socket is closed.
	phaseDone
)

// closeFrame is a close frame to send: its code (0 for no body) and
// reason.
type closeFrame struct {
	code   ws.StatusCode
	reason string
}

// Conn is a WebSocket connection: messages arrive on the Inbound channel
// (or through Receive, or Config.OnMessage) and leave through the Outbound
// channel or Send. Control frames, keepalive, the closing handshake and
// backpressure are handled for it. It works over any net.Conn whose
// opening handshake is done, on either side.
//
// A Conn spends goroutines and buffers only while data moves. One
// goroutine reads; it borrows a read buffer while bytes arrive and gives it
// back when the connection goes quiet. Writing happens on a goroutine
// started when something is queued, which exits once the queue is empty,
// so an idle Conn waits to write on nothing. Outbound, when used, adds one
// goroutine that hands what the application sends to the queue. Every
// buffer a Conn holds is bounded in bytes (see Config and Budget).
//
// Every write to the socket goes through the one writing goroutine, pongs
// and close frames included, so frames never interleave and any number of
// goroutines may send at once. Messages sent with Send leave in call
// order, messages sent on Outbound in channel order.
//
// Closing: Close(code, reason) or closing the Outbound channel starts the
// closing handshake after the messages already queued; Terminate drops
// the connection at once. Inbound is closed when the connection has ended;
// Err then tells why. Every goroutine a Conn starts has exited once Done
// is closed. All methods are safe for concurrent use.
type Conn struct {
	nc net.Conn
	// cfg, with defaults applied, is never modified: a Server's Conns
	// share theirs.
	cfg *Config
	// protocol and extensions are what the handshake negotiated.
	protocol   string
	extensions []httphead.Option
	sendExt    SendExtension

	// Owned by the reading goroutine.
	r        *Reader       // nil while idle (see reader)
	recv     RecvExtension // what r decodes with
	small    [smallRead]byte
	inq      inboundQueue
	msgStart time.Time // when the message being read began, once needed (see began)
	readDL   time.Time // the read deadline set on nc; guarded by mu
	closeDL  time.Time // when the wait for the peer's close ends; guarded by mu

	in      chan Message     // Inbound
	taken   chan struct{}    // poked by Receive after it takes a message
	out     chan Message     // Outbound, made on first use
	pumpCtl chan pumpRequest // Close and Receive to the Outbound goroutine
	outOnce sync.Once
	waiting atomic.Bool // the reader waits for the application or the Budget

	stop    chan struct{} // guarded by mu; closed when the socket is closed; made on demand (stopSignal)
	done    chan struct{} // guarded by mu; closed when the socket is closed and every goroutine has exited; made on demand (doneSignal)
	appDone chan struct{} // closed when the application has said it sent its last reply; nil with OnMessage
	sentCh  chan struct{} // closed when our close frame is on the wire; made on demand with OnMessage

	mu           sync.Mutex
	side         ws.Side
	graceDL      bool                      // guarded by mu; readDL is the end of an idle grace
	phase        phase                     // guarded by mu
	recvClose    bool                      // guarded by mu; the peer's close frame has arrived
	dropOnSent   bool                      // guarded by mu; close the socket as soon as our close frame is out
	closeCalled  bool                      // guarded by mu; Close or Drop was called
	appFinished  bool                      // guarded by mu; appDone is closed
	inClosed     bool                      // guarded by mu; Inbound is closed
	owed         closeFrame                // guarded by mu; what our close frame carries in phaseOwed
	doneClosed   bool                      // guarded by mu; done is closed
	closeHooked  bool                      // guarded by mu; OnClose was called, or is being
	closeWritten bool                      // guarded by mu; our close frame is on the wire
	pumping      bool                      // guarded by mu; the Outbound goroutine runs
	receiving    bool                      // guarded by mu; the application reads with Receive
	err          error                     // guarded by mu; why the connection ended
	running      int32                     // guarded by mu; goroutines not yet exited
	inCallback   atomic.Bool               // OnMessage is running
	q            sendQueue                 // guarded by mu
	pings        map[uint64]chan time.Time // guarded by mu; Ping waiters
	pingSeq      uint64                    // guarded by mu
	cb           callbackHold              // guarded by mu; the message OnMessage is handling

	rdmu sync.Mutex     // serialises Reader
	rd   *messageReader // guarded by rdmu; the message the last Reader returned

	keepalive *time.Timer
	ka        keepaliveState // guarded by mu

	epoch     time.Time    // the Conn's monotonic clock starts here
	lastRead  atomic.Int64 // when bytes last arrived, as a time.Duration since epoch
	readLimit atomic.Int64 // SetReadLimit; the reader reads it at each message

	counters
}

// NewConn takes over conn, whose opening handshake hs is complete, and
// starts reading it. side is the role of this end. Bytes in hs.Buffered
// are read before the socket, and hs.Response (a server's deferred 101
// response) is written before anything else, by NewConn itself, which
// returns once it is written (within WriteTimeout, when set). It fails only
// when cfg.Extension cannot honour what the handshake accepted; conn is
// then left open.
func NewConn(conn net.Conn, side ws.Side, hs ws.Handshake, cfg Config) (*Conn, error) {
	cfg = cfg.withDefaults(side)
	return newConn(conn, side, hs, &cfg, nil)
}

// newConn is NewConn with cfg's defaults applied, calling register with
// the Conn before it starts anything: before a byte of it, the 101
// response included, is written. The Conn keeps cfg, which must not
// change: Conns may share it.
func newConn(conn net.Conn, side ws.Side, hs ws.Handshake, cfg *Config, register func(*Conn)) (*Conn, error) {
	c := &Conn{
		nc:         conn,
		side:       side,
		cfg:        cfg,
		protocol:   hs.Protocol,
		extensions: hs.Extensions,
		epoch:      time.Now(),
		running:    1,
	}
	var recv RecvExtension
	if cfg.Extension != nil {
		var err error
		if recv, c.sendExt, err = cfg.Extension.Bind(side, hs.Extensions); err != nil {
			return nil, fmt.Errorf("wsutil: extension: %w", err)
		}
	}
	if c.cfg.OnMessage == nil {
		// The channel form: what the handler form does without, so that
		// an idle connection of that form costs less.
		c.in = make(chan Message, c.cfg.InboundSize)
		c.appDone = make(chan struct{})
		c.sentCh = make(chan struct{})
		c.taken = make(chan struct{}, 1)
		c.inq.sizes = make([]int64, c.cfg.InboundSize)
		c.cfg.Budget.register(c)
	}
	c.readLimit.Store(c.cfg.MaxMessageSize)
	c.initReader(recv, hs.Buffered)
	// The 101 response goes first in the queue, so that whatever register
	// sends (a welcome message, a broadcast) leaves after it.
	c.q.preamble = hs.Response
	if register != nil {
		register(c)
	}
	respond := false
	if len(hs.Response) > 0 {
		// The calling goroutine writes the 101 response, as the writing
		// goroutine (below): a goroutine started for a hundred bytes
		// would add one to every handshake, and the runtime keeps the
		// descriptor of every goroutine that ever ran at once. When
		// register sent something, the writer it started has it.
		c.mu.Lock()
		if respond = c.q.writer == writerNone && c.phase != phaseDone; respond {
			c.q.writer = writerGoroutine
			c.running++
		}
		c.mu.Unlock()
	}
	if c.cfg.PingInterval > 0 {
		c.mu.Lock() // the first tick must find the timer set
		c.keepalive = time.AfterFunc(c.cfg.PingInterval, c.keepaliveTick)
		c.mu.Unlock()
	}
	go c.readLoop(false)
	if respond {
		c.writeLoop()
	}
	return c, nil
}

// Inbound returns the channel of received messages. It is closed when no
// more messages will come: the peer closed, or the connection ended; Err
// then reports why.
//
// When the peer closes first, the Conn does not answer at once: replies to
// the last messages may still be on their way. It sends its close frame
// (echoing the peer's code and reason) after the messages queued by then,
// as soon as the application says it is done: it closes Outbound, calls
// Close, or receives the end of Inbound through Receive (with OnMessage,
// as soon as the last call has returned). An application that does none
// of these is taken to be done once it has taken every message from
// Inbound and queued nothing for 50 ms; at the latest the answer leaves
// after CloseTimeout. A protocol violation by the peer ends Inbound the
// same way, and the close frame that fails the connection (1002, 1007,
// 1009) follows the same rules.
func (c *Conn) Inbound() <-chan Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.in == nil { // OnMessage: a channel that only closes
		c.in = make(chan Message)
		if c.inClosed {
			close(c.in)
		}
	}
	return c.in
}

// Done returns a channel that is closed once the connection has ended and
// its goroutines have exited.
func (c *Conn) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.doneSignalLocked()
}

// doneSignalLocked returns done, making it when needed: most Conns of a
// server are never asked for it, and an idle connection is cheaper
// without.
func (c *Conn) doneSignalLocked() chan struct{} {
	return signal(&c.done, c.doneClosed)
}

// stopSignalLocked returns stop, making it when needed: only a goroutine
// that waits for something else as well needs it, and an idle connection
// waits for nothing.
func (c *Conn) stopSignalLocked() chan struct{} {
	return signal(&c.stop, c.phase == phaseDone)
}

// signal returns *ch, making it when it is nil: closed if what it signals
// has happened.
func signal(ch *chan struct{}, happened bool) chan struct{} {
	if *ch == nil {
		*ch = make(chan struct{})
		if happened {
			close(*ch)
		}
	}
	return *ch
}

// stopSignal is stopSignalLocked, taking the lock.
func (c *Conn) stopSignal() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopSignalLocked()
}

// doneSignal is doneSignalLocked, taking the lock.
func (c *Conn) doneSignal() chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.doneSignalLocked()
}

// Err returns why the connection ended, or nil while it is open:
//   - ws.CloseError with the peer's code and reason after a closing
//     handshake, whichever side began it;
//   - an error matching ErrAbnormalClosure (code 1006) when the connection
//     ended without a close frame (the seeds' connectionReset), joined with
//     the cause: an I/O error, ErrKeepaliveTimeout, ErrCloseTimeout or
//     net.ErrClosed after Terminate;
//   - the *ws.ProtocolError the peer caused, after we failed the
//     connection with its code (ErrMessageTimeout and ErrBudgetExhausted
//     among them);
//   - ErrQueueFull after an overflow policy closed it.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// setErrLocked records the first reason the connection ends.
func (c *Conn) setErrLocked(err error) {
	if c.err == nil {
		c.err = err
	}
}

// IsCleanClose reports whether err, what Err or Close returned, is the end
// of a clean closing handshake, whichever side began it: a close frame
// with 1000 (normal closure), 1001 (going away) or no code at all. Log the
// rest:
//
//	if err := c.Err(); !wsutil.IsCleanClose(err) {
//		log.Println("connection lost:", err)
//	}
func IsCleanClose(err error) bool {
	var ce ws.CloseError
	if !errors.As(err, &ce) {
		return false
	}
	switch ce.Code {
	case ws.StatusNormalClosure, ws.StatusGoingAway, ws.StatusNoStatusRcvd:
		return true
	}
	return false
}

// SetReadLimit sets the largest message the Conn accepts from the next
// message on (Config.MaxMessageSize; 0 means DefaultMaxMessageSize, a
// negative value no limit): a server may raise it once a client has
// authenticated. A larger message fails the connection with 1009.
func (c *Conn) SetReadLimit(n int64) { c.readLimit.Store(n) }

// State returns the connection's state.
func (c *Conn) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.phase {
	case phaseOpen:
		return StateOpen
	case phaseDone:
		if c.running == 0 {
			return StateClosed
		}
	}
	return StateClosing
}

// Protocol returns the negotiated subprotocol, or "".
func (c *Conn) Protocol() string { return c.protocol }

// Extensions returns the extensions the handshake accepted.
func (c *Conn) Extensions() []httphead.Option { return c.extensions }

// NetConn returns the underlying connection. Reading or writing it
// directly corrupts the WebSocket stream.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Buffered returns how many payload bytes wait in the send queue (the
// seeds' bufferedAmount).
func (c *Conn) Buffered() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.q.payload
}

// Stats returns the connection's counters.
func (c *Conn) Stats() Stats { return c.counters.stats() }

// Close runs the closing handshake: after the messages already queued it
// sends a close frame with code and reason (code 0 sends none), waits up to
// Config.CloseTimeout for the peer's close, then closes the socket. When
// the peer has closed first, Close sends the answer instead, echoing the
// peer's code and reason. It returns nil after a clean handshake and the
// reason otherwise (see Err). Called while OnMessage runs, it returns nil
// once the close frame is queued.
// The first call does the work; later calls, and a call after the
// connection already ended, return an error matching net.ErrClosed.
func (c *Conn) Close(code ws.StatusCode, reason string) error {
	if code != 0 && !code.ValidOnWire() {
		return fmt.Errorf("wsutil: close code %d may not be sent", code)
	}
	c.mu.Lock()
	if c.closeCalled || c.phase == phaseDone {
		c.mu.Unlock()
		return errClosed
	}
	c.closeCalled = true
	c.mu.Unlock()
	// Bound the wait: a writer stuck on a peer that does not read (on a
	// connection without deadlines) must not hold Close.
	t := time.NewTimer(2*c.cfg.CloseTimeout + time.Second)
	defer t.Stop()
	if !c.finishApp(closeFrame{code, reason}, true, nil, t.C) || c.inCallback.Load() {
		return nil
	}
	done := c.doneSignal()
	select {
	case <-done:
	case <-t.C:
		c.shutdown(errors.Join(ErrAbnormalClosure, ErrCloseTimeout))
		<-done
	}
	err := c.Err()
	var ce ws.CloseError
	if errors.As(err, &ce) && ce.Code != ws.StatusAbnormalClosure {
		return nil
	}
	return err
}

// queueCloseLocked queues our close frame behind the messages queued so
// far, when none is queued or sent yet: f, or the answer we owe.
func (c *Conn) queueCloseLocked(f closeFrame) {
	switch c.phase {
	case phaseOpen:
	case phaseOwed:
		f = c.owed
	default:
		return
	}
	c.phase = phaseQueued
	c.limitWritesLocked()
	c.enqueueLocked(closeMessage(f), false)
	c.wakeSendersLocked() // those waiting behind a streamed message learn
}

// Drop sends a close frame with code and reason ahead of anything queued,
// then closes the socket without waiting for the peer's answer
// (WebSocket-Node's drop(), for error conditions), and waits for the
// goroutines to exit (except while OnMessage runs). Queued messages are
// not sent. Err then matches ErrAbnormalClosure and net.ErrClosed. It
// returns an error matching net.ErrClosed when the connection is already
// closing or closed.
func (c *Conn) Drop(code ws.StatusCode, reason string) error {
	if code != 0 && !code.ValidOnWire() {
		return fmt.Errorf("wsutil: close code %d may not be sent", code)
	}
	c.mu.Lock()
	if c.closeCalled || c.phase >= phaseSent {
		c.mu.Unlock()
		return errClosed
	}
	c.closeCalled = true
	c.setErrLocked(errors.Join(ErrAbnormalClosure, net.ErrClosed))
	c.failLocked(closeFrame{code, reason}, true)
	c.mu.Unlock()
	if c.inCallback.Load() {
		return nil
	}
	// Bounded even on a connection without deadlines.
	t := time.NewTimer(c.cfg.CloseTimeout)
	defer t.Stop()
	done := c.doneSignal()
	select {
	case <-done:
	case <-t.C:
		c.shutdown(nil)
		<-done
	}
	return nil
}

// failLocked sends the close frame f ahead of every queued message, which
// will not be sent, and with drop closes the socket right after it.
func (c *Conn) failLocked(f closeFrame, drop bool) {
	if c.phase >= phaseSent {
		return
	}
	c.phase = phaseQueued
	c.dropOnSent = c.dropOnSent || drop
	c.limitWritesLocked()
	c.enqueueLocked(closeMessage(f), true)
	c.wakeSendersLocked()
}

// Terminate closes the socket at once, without a closing handshake (the
// seeds' terminate()/destroy()), and waits for the goroutines to exit
// (except while OnMessage runs). Err then matches ErrAbnormalClosure and
// net.ErrClosed. Later calls return an error matching net.ErrClosed.
func (c *Conn) Terminate() error {
	first := c.shutdown(errors.Join(ErrAbnormalClosure, net.ErrClosed))
	if !c.inCallback.Load() {
		<-c.doneSignal()
	}
	if !first {
		return errClosed
	}
	return nil
}

// shutdown records err, closes the socket and wakes every goroutine. It
// reports whether this call did it.
func (c *Conn) shutdown(err error) bool {
	c.mu.Lock()
	defer c.finished()
	defer c.mu.Unlock()
	c.setErrLocked(err)
	if c.phase == phaseDone {
		return false
	}
	c.phase = phaseDone
	_ = c.nc.Close()
	if c.stop != nil {
		close(c.stop)
	}
	if c.keepalive != nil {
		c.keepalive.Stop()
	}
	for seq, ch := range c.pings {
		close(ch)
		delete(c.pings, seq)
	}
	c.abandonLocked()
	c.wakeSendersLocked()
	c.finishLocked()
	return true
}

// abandonLocked settles what is still queued when the connection ends:
// every message learns it was not sent.
func (c *Conn) abandonLocked() {
	var bytes, payload, acct int64
	var items []Message
	if c.q.items != nil {
		items = c.q.items.m
	}
	for _, m := range items {
		if m.OpCode == ws.OpClose {
			continue
		}
		bytes += queuedSize(m)
		acct += m.acct
		payload += int64(len(m.Payload))
		if m.frame != frameMore {
			c.dropped.Add(1)
		}
		notify(m.Done, errClosed)
		if m.buf != nil {
			m.buf.Release()
		}
	}
	clear(items)
	if c.q.items != nil {
		c.q.items.m = items[:0]
	}
	c.q.prio = c.q.prio[:0]
	c.q.bytes -= bytes
	c.q.payload -= payload
	c.cfg.Budget.release(acct)
}

// exit marks one goroutine as finished.
func (c *Conn) exit() {
	c.mu.Lock()
	c.running--
	c.finishLocked()
	c.mu.Unlock()
	c.finished()
}

// finishLocked closes done once the socket is closed and every goroutine
// has exited.
func (c *Conn) finishLocked() {
	if c.phase == phaseDone && c.running == 0 && !c.doneClosed {
		c.doneClosed = true
		if c.done != nil {
			close(c.done)
		}
	}
}

// finished calls OnClose once done is closed, once, outside the lock.
func (c *Conn) finished() {
	if c.cfg.OnClose == nil {
		return
	}
	c.mu.Lock()
	call := c.doneClosed && !c.closeHooked
	if call {
		c.closeHooked = true
	}
	c.mu.Unlock()
	if call {
		c.cfg.OnClose(c)
	}
}

// finishApp records that the application has queued its last reply, so
// that an answer we owe the peer may leave, and with close queues our close
// frame f (or the answer we owe). When the application sends on Outbound,
// the Outbound goroutine does it, after the messages it took before: a
// message sent on Outbound, then Close, leaves before the close frame. It
// reports false when the connection ended, or cancel or timeout fired,
// first.
func (c *Conn) finishApp(f closeFrame, close bool, cancel <-chan struct{}, timeout <-chan time.Time) bool {
	c.mu.Lock()
	pumping := c.pumping
	if !pumping {
		c.finishAppLocked()
		if close {
			c.queueCloseLocked(f)
		}
		c.mu.Unlock()
		return true
	}
	stop := c.stopSignalLocked()
	c.mu.Unlock()
	select {
	case c.pumpCtl <- pumpRequest{close: close, f: f}:
		return true
	case <-stop:
	case <-cancel:
	case <-timeout:
	}
	return false
}

// finishAppLocked records that the application has queued its last
// reply, so that an answer we owe the peer may leave.
func (c *Conn) finishAppLocked() {
	if !c.appFinished {
		c.appFinished = true
		if c.appDone != nil {
			close(c.appDone)
		}
	}
}

// limitWritesLocked bounds every pending and future write by
// CloseTimeout once closing has begun, so that a peer that stopped reading
// cannot hold the closing handshake. It moves the deadline only once.
func (c *Conn) limitWritesLocked() {
	if c.q.closing {
		return
	}
	c.q.closing = true
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.cfg.CloseTimeout))
}

// sentSignalLocked returns a channel that is closed once our close frame
// is on the wire, making it when needed.
func (c *Conn) sentSignalLocked() <-chan struct{} {
	return signal(&c.sentCh, c.closeWritten)
}

// errClosed is returned by calls on a closed connection.
var errClosed = fmt.Errorf("wsutil: connection closed: %w", net.ErrClosed)
