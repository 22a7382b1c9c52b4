package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"runtime"
	"strings"
	"time"
)

// benchConfig is what the flags of bench set.
type benchConfig struct {
	target   benchTarget
	mode     string
	conns    int
	depth    int
	size     byteSize
	text     bool
	compress bool
	offer    string
	duration time.Duration
	warmup   time.Duration
	pid      int
	sources  int
	timeout  time.Duration
	settle   time.Duration
	progress time.Duration
	// procErr says why the server's CPU and RSS are not reported although
	// -pid was given.
	procErr string
}

// benchTarget is the server sluice bench loads: where to connect and what
// to ask for in the request line.
type benchTarget struct {
	url  string // as given, for the report
	addr string // host:port to dial
	host string // the Host header
	path string // the request-target
}

// Modes of sluice bench.
const (
	modeEcho  = "echo"
	modeStorm = "storm"
	modeIdle  = "idle"
)

// Defaults of bench.
const (
	defaultBenchConns    = 10
	defaultBenchDuration = 10 * time.Second
	defaultBenchWarmup   = time.Second
	defaultBenchTimeout  = 10 * time.Second
	defaultBenchSettle   = 10 * time.Second
	// defaultBenchOffer is what browsers offer: compression with context
	// takeover unless the server says otherwise, and any client window.
	defaultBenchOffer = "permessage-deflate; client_max_window_bits"
	// defaultSources is how many 127.0.0.x source addresses a Linux run
	// against a loopback server spreads its connections over: 8 × ~28,000
	// ephemeral ports, enough for any idle run and for a connect storm's
	// TIME_WAIT sockets.
	defaultSources = 8
	maxSources     = 254
)

const benchHelp = `Load a WebSocket echo server and measure it. bench is its own client: raw TCP,
a fixed handshake request, precomputed masked frames and pipelining, so that
the server, not the load generator, is what runs out of CPU.

Modes (-mode):
  echo   C connections (-conns) each keep D messages (-depth) of -size bytes in
         flight; reports messages/s, MB/s and the round-trip latency of every
         message (p50, p99, p999).
  storm  C workers open a connection, finish the handshake, close it and start
         over; reports handshakes/s.
  idle   open -conns connections, echo one message on each and leave them
         idle; with -pid, reports the server's RSS per connection.

With -pid (Linux), bench samples the server's CPU time and RSS when the
measured window starts and ends and reports messages (or handshakes) per
server CPU-second, a figure that holds even on a shared machine.

A progress line goes to stderr every second; at the end a table and one JSON
line with every number go to stdout. URL is ws:// (or http://); TLS would make
bench the bottleneck and is not supported.`

// parseBenchFlags parses the command line of bench.
func parseBenchFlags(args []string, stderr io.Writer) (benchConfig, error) {
	cfg := benchConfig{size: 16}
	var binary bool
	fs := newFlagSet("bench", "[flags] URL", benchHelp, stderr)
	fs.StringVar(&cfg.mode, "mode", modeEcho, "what to measure: echo, storm or idle")
	fs.IntVar(&cfg.conns, "conns", defaultBenchConns, "`number` of connections (echo, idle) or of workers (storm)")
	fs.IntVar(&cfg.depth, "depth", 1, "messages in flight per connection (echo)")
	fs.Var(&cfg.size, "size", "message payload `size` (K, M suffixes); with -compress, the size of the JSON-like text")
	fs.BoolVar(&cfg.text, "text", false, "send text messages")
	fs.BoolVar(&binary, "binary", false, "send binary messages (the default, unless -compress)")
	fs.BoolVar(&cfg.compress, "compress", false, "offer permessage-deflate and send precompressed JSON-like text (RSV1 set)")
	fs.StringVar(&cfg.offer, "offer", defaultBenchOffer, "the Sec-WebSocket-Extensions `value` offered with -compress")
	fs.DurationVar(&cfg.duration, "duration", defaultBenchDuration, "length of the measured window")
	fs.DurationVar(&cfg.warmup, "warmup", defaultBenchWarmup, "load applied before the measured window, not counted")
	fs.IntVar(&cfg.pid, "pid", 0, "process `id` of the server: sample its CPU time and RSS (Linux)")
	fs.IntVar(&cfg.sources, "sources", 0, "spread connections over source addresses 127.0.0.1 to 127.0.0.`N`\n(0: 8 on Linux against a 127.x server, else 1)")
	fs.DurationVar(&cfg.timeout, "timeout", defaultBenchTimeout, "bound on each connect and handshake, and on the drain and close at the end")
	fs.DurationVar(&cfg.settle, "settle", defaultBenchSettle, "idle: longest wait for the server's RSS to settle")
	fs.DurationVar(&cfg.progress, "progress", time.Second, "interval of the progress line on stderr; 0 turns it off")
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	if fs.NArg() != 1 {
		return cfg, usageError(fs, "bench takes one URL, got %d arguments", fs.NArg())
	}
	t, err := parseBenchTarget(fs.Arg(0))
	if err != nil {
		return cfg, usageError(fs, "%v", err)
	}
	cfg.target = t
	switch {
	case cfg.mode != modeEcho && cfg.mode != modeStorm && cfg.mode != modeIdle:
		return cfg, usageError(fs, "unknown -mode %q: want echo, storm or idle", cfg.mode)
	case cfg.conns <= 0 || cfg.depth <= 0:
		return cfg, usageError(fs, "-conns and -depth must be positive")
	case cfg.size <= 0 || cfg.size > 64<<20:
		return cfg, usageError(fs, "-size must be between 1 byte and 64 MiB")
	case cfg.text && binary:
		return cfg, usageError(fs, "-text and -binary exclude each other")
	case cfg.compress && binary:
		return cfg, usageError(fs, "-compress sends JSON-like text: drop -binary")
	case cfg.duration <= 0 || cfg.warmup < 0 || cfg.timeout <= 0 || cfg.settle < 0 || cfg.progress < 0:
		return cfg, usageError(fs, "-duration and -timeout must be positive; -warmup, -settle and -progress not negative")
	case cfg.pid < 0:
		return cfg, usageError(fs, "-pid must be a process id")
	case cfg.sources < 0 || cfg.sources > maxSources:
		return cfg, usageError(fs, "-sources must be between 0 and %d", maxSources)
	}
	cfg.text = cfg.text || cfg.compress
	loopback := isLoopback4(t.addr)
	if cfg.sources == 0 {
		cfg.sources = 1
		if loopback && runtime.GOOS == "linux" {
			cfg.sources = defaultSources
		}
	}
	if cfg.sources > 1 && !loopback {
		return cfg, usageError(fs, "-sources %d needs a server on 127.0.0.0/8", cfg.sources)
	}
	return cfg, nil
}

// parseBenchTarget checks a URL given to bench.
func parseBenchTarget(raw string) (benchTarget, error) {
	s := raw
	if !strings.Contains(s, "://") {
		s = "ws://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return benchTarget{}, fmt.Errorf("invalid URL %q: %v", raw, err)
	}
	switch u.Scheme {
	case "ws", "http":
	default:
		return benchTarget{}, fmt.Errorf("invalid URL %q: bench speaks ws:// only", raw)
	}
	if u.Host == "" {
		return benchTarget{}, fmt.Errorf("invalid URL %q: no host", raw)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	path := u.RequestURI()
	if strings.ContainsAny(path, " \r\n") || strings.ContainsAny(u.Host, " \r\n") {
		return benchTarget{}, fmt.Errorf("invalid URL %q", raw)
	}
	return benchTarget{url: raw, addr: addr, host: u.Host, path: path}, nil
}

// isLoopback4 reports whether addr (host:port) is an IPv4 address in
// 127.0.0.0/8, the only kind of server for which bench picks its source
// addresses.
func isLoopback4(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.To4() != nil && ip.IsLoopback()
}

// runBench is the bench subcommand.
func runBench(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer, _ Options) error {
	cfg, err := parseBenchFlags(args, stderr)
	if err != nil {
		return err
	}
	if cfg.pid != 0 {
		if _, err := readProc(cfg.pid); err != nil {
			// Go on without the server's figures, and say so.
			fmt.Fprintf(stderr, "sluice bench: -pid %d: %v; reporting without server CPU and RSS\n", cfg.pid, err)
			cfg.procErr = err.Error()
		}
	}
	var res benchResult
	switch cfg.mode {
	case modeEcho:
		res, err = runEcho(ctx, cfg, stderr)
	case modeStorm:
		res, err = runStorm(ctx, cfg, stderr)
	case modeIdle:
		res, err = runIdle(ctx, cfg, stderr)
	}
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return res.write(stdout)
}
