package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// Time bounds. A peer answers every request within its own 10 s wait, so a
// call's bound only matters when the peer hangs.
const (
	peerTimeout  = 90 * time.Second // the whole life of one peer process
	startTimeout = 20 * time.Second // until a peer reports ready
	caseTimeout  = 20 * time.Second // one case: connect, exchange, close
)

// envInterop is the variable that turns a missing peer from a failure
// into a skip.
const envInterop = "SLUICE_INTEROP"

// missingPeer ends the test because a peer program is not installed: a
// failure that says how to install it, or a skip when SLUICE_INTEROP=skip.
func missingPeer(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(envInterop) == "skip" {
		t.Skipf("%s=skip: %s", envInterop, msg)
	}
	t.Fatalf("%s: run `make deps` to install the interop peers (or set %s=skip to skip these tests)", msg, envInterop)
}

// --- external processes ------------------------------------------------------

// tail keeps the last bytes written to it: a peer's stderr for the log.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 16 << 10

func (b *tail) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > tailSize {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-tailSize:]...)
	}
	return len(p), nil
}

func (b *tail) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// process is a peer program started for one test. It runs in its own
// process group, which is killed when the test ends (Chromium starts
// children of its own), and its stderr goes to the test log when the test
// fails.
type process struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser // nil unless asked for
	stdout io.Reader      // nil unless asked for
	log    *tail
	exited chan struct{} // closed when the process has been waited for
	err    error         // why it exited; valid once exited is closed
}

// startProcess starts argv, bounded by peerTimeout. With stdio, the caller
// gets its stdin and stdout as pipes; otherwise stdout joins stderr.
func startProcess(t *testing.T, name string, stdio bool, argv ...string) *process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	p := &process{name: name, cmd: cmd, log: &tail{}, exited: make(chan struct{})}
	cmd.Stderr = p.log
	if stdio {
		var err error
		p.stdin, err = cmd.StdinPipe()
		require.NoError(t, err)
		p.stdout, err = cmd.StdoutPipe()
		require.NoError(t, err)
	} else {
		cmd.Stdout = p.log
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		cancel() // kills the group
		<-p.exited
		if t.Failed() {
			t.Logf("%s (%s) stderr:\n%s", name, strings.Join(argv, " "), p.log)
		}
	})
	return p
}

// --- the control protocol ----------------------------------------------------

// request is one line of the control protocol (see node/peer.js).
type request struct {
	ID        int64    `json:"id"`
	Op        string   `json:"op"`
	Lib       string   `json:"lib,omitempty"`
	URL       string   `json:"url,omitempty"`
	Protocols []string `json:"protocols,omitempty"`
	Compress  bool     `json:"compress,omitempty"`
	Server    int      `json:"server,omitempty"`
	Path      string   `json:"path,omitempty"`
	Conn      int      `json:"conn,omitempty"`
	Type      string   `json:"type,omitempty"`
	Data      []byte   `json:"data,omitempty"`
	Frames    [][]byte `json:"frames,omitempty"`
	Fin       *bool    `json:"fin,omitempty"`
	Raw       bool     `json:"raw,omitempty"`
	Code      int      `json:"code,omitempty"`
	Reason    string   `json:"reason,omitempty"`
	WaitMS    int      `json:"wait_ms,omitempty"`
}

// response is a peer's answer to a request, or its first line (Ready).
type response struct {
	ID       int64             `json:"id"`
	OK       bool              `json:"ok"`
	Error    string            `json:"error"`
	Ready    bool              `json:"ready"`
	Peer     string            `json:"peer"`
	Versions map[string]string `json:"versions"`
	Conn     int               `json:"conn"`
	Server   int               `json:"server"`
	Port     int               `json:"port"`
	Protocol string            `json:"protocol"`
	Type     string            `json:"type"`
	Data     []byte            `json:"data"`
	Code     int               `json:"code"`
	Reason   string            `json:"reason"`
}

// transport carries requests to a peer: JSON lines on a process's stdin
// and stdout, or HTTP long polls from a browser page.
type transport interface {
	call(ctx context.Context, req request) (response, error)
}

// calls matches answers to pending requests by id.
type calls struct {
	next    atomic.Int64
	mu      sync.Mutex
	pending map[int64]chan response // guarded by mu
}

func (c *calls) add() (int64, chan response) {
	id := c.next.Add(1)
	ch := make(chan response, 1)
	c.mu.Lock()
	if c.pending == nil {
		c.pending = make(map[int64]chan response)
	}
	c.pending[id] = ch
	c.mu.Unlock()
	return id, ch
}

func (c *calls) remove(id int64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// answer delivers res to its request; it reports false for an unknown id.
func (c *calls) answer(res response) bool {
	c.mu.Lock()
	ch := c.pending[res.ID]
	delete(c.pending, res.ID)
	c.mu.Unlock()
	if ch == nil {
		return false
	}
	ch <- res
	return true
}

// stdioPeer speaks the control protocol with a process.
type stdioPeer struct {
	proc  *process
	calls calls
	wmu   sync.Mutex // serialises request lines
	ready chan response
	gone  chan struct{} // closed when stdout ends
}

// startStdioPeer starts argv and waits for its ready line.
func startStdioPeer(t *testing.T, name string, argv ...string) (*stdioPeer, response) {
	t.Helper()
	p := &stdioPeer{
		proc:  startProcess(t, name, true, argv...),
		ready: make(chan response, 1),
		gone:  make(chan struct{}),
	}
	go p.readLoop()
	select {
	case r := <-p.ready:
		return p, r
	case <-p.gone:
		<-p.proc.exited
		t.Fatalf("%s exited before it was ready (%v); stderr:\n%s", name, p.proc.err, p.proc.log)
	case <-time.After(startTimeout):
		t.Fatalf("%s not ready after %v; stderr:\n%s", name, startTimeout, p.proc.log)
	}
	panic("unreachable")
}

// readLoop dispatches the lines of the process's stdout until it ends.
func (p *stdioPeer) readLoop() {
	defer close(p.gone)
	sc := bufio.NewScanner(p.proc.stdout)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var r response
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			fmt.Fprintf(p.proc.log, "stdout: %s\n", sc.Bytes())
			continue
		}
		if r.Ready {
			p.ready <- r
			continue
		}
		if !p.calls.answer(r) {
			fmt.Fprintf(p.proc.log, "stdout: answer to no request: %s\n", sc.Bytes())
		}
	}
}

func (p *stdioPeer) call(ctx context.Context, req request) (response, error) {
	id, ch := p.calls.add()
	defer p.calls.remove(id)
	req.ID = id
	line, err := json.Marshal(req)
	if err != nil {
		return response{}, err
	}
	p.wmu.Lock()
	_, err = p.proc.stdin.Write(append(line, '\n'))
	p.wmu.Unlock()
	if err != nil {
		return response{}, fmt.Errorf("%s: write request: %w", p.proc.name, err)
	}
	select {
	case r := <-ch:
		return r, nil
	case <-p.gone:
		return response{}, fmt.Errorf("%s exited", p.proc.name)
	case <-ctx.Done():
		return response{}, fmt.Errorf("%s: %s: %w", p.proc.name, req.Op, ctx.Err())
	}
}

// --- the far end -------------------------------------------------------------

// caps are what one end of a pair can do; a case runs only when both ends
// together have what it needs.
type caps uint16

const (
	peerPing      caps = 1 << iota // the peer can send a ping and see the pong
	peerFragments                  // the peer can send a message in several frames
	peerKill                       // the peer can drop TCP without a close frame
	peerRawText                    // the peer can send text frames holding invalid UTF-8
	ourPing                        // our end measures a ping round trip (Conn.Ping)
	ourFragments                   // our end can fragment what it sends (Config.FragmentSize)
)

// peerAll is what a full WebSocket library can do.
const peerAll = peerPing | peerFragments | peerKill | peerRawText

// peer is one third-party implementation, reached over a transport.
type peer struct {
	name string // for test names: "ws", "websocket", "websockets", "chromium"
	lib  string // the lib field of requests
	tr   transport
	caps caps
}

// do sends req and turns an error answer into an error.
func (p *peer) do(ctx context.Context, req request) (response, error) {
	if req.Op == "connect" || req.Op == "listen" {
		req.Lib = p.lib
	}
	r, err := p.tr.call(ctx, req)
	if err == nil && !r.OK {
		err = fmt.Errorf("%s: %s: %s", p.name, req.Op, r.Error)
	}
	return r, err
}

// remote is one WebSocket connection at the peer.
type remote struct {
	p        *peer
	id       int
	protocol string
}

func opType(op ws.OpCode) string {
	if op == ws.OpBinary {
		return "binary"
	}
	return "text"
}

func typeOp(s string) ws.OpCode {
	if s == "binary" {
		return ws.OpBinary
	}
	return ws.OpText
}

// send sends m as one message.
func (r *remote) send(ctx context.Context, m wsutil.Message) error {
	_, err := r.p.do(ctx, request{Op: "send", Conn: r.id, Type: opType(m.OpCode), Data: m.Payload})
	return err
}

// sendFrames sends one frame per element of frames, as they are (raw: text
// is not checked or converted); fin false leaves the message unfinished.
func (r *remote) sendFrames(ctx context.Context, op ws.OpCode, frames [][]byte, fin bool) error {
	_, err := r.p.do(ctx, request{Op: "send", Conn: r.id, Type: opType(op), Frames: frames, Fin: &fin, Raw: true})
	return err
}

// recv waits for the next message.
func (r *remote) recv(ctx context.Context) (wsutil.Message, error) {
	res, err := r.p.do(ctx, request{Op: "recv", Conn: r.id})
	return wsutil.Message{OpCode: typeOp(res.Type), Payload: res.Data}, err
}

// ping sends a ping and returns the payload of its pong.
func (r *remote) ping(ctx context.Context, payload []byte, wait time.Duration) ([]byte, error) {
	res, err := r.p.do(ctx, request{Op: "ping", Conn: r.id, Data: payload, WaitMS: int(wait / time.Millisecond)})
	return res.Data, err
}

// close starts the closing handshake; it does not wait for it.
func (r *remote) close(ctx context.Context, code ws.StatusCode, reason string) error {
	_, err := r.p.do(ctx, request{Op: "close", Conn: r.id, Code: int(code), Reason: reason})
	return err
}

// closed waits for the connection to close and returns the code and
// reason the peer reports.
func (r *remote) closed(ctx context.Context) (ws.CloseError, error) {
	res, err := r.p.do(ctx, request{Op: "closed", Conn: r.id})
	return ws.CloseError{Code: ws.StatusCode(res.Code), Reason: res.Reason}, err
}

// kill drops the TCP connection without a close frame.
func (r *remote) kill(ctx context.Context) error {
	_, err := r.p.do(ctx, request{Op: "kill", Conn: r.id})
	return err
}

// --- our end -----------------------------------------------------------------

// local is our end of a pair: a wsutil.Conn, or a connection driven by
// the one-call helpers.
type local interface {
	// Protocol is the negotiated subprotocol.
	Protocol() string
	Send(ctx context.Context, m wsutil.Message) error
	Recv(ctx context.Context) (wsutil.Message, error)
	// Ping measures a round trip (connLocal only).
	Ping(ctx context.Context) (time.Duration, error)
	// Close runs the closing handshake from our side.
	Close(code ws.StatusCode, reason string) error
	// Wait reads until the connection ends and returns why, and how many
	// data messages arrived meanwhile.
	Wait(ctx context.Context) (stray int, err error)
	// Sent returns the frames we wrote so far.
	Sent() []ws.Header
	// Shutdown drops whatever is left of the connection.
	Shutdown()
}

// tapConn records what we write, so that tests can check our frames on
// the wire.
type tapConn struct {
	net.Conn
	mu  sync.Mutex
	out bytes.Buffer // guarded by mu
}

// Write records p before writing it, so that whatever the peer has seen is
// already recorded.
func (c *tapConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.out.Write(p)
	c.mu.Unlock()
	n, err := c.Conn.Write(p)
	if n < len(p) {
		c.mu.Lock()
		c.out.Truncate(c.out.Len() - (len(p) - n))
		c.mu.Unlock()
	}
	return n, err
}

// frames parses what was written so far.
func (c *tapConn) frames() []ws.Header {
	c.mu.Lock()
	r := bytes.NewReader(bytes.Clone(c.out.Bytes()))
	c.mu.Unlock()
	var hs []ws.Header
	for {
		f, err := ws.ReadFrame(r, 0)
		if err != nil {
			return hs
		}
		hs = append(hs, f.Header)
	}
}

// countOp counts the frames with opcode op.
func countOp(hs []ws.Header, op ws.OpCode) int {
	n := 0
	for _, h := range hs {
		if h.OpCode == op {
			n++
		}
	}
	return n
}

// connLocal is our end as a wsutil.Conn.
type connLocal struct {
	c   *wsutil.Conn
	tap *tapConn
}

func newConnLocal(t *testing.T, tap *tapConn, side ws.Side, hs ws.Handshake, cfg wsutil.Config) *connLocal {
	c, err := wsutil.NewConn(tap, side, hs, cfg)
	require.NoError(t, err)
	return &connLocal{c: c, tap: tap}
}

func (l *connLocal) Protocol() string { return l.c.Protocol() }

func (l *connLocal) Send(ctx context.Context, m wsutil.Message) error { return l.c.Send(ctx, m) }

func (l *connLocal) Recv(ctx context.Context) (wsutil.Message, error) {
	select {
	case m, ok := <-l.c.Inbound():
		if !ok {
			return m, fmt.Errorf("connection ended: %w", l.c.Err())
		}
		return m, nil
	case <-ctx.Done():
		return wsutil.Message{}, ctx.Err()
	}
}

func (l *connLocal) Ping(ctx context.Context) (time.Duration, error) { return l.c.Ping(ctx) }

func (l *connLocal) Close(code ws.StatusCode, reason string) error { return l.c.Close(code, reason) }

func (l *connLocal) Wait(ctx context.Context) (int, error) {
	stray := 0
	for {
		select {
		case _, ok := <-l.c.Inbound():
			if ok {
				stray++
				continue
			}
			select {
			case <-l.c.Done():
				return stray, l.c.Err()
			case <-ctx.Done():
				return stray, ctx.Err()
			}
		case <-ctx.Done():
			return stray, ctx.Err()
		}
	}
}

func (l *connLocal) Sent() []ws.Header { return l.tap.frames() }

func (l *connLocal) Shutdown() { _ = l.c.Terminate() }

// helperLocal is our end driven by wsutil.ReadMessage, WriteMessage,
// WriteClose and CloseHandshake from one goroutine at a time, over a bufio.ReadWriter as
// ReadMessage's documentation recommends. It does what a careful user of
// those helpers does: flushes after writing and after reading (to push out
// ReadMessage's control replies), answers a protocol error with its close
// code and lingers, and closes TCP after the closing handshake (a server
// closes first, RFC 6455 §7.1.1). It is a server only.
type helperLocal struct {
	tap      *tapConn
	rw       *bufio.ReadWriter
	protocol string
	done     bool
}

func (l *helperLocal) Protocol() string { return l.protocol }

func (l *helperLocal) Send(ctx context.Context, m wsutil.Message) error {
	defer l.bound(ctx)()
	if err := wsutil.WriteMessage(l.rw, ws.ServerSide, m.OpCode, m.Payload); err != nil {
		return err
	}
	return l.rw.Flush()
}

// bound makes the connection's I/O honour ctx until the returned func runs.
func (l *helperLocal) bound(ctx context.Context) func() {
	if d, ok := ctx.Deadline(); ok {
		_ = l.tap.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = l.tap.SetDeadline(time.Unix(1, 0)) })
	return func() { stop() }
}

// read reads one message and deals with the end of the connection.
func (l *helperLocal) read(ctx context.Context) (wsutil.Message, error) {
	if l.done {
		return wsutil.Message{}, net.ErrClosed
	}
	defer l.bound(ctx)()
	op, p, err := wsutil.ReadMessage(l.rw, ws.ServerSide, nil)
	// ReadMessage answered control frames into the buffer: push them out.
	ferr := l.rw.Flush()
	var pe *ws.ProtocolError
	switch {
	case err == nil:
		return wsutil.Message{OpCode: op, Payload: p}, ferr
	case errors.As(err, &pe):
		// Fail the connection with the code the violation calls for
		// (RFC 6455 §7.1.7), then linger: closing at once answers the
		// peer's close reply with a TCP reset, and a peer may then
		// report 1006 instead of our code (WebSocket-Node does).
		_ = wsutil.WriteClose(l.rw, ws.ServerSide, pe.Code, pe.Reason)
		_ = l.rw.Flush()
		l.linger()
	}
	l.done = true
	_ = l.tap.Close()
	return wsutil.Message{}, err
}

// linger ends our half of TCP and discards what the peer still sends until
// it closes its half, for at most the close timeout.
func (l *helperLocal) linger() {
	if cw, ok := l.tap.Conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = l.tap.SetReadDeadline(time.Now().Add(wsutil.DefaultCloseTimeout))
	_, _ = io.Copy(io.Discard, l.tap)
}

func (l *helperLocal) Recv(ctx context.Context) (wsutil.Message, error) { return l.read(ctx) }

func (l *helperLocal) Ping(context.Context) (time.Duration, error) {
	return 0, errors.ErrUnsupported
}

// Close runs the closing handshake with wsutil.CloseHandshake, then closes
// TCP: a server closes first (RFC 6455 §7.1.1).
func (l *helperLocal) Close(code ws.StatusCode, reason string) error {
	ctx, cancel := context.WithTimeout(context.Background(), wsutil.DefaultCloseTimeout)
	defer cancel()
	stop := l.bound(ctx)
	err := wsutil.CloseHandshake(l.rw, ws.ServerSide, code, reason)
	stop()
	l.done = true
	_ = l.tap.Close()
	var ce ws.CloseError
	if errors.As(err, &ce) {
		return nil
	}
	return err
}

func (l *helperLocal) Wait(ctx context.Context) (int, error) {
	stray := 0
	for {
		_, err := l.read(ctx)
		if err != nil {
			return stray, err
		}
		stray++
	}
}

func (l *helperLocal) Sent() []ws.Header { return l.tap.frames() }

func (l *helperLocal) Shutdown() { _ = l.tap.Close() }

// --- our server --------------------------------------------------------------

// serverProtocols are our server's subprotocols, in its order of
// preference: it picks chat.v2 even from a client that prefers chat.v1.
var serverProtocols = []string{"chat.v2", "chat.v1"}

// variant is a way our server accepts connections.
type variant struct {
	name string
	caps caps // what our end can do
}

var (
	// variantConn is ws.HTTPUpgrader in a net/http handler, then
	// wsutil.NewConn.
	variantConn = variant{"conn", ourPing | ourFragments}
	// variantHelpers is ws.Upgrader on a raw listener, then the one-call
	// helpers ReadMessage, WriteMessage and WriteClose.
	variantHelpers = variant{"helpers", 0}
)

// ourServer runs both server variants on 127.0.0.1. Each connection is
// expected by path (/ws/N) and handed to the test that expects it.
type ourServer struct {
	http *httptest.Server
	mux  *http.ServeMux
	raw  net.Listener
	wg   sync.WaitGroup // the raw accept loop and handshakes
	seq  atomic.Int64

	mu      sync.Mutex
	waiting map[string]expectation // by path; guarded by mu
}

type expectation struct {
	cfg wsutil.Config
	ch  chan local
}

func newOurServer(t *testing.T) *ourServer {
	t.Helper()
	s := &ourServer{mux: http.NewServeMux(), waiting: make(map[string]expectation)}
	s.mux.HandleFunc("/ws/", s.serveHTTP)
	s.http = httptest.NewServer(s.mux)
	var err error
	s.raw, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.wg.Add(1)
	go s.acceptRaw(t)
	t.Cleanup(func() {
		s.raw.Close()
		s.wg.Wait()
		s.http.Close()
	})
	return s
}

// expect registers a new path and returns it with the channel that will
// carry our end of the connection made to it.
func (s *ourServer) expect(cfg wsutil.Config) (string, chan local) {
	path := "/ws/" + strconv.FormatInt(s.seq.Add(1), 10)
	ch := make(chan local, 1)
	s.mu.Lock()
	s.waiting[path] = expectation{cfg: cfg, ch: ch}
	s.mu.Unlock()
	return path, ch
}

func (s *ourServer) take(path string) (expectation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.waiting[path]
	delete(s.waiting, path)
	return e, ok
}

func (s *ourServer) url(v variant, path string) string {
	if v == variantHelpers {
		return "ws://" + s.raw.Addr().String() + path
	}
	return "ws" + strings.TrimPrefix(s.http.URL, "http") + path
}

// serveHTTP is variantConn.
func (s *ourServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	e, ok := s.take(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	u := ws.HTTPUpgrader{Protocols: serverProtocols} // SameOrigin: the browser page is ours
	nc, hs, err := u.Upgrade(w, r)
	if err != nil {
		close(e.ch)
		return
	}
	c, err := wsutil.NewConn(&tapConn{Conn: nc}, ws.ServerSide, hs, e.cfg)
	if err != nil {
		nc.Close()
		close(e.ch)
		return
	}
	e.ch <- &connLocal{c: c, tap: c.NetConn().(*tapConn)}
}

// acceptRaw is variantHelpers' accept loop.
func (s *ourServer) acceptRaw(t *testing.T) {
	defer s.wg.Done()
	for {
		nc, err := s.raw.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handshakeRaw(t, nc)
		}()
	}
}

func (s *ourServer) handshakeRaw(t *testing.T, nc net.Conn) {
	var e expectation
	var found bool
	u := ws.Upgrader{
		Protocols: serverProtocols,
		// The browser page comes from the HTTP server's port.
		CheckOrigin: ws.AllowOrigins("127.0.0.1:*"),
		OnRequest: func(uri []byte) error {
			if e, found = s.take(string(uri)); !found {
				return ws.Reject(http.StatusNotFound, "no such test")
			}
			return nil
		},
	}
	hs, err := u.Upgrade(nc)
	if err != nil {
		nc.Close()
		if found {
			t.Logf("raw upgrade: %v", err)
			close(e.ch)
		}
		return
	}
	tap := &tapConn{Conn: nc}
	// Frames that came with the request come first.
	br := bufio.NewReader(io.MultiReader(bytes.NewReader(hs.Buffered), tap))
	e.ch <- &helperLocal{tap: tap, rw: bufio.NewReadWriter(br, bufio.NewWriter(tap)), protocol: hs.Protocol}
}

// pairWithClient has p's client connect to our server variant v, and
// returns both ends.
func (s *ourServer) pairWithClient(t *testing.T, ctx context.Context, p *peer, v variant, c interopCase) (local, *remote) {
	t.Helper()
	path, ch := s.expect(c.cfg)
	res, err := p.do(ctx, request{Op: "connect", URL: s.url(v, path), Protocols: c.protocols})
	require.NoError(t, err, "peer connect")
	theirs := &remote{p: p, id: res.Conn, protocol: res.Protocol}
	select {
	case ours, ok := <-ch:
		require.True(t, ok, "our server refused the connection")
		t.Cleanup(ours.Shutdown)
		return ours, theirs
	case <-ctx.Done():
		t.Fatalf("our server saw no connection: %v", ctx.Err())
	}
	panic("unreachable")
}

// --- their server ------------------------------------------------------------

// theirServer is a server of p listening on 127.0.0.1.
type theirServer struct {
	p    *peer
	id   int
	port int
	seq  atomic.Int64
}

// listen starts a server of p; it supports chat.v2 only.
func listen(t *testing.T, ctx context.Context, p *peer) *theirServer {
	t.Helper()
	res, err := p.do(ctx, request{Op: "listen", Protocols: []string{"chat.v2"}})
	require.NoError(t, err, "peer listen")
	return &theirServer{p: p, id: res.Server, port: res.Port}
}

// pairWithServer dials srv with our Dialer and wsutil.Conn, and returns
// both ends.
func (srv *theirServer) pairWithServer(t *testing.T, ctx context.Context, c interopCase) (local, *remote) {
	t.Helper()
	path := "/ws/" + strconv.FormatInt(srv.seq.Add(1), 10)
	d := ws.Dialer{Protocols: c.protocols, Timeout: 10 * time.Second}
	nc, hs, err := d.Dial(ctx, "ws://127.0.0.1:"+strconv.Itoa(srv.port)+path)
	require.NoError(t, err, "our dial")
	ours := newConnLocal(t, &tapConn{Conn: nc}, ws.ClientSide, hs, c.cfg)
	t.Cleanup(ours.Shutdown)
	res, err := srv.p.do(ctx, request{Op: "accept", Server: srv.id, Path: path})
	require.NoError(t, err, "peer accept")
	return ours, &remote{p: srv.p, id: res.Conn, protocol: res.Protocol}
}
