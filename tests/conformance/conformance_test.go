package conformance

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-ws/sluice/internal/conform"
	"github.com/sluice-ws/sluice/internal/wstest"
)

// Environment variables that point the suite at a running server.
const (
	envURL      = "SLUICE_CONFORMANCE_URL"       // ws://host:port/echo of the server under test
	envLimitURL = "SLUICE_CONFORMANCE_LIMIT_URL" // the same, for a server that accepts messages up to 1 KiB
)

// Bounds. Building the server and waiting for its listening line end at
// the run's deadline (wstest.RunDeadline): only a hang reaches it.
const (
	// stopTimeout bounds SIGTERM to exit, scaled by wstest.Slow: every
	// case has closed its connection by then, so serve exits at once.
	stopTimeout = 15 * time.Second
	// closeBound is how soon the server must close TCP after its close
	// frame (conform.Bounds.Close), scaled by wstest.Slow: a server that
	// waits for the client's close frame, which never comes, takes its
	// close timeout (5 s).
	closeBound = 2 * time.Second
	// parallelCases is -test.parallel when the command line does not set
	// it: the cases wait on the network far more than on the CPU.
	parallelCases = 8
)

// suite holds the servers under test, set up by TestMain: one pair per
// mode of serve.
var suite struct {
	modes []*mode
}

// mode is a way of running sluice serve, with its two servers.
type mode struct {
	name    string   // the subtest name: serve, poll
	args    []string // what serve gets for this mode
	main    *target  // the echo endpoint with serve's defaults
	limited *target  // the echo endpoint with -max-message 1KiB; nil when not available
}

// modes are the ways sluice serve runs /echo: a goroutine per connection,
// and event loops (-poll), which need Linux.
func modes() []*mode {
	m := []*mode{{name: "serve"}}
	if runtime.GOOS == "linux" {
		m = append(m, &mode{name: "poll", args: []string{"-poll"}})
	}
	return m
}

func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", strconv.Itoa(parallelCases))
	}
	os.Exit(runMain(m))
}

// runMain starts the servers, runs the tests and stops the servers. A
// server that does not exit cleanly (a race report under -race, a crash)
// or a leaked goroutine fails the run.
func runMain(m *testing.M) int {
	stop, err := setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		return 1
	}
	code := m.Run()
	if err := stop(code != 0); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		code = 1
	}
	if err := goleak.Find(); err != nil {
		fmt.Fprintln(os.Stderr, "conformance: leaked goroutines:", err)
		code = 1
	}
	return code
}

// setup finds the servers under test: those of envURL and envLimitURL, or
// two `sluice serve` processes built from this module. stop ends them; on
// failure it prints their logs.
func setup() (stop func(failed bool) error, err error) {
	if u := os.Getenv(envURL); u != "" {
		m := &mode{name: "external"}
		suite.modes = []*mode{m}
		if m.main, err = parseTarget("external", u); err != nil {
			return nil, fmt.Errorf("%s: %w", envURL, err)
		}
		if u := os.Getenv(envLimitURL); u != "" {
			if m.limited, err = parseTarget("external-limited", u); err != nil {
				return nil, fmt.Errorf("%s: %w", envLimitURL, err)
			}
		}
		return func(bool) error { return nil }, nil
	}

	dir, err := os.MkdirTemp("", "sluice-conformance-")
	if err != nil {
		return nil, err
	}
	var procs []*serverProc
	stop = func(failed bool) error {
		var errs []error
		for _, p := range procs {
			errs = append(errs, p.stop())
			if failed {
				// The failed cases logged their connections' lines;
				// what is left worth reading is above DEBUG.
				fmt.Fprintf(os.Stderr, "--- %s log, without DEBUG lines:\n%s", p.name, p.log.without("level=DEBUG"))
			}
		}
		errs = append(errs, os.RemoveAll(dir))
		return errors.Join(errs...)
	}
	bin, err := build(dir)
	suite.modes = modes()
	for _, m := range suite.modes {
		if err == nil {
			m.main, err = startServer(&procs, m.name, bin, m.args...)
		}
		if err == nil {
			m.limited, err = startServer(&procs, m.name+"-limited", bin, append(m.args, "-max-message", strconv.Itoa(conform.LimitedMaxMessage))...)
		}
	}
	if err != nil {
		return nil, errors.Join(err, stop(true))
	}
	return stop, nil
}

// target is a server under test, and its process when the suite started
// it.
type target struct {
	name string
	conform.Target
	proc *serverProc // nil for a server given by URL
}

// parseTarget parses a ws:// or wss:// URL.
func parseTarget(name, s string) (*target, error) {
	t, err := conform.ParseTarget(s)
	if err != nil {
		return nil, err
	}
	return &target{name: name, Target: t}, nil
}

// build compiles cmd/sluice into dir, with -race when this test binary has
// it, so that the server's data races fail the run too.
func build(dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "sluice")
	args := []string{"build", "-o", bin}
	if raceEnabled() {
		args = append(args, "-race")
	}
	ctx, cancel := wstest.RunContext("go build ./cmd/sluice")
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append(args, "./cmd/sluice")...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), errors.Join(err, wstest.Err(ctx)), out)
	}
	return bin, nil
}

// moduleRoot is the nearest directory above the working directory (the
// package's) that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// raceEnabled reports whether this binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// --- server processes --------------------------------------------------------

// serverProc is a `sluice serve` child process.
type serverProc struct {
	name   string
	cmd    *exec.Cmd
	log    *logBuffer
	exited chan struct{} // closed once the process has been waited for
	err    error         // valid once exited is closed
}

// listening matches the line serve logs once it accepts connections.
var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startServer starts `bin serve -addr 127.0.0.1:0` with args in its own
// process group, adds it to procs, and waits for its listening line.
func startServer(procs *[]*serverProc, name, bin string, args ...string) (*target, error) {
	// serve's production bounds (keepalive and write timeout, 30 s) are
	// ones a loaded machine reaches while a 16 MiB message crosses under
	// -race: here only a hang may reach them.
	hang := time.Until(wstest.RunDeadline()).Round(time.Second).String()
	argv := append([]string{"serve", "-addr", "127.0.0.1:0", "-log-level", "debug",
		"-shutdown-timeout", wstest.Slow(10 * time.Second).Round(time.Second).String(),
		"-ping-interval", hang, "-write-timeout", hang}, args...)
	cmd := exec.Command(bin, argv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &serverProc{name: strings.Join(append([]string{"sluice"}, argv...), " "), cmd: cmd, log: newLogBuffer(), exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	*procs = append(*procs, p)
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	deadline := time.After(time.Until(wstest.RunDeadline()))
	for {
		changed := p.log.changed()
		if m := listening.FindSubmatch(p.log.bytes()); m != nil {
			return &target{name: name, Target: conform.Target{Host: string(m[1]), Path: "/echo"}, proc: p}, nil
		}
		select {
		case <-changed:
		case <-p.exited:
			return nil, fmt.Errorf("%s exited before listening: %v\n%s", p.name, p.err, p.log)
		case <-deadline:
			return nil, fmt.Errorf("%s: %w\n%s", p.name, wstest.Expired(runDeadline{}, "its listening line"), p.log)
		}
	}
}

// stop asks the server to shut down (SIGTERM) and kills its process group
// if it has not exited within stopTimeout. It returns an error when the
// server did not exit with status 0 or reported a data race.
func (p *serverProc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	bound := wstest.Slow(stopTimeout)
	select {
	case <-p.exited:
	case <-time.After(bound):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
		return fmt.Errorf("%s: no exit within %v of SIGTERM; killed", p.name, bound)
	}
	if bytes.Contains(p.log.bytes(), []byte("DATA RACE")) {
		return fmt.Errorf("%s reported a data race:\n%s", p.name, p.log)
	}
	if p.err != nil {
		return fmt.Errorf("%s: %w\n%s", p.name, p.err, p.log)
	}
	return nil
}

// logConn copies to t's log the server's lines about the connection from
// local (serve logs the peer as remote=host:port), after waiting at most
// closeBound for the line that ends the connection.
func (p *serverProc) logConn(t *testing.T, local string) {
	t.Helper()
	key := []byte("remote=" + local)
	ended := func(line []byte) bool {
		return bytes.Contains(line, key) &&
			(bytes.Contains(line, []byte("msg=disconnected")) || bytes.Contains(line, []byte(`msg="handshake rejected"`)))
	}
	deadline := time.After(wstest.Slow(closeBound))
	var lines [][]byte
	for done := false; !done; {
		changed := p.log.changed()
		lines = lines[:0]
		for line := range bytes.Lines(p.log.bytes()) {
			if bytes.Contains(line, key) {
				lines = append(lines, line)
				done = done || ended(line)
			}
		}
		if done {
			break
		}
		select {
		case <-changed:
		case <-deadline:
			done = true
		case <-p.exited:
			done = true
		}
	}
	t.Logf("%s log for %s:\n%s", p.name, local, bytes.Join(lines, nil))
}

// logBuffer collects a process's output and tells waiters when it grows.
type logBuffer struct {
	mu     sync.Mutex
	buf    []byte        // guarded by mu
	notify chan struct{} // closed and replaced on every write; guarded by mu
}

// maxLog bounds what logBuffer keeps; serve logs two lines per connection.
const maxLog = 8 << 20

func newLogBuffer() *logBuffer { return &logBuffer{notify: make(chan struct{})} }

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) < maxLog {
		b.buf = append(b.buf, p...)
	}
	close(b.notify)
	b.notify = make(chan struct{})
	return len(p), nil
}

// changed returns a channel closed at the next write.
func (b *logBuffer) changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.notify
}

// bytes returns a copy of the log.
func (b *logBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf)
}

func (b *logBuffer) String() string { return string(b.bytes()) }

// without returns the log's lines that do not contain s.
func (b *logBuffer) without(s string) []byte {
	var out []byte
	for line := range bytes.Lines(b.bytes()) {
		if !bytes.Contains(line, []byte(s)) {
			out = append(out, line...)
		}
	}
	return out
}

// runDeadline gives wstest.Expired the run's deadline outside a test.
type runDeadline struct{}

func (runDeadline) Deadline() (time.Time, bool) { return wstest.RunDeadline(), true }

// --- the tests ---------------------------------------------------------------

// TestConformance runs every case of the suite (package internal/conform,
// which `sluice conform` runs too) against every mode of serve, each case
// over its own connection, in parallel, bounded by -test.parallel:
// TestConformance/<mode>/<section>/<case>.
func TestConformance(t *testing.T) {
	for _, m := range suite.modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			for _, s := range conform.Sections() {
				t.Run(s.Name, func(t *testing.T) {
					t.Parallel()
					tgt := m.main
					if s.Limited {
						if tgt = m.limited; tgt == nil {
							t.Skipf("%s is set without %s: no server with a 1 KiB message limit to test", envURL, envLimitURL)
						}
					}
					for _, c := range s.Cases {
						t.Run(strings.TrimPrefix(c.ID, s.Name+"/"), func(t *testing.T) {
							t.Parallel()
							runCase(t, tgt, c)
						})
					}
				})
			}
		})
	}
}

// runCase runs c against tgt. Only a hang reaches the bound of an
// exchange; the server must close TCP within closeBound (scaled) of its
// close frame. When the case fails, the server's log lines about its
// connection go to the test log.
func runCase(t *testing.T, tgt *target, c conform.Case) {
	b := conform.Bounds{IO: wstest.Remaining(t), Close: wstest.Slow(closeBound)}
	r := c.Run(wstest.Context(t, c.ID), tgt.Target, b)
	for _, line := range r.Log {
		t.Log(line)
	}
	if r.NonStrict != "" {
		// wsutil.Conn sends its close once the application has queued
		// nothing for 50 ms (documented at Conn.Inbound): on a loaded
		// machine the echo handler can miss that, which RFC 6455 allows.
		t.Logf("NON-STRICT: %s", r.NonStrict)
	}
	switch {
	case r.Skipped != "" && tgt.proc != nil:
		t.Fatalf("sluice serve must take part in every case, but: %s", r.Skipped)
	case r.Skipped != "":
		t.Skip(r.Skipped)
	case r.Err != nil:
		t.Error(r.Err)
		if tgt.proc != nil {
			tgt.proc.logConn(t, r.Local)
		}
	}
}
