package wsutil

import (
	"errors"
	"fmt"
	"net"

	"github.com/sluice-ws/sluice/ws"
)

// Errors of package wsutil. The protocol violations are *ws.ProtocolError
// values carrying the close code to answer with; they are preallocated, so
// returning one from a per-frame path costs nothing.
var (
	// ErrInvalidUTF8 reports a text message that is not valid UTF-8
	// (RFC 6455 §8.1). It is returned at the first byte that rules the
	// message out, not at the end of the message.
	ErrInvalidUTF8 = &ws.ProtocolError{Code: ws.StatusInvalidFramePayloadData, Reason: "invalid UTF-8 in text message"}
	// ErrMessageTooBig reports a message over the reader's size limit.
	ErrMessageTooBig = &ws.ProtocolError{Code: ws.StatusMessageTooBig, Reason: "message too big"}
	// ErrUnexpectedContinuation reports a continuation frame with no
	// fragmented message in progress (RFC 6455 §5.4).
	ErrUnexpectedContinuation = &ws.ProtocolError{Code: ws.StatusProtocolError, Reason: "continuation frame without a message in progress"}
	// ErrUnexpectedDataFrame reports a text or binary frame that starts a
	// new message while a fragmented one is unfinished (RFC 6455 §5.4).
	ErrUnexpectedDataFrame = &ws.ProtocolError{Code: ws.StatusProtocolError, Reason: "new data frame inside a fragmented message"}

	// ErrTrailingData reports an encoded message whose decoder finished
	// before the message's payload did.
	ErrTrailingData = &ws.ProtocolError{Code: ws.StatusInvalidFramePayloadData, Reason: "encoded message has trailing data"}

	// ErrMessageTimeout reports a message that did not arrive whole
	// within Config.MessageTimeout of its first frame: the Conn fails the
	// connection with 1008 (policy violation).
	ErrMessageTimeout = &ws.ProtocolError{Code: ws.StatusPolicyViolation, Reason: "message not completed in time"}
	// ErrBudgetExhausted reports a message that the Budget had no room
	// for, under BudgetRefuse, or under BudgetWait when waiting could not
	// end (every byte held by connections that wait for more): the Conn
	// fails the connection with 1013 (try again later).
	ErrBudgetExhausted = &ws.ProtocolError{Code: ws.StatusTryAgainLater, Reason: "server out of memory budget"}

	// ErrNoMessage reports a Read with no message or frame started: call
	// NextMessage or NextFrame first.
	ErrNoMessage = errors.New("wsutil: no message in progress")
	// ErrAbnormalClosure reports a connection that ended without a close
	// frame (code 1006, the seeds' connectionReset). Conn.Err joins it
	// with the cause.
	ErrAbnormalClosure = ws.CloseError{Code: ws.StatusAbnormalClosure, Reason: "connection closed without a close frame"}
	// ErrKeepaliveTimeout reports a peer that answered no keepalive ping.
	ErrKeepaliveTimeout = errors.New("wsutil: keepalive timeout: no pong")
	// ErrCloseTimeout reports a peer that did not answer our close frame
	// within the close timeout.
	ErrCloseTimeout = errors.New("wsutil: close timeout: no close frame from the peer")
	// ErrQueueFull reports a send queue that overflowed under
	// OverflowClose or OverflowTryAgain; the connection is closed.
	ErrQueueFull = errors.New("wsutil: send queue full")
	// ErrDropped reports a message dropped under OverflowDrop.
	ErrDropped = errors.New("wsutil: send queue full: message dropped")
	// ErrMessageAborted reports a connection failed because a message
	// streamed with Conn.Writer could not be finished (its context ended,
	// or a Write failed) after a frame of it was queued: RFC 6455 has no
	// way to abandon a message, so the Conn closes with 1011.
	ErrMessageAborted = errors.New("wsutil: streamed message aborted")

	// ErrOpCode reports an opcode that the call cannot send: a data
	// message must be text or binary, a control payload at most 125
	// bytes.
	ErrOpCode = errors.New("wsutil: opcode or payload not allowed here")

	// ErrPollUnsupported reports PollServer.Serve on a system without
	// epoll: the event-loop mode needs Linux.
	ErrPollUnsupported = errors.New("wsutil: the event-loop mode (PollServer) needs Linux")

	// ErrTooManyRedirects reports a Dial that met more redirects than
	// DialOptions.MaxRedirects; it is joined with the last redirect's
	// *ws.HandshakeError.
	ErrTooManyRedirects = errors.New("wsutil: dial: too many redirects")
	// ErrRedirectInsecure reports a redirect from wss to ws, which Dial
	// never follows: it would send in clear what was meant for TLS.
	ErrRedirectInsecure = errors.New("wsutil: dial: redirect from wss to ws refused")

	// ErrGaveUp reports a Client that stopped trying to connect: its
	// bounds were reached, or the server refused in a way that trying
	// again cannot change. It wraps the last attempt's error.
	ErrGaveUp = errors.New("wsutil: reconnect: gave up")
	// ErrDisconnected reports a message that a Client under OfflineFail
	// refused, or could not send, for want of a connection.
	ErrDisconnected = errors.New("wsutil: reconnect: not connected")

	// errWriterClosed is returned by the writer of Conn.Writer after Close.
	errWriterClosed = fmt.Errorf("wsutil: message writer closed: %w", net.ErrClosed)
	// errReaderDone is returned by a MessageReader once Conn.Reader has
	// moved on to the next message.
	errReaderDone = errors.New("wsutil: message reader superseded by the next Reader")

	// The ways a wait for Budget bytes ends without them.
	errBudgetTooBig   = errors.New("wsutil: more than the whole budget")
	errBudgetStopped  = errors.New("wsutil: connection ended while waiting for the budget")
	errBudgetCanceled = errors.New("wsutil: canceled while waiting for the budget")
	errBudgetTimeout  = errors.New("wsutil: timed out waiting for the budget")
	errBudgetDeadlock = errors.New("wsutil: refused by the budget: every byte is held by waiters")
)
