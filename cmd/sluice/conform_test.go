package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/conform"
	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
)

// conformBounds are the bound flags of conform in these tests: only a hang
// reaches the bound of an exchange, and the close bound scales with the
// machine's load.
func conformBounds(t *testing.T) []string {
	return []string{
		"-timeout", wstest.Remaining(t).Round(time.Second).String(),
		"-close-timeout", wstest.Slow(2 * time.Second).String(),
	}
}

// `sluice conform` against `sluice serve` passes every case, the limits
// section included, and exits with status 0.
func TestConformServe(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	limited := startServe(t, "-max-message", "1024")
	var out, errOut syncBuffer
	args := append([]string{"conform", "-limit-url", limited.url("/echo")}, conformBounds(t)...)
	err := run(testCtx(t), append(args, s.url("/echo")), strings.NewReader(""), &out, &errOut)
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	assert.Equal(t, 0, exitCode(err, io.Discard))

	total := 0
	for _, sec := range conform.Sections() {
		total += len(sec.Cases)
		assert.Regexp(t, `(?m)^`+sec.Name+` +`+strconv.Itoa(len(sec.Cases))+` passed( \(\d+ NON-STRICT\))?$`, out.String(), "section %s", sec.Name)
	}
	// A case passes NON-STRICT when serve's close overtakes an echo that
	// wsutil.Conn waited 50 ms for, which a loaded machine can make it
	// do (wsutil.Conn.Inbound documents the 50 ms).
	assert.Regexp(t, `PASS: `+strconv.Itoa(total)+` cases passed \(\d+ NON-STRICT\), 0 skipped`, out.String())
	assert.NotContains(t, out.String(), "FAIL")
	if strings.Contains(out.String(), "NON-STRICT ") {
		t.Logf("report:\n%s", out.String())
	}
}

// `sluice conform` against a server that echoes invalid UTF-8 as text
// exits with status 1 and names the cases it failed.
func TestConformBrokenServer(t *testing.T) {
	t.Parallel()
	url := startCarelessEcho(t)
	var out, errOut syncBuffer
	// The fail-fast cases wait for a close frame this server never sends:
	// a short bound ends them; a slow machine can only fail more cases of
	// a server that fails anyway.
	args := []string{"conform", "-run", "^utf8/", "-timeout", wstest.Slow(2 * time.Second).String(), url}
	err := run(testCtx(t), args, strings.NewReader(""), &out, &errOut)
	require.ErrorIs(t, err, errConformance)
	assert.Equal(t, 1, exitCode(err, io.Discard))
	report := out.String()
	t.Logf("report:\n%s", report)
	for _, id := range []string{
		"utf8/invalid-surrogate-D800",
		"utf8/invalid-overlong-C0-AF",
		"utf8/invalid-byte-FF",
		"utf8/invalid-in-second-fragment",
		"utf8/valid-message-then-invalid",
		"utf8/fail-fast-surrogate-D800/frame-cut-short",
	} {
		assert.Contains(t, report, "FAIL "+id+": ", "the report names %s", id)
		assert.Contains(t, err.Error(), id, "the error names %s", id)
	}
	// The case fails on the echo where a close frame was due.
	assert.Regexp(t, `FAIL utf8/invalid-surrogate-D800: step 2 of 2 \(expect close 1007.*\): the server sent text`, report)
	assert.NotRegexp(t, `FAIL utf8/valid-[^ ]*/`, report, "valid text is echoed")
	assert.Regexp(t, `(?m)^utf8 +\d+ passed, \d+ FAILED$`, report)
	assert.Regexp(t, `(?m)^FAIL: \d+ of 48 cases failed$`, report)
}

// A server that fails the connection at once, dropping the echoes of the
// messages that came with the fault, passes NON-STRICT, as Autobahn rates
// it; -strict fails it.
func TestConformNonStrict(t *testing.T) {
	t.Parallel()
	url := startEchoServer(t, hastyEcho)
	for _, strict := range []bool{false, true} {
		var out bytes.Buffer
		args := []string{"conform", "-run", "^reserved-opcodes/opcode-0x3", "-strict=" + strconv.FormatBool(strict)}
		err := run(testCtx(t), append(append(args, conformBounds(t)...), url), strings.NewReader(""), &out, io.Discard)
		report := out.String()
		t.Logf("-strict=%v:\n%s", strict, report)
		if strict {
			require.ErrorIs(t, err, errConformance)
			assert.Contains(t, report, "FAIL reserved-opcodes/opcode-0x3-after-valid-message: ")
			continue
		}
		require.NoError(t, err)
		assert.Regexp(t, `(?m)^reserved-opcodes +2 passed \(1 NON-STRICT\)$`, report)
		assert.Contains(t, report, "NON-STRICT reserved-opcodes/opcode-0x3-after-valid-message: step 2 of 3 (expect the echo")
		assert.Contains(t, report, "PASS: 2 cases passed (1 NON-STRICT), 0 skipped")
	}
}

func TestConformFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no URL", nil},
		{"two URLs", []string{"ws://a/echo", "ws://b/echo"}},
		{"http URL", []string{"http://a/echo"}},
		{"bad -limit-url", []string{"-limit-url", "tcp://a", "ws://a/echo"}},
		{"bad -run", []string{"-run", "(", "ws://a/echo"}},
		{"zero -timeout", []string{"-timeout", "0s", "ws://a/echo"}},
		{"zero -parallel", []string{"-parallel", "0", "ws://a/echo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var errOut bytes.Buffer
			err := run(t.Context(), append([]string{"conform"}, tc.args...), strings.NewReader(""), io.Discard, &errOut)
			require.ErrorIs(t, err, errUsage)
			assert.Contains(t, errOut.String(), "Usage: sluice conform")
		})
	}
}

// startCarelessEcho starts a test double of a careless server on
// 127.0.0.1 and returns the URL of its echo endpoint: it echoes every data
// frame as it came, text with invalid UTF-8 included, answers pings and
// close frames, and checks nothing else.
func startCarelessEcho(t *testing.T) string { return startEchoServer(t, carelessEcho) }

// startEchoServer serves each connection to 127.0.0.1 with serve and
// returns the URL of its echo endpoint.
func startEchoServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[nc] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				serve(nc)
				mu.Lock()
				delete(conns, nc)
				mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for nc := range conns {
			nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "ws://" + ln.Addr().String() + "/echo"
}

// carelessEcho serves one connection of startCarelessEcho.
func carelessEcho(nc net.Conn) {
	defer nc.Close()
	hs, err := (&ws.Upgrader{}).Upgrade(nc)
	if err != nil {
		return
	}
	br := bufio.NewReader(io.MultiReader(bytes.NewReader(hs.Buffered), nc))
	for {
		f, err := ws.ReadFrame(br, 1<<20)
		if err != nil {
			return
		}
		switch h := f.Header; h.OpCode {
		case ws.OpPing:
			err = ws.WriteFrame(nc, ws.NewFrame(ws.OpPong, true, f.Payload))
		case ws.OpPong:
		case ws.OpClose:
			_ = ws.WriteFrame(nc, ws.NewFrame(ws.OpClose, true, f.Payload))
			return
		default:
			err = ws.WriteFrame(nc, ws.NewFrame(h.OpCode, h.Fin, f.Payload))
		}
		if err != nil {
			return
		}
	}
}

// hastyEcho serves one connection like carelessEcho, but holds the echo of
// a frame while more bytes are waiting, and fails the connection at once on
// a reserved opcode, dropping the echoes it holds.
func hastyEcho(nc net.Conn) {
	defer nc.Close()
	hs, err := (&ws.Upgrader{}).Upgrade(nc)
	if err != nil {
		return
	}
	br := bufio.NewReader(io.MultiReader(bytes.NewReader(hs.Buffered), nc))
	var held []ws.Frame
	for {
		f, err := ws.ReadFrame(br, 1<<20)
		if err != nil {
			return
		}
		switch h := f.Header; {
		case h.OpCode.IsReserved():
			_ = ws.WriteFrame(nc, ws.NewCloseFrame(ws.StatusProtocolError, "reserved opcode"))
			return
		case h.OpCode == ws.OpClose:
			_ = ws.WriteFrame(nc, ws.NewFrame(ws.OpClose, true, f.Payload))
			return
		case h.OpCode.IsData():
			held = append(held, ws.NewFrame(h.OpCode, h.Fin, f.Payload))
		}
		if br.Buffered() == 0 {
			for _, e := range held {
				if ws.WriteFrame(nc, e) != nil {
					return
				}
			}
			held = held[:0]
		}
	}
}
