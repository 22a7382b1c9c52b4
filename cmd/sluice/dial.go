package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/sluice-ws/sluice/wsproxy"
	"github.com/sluice-ws/sluice/wsutil"
)

// dialConfig is what the flags of dial set.
type dialConfig struct {
	url        string
	headers    headerList
	origin     string
	protocols  stringList
	insecure   bool
	timeout    time.Duration
	maxMessage byteSize
	compress   bool
}

const (
	defaultDialTimeout = 10 * time.Second
	// maxLine bounds a line read from stdin, that is one sent message.
	maxLine = 16 << 20
	// hexPreview is how many bytes of a binary message dial prints.
	hexPreview = 32
	// maxCloseReason is what fits in a close frame after the code
	// (RFC 6455 §5.5: 125 bytes of control payload).
	maxCloseReason = 123
)

const dialHelp = `Connect to a WebSocket server and talk to it: every line read from stdin is
sent as a text message, every message received is printed on stdout (text as
it is, binary as "<binary N bytes: hex…>"). Status lines (connected, the
extension negotiated, pings, the close) go to stderr, so stdout holds only
what the server sent.

Commands on stdin:
  /ping                   send a ping and print the round-trip time
  /close [code] [reason]  close with code (default 1000) and reason, then exit
  /quit                   close with 1000 and exit (as does end of input)
  /help                   list the commands
  //text                  send "/text" (a line that starts with /)

dial exits with status 0 when the connection closes cleanly: after a closing
handshake that it began, or that the server began with 1000 (normal closure)
or no code. Any other end (another close code, a dropped connection) gives
status 1. URL is ws://, wss://, http:// or https://; without a scheme, ws://
is assumed.`

// parseDialFlags parses the command line of dial.
func parseDialFlags(args []string, stderr io.Writer) (dialConfig, error) {
	var cfg dialConfig
	fs := newFlagSet("dial", "[flags] URL", dialHelp, stderr)
	fs.Var(&cfg.headers, "H", "add the header `'Name: value'` to the request (repeatable)")
	fs.StringVar(&cfg.origin, "origin", "", "send this `origin` in the Origin header, as a browser page would")
	fs.Var(&cfg.protocols, "subprotocol", "offer this `subprotocol` (repeatable, in order of preference)")
	fs.BoolVar(&cfg.insecure, "insecure", false, "do not verify the server's TLS certificate (wss)")
	fs.DurationVar(&cfg.timeout, "timeout", defaultDialTimeout, "bound on connecting and the handshake, and on each /ping; 0 means none")
	cfg.maxMessage = wsutil.DefaultMaxMessageSize
	fs.Var(&cfg.maxMessage, "max-message", "largest message `size` accepted from the server")
	fs.BoolVar(&cfg.compress, "compress", false, "offer permessage-deflate (RFC 7692) and compress when the server accepts")
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	switch {
	case fs.NArg() != 1:
		return cfg, usageError(fs, "dial takes exactly one URL")
	case cfg.timeout < 0:
		return cfg, usageError(fs, "-timeout must not be negative")
	case cfg.maxMessage <= 0:
		return cfg, usageError(fs, "-max-message must be positive")
	}
	cfg.url = fs.Arg(0)
	if !strings.Contains(cfg.url, "://") {
		cfg.url = "ws://" + cfg.url
	}
	return cfg, nil
}

// runDial is the dial subcommand.
func runDial(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := parseDialFlags(args, stderr)
	if err != nil {
		return err
	}
	opts := &wsutil.DialOptions{
		Header:           cfg.headers.h,
		Origin:           cfg.origin,
		Protocols:        cfg.protocols,
		HandshakeTimeout: cfg.timeout,
		ProxyTunnel:      wsproxy.SOCKS5, // HTTPS_PROXY=socks5://… works too
		Config:           wsutil.Config{MaxMessageSize: int64(cfg.maxMessage)},
	}
	if cfg.timeout == 0 {
		opts.HandshakeTimeout = -1 // none
	}
	if cfg.insecure {
		opts.TLSConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for with -insecure
	}
	if cfg.compress {
		// Offer client_max_window_bits without a value: the server may
		// bound our window to whatever suits its memory, and we keep to
		// any bound (RFC 7692 §7.1.2.2). The server's own window and
		// context takeover are its choice.
		opts.Config.Extension = &wsflate.Extension{ClientMaxWindowBits: wsflate.WindowBitsNoValue}
	}
	shown := redactURL(cfg.url)
	c, hs, err := wsutil.Dial(ctx, cfg.url, opts)
	if err != nil {
		return fmt.Errorf("dial %s: %w", shown, err)
	}
	if hs.Protocol != "" {
		fmt.Fprintf(stderr, "connected to %s (subprotocol %q)\n", shown, hs.Protocol)
	} else {
		fmt.Fprintf(stderr, "connected to %s\n", shown)
	}
	switch {
	case len(hs.Extensions) > 0:
		fmt.Fprintf(stderr, "extension: %s\n", formatExtensions(hs.Extensions))
	case cfg.compress:
		fmt.Fprintln(stderr, "extension: none (the server declined permessage-deflate)")
	}
	s := &session{c: c, stdout: stdout, stderr: stderr, pingTimeout: cfg.timeout}
	return s.run(ctx, stdin)
}

// redactURL returns raw for display, with any password hidden.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Redacted()
}

// session is one interactive dial connection. Its fields below the first
// three are owned by run's loop.
type session struct {
	c              *wsutil.Conn
	stdout, stderr io.Writer
	pingTimeout    time.Duration

	ctx   context.Context // cancelled when run returns
	wg    sync.WaitGroup  // the goroutines run waits for
	done  chan struct{}   // closed when run's loop has ended
	pings chan pingResult // results of /ping
}

// line is one line of stdin, or the error that ended reading it.
type line struct {
	text string
	err  error
}

// pingResult is the outcome of a /ping.
type pingResult struct {
	rtt time.Duration
	err error
}

// run drives the session until the connection ends and reports how it
// ended. One loop owns the terminal: it prints what arrives, takes lines
// from stdin and never blocks on the network, so that a server that echoes
// faster than we read cannot deadlock us against our own send queue.
func (s *session) run(ctx context.Context, stdin io.Reader) error {
	defer s.wg.Wait() // runs last: cancel and done release the goroutines
	var cancel context.CancelFunc
	s.ctx, cancel = context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	s.done = make(chan struct{})
	defer close(s.done)
	s.pings = make(chan pingResult)

	lines := make(chan line)
	// Not waited for: a Read on stdin cannot be interrupted. It exits at
	// the next line or end of input, or with the process.
	go readLines(stdin, lines, s.done)

	var (
		in       = s.c.Inbound()
		input    = lines // nil while a message waits to be queued, or once closing
		pending  wsutil.Message
		outbound chan<- wsutil.Message // non-nil while pending waits
		closed   = make(chan error, 1)
		closing  bool
		ctxDone  = ctx.Done()
	)
	startClose := func(code ws.StatusCode, reason string) {
		closing, input, outbound = true, nil, nil
		s.wg.Go(func() { closed <- s.c.Close(code, reason) })
	}

	for {
		select {
		case m, ok := <-in:
			if !ok {
				var closeErr error
				if closing {
					closeErr = <-closed
				}
				return s.report(closing && closeErr == nil)
			}
			s.print(m)

		case outbound <- pending:
			outbound, pending = nil, wsutil.Message{}
			input = lines

		case l, ok := <-input:
			switch {
			case !ok:
				startClose(ws.StatusNormalClosure, "") // end of input
			case l.err != nil:
				fmt.Fprintf(s.stderr, "stdin: %v\n", l.err)
				startClose(ws.StatusNormalClosure, "")
			case strings.HasPrefix(l.text, "/") && !strings.HasPrefix(l.text, "//"):
				if code, reason, quit := s.command(l.text); quit {
					startClose(code, reason)
				}
			case !utf8.ValidString(l.text):
				fmt.Fprintln(s.stderr, "not sent: the line is not valid UTF-8, which a text message must be")
			default:
				text := strings.TrimPrefix(l.text, "/") // "//x" sends "/x"
				pending = wsutil.Message{OpCode: ws.OpText, Payload: []byte(text)}
				outbound, input = s.c.Outbound(), nil
			}

		case r := <-s.pings:
			if r.err != nil {
				fmt.Fprintf(s.stderr, "ping: %v\n", r.err)
			} else {
				fmt.Fprintf(s.stderr, "ping: rtt=%v\n", r.rtt)
			}

		case <-ctxDone:
			// Interrupted: leave the way a browser leaving a page does.
			ctxDone = nil
			if !closing {
				startClose(ws.StatusGoingAway, "")
			}
		}
	}
}

// command runs a /command typed on stdin. It reports quit when the
// session should close with code and reason.
func (s *session) command(text string) (code ws.StatusCode, reason string, quit bool) {
	name, args, _ := strings.Cut(text, " ")
	switch name {
	case "/ping":
		// Ping waits for the pong, which the reading goroutine delivers:
		// wait elsewhere so that the loop keeps draining Inbound.
		s.wg.Go(s.ping)
	case "/close":
		code, reason, err := parseClose(args)
		if err != nil {
			fmt.Fprintf(s.stderr, "/close: %v\n", err)
			return 0, "", false
		}
		return code, reason, true
	case "/quit":
		return ws.StatusNormalClosure, "", true
	case "/help":
		fmt.Fprintln(s.stderr, "commands: /ping, /close [code] [reason], /quit, /help; //text sends /text")
	default:
		fmt.Fprintf(s.stderr, "unknown command %s (type /help; start a line with // to send it as text)\n", name)
	}
	return 0, "", false
}

// ping sends one ping and hands the round-trip time to the loop.
func (s *session) ping() {
	ctx, cancel := s.ctx, context.CancelFunc(func() {})
	if s.pingTimeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, s.pingTimeout)
	}
	defer cancel()
	rtt, err := s.c.Ping(ctx)
	select {
	case s.pings <- pingResult{rtt, err}:
	case <-s.done:
	}
}

// parseClose parses the arguments of /close: an optional code (default
// 1000) and an optional reason, the rest of the line.
func parseClose(args string) (ws.StatusCode, string, error) {
	args = strings.TrimSpace(args)
	if args == "" {
		return ws.StatusNormalClosure, "", nil
	}
	num, reason, _ := strings.Cut(args, " ")
	n, err := strconv.ParseUint(num, 10, 16)
	code := ws.StatusCode(n)
	if err != nil || !code.ValidOnWire() {
		return 0, "", fmt.Errorf("%q is not a close code that may be sent (1000-1003, 1007-1014, 3000-4999)", num)
	}
	reason = strings.TrimSpace(reason)
	if len(reason) > maxCloseReason {
		return 0, "", fmt.Errorf("reason is %d bytes; a close frame holds %d", len(reason), maxCloseReason)
	}
	return code, reason, nil
}

// print writes a received message on stdout: text as it is, binary as a
// summary with the first bytes in hex, so a terminal never gets raw bytes.
func (s *session) print(m wsutil.Message) {
	if m.OpCode == ws.OpText {
		p := append(m.Payload, '\n') // the payload is ours
		_, _ = s.stdout.Write(p)
		return
	}
	preview := m.Payload
	more := ""
	if len(preview) > hexPreview {
		preview, more = preview[:hexPreview], "…"
	}
	fmt.Fprintf(s.stdout, "<binary %d bytes: %s%s>\n", len(m.Payload), hex.EncodeToString(preview), more)
}

// report prints how the connection ended and turns it into run's result:
// nil for a clean close (see dialHelp), an error matching errUncleanClose
// otherwise. weClosed tells that our Close completed a closing handshake.
func (s *session) report(weClosed bool) error {
	err := s.c.Err()
	var ce ws.CloseError
	if errors.As(err, &ce) && ce.Code != ws.StatusAbnormalClosure {
		fmt.Fprintf(s.stderr, "closed: code=%d reason=%q\n", int(ce.Code), ce.Reason)
		if weClosed || ce.Code == ws.StatusNormalClosure || ce.Code == ws.StatusNoStatusRcvd {
			return nil
		}
		return fmt.Errorf("%w: the server closed with %d (%v) %q", errUncleanClose, int(ce.Code), ce.Code, ce.Reason)
	}
	fmt.Fprintf(s.stderr, "connection lost: %v\n", err)
	return fmt.Errorf("%w: %w", errUncleanClose, err)
}

// readLines sends the lines of r, without their line ending, on lines,
// and closes it at the end of input. It stops early when done is closed.
func readLines(r io.Reader, lines chan<- line, done <-chan struct{}) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		select {
		case lines <- line{text: strings.TrimSuffix(sc.Text(), "\r")}:
		case <-done:
			return
		}
	}
	if err := sc.Err(); err != nil {
		select {
		case lines <- line{err: err}:
		case <-done:
			return
		}
	}
	close(lines)
}
