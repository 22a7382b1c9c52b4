package wsnats

import (
	"fmt"
	"net"

	"github.com/nats-io/nats.go"
)

var (
	// ErrBufferFull reports a message published while NATS was
	// unreachable and the reconnect buffer (Config.ReconnectBuffer) was
	// full: the message reaches no other node. It is the NATS client's
	// own error value.
	ErrBufferFull = nats.ErrReconnectBufExceeded
	// ErrClosed reports a call after Close; it matches net.ErrClosed.
	ErrClosed = fmt.Errorf("wsnats: backend closed: %w", net.ErrClosed)
)
