package wsutil

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/sluice-ws/sluice/ws"
)

// OfflinePolicy is what a Client does with messages while it has no
// connection.
type OfflinePolicy uint8

// Offline policies.
const (
	// OfflineQueue keeps messages sent while disconnected, and those the
	// lost connection had not written, within ReconnectOptions.QueueBytes,
	// and sends them in order on the next connection, after OnConnect.
	OfflineQueue OfflinePolicy = iota
	// OfflineFail refuses messages while disconnected (ErrDisconnected),
	// and fails those the lost connection had not written: a message
	// goes out on the connection that was open when it was sent, or not
	// at all.
	OfflineFail
)

// ReconnectOptions configures Reconnect. The zero value reconnects for
// ever, waiting Backoff's zero value between attempts, and queues up to
// DefaultOutboundBytes of messages while disconnected.
type ReconnectOptions struct {
	// DialOptions configure each connection, as for Dial.
	DialOptions

	// Backoff is the wait before each attempt after a failure or a lost
	// connection.
	Backoff Backoff
	// MaxAttempts, when positive, is how many attempts in a row may fail
	// before the Client gives up.
	MaxAttempts int
	// MaxDowntime, when positive, is how long the Client may be without a
	// connection before it gives up.
	MaxDowntime time.Duration

	// Offline is what happens to messages while disconnected.
	Offline OfflinePolicy
	// QueueBytes bounds the payload bytes the Client holds that no
	// connection has written yet, queued or handed to the Conn (0 means
	// DefaultOutboundBytes). One message always fits in an empty queue.
	// Send waits for room.
	QueueBytes int64

	// OnConnect, if set, is called with each new connection, the first
	// included, before any queued message goes out on it: resend
	// subscriptions or log in here, with c.Send, which puts them ahead of
	// the queue. An error closes the connection and counts as a failed
	// attempt.
	OnConnect func(ctx context.Context, c *Conn, resp *DialResponse) error
	// OnDisconnect, if set, is called when a connection has ended (c.Err
	// tells why), before the Client tries again or gives up.
	OnDisconnect func(c *Conn)
}

// Client is a WebSocket client that reconnects: when its connection is
// lost it dials again, with Backoff between attempts, until it connects,
// gives up (MaxAttempts, MaxDowntime, or a refusal that cannot change:
// a 4xx status other than 408 and 429, a bad URL or request, a redirect
// refused), or is closed. It never reconnects after Close.
//
// Messages keep one order across connections. Send queues a message; it
// goes out on the current connection, or on the next one under
// OfflineQueue. A message the connection wrote to the socket is never
// sent again, so none is duplicated; one that a lost connection had not
// written goes out on the next. What was written but did not reach the
// server before the connection broke is lost with it: WebSocket has no
// acknowledgements, so a protocol that cannot lose a message acknowledges
// them itself, and OnConnect resumes from the last one acknowledged.
// Message.Done reports when a message was written, or why it never will
// be.
//
// Received messages of every connection arrive on one Inbound channel, in
// order (or through Config.OnMessage, called with each Conn). All methods
// are safe for concurrent use.
type Client struct {
	url  string
	opts ReconnectOptions
	in   chan Message
	stop chan struct{} // closed by Close: no more connections
	done chan struct{} // closed when the Client has ended

	mu       sync.Mutex
	conn     *Conn         // guarded by mu; the open connection, or nil
	queue    []Message     // guarded by mu; accepted, not yet handed to a Conn
	inflight []inflight    // guarded by mu; handed to conn, outcome not yet known
	bytes    int64         // guarded by mu; payload bytes of queue and inflight
	room     chan struct{} // guarded by mu; closed when bytes drop
	wake     chan struct{} // poked when the queue grows or closing begins
	closing  bool          // guarded by mu; Close was called
	close    closeFrame    // guarded by mu; what Close asked for
	err      error         // guarded by mu; why the Client ended
	closeErr error         // guarded by mu; what the last Conn's Close returned
}

// inflight is a message handed to a Conn: done receives its outcome.
type inflight struct {
	m    Message
	done chan error
}

// Reconnect connects to rawURL as Dial does and returns a Client that
// keeps a connection to it open. It returns once the first connection is
// open (OnConnect has run), retrying under the same rules as later
// reconnections, or with the error that ended the attempts; ctx bounds
// only this first connection. nil opts is the zero value.
func Reconnect(ctx context.Context, rawURL string, opts *ReconnectOptions) (*Client, error) {
	if opts == nil {
		opts = &ReconnectOptions{}
	}
	cl := &Client{
		url:  rawURL,
		opts: *opts,
		in:   make(chan Message),
		stop: make(chan struct{}),
		done: make(chan struct{}),
		wake: make(chan struct{}, 1),
	}
	cl.opts.QueueBytes = withDefault(cl.opts.QueueBytes, DefaultOutboundBytes)
	c, err := cl.connect(ctx, 0)
	if err != nil {
		return nil, err
	}
	cl.conn = c // before Reconnect returns: Send sees it connected
	go cl.run(c)
	return cl, nil
}

// connect dials until a connection is open and OnConnect has accepted it,
// waiting Backoff before each attempt but the first; with lost (1: the
// last connection was lost) before the first too. It gives up on a
// permanent error, the bounds, ctx or Close.
func (cl *Client) connect(ctx context.Context, lost int) (*Conn, error) {
	start := time.Now()
	var last error
	for attempt := 1; ; attempt++ {
		if n := attempt - 1 + lost; n > 0 {
			wait := cl.opts.Backoff.Delay(n)
			if cl.opts.MaxDowntime > 0 && time.Since(start)+wait > cl.opts.MaxDowntime {
				return nil, fmt.Errorf("%w: down for %v: %w", ErrGaveUp, cl.opts.MaxDowntime, last)
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, errors.Join(ctx.Err(), last)
			case <-cl.stop:
				t.Stop()
				return nil, errClosed
			}
		}
		c, err := cl.attempt(ctx)
		if err == nil {
			return c, nil
		}
		last = err
		switch {
		case permanent(err):
			return nil, fmt.Errorf("%w: %w", ErrGaveUp, err)
		case cl.opts.MaxAttempts > 0 && attempt >= cl.opts.MaxAttempts:
			return nil, fmt.Errorf("%w: %d attempts: %w", ErrGaveUp, attempt, err)
		case ctx.Err() != nil:
			return nil, err
		}
		select {
		case <-cl.stop:
			return nil, errClosed
		default:
		}
	}
}

// attempt dials once and runs OnConnect; ctx is cancelled by Close too.
func (cl *Client) attempt(ctx context.Context) (*Conn, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-cl.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	c, resp, err := Dial(ctx, cl.url, &cl.opts.DialOptions)
	if err != nil {
		return nil, err
	}
	if cl.opts.OnConnect != nil {
		if err := cl.opts.OnConnect(ctx, c, resp); err != nil {
			_ = c.Terminate()
			return nil, fmt.Errorf("wsutil: OnConnect: %w", err)
		}
	}
	return c, nil
}

// permanent reports whether a failed attempt cannot succeed by trying
// again: the server refused with a 4xx status other than 408 (request
// timeout) and 429 (too many requests), the URL or request is malformed,
// or a redirect was refused.
func permanent(err error) bool {
	var he *ws.HandshakeError
	if errors.As(err, &he) && !errors.Is(err, ws.ErrProxyRefused) {
		s := he.StatusCode
		return s >= 400 && s < 500 && s != http.StatusRequestTimeout && s != http.StatusTooManyRequests
	}
	for _, e := range []error{ws.ErrBadURL, ws.ErrBadScheme, ws.ErrBadHeader, ws.ErrProxyScheme,
		ErrTooManyRedirects, ErrRedirectInsecure} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// run serves connections until the Client ends: it relays what each
// receives, feeds it the queue, and reconnects when it is lost.
func (cl *Client) run(c *Conn) {
	var relayed chan struct{} // closed when the last relay has finished
	var err error
	for c != nil {
		prev := relayed
		relayed = make(chan struct{})
		go cl.relay(c, prev, relayed)
		cl.serve(c)
		if cl.opts.OnDisconnect != nil {
			cl.opts.OnDisconnect(c)
		}
		c, err = cl.connect(context.Background(), 1)
	}
	if errors.Is(err, errClosed) {
		err = nil
	}
	cl.finish(err, relayed)
}

// serve runs c until it ends or Close asks to close it, then settles what
// it was handed.
func (cl *Client) serve(c *Conn) {
	cl.mu.Lock()
	cl.conn = c
	cl.mu.Unlock()
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		cl.feed(c)
	}()
	select {
	case <-c.Done():
	case <-cl.stop:
		<-fed // the queue is in c
		cl.mu.Lock()
		f := cl.close
		cl.mu.Unlock()
		err := c.Close(f.code, f.reason)
		cl.mu.Lock()
		cl.closeErr = err
		cl.mu.Unlock()
	}
	<-c.Done()
	<-fed
	cl.mu.Lock()
	cl.conn = nil
	cl.settleLocked(true)
	cl.mu.Unlock()
}

// relay delivers what c receives on the Client's Inbound, after the
// relay of the connection before (prev) has finished; it drops what is
// left once the Client has ended.
func (cl *Client) relay(c *Conn, prev <-chan struct{}, finished chan<- struct{}) {
	defer close(finished)
	if prev != nil {
		<-prev
	}
	for m := range c.Inbound() {
		select {
		case cl.in <- m:
		case <-cl.done:
		}
	}
}

// finish ends the Client: what is queued learns it will not be sent,
// Inbound closes once the relays are done, and Done closes.
func (cl *Client) finish(err error, relayed <-chan struct{}) {
	cl.mu.Lock()
	if err != nil {
		cl.err = err
	} else {
		cl.err = cl.closeErr
		if cl.err == nil {
			cl.err = ws.CloseError{Code: cl.close.code, Reason: cl.close.reason}
		}
	}
	for _, m := range cl.queue {
		notify(m.Done, errClosed)
	}
	cl.queue, cl.bytes = nil, 0
	cl.wakeLocked()
	cl.mu.Unlock()
	close(cl.done)
	if relayed != nil {
		<-relayed
	}
	close(cl.in)
}

// Inbound returns the channel of messages received on every connection,
// in order. It is closed when the Client has ended. Keep reading it:
// a Client whose Inbound is not read stops reading its connection, and
// does not notice that it was lost.
func (cl *Client) Inbound() <-chan Message { return cl.in }

// Receive returns the next message from Inbound, waiting until one
// arrives or ctx is done. Once the Client has ended it returns Err.
func (cl *Client) Receive(ctx context.Context) (Message, error) {
	select {
	case m, ok := <-cl.in:
		if !ok {
			return Message{}, cl.Err()
		}
		return m, nil
	case <-ctx.Done():
		return Message{}, ctx.Err()
	}
}

// Conn returns the open connection, or nil while there is none.
func (cl *Client) Conn() *Conn {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.conn
}

// Done returns a channel that is closed once the Client has ended: after
// Close, or when it gave up.
func (cl *Client) Done() <-chan struct{} { return cl.done }

// Err returns why the Client ended, nil while it runs: a ws.CloseError
// after Close, or an error matching ErrGaveUp that wraps the last
// attempt's error.
func (cl *Client) Err() error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.err
}

// Close stops reconnecting and closes the Client: when connected, the
// messages queued go out, then the closing handshake with code and reason
// runs (see Conn.Close); when disconnected, the queue is dropped (each
// message's Done gets an error matching net.ErrClosed). It returns
// Conn.Close's result, or nil when there was no connection. Later calls
// return an error matching net.ErrClosed.
func (cl *Client) Close(code ws.StatusCode, reason string) error {
	if code != 0 && !code.ValidOnWire() {
		return fmt.Errorf("wsutil: close code %d may not be sent", code)
	}
	cl.mu.Lock()
	if cl.closing || cl.err != nil {
		cl.mu.Unlock()
		return errClosed
	}
	cl.closing = true
	cl.close = closeFrame{code, reason}
	cl.wakeLocked()
	cl.mu.Unlock()
	close(cl.stop)
	<-cl.done
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.closeErr
}
