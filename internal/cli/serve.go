package cli

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/sluice-ws/sluice/wsroom"
	"github.com/sluice-ws/sluice/wsutil"
)

// indexHTML is the chat page served at /.
//
//go:embed static/index.html
var indexHTML []byte

// serveConfig is what the flags of serve set.
type serveConfig struct {
	addr              string
	maxMessage        byteSize
	maxFrame          byteSize
	chatMaxMessage    byteSize
	chatQueue         byteSize
	origins           stringList
	pingInterval      time.Duration
	writeTimeout      time.Duration
	closeTimeout      time.Duration
	messageTimeout    time.Duration
	memoryBudget      byteSize
	readHeaderTimeout time.Duration
	handshakeTimeout  time.Duration
	idleTimeout       time.Duration
	shutdownTimeout   time.Duration
	logLevel          slog.Level
	deflate           deflateConfig
	nats              string
	poll              bool // run /echo and /chat on event loops (serve_poll.go)
}

// Defaults of serve. docs/serve.md explains each choice.
const (
	defaultAddr              = "127.0.0.1:8080"
	defaultMaxMessage        = 64 << 20 // Autobahn sends 16 MiB messages
	defaultChatMaxMessage    = 64 << 10 // a broadcast multiplies memory by the room size
	defaultChatQueue         = 1 << 20  // bytes; thousands of chat lines, 16 of the largest messages
	defaultPingInterval      = 30 * time.Second
	defaultWriteTimeout      = 30 * time.Second
	defaultCloseTimeout      = wsutil.DefaultCloseTimeout
	defaultMessageTimeout    = wsutil.DefaultMessageTimeout
	defaultMemoryBudget      = 256 << 20 // every connection together
	defaultReadHeaderTimeout = 5 * time.Second
	defaultHandshakeTimeout  = ws.DefaultHandshakeTimeout
	defaultIdleTimeout       = 60 * time.Second
	defaultShutdownTimeout   = 10 * time.Second
	maxHeaderBytes           = 64 << 10
	shutdownReason           = "server shutting down"
)

// parseServeFlags parses the command line of serve.
func parseServeFlags(args []string, stderr io.Writer) (serveConfig, error) {
	cfg := serveConfig{
		maxMessage:     defaultMaxMessage,
		chatMaxMessage: defaultChatMaxMessage,
		chatQueue:      defaultChatQueue,
		memoryBudget:   defaultMemoryBudget,
		deflate:        deflateConfig{threshold: wsflate.DefaultThreshold},
	}
	fs := newFlagSet("serve", "[flags]",
		"Serve a WebSocket echo endpoint (/echo), a chat room (/chat) and a chat\n"+
			"page (/). SIGINT or SIGTERM closes every WebSocket with 1001 (going away)\n"+
			"and waits for the closing handshakes before exiting.", stderr)
	fs.StringVar(&cfg.addr, "addr", defaultAddr, "`address` to listen on (host:port; port 0 picks a free one)")
	fs.Var(&cfg.maxMessage, "max-message", "largest message `size` /echo accepts (K, M, G suffixes); larger ones are refused with 1009")
	fs.Var(&cfg.maxFrame, "max-frame", "largest frame `size` /echo and /chat accept; 0 leaves frames bounded by the message limit only")
	fs.Var(&cfg.chatMaxMessage, "chat-max-message", "largest message `size` /chat accepts")
	fs.Var(&cfg.chatQueue, "chat-queue", "bytes `size` queued per chat client; a client that falls further behind is closed with 1008")
	fs.Var(&cfg.origins, "origin", "allow browser pages from this origin `pattern` on /chat, besides the same host\n(repeatable; path.Match syntax: '*.example.com', 'https://app.example.com')")
	fs.DurationVar(&cfg.pingInterval, "ping-interval", defaultPingInterval, "ping a quiet connection this often and drop it when nothing arrives\nwithin the same `duration` after; 0 disables keepalive")
	fs.DurationVar(&cfg.writeTimeout, "write-timeout", defaultWriteTimeout, "drop a WebSocket peer that accepts no data for this `duration`; 0 disables")
	fs.DurationVar(&cfg.closeTimeout, "close-timeout", defaultCloseTimeout, "once closing, wait this `duration` for our close frame to be written and for the peer's")
	fs.DurationVar(&cfg.messageTimeout, "message-timeout", defaultMessageTimeout, "close with 1008 a peer whose message is not complete this `duration` after its first frame")
	fs.Var(&cfg.memoryBudget, "memory-budget", "most bytes `size` all WebSocket connections together may hold in messages\n(being read, waiting for the application, queued for sending); a connection that\nneeds more waits, reading nothing, until others give bytes back")
	fs.DurationVar(&cfg.readHeaderTimeout, "read-header-timeout", defaultReadHeaderTimeout, "time allowed to read a request's headers (cuts off slowloris clients)")
	fs.DurationVar(&cfg.handshakeTimeout, "handshake-timeout", defaultHandshakeTimeout, "time allowed to write the 101 Switching Protocols response")
	fs.DurationVar(&cfg.idleTimeout, "idle-timeout", defaultIdleTimeout, "how long an idle HTTP keep-alive connection stays open")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", defaultShutdownTimeout, "bound on the graceful shutdown; connections still open then are dropped")
	fs.TextVar(&cfg.logLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	fs.BoolVar(&cfg.deflate.on, "compress", true, "negotiate permessage-deflate (RFC 7692) on /echo and /chat; -compress=false turns it off")
	fs.IntVar(&cfg.deflate.level, "compress-level", wsflate.DefaultLevel, "DEFLATE `level`: 1 (fastest) to 9 (smallest), -1 (5), -2 (Huffman only);\nwindows under 32 KiB always use a level-5-like encoder")
	fs.Var(&cfg.deflate.threshold, "compress-threshold", "send messages under this `size` uncompressed; 0 compresses every message")
	fs.StringVar(&cfg.nats, "nats", "", "span the /chat room over every sluice serve on the NATS server or cluster at this `URL`\n(nats://host:port, comma-separated for several); needs the build of\ngithub.com/sluice-ws/sluice/wsnats/cmd/sluice. Empty keeps the room in this process")
	fs.BoolVar(&cfg.poll, "poll", false, "run /echo and /chat on event loops (wsutil.PollServer, Linux only) instead of\na goroutine per connection; the page at / is not served then")
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	switch {
	case fs.NArg() > 0:
		return cfg, usageError(fs, "serve takes no arguments, got %q", fs.Args())
	case cfg.poll && cfg.nats != "":
		return cfg, usageError(fs, "-poll and -nats do not go together: the event-loop mode's /chat room is in this process only")
	case cfg.maxMessage <= 0 || cfg.chatMaxMessage <= 0:
		return cfg, usageError(fs, "-max-message and -chat-max-message must be positive")
	case cfg.chatQueue <= 0:
		return cfg, usageError(fs, "-chat-queue must be positive")
	case cfg.pingInterval < 0 || cfg.writeTimeout < 0:
		return cfg, usageError(fs, "-ping-interval and -write-timeout must not be negative")
	case cfg.messageTimeout <= 0 || cfg.closeTimeout <= 0 || cfg.memoryBudget <= 0:
		return cfg, usageError(fs, "-message-timeout, -close-timeout and -memory-budget must be positive")
	case cfg.memoryBudget < 2*cfg.maxMessage || cfg.memoryBudget < 2*cfg.chatMaxMessage:
		// A message's buffer grows by doubling: the largest needs one
		// and a half times its size while it grows.
		return cfg, usageError(fs, "-memory-budget must be at least twice -max-message and -chat-max-message")
	case cfg.readHeaderTimeout <= 0 || cfg.handshakeTimeout <= 0 || cfg.idleTimeout <= 0 || cfg.shutdownTimeout <= 0:
		return cfg, usageError(fs, "the -*-timeout flags must be positive")
	}
	if err := cfg.deflate.check(); err != nil {
		return cfg, usageError(fs, "invalid -compress-level %d: %v", cfg.deflate.level, err)
	}
	for _, p := range cfg.origins {
		// ws.AllowOrigins panics on a bad pattern: catch it here as a
		// usage error instead.
		if _, err := path.Match(strings.ToLower(p), ""); err != nil {
			return cfg, usageError(fs, "invalid -origin pattern %q: %v", p, err)
		}
	}
	return cfg, nil
}

// runServe is the serve subcommand.
func runServe(ctx context.Context, args []string, _ io.Reader, _, stderr io.Writer, opts Options) error {
	cfg, err := parseServeFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	if limit, ok := limitGoMemory(int64(cfg.memoryBudget)); ok {
		log.Debug("go memory limit", "bytes", limit)
	}
	if cfg.nats != "" && opts.ConnectRooms == nil {
		return fmt.Errorf("serve: %w", errNoNATS)
	}
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	var rooms Rooms
	if cfg.nats != "" {
		if rooms, err = opts.ConnectRooms(cfg.nats, "sluice serve "+ln.Addr().String(), log); err != nil {
			_ = ln.Close()
			return fmt.Errorf("serve: %w", err)
		}
		log.Info("chat room on NATS", "url", cfg.nats)
	}
	stop := startReturningIdleMemory(ctx, log)
	defer stop()
	if cfg.poll {
		return newPollServer(newServer(cfg, log, rooms)).serve(ctx, ln)
	}
	return newServer(cfg, log, rooms).serve(ctx, ln)
}

// limitGoMemory sets the Go runtime's soft memory limit to one and a half
// times the memory budget plus 64 MiB, unless GOMEMLIMIT is set. The
// budget bounds the live bytes of messages; the limit makes the garbage
// collector run before garbage (a large message's old buffers, say) grows
// as large again, which it would otherwise let happen (GOGC=100). It
// returns the limit and whether it set one.
func limitGoMemory(budget int64) (int64, bool) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0, false
	}
	limit := budget + budget/2 + 64<<20
	debug.SetMemoryLimit(limit)
	return limit, true
}

// server is the serve subcommand's HTTP and WebSocket server.
type server struct {
	cfg  serveConfig
	log  *slog.Logger
	http *http.Server
	// echo and chat are the WebSocket endpoints: each accepts its
	// connections, keeps them in its registry and closes them at
	// shutdown.
	echo, chat *wsutil.Server
	// hub holds /chat's room; its Backend, rooms, spans it over the
	// nodes of -nats, nil without.
	hub   *wsroom.Hub
	rooms Rooms
	// chatOrder makes one publish at a time, so that every member on
	// this node sees the messages of concurrent senders in the same
	// order.
	chatOrder sync.Mutex
	// budget bounds the bytes every connection holds together.
	budget *wsutil.Budget
	// echoDeflate and chatDeflate are the permessage-deflate
	// configurations, nil with -compress=false. Each is the Extension of
	// its endpoint's Config, which both negotiates and runs it.
	echoDeflate, chatDeflate *wsflate.Extension
}

// newServer returns the server of cfg; rooms, if not nil, carries the
// chat room to the other nodes, and serve closes it at shutdown.
func newServer(cfg serveConfig, log *slog.Logger, rooms Rooms) *server {
	s := &server{cfg: cfg, log: log, hub: &wsroom.Hub{}, rooms: rooms}
	if rooms != nil {
		s.hub.Backend = rooms
	}
	s.budget = wsutil.NewBudget(int64(cfg.memoryBudget), wsutil.BudgetWait)

	// /echo is a test endpoint for outside clients (browsers, Autobahn,
	// Node's ws): any origin, since it holds nothing a cross-site page
	// could abuse, and the first subprotocol offered, since browsers and
	// Node fail a handshake that ignores their offer. It runs on the
	// handler form: the Conn calls echoMessage on its reading goroutine
	// and the HTTP handler returns at once, so an idle echo connection
	// holds one goroutine and no buffer (docs/memory.md).
	echoConfig := wsutil.Config{
		MaxMessageSize: int64(cfg.maxMessage),
		MaxFrameSize:   int64(cfg.maxFrame),
		PingInterval:   orOff(cfg.pingInterval),
		WriteTimeout:   orOff(cfg.writeTimeout),
		CloseTimeout:   cfg.closeTimeout,
		MessageTimeout: cfg.messageTimeout,
		Budget:         s.budget,
		OnMessage:      echoMessage,
		OnClose:        s.closed("/echo"),
	}
	// Compression on /echo honours any offer a conformant client makes,
	// context takeover and every window size included: the endpoint is
	// there to be tested against.
	if s.echoDeflate = cfg.deflate.extension(false); s.echoDeflate != nil {
		echoConfig.Extension = s.echoDeflate
	}
	s.echo = &wsutil.Server{
		AcceptOptions: wsutil.AcceptOptions{
			Config:            echoConfig,
			SelectProtocol:    firstOffered,
			InsecureAnyOrigin: true,
			HandshakeTimeout:  cfg.handshakeTimeout,
		},
		OnAccept: s.accepted("/echo"),
		OnError:  s.rejected,
	}

	// /chat is what a real application looks like: pages from this host
	// only, plus the origins the operator lists (RFC 6455 §10.2).
	s.chatDeflate = chatDeflate(cfg)
	chatConfig := chatConnConfig(cfg, s.chatDeflate, s.budget)
	chatConfig.OnMessage = s.chatMessage
	closed := s.closed("/chat")
	chatConfig.OnClose = func(c *wsutil.Conn) {
		s.hub.LeaveAll(c)
		closed(c)
	}
	s.chat = &wsutil.Server{
		AcceptOptions: wsutil.AcceptOptions{
			Config:           chatConfig,
			CheckOrigin:      ws.SameOrigin,
			HandshakeTimeout: cfg.handshakeTimeout,
		},
		OnAccept: s.chatJoined,
		OnError:  s.rejected,
	}
	if len(cfg.origins) > 0 {
		s.chat.CheckOrigin = ws.AllowOrigins(cfg.origins...)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handleIndex)
	mux.Handle("/echo", s.echo)
	mux.Handle("/chat", s.chat)
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: cfg.readHeaderTimeout,
		IdleTimeout:       cfg.idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s
}

// orOff maps a flag's 0 (off) to the negative value that turns a server
// default off in wsutil.AcceptOptions.
func orOff(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// firstOffered chooses the first subprotocol the client offered.
func firstOffered(offered []string) (string, error) {
	if len(offered) == 0 {
		return "", nil
	}
	return offered[0], nil
}

// serve serves on ln until ctx is cancelled, then shuts down gracefully:
// it refuses new WebSocket connections, closes every open one with 1001
// (going away), waits for the closing handshakes, stops the HTTP server
// and returns nil. Connections still open when cfg.shutdownTimeout has
// passed are dropped. It returns an error only when serving fails.
func (s *server) serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(ln) }()
	// Tests parse the address from this line: keep its shape.
	s.log.Info("listening", "addr", ln.Addr().String())

	var serveErr error
	select {
	case serveErr = <-errc:
		s.log.Error("serve failed", "err", serveErr)
	case <-ctx.Done():
		s.log.Info("shutting down", "timeout", s.cfg.shutdownTimeout, "connections", s.echo.Len()+s.chat.Len())
	}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.shutdownTimeout)
	defer cancel()
	// The WebSocket connections first, counted; then net/http, whose own
	// Shutdown would shut the endpoints down too (wsutil.Server wires
	// itself to it), but without the counts.
	s.echo.Unmount()
	s.chat.Unmount()
	var closed, dropped int
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, ep := range []*wsutil.Server{s.echo, s.chat} {
		wg.Go(func() {
			c, d := ep.CloseAll(sctx, ws.StatusGoingAway, shutdownReason)
			mu.Lock()
			closed, dropped = closed+c, dropped+d
			mu.Unlock()
		})
	}
	wg.Wait()
	if s.rooms != nil {
		if err := s.rooms.Close(); err != nil {
			s.log.Warn("nats close", "err", err)
		}
	}
	if err := s.http.Shutdown(sctx); err != nil {
		s.log.Warn("http shutdown", "err", err)
		_ = s.http.Close()
	}
	if serveErr == nil {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			serveErr = err
		}
	}
	s.log.Info("stopped", "closed", closed, "dropped", dropped)
	if serveErr != nil {
		return fmt.Errorf("serve: %w", serveErr)
	}
	return nil
}

// accepted returns the OnAccept hook that logs a connection to path.
func (s *server) accepted(path string) func(*wsutil.Conn, *wsutil.Request) {
	return func(c *wsutil.Conn, r *wsutil.Request) {
		s.log.Debug("connected", "path", path, "remote", r.HTTP.RemoteAddr, "protocol", c.Protocol(),
			"extensions", formatExtensions(c.Extensions()))
	}
}

// rejected logs a failed handshake.
func (s *server) rejected(r *http.Request, err error) {
	level := slog.LevelDebug
	if errors.Is(err, ws.ErrHandshakeOrigin) {
		level = slog.LevelInfo // worth seeing: a page of another site tried
	}
	s.log.Log(r.Context(), level, "handshake rejected", "path", r.URL.Path, "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"), "err", err)
}

// closed returns the OnClose hook that logs how a connection to path
// ended.
func (s *server) closed(path string) func(*wsutil.Conn) {
	return func(c *wsutil.Conn) {
		st := c.Stats()
		err := c.Err()
		if errors.Is(err, wsutil.ErrQueueFull) {
			s.log.Warn("chat: client too slow, closed with 1008", "remote", c.NetConn().RemoteAddr().String())
		}
		s.log.Debug("disconnected", "path", path, "remote", c.NetConn().RemoteAddr().String(),
			"code", int(ws.CloseStatus(err)), "err", err,
			"messages_in", st.MessagesIn, "messages_out", st.MessagesOut,
			"bytes_in", st.BytesIn, "bytes_out", st.BytesOut, "dropped", st.Dropped)
	}
}

// handleIndex serves the chat page.
func (s *server) handleIndex(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
	_, _ = w.Write(indexHTML)
}

// echoMessage sends m back as it came, text as text and binary as binary,
// on the Conn's reading goroutine; the Conn echoes the peer's close code
// and reason itself (RFC 6455 §5.5.1). Send keeps the payload alive until
// it is written, and waits while the send queue is full: a client that
// does not read its echoes stops this Conn reading, and TCP flow control
// then slows the client down.
func echoMessage(c *wsutil.Conn, m wsutil.Message) {
	_ = c.Send(context.Background(), m)
}
