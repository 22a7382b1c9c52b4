package interop

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
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
	ID        int64        `json:"id"`
	Op        string       `json:"op"`
	Lib       string       `json:"lib,omitempty"`
	URL       string       `json:"url,omitempty"`
	Protocols []string     `json:"protocols,omitempty"`
	Compress  *deflateOpts `json:"compress,omitempty"`
	Server    int          `json:"server,omitempty"`
	Path      string       `json:"path,omitempty"`
	Conn      int          `json:"conn,omitempty"`
	Type      string       `json:"type,omitempty"`
	Data      []byte       `json:"data,omitempty"`
	Frames    [][]byte     `json:"frames,omitempty"`
	Fin       *bool        `json:"fin,omitempty"`
	Raw       bool         `json:"raw,omitempty"`
	Code      int          `json:"code,omitempty"`
	Reason    string       `json:"reason,omitempty"`
	WaitMS    int          `json:"wait_ms,omitempty"`
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
	// Extensions is the Sec-WebSocket-Extensions value of the handshake
	// response, as the peer sent or received it (connect, accept).
	Extensions string `json:"extensions"`
	Type       string `json:"type"`
	Data       []byte `json:"data"`
	Code       int    `json:"code"`
	Reason     string `json:"reason"`
	Size       int    `json:"size"`   // echo
	SHA256     string `json:"sha256"` // echo, in hex
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
	p          *peer
	id         int
	protocol   string
	extensions string // the Sec-WebSocket-Extensions of the response, as the peer saw it
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

// echo has the peer send the next message it receives back as it came,
// and returns the type, size and SHA-256 of what it received: a payload
// sent this way crosses only the WebSocket connection, never the control
// channel, whose JSON and base64 cost ten times more than compression
// under -race.
func (r *remote) echo(ctx context.Context) (op ws.OpCode, size int, sum [sha256.Size]byte, err error) {
	res, err := r.p.do(ctx, request{Op: "echo", Conn: r.id})
	if err != nil {
		return 0, 0, sum, err
	}
	if n, derr := hex.Decode(sum[:], []byte(res.SHA256)); derr != nil || n != len(sum) {
		return 0, 0, sum, fmt.Errorf("%s: echo: bad sha256 %q", r.p.name, res.SHA256)
	}
	return typeOp(res.Type), res.Size, sum, nil
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
