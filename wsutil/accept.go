package wsutil

import (
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gobwas/httphead"
	"github.com/sluice-ws/sluice/ws"
)

// Server defaults that AcceptOptions fills in where Config leaves a
// feature off, and the memory budget Conns share when they bring none.
const (
	DefaultPingInterval  = 30 * time.Second
	DefaultWriteTimeout  = 30 * time.Second
	DefaultServerBudget  = 256 << 20
	defaultAcceptTimeout = ws.DefaultHandshakeTimeout
)

// defaultBudget is the Budget of every Conn that Accept, AcceptConn and
// Server make without one of their own.
var defaultBudget = NewBudget(DefaultServerBudget, BudgetWait)

// negotiator is what an Extension in Config.Extension offers the server
// side of the handshake: wsflate.Extension is one. Accept negotiates with
// it, so that compression is configured in one place.
type negotiator = interface {
	Negotiate(offer httphead.Option) (accept httphead.Option, ok bool)
}

// AcceptOptions configures Accept and AcceptConn: the opening handshake
// and the Conn it returns. The zero value is ready for a server on the
// open internet: browsers from the same host only, no subprotocol,
// keepalive and write timeouts on, and every limit of the Conn at its
// default, in a memory budget shared with every other Conn that brings
// none (DefaultServerBudget).
type AcceptOptions struct {
	// Config configures the Conn. On top of NewConn's defaults, Accept
	// turns on what a server needs: PingInterval DefaultPingInterval and
	// WriteTimeout DefaultWriteTimeout when zero (negative turns them
	// off), and a Budget of DefaultServerBudget shared with every Conn
	// made without one. Config.Extension also drives the negotiation:
	// with Extension: &wsflate.Extension{...} the handshake accepts what
	// the Conn can do, and nothing else is needed.
	Config Config

	// Protocols lists the subprotocols the server speaks, in its order of
	// preference: the first the client offered is chosen (RFC 6455
	// §4.2.2). Ignored when SelectProtocol is set.
	Protocols []string
	// SelectProtocol, when set, chooses the subprotocol from those the
	// client offered, in its order: "" accepts none, and an error refuses
	// the handshake (Node wsd's handleProtocols); a *ws.RejectError says
	// with what status, any other error is answered with 400.
	SelectProtocol func(offered []string) (string, error)

	// CheckOrigin is called with the Origin field and the Host of a
	// request that has an Origin field (browsers send one; RFC 6455
	// §10.2). nil means ws.SameOrigin: pages from the same host only. Use
	// ws.AllowOrigins for a list.
	CheckOrigin func(origin, host []byte) error
	// InsecureAnyOrigin admits pages of every site, whatever CheckOrigin
	// says: any web page a user visits can then connect with the user's
	// cookies (cross-site WebSocket hijacking). Only for endpoints that
	// rely on no cookie or other ambient credential, such as a public echo.
	InsecureAnyOrigin bool

	// Header holds fields added to the 101 response (Node wsd's headers
	// event; Accept also sends those already set on its
	// http.ResponseWriter).
	Header http.Header

	// HandshakeTimeout bounds the opening handshake on a raw connection
	// (AcceptConn): reading the request and writing the response. 0
	// means ws.DefaultHandshakeTimeout. Accept leaves reading the request
	// to net/http (http.Server.ReadHeaderTimeout).
	HandshakeTimeout time.Duration
}

// config returns the Conn's configuration with the server defaults.
func (o *AcceptOptions) config() Config {
	cfg := o.Config
	switch {
	case cfg.PingInterval == 0:
		cfg.PingInterval = DefaultPingInterval
	case cfg.PingInterval < 0:
		cfg.PingInterval = 0
	}
	switch {
	case cfg.WriteTimeout == 0:
		cfg.WriteTimeout = DefaultWriteTimeout
	case cfg.WriteTimeout < 0:
		cfg.WriteTimeout = 0
	}
	if cfg.Budget == nil {
		cfg.Budget = defaultBudget
	}
	return cfg
}

// checkOrigin returns the handshake's origin check.
func (o *AcceptOptions) checkOrigin() func(origin, host []byte) error {
	if o.InsecureAnyOrigin {
		return ws.AnyOrigin
	}
	return o.CheckOrigin
}

// negotiate returns the handshake's extension hook: the Extension's own,
// when it negotiates.
func (o *AcceptOptions) negotiate() func(httphead.Option) (httphead.Option, bool) {
	if n, ok := o.Config.Extension.(negotiator); ok {
		return n.Negotiate
	}
	return nil
}

// Accept upgrades the request to a WebSocket connection and returns it,
// running: the opening handshake, with its checks (origin, version,
// subprotocol, extensions), then the Conn with the server defaults of
// AcceptOptions (nil opts is the zero value). The 101 response goes out as
// the Conn's first bytes.
//
// On error nothing is left open: a request that is not a valid handshake,
// or that a check refuses, is answered through w (status, an
// X-WebSocket-Reject-Reason field and the reason as body) and Accept
// returns the *ws.RejectError; a failure after the hijack closes the
// connection.
//
// Return from the HTTP handler as soon as you have started what serves the
// Conn (a goroutine that ranges over Inbound, or nothing with
// Config.OnMessage): net/http keeps its per-request buffers alive for as
// long as the handler runs.
func Accept(w http.ResponseWriter, r *http.Request, opts *AcceptOptions) (*Conn, error) {
	if opts == nil {
		opts = &AcceptOptions{}
	}
	nc, hs, err := opts.upgradeHTTP(w, r)
	if err != nil {
		return nil, err
	}
	return opts.start(nc, hs)
}

// upgradeHTTP runs the handshake of Accept and hijacks the connection,
// leaving the 101 response to the Conn.
func (o *AcceptOptions) upgradeHTTP(w http.ResponseWriter, r *http.Request) (net.Conn, ws.Handshake, error) {
	u := ws.HTTPUpgrader{
		Protocols:     o.Protocols,
		Extension:     o.negotiate(),
		CheckOrigin:   o.checkOrigin(),
		DeferResponse: true,
	}
	if o.SelectProtocol != nil {
		chosen, err := o.SelectProtocol(offeredProtocols(r.Header["Sec-Websocket-Protocol"]))
		if err != nil {
			ws.RejectHTTP(w, r, err)
			return nil, ws.Handshake{}, err
		}
		u.Protocols = nil
		u.Protocol = func(p string) bool { return p == chosen }
	}
	for k, vs := range o.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	return u.Upgrade(w, r)
}

// start makes the Conn of a completed handshake, closing nc on failure.
func (o *AcceptOptions) start(nc net.Conn, hs ws.Handshake) (*Conn, error) {
	c, err := NewConn(nc, ws.ServerSide, hs, o.config())
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// AcceptConn runs the server side of the opening handshake on nc, a raw
// connection that no HTTP server has read from, and returns the Conn, as
// Accept does. On error nc is closed, after the rejection was written to
// it when the request was refused.
func AcceptConn(nc net.Conn, opts *AcceptOptions) (*Conn, error) {
	if opts == nil {
		opts = &AcceptOptions{}
	}
	hs, err := opts.upgradeRaw(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return opts.start(nc, hs)
}

// upgradeRaw runs the handshake of AcceptConn, leaving the 101 response
// to the Conn.
func (o *AcceptOptions) upgradeRaw(nc net.Conn) (ws.Handshake, error) {
	u := ws.Upgrader{
		Timeout:       o.HandshakeTimeout,
		Protocols:     o.Protocols,
		Extension:     o.negotiate(),
		CheckOrigin:   o.checkOrigin(),
		DeferResponse: true,
	}
	if o.SelectProtocol == nil {
		u.OnBeforeUpgrade = func() (http.Header, error) { return o.Header, nil }
		return u.Upgrade(nc)
	}
	// The fields come before the negotiation: gather the offers, choose
	// at the first, and refuse in the last hook.
	var offered []string
	var chosen string
	var chosenErr error
	asked := false
	ask := func() {
		if !asked {
			asked = true
			chosen, chosenErr = o.SelectProtocol(offered)
		}
	}
	u.OnHeader = func(key, value []byte) error {
		if strings.EqualFold(string(key), "Sec-WebSocket-Protocol") {
			offered = append(offered, offeredProtocols([]string{string(value)})...)
		}
		return nil
	}
	u.Protocols = nil
	u.Protocol = func(p []byte) bool {
		ask()
		return chosenErr == nil && string(p) == chosen
	}
	u.OnBeforeUpgrade = func() (http.Header, error) {
		ask()
		return o.Header, chosenErr
	}
	return u.Upgrade(nc)
}

// offeredProtocols splits Sec-WebSocket-Protocol field values into the
// subprotocols they offer.
func offeredProtocols(values []string) []string {
	var offered []string
	for _, v := range values {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				offered = append(offered, p)
			}
		}
	}
	return offered
}
