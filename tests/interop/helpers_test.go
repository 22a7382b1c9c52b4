package interop

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// Time bounds. No wait here has a bound of its own that a slow machine
// could reach while the code is right: a peer process lives until its test
// ends, and every wait, ours and the peer's, ends at the run's deadline
// (go test -timeout less a margin; internal/wstest), which only a hang
// reaches. The peer programs get their waits from the command line
// (-wait-ms, the time left until that deadline, less peerWaitMargin) so
// that a peer that waits in vain answers with what it waited for before
// our end gives up.
const peerWaitMargin = 5 * time.Second

// peerWaitMS is the -wait-ms of a peer started now by t.
func peerWaitMS(t *testing.T) string {
	return strconv.FormatInt(max(wstest.Remaining(t)-peerWaitMargin, time.Second).Milliseconds(), 10)
}

// envUnavailable names the environment variable with which the Makefile
// (scripts/test.sh) says which peer suites cannot run on this machine and
// why: "node: why; python: why; chromium: why". A suite named there is
// skipped with that reason; any other missing peer fails its test.
const envUnavailable = "SLUICE_INTEROP_UNAVAILABLE"

// unavailable returns the reason envUnavailable gives for suite, or "".
func unavailable(suite string) string {
	for entry := range strings.SplitSeq(os.Getenv(envUnavailable), ";") {
		name, why, _ := strings.Cut(entry, ":")
		if strings.TrimSpace(name) == suite {
			return strings.TrimSpace(why)
		}
	}
	return ""
}

// requirePeer skips the test when envUnavailable says suite cannot run
// here: the only way a peer suite is skipped.
func requirePeer(t *testing.T, suite string) {
	t.Helper()
	if why := unavailable(suite); why != "" {
		t.Skipf("%s peers unavailable (%s): %s", suite, envUnavailable, why)
	}
}

// missingPeer fails the test because a peer program is not installed,
// although envUnavailable does not say so: `make test` installs the peers
// (scripts/deps.sh), or names the suites it cannot install.
func missingPeer(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Fatalf("%s: run `make deps` to install the interop peers, or `make test`, which skips (and names) the suites it cannot install", fmt.Sprintf(format, args...))
}

// --- external processes ------------------------------------------------------

// tail keeps the last bytes written to it: a peer's stderr for the log.
type tail struct {
	mu   sync.Mutex
	buf  []byte
	grew chan struct{} // closed at the next Write, for await; made on demand
}

const tailSize = 16 << 10

func (b *tail) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > tailSize {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-tailSize:]...)
	}
	if b.grew != nil {
		close(b.grew)
		b.grew = nil
	}
	return len(p), nil
}

// await waits until match accepts what is kept, woken by every write: the
// way to wait for a line a process prints. It gives up when exited is
// closed or ctx is done, saying what it waited for.
func (b *tail) await(ctx context.Context, exited <-chan struct{}, what string, match func(kept string) bool) error {
	for {
		b.mu.Lock()
		if match(string(b.buf)) {
			b.mu.Unlock()
			return nil
		}
		if b.grew == nil {
			b.grew = make(chan struct{})
		}
		grew := b.grew
		b.mu.Unlock()
		select {
		case <-grew:
		case <-exited:
			return fmt.Errorf("waiting for %s: the process ended", what)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, wstest.Err(ctx))
		}
	}
}

func (b *tail) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// lastLines returns the last n lines kept, or "(nothing)".
func (b *tail) lastLines(n int) string {
	s := strings.TrimRight(b.String(), "\n")
	if s == "" {
		return "(nothing)"
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{"…"}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// process is a peer program started for one test. It runs in its own
// process group, which is killed when the test ends (Chromium starts
// children of its own) or at the run's deadline, and its stderr goes to
// the test log when the test fails. When it dies before its test ends, the
// test fails once with the reason (exit status or signal, and the end of
// its stderr), and every case still using it is skipped (caseT).
type process struct {
	name    string
	argv    []string
	cmd     *exec.Cmd
	stdin   io.WriteCloser // nil unless asked for
	stdout  io.Reader      // nil unless asked for
	log     *tail
	started time.Time
	exited  chan struct{} // closed when the process has been waited for
	err     error         // why it exited; valid once exited is closed

	mu     sync.Mutex
	ending bool   // the test is ending: an exit is expected; guarded by mu
	died   string // why it died before its test ended; guarded by mu
}

// startProcess starts argv for t, to live until t ends. With stdio, the
// caller gets its stdin and stdout as pipes; otherwise stdout joins
// stderr.
func startProcess(t *testing.T, name string, stdio bool, argv ...string) *process {
	t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), wstest.Deadline(t))
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	p := &process{name: name, argv: argv, cmd: cmd, log: &tail{}, exited: make(chan struct{})}
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
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		p.mu.Lock()
		if !p.ending {
			p.died = p.obituary(ctx)
			t.Error(p.died) // once, from here: cleanup has not begun
		}
		p.mu.Unlock()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.mu.Lock()
		p.ending = true
		died := p.died
		p.mu.Unlock()
		cancel() // kills the group
		<-p.exited
		if t.Failed() && died == "" {
			t.Logf("%s (%s) stderr:\n%s", name, strings.Join(argv, " "), p.log)
		}
	})
	return p
}

// obituary says why the process ended before its test: killed at the
// run's deadline (ctx), by a signal, or exited with a status.
func (p *process) obituary(ctx context.Context) string {
	how := "ended: " + fmt.Sprint(p.err)
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		how = "was killed at the run's deadline (go test -timeout, less a margin to report): a case hangs"
	case p.err == nil:
		how = "exited with status 0, although its test had not ended"
	case errors.As(p.err, &ee):
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			how = fmt.Sprintf("was killed by signal %d (%v)", st.Signal(), st.Signal())
		} else {
			how = fmt.Sprintf("exited with status %d", ee.ExitCode())
		}
	}
	return fmt.Sprintf("the %s peer process (pid %d: %s) %s, %v after it started; the cases that still needed it are skipped. The end of its stderr:\n%s",
		p.name, p.cmd.Process.Pid, strings.Join(p.argv, " "), how, time.Since(p.started).Round(time.Millisecond), p.log.lastLines(30))
}

// dead reports why the process died before its test ended, or "" while it
// runs. A peer killed mid-case closes its sockets before it is reaped, so a
// case sees the end of its connection first: dead gives the reaping a
// moment before it answers "".
func (p *process) dead() string {
	select {
	case <-p.exited:
	case <-time.After(wstest.Slow(500 * time.Millisecond)):
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.died
}

// caseT is the *testing.T of the cases that use a peer process: once that
// process has died, which the test that started it reports once, a
// failure here becomes a skip, so that a dead peer does not fail hundreds
// of cases with messages that never say why.
type caseT struct {
	*testing.T
	proc *process // nil: no peer process
}

// Run runs f as a subtest of t with the same peer.
func (t *caseT) Run(name string, f func(t *caseT)) bool {
	return t.T.Run(name, func(tt *testing.T) { f(&caseT{T: tt, proc: t.proc}) })
}

// with returns t for the cases of p.
func (t *caseT) with(p *peer) *caseT { return &caseT{T: t.T, proc: p.proc} }

// skipIfPeerDied skips the case when its peer process has died.
func (t *caseT) skipIfPeerDied() {
	if t.proc != nil && t.proc.dead() != "" {
		t.T.Skipf("skipped: the %s peer process died (its test reports why once)", t.proc.name)
	}
}

func (t *caseT) Errorf(format string, args ...any) {
	t.T.Helper()
	t.skipIfPeerDied()
	t.T.Errorf(format, args...)
}

func (t *caseT) Error(args ...any) {
	t.T.Helper()
	t.skipIfPeerDied()
	t.T.Error(args...)
}

func (t *caseT) Fatalf(format string, args ...any) {
	t.T.Helper()
	t.skipIfPeerDied()
	t.T.Fatalf(format, args...)
}

func (t *caseT) Fatal(args ...any) {
	t.T.Helper()
	t.skipIfPeerDied()
	t.T.Fatal(args...)
}

func (t *caseT) FailNow() {
	t.T.Helper()
	t.skipIfPeerDied()
	t.T.FailNow()
}

func (t *caseT) Fail() {
	t.T.Helper()
	t.skipIfPeerDied()
	t.T.Fail()
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
		<-p.proc.exited // and reported
		t.FailNow()
	case <-wstest.After(t):
		t.Fatalf("%s: %v; stderr:\n%s", name, wstest.Expired(t, "its ready line"), p.proc.log)
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
		return response{}, fmt.Errorf("%s: %s: the peer process ended", p.proc.name, req.Op)
	case <-ctx.Done():
		return response{}, fmt.Errorf("%s: %s: %w", p.proc.name, req.Op, wstest.Err(ctx))
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
	proc *process // the program it runs in
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
