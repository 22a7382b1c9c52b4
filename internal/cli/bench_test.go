package cli

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/sluice-ws/sluice/wsutil"
)

// benchTestServer is an echo server on 127.0.0.1 built on the channel
// API, for sluice bench to load. It counts what it did, so that a test
// can hold bench's figures against the server's.
type benchTestServer struct {
	url      string
	upgrades atomic.Int64
	echoed   atomic.Int64

	mu    sync.Mutex
	conns map[*wsutil.Conn]struct{}
}

// benchServerOpts shape a benchTestServer.
type benchServerOpts struct {
	compress bool
	// stopAfter > 0 ends every connection once the server has echoed
	// that many messages in all: with a close frame (1001), or by
	// dropping the TCP connection when drop is set.
	stopAfter int64
	drop      bool
}

func startBenchServer(t *testing.T, o benchServerOpts) *benchTestServer {
	t.Helper()
	s := &benchTestServer{conns: make(map[*wsutil.Conn]struct{})}
	u := ws.HTTPUpgrader{}
	var cfg wsutil.Config
	if o.compress {
		ext := &wsflate.Extension{}
		u.Extension = ext.Negotiate
		cfg.Extension = ext
	}
	var handlers sync.WaitGroup
	handler := func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		nc, hs, err := u.Upgrade(w, r)
		if err != nil {
			return
		}
		c, err := wsutil.NewConn(nc, ws.ServerSide, hs, cfg)
		if !assert.NoError(t, err) {
			_ = nc.Close()
			return
		}
		s.upgrades.Add(1)
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		defer func() {
			<-c.Done()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
		out := c.Outbound()
		for m := range c.Inbound() {
			if o.stopAfter > 0 && s.echoed.Load() >= o.stopAfter {
				if o.drop {
					_ = c.Terminate()
				} else {
					_ = c.Close(ws.StatusGoingAway, "enough")
				}
				return
			}
			select {
			case out <- m:
				s.echoed.Add(1)
			case <-c.Done():
				return
			}
		}
		close(out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(handler)}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-served
		s.mu.Lock()
		for c := range s.conns {
			_ = c.Terminate()
		}
		s.mu.Unlock()
		handlers.Wait()
	})
	s.url = "ws://" + ln.Addr().String() + "/echo"
	return s
}

// runBenchCmd runs "sluice bench args..." against url, bounded by the
// test's deadline, and returns the result it printed.
func runBenchCmd(t *testing.T, url string, args ...string) (benchResult, string, error) {
	t.Helper()
	var out, errOut syncBuffer
	// Every wait of bench is bounded by the test's own deadline.
	args = append([]string{"bench", "-timeout", wstest.Remaining(t).String()}, args...)
	err := run(testCtx(t), append(args, url), strings.NewReader(""), &out, &errOut)
	var res benchResult
	if err == nil {
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &res), out.String())
	}
	return res, errOut.String(), err
}

// runBenchWindow runs "sluice bench -duration d args..." against srv
// with d at first 250ms, doubling it while the measured window counted nothing
// (counted returns 0): a loaded machine may finish no connect-storm cycle,
// or no round trip, in a short window while the code is right. The
// windows are bounded by the test's deadline, not by a fixed limit. The
// server's counters start from zero at each try.
func runBenchWindow(t *testing.T, srv *benchTestServer, counted func(benchResult) int64, args ...string) (benchResult, string) {
	t.Helper()
	for d := 250 * time.Millisecond; ; d *= 2 {
		srv.echoed.Store(0)
		srv.upgrades.Store(0)
		res, stderr, err := runBenchCmd(t, srv.url, append([]string{"-duration", d.String()}, args...)...)
		require.NoError(t, err, stderr)
		if counted(res) > 0 || 4*d > wstest.Remaining(t) {
			return res, stderr
		}
		t.Logf("a %v window counted nothing; trying again with %v", d, 2*d)
	}
}

// checkLatency asserts that l holds a sane, ordered set of quantiles.
func checkLatency(t *testing.T, l *latencyStats) {
	t.Helper()
	require.NotNil(t, l, "no latency figures")
	assert.Positive(t, l.P50)
	assert.LessOrEqual(t, l.P50, l.P99)
	assert.LessOrEqual(t, l.P99, l.P999)
	assert.LessOrEqual(t, l.P999, l.Max)
	assert.Positive(t, l.N)
}

// checkServer asserts what -pid of this very process must give: figures
// on Linux, a clear "unavailable" elsewhere.
func checkServer(t *testing.T, s *serverStats) {
	t.Helper()
	require.NotNil(t, s)
	assert.Equal(t, os.Getpid(), s.PID)
	if runtime.GOOS != "linux" {
		assert.Contains(t, s.Error, "/proc")
		return
	}
	assert.Empty(t, s.Error)
	if s.KernelShare != nil {
		assert.GreaterOrEqual(t, *s.KernelShare, 0.0)
		assert.LessOrEqual(t, *s.KernelShare, 1.0)
	}
	assert.Positive(t, s.RSSStart)
	assert.Positive(t, s.RSSEnd)
}

func TestBenchEcho(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		compress bool
		args     []string
	}{
		{"binary one in flight", false, []string{"-conns", "2"}},
		{"text pipelined", false, []string{"-conns", "3", "-depth", "8", "-text", "-size", "100"}},
		{"64KiB", false, []string{"-conns", "2", "-depth", "2", "-size", "64K"}},
		{"one source address", false, []string{"-conns", "4", "-depth", "4", "-sources", "1"}},
		{"compressed", true, []string{"-conns", "2", "-depth", "4", "-compress", "-size", "1K"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startBenchServer(t, benchServerOpts{compress: tc.compress})
			args := append([]string{"-warmup", "50ms", "-progress", "50ms",
				"-pid", itoa(os.Getpid())}, tc.args...)
			res, stderr := runBenchWindow(t, srv, func(r benchResult) int64 { return r.Messages }, args...)

			assert.Positive(t, res.Sent)
			assert.Equal(t, res.Sent, res.Received, "every message sent must come back")
			assert.Equal(t, srv.echoed.Load(), res.Received, "bench counts what the server echoed")
			assert.Positive(t, res.Messages)
			assert.LessOrEqual(t, res.Messages, res.Received)
			assert.Positive(t, res.MsgsPerSec)
			checkLatency(t, res.Latency)
			assert.Equal(t, res.Messages, int64(res.Latency.N), "one round trip per message in the window")
			checkServer(t, res.Server)
			if runtime.GOOS == "linux" {
				assert.Positive(t, res.Server.MsgsPerCPUSec)
			}
			if tc.compress {
				assert.Contains(t, res.Extension, "permessage-deflate")
			}
			assert.Contains(t, stderr, "msgs/s", "progress line")
		})
	}
}

func TestBenchStorm(t *testing.T) {
	t.Parallel()
	srv := startBenchServer(t, benchServerOpts{})
	res, _ := runBenchWindow(t, srv, func(r benchResult) int64 { return r.Handshakes },
		"-mode", "storm", "-conns", "2", "-warmup", "50ms", "-pid", itoa(os.Getpid()))
	assert.Positive(t, res.Handshakes)
	assert.LessOrEqual(t, res.Handshakes, srv.upgrades.Load())
	assert.Positive(t, res.HandshakesPerSec)
	checkLatency(t, res.Latency)
	checkServer(t, res.Server)
}

// TestBenchIdle is not parallel: it reads this process's RSS, which other
// tests would move.
func TestBenchIdle(t *testing.T) {
	srv := startBenchServer(t, benchServerOpts{})
	const n = 200
	// Hand free memory back, so that the connections must grow the RSS
	// rather than reuse what earlier tests left.
	debug.FreeOSMemory()
	res, stderr, err := runBenchCmd(t, srv.url, "-mode", "idle", "-conns", itoa(n),
		"-settle", "2s", "-pid", itoa(os.Getpid()))
	require.NoError(t, err, stderr)
	assert.Equal(t, n, res.Idle)
	assert.Equal(t, int64(n), srv.upgrades.Load())
	assert.Equal(t, int64(n), srv.echoed.Load(), "one echo per connection")
	checkServer(t, res.Server)
	if runtime.GOOS == "linux" {
		assert.Positive(t, res.Server.RSSPerConn, "each idle connection costs the server memory")
	}
}

func TestBenchServerCloses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		drop bool
		want string
	}{
		{"close frame", false, "close 1001"},
		{"dropped", true, "server closed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startBenchServer(t, benchServerOpts{stopAfter: 100, drop: tc.drop})
			// A run far longer than the test may last: only the server's
			// close can end it in time.
			_, stderr, err := runBenchCmd(t, srv.url, "-conns", "2", "-depth", "4",
				"-warmup", "0s", "-duration", "1h", "-progress", "0")
			require.ErrorIs(t, err, errServerClosed, stderr)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestBenchHandshakeRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.NotFoundHandler()}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-served
	})
	_, _, err = runBenchCmd(t, "ws://"+ln.Addr().String()+"/", "-duration", "1h")
	require.ErrorIs(t, err, errBenchHandshake)
	assert.Contains(t, err.Error(), "404")
}

func TestBenchCompressRefused(t *testing.T) {
	t.Parallel()
	srv := startBenchServer(t, benchServerOpts{})
	_, _, err := runBenchCmd(t, srv.url, "-compress", "-duration", "1h")
	require.ErrorIs(t, err, errBenchHandshake)
	assert.Contains(t, err.Error(), "permessage-deflate")
}

func TestBenchFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
	}{
		{"no URL", nil},
		{"two URLs", []string{"ws://127.0.0.1:1/", "ws://127.0.0.1:2/"}},
		{"wss", []string{"wss://127.0.0.1:1/"}},
		{"mode", []string{"-mode", "flood", "ws://127.0.0.1:1/"}},
		{"text and binary", []string{"-text", "-binary", "ws://127.0.0.1:1/"}},
		{"compress binary", []string{"-compress", "-binary", "ws://127.0.0.1:1/"}},
		{"zero depth", []string{"-depth", "0", "ws://127.0.0.1:1/"}},
		{"zero size", []string{"-size", "0", "ws://127.0.0.1:1/"}},
		{"zero duration", []string{"-duration", "0s", "ws://127.0.0.1:1/"}},
		{"sources off loopback", []string{"-sources", "4", "ws://192.0.2.1:1/"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			err := run(t.Context(), append([]string{"bench"}, tc.args...), strings.NewReader(""), &out, &errOut)
			require.ErrorIs(t, err, errUsage)
			assert.Contains(t, errOut.String(), "Usage: sluice bench")
		})
	}
	t.Run("defaults", func(t *testing.T) {
		cfg, err := parseBenchFlags([]string{"127.0.0.1:8080/echo"}, &bytes.Buffer{})
		require.NoError(t, err)
		assert.Equal(t, "127.0.0.1:8080", cfg.target.addr)
		assert.Equal(t, "/echo", cfg.target.path)
		assert.Equal(t, modeEcho, cfg.mode)
		assert.False(t, cfg.text)
		if runtime.GOOS == "linux" {
			assert.Equal(t, defaultSources, cfg.sources)
		}
		cfg, err = parseBenchFlags([]string{"-compress", "ws://localhost/"}, &bytes.Buffer{})
		require.NoError(t, err)
		assert.True(t, cfg.text, "-compress sends text")
		assert.Equal(t, "localhost:80", cfg.target.addr)
		assert.Equal(t, 1, cfg.sources, "no source addresses for a host name")
	})
}

func TestBenchHistogram(t *testing.T) {
	t.Parallel()
	t.Run("buckets", func(t *testing.T) {
		t.Parallel()
		for _, v := range []int64{0, 1, 127, 128, 129, 255, 256, 1000, 123456, 1 << 30, 1<<histMaxBits - 1} {
			i := histIndex(v)
			require.Less(t, i, histBuckets, v)
			low, width := histLow(i)
			assert.LessOrEqual(t, low, v, v)
			assert.Less(t, v, low+width, v)
			assert.LessOrEqual(t, float64(width), 1+float64(low)/histSub, "relative width of the bucket of %d", v)
		}
	})
	t.Run("quantiles", func(t *testing.T) {
		t.Parallel()
		var h histogram
		for v := 1; v <= 10000; v++ {
			h.record(msDuration(v))
		}
		for _, q := range []float64{0.5, 0.99, 0.999} {
			want := q * 10000 * 1e6
			got := float64(h.quantile(q))
			assert.InEpsilon(t, want, got, 1.0/histSub, "q=%v", q)
		}
		assert.Equal(t, msDuration(10000), h.quantile(1))
		assert.InEpsilon(t, 5000.5e6, float64(h.mean()), 1e-9)
	})
	t.Run("merge", func(t *testing.T) {
		t.Parallel()
		var a, b histogram
		a.record(msDuration(1))
		b.record(msDuration(3))
		a.merge(&b)
		assert.Equal(t, uint64(2), a.total)
		assert.Equal(t, int64(msDuration(3)), a.max)
		var empty histogram
		assert.Zero(t, empty.quantile(0.5))
		assert.Nil(t, newLatencyStats(&empty))
	})
}

func TestBenchProcParse(t *testing.T) {
	t.Parallel()
	// comm with a space and a parenthesis, as proc(5) allows.
	stat := "4242 (my (serv) er) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 130 0 0 20 0 9 0 777 1234567 890 18446744073709551615"
	user, system, err := parseProcStat([]byte(stat))
	require.NoError(t, err)
	assert.Equal(t, msDuration(2500), user, "utime: 250 ticks of 10 ms")
	assert.Equal(t, msDuration(1300), system, "stime: 130 ticks of 10 ms")
	_, _, err = parseProcStat([]byte("4242 (x) S 1 2"))
	assert.Error(t, err)

	rss, err := parseProcStatus([]byte("Name:\tserver\nVmPeak:\t  9999 kB\nVmRSS:\t   12345 kB\nThreads:\t9\n"))
	require.NoError(t, err)
	assert.Equal(t, int64(12345<<10), rss)
	_, err = parseProcStatus([]byte("Name:\tserver\n"))
	assert.Error(t, err)

	if runtime.GOOS != "linux" {
		_, err := readProc(os.Getpid())
		require.ErrorIs(t, err, errProcUnavailable)
	}
}

// TestBenchKernelShare checks that the server's figures split its CPU
// time between user space and the kernel, and that the table and the
// JSON line both say so.
func TestBenchKernelShare(t *testing.T) {
	t.Parallel()
	r := newBenchRun(t.Context(), benchConfig{pid: 4242})
	start := procSample{user: msDuration(1000), system: msDuration(2000), rss: 1 << 20}
	end := procSample{user: msDuration(1500), system: msDuration(3500), rss: 2 << 20}
	s := r.serverStats(start, end, nil)
	require.NotNil(t, s.KernelShare)
	assert.InEpsilon(t, 2.0, s.CPUSec, 1e-9, "0.5 s of user time and 1.5 s of system time")
	assert.InEpsilon(t, 0.75, *s.KernelShare, 1e-9, "system time over user plus system")

	idle := r.serverStats(end, end, nil)
	assert.Nil(t, idle.KernelShare, "no CPU time, no share")

	s.CPUPercent = 80
	var out strings.Builder
	require.NoError(t, benchResult{Mode: modeEcho, Server: s}.write(&out))
	assert.Contains(t, out.String(), "2.00 s (80% of a core), 75% of it in the kernel")
	assert.Contains(t, out.String(), `"kernel_share":0.75`)

	out.Reset()
	require.NoError(t, benchResult{Mode: modeEcho, Server: idle}.write(&out))
	assert.NotContains(t, out.String(), "kernel")
}

func TestBenchFrameScanner(t *testing.T) {
	t.Parallel()
	frames := &benchFrames{op: ws.OpBinary, size: 10}
	frame := func(op ws.OpCode, fin bool, n int) []byte {
		return ws.AppendFrame(nil, ws.NewFrame(op, fin, make([]byte, n)))
	}
	t.Run("fragmented echo, fed a byte at a time", func(t *testing.T) {
		t.Parallel()
		stream := append(frame(ws.OpBinary, false, 4), frame(ws.OpPong, true, 2)...)
		stream = append(stream, frame(ws.OpContinuation, true, 6)...)
		stream = append(stream, frame(ws.OpBinary, true, 10)...)
		sc := frameScanner{frames: frames}
		var buf []byte
		msgs := 0
		for _, b := range stream {
			buf = append(buf, b)
			used, n, ev, err := sc.scan(buf)
			require.NoError(t, err)
			require.Zero(t, ev.op)
			buf = buf[used:]
			msgs += n
		}
		assert.Equal(t, 2, msgs)
		assert.Empty(t, buf)
	})
	t.Run("ping stops the scan", func(t *testing.T) {
		t.Parallel()
		stream := append(frame(ws.OpBinary, true, 10), ws.AppendFrame(nil, ws.NewPingFrame([]byte("hi")))...)
		stream = append(stream, frame(ws.OpBinary, true, 10)...)
		sc := frameScanner{frames: frames}
		used, n, ev, err := sc.scan(stream)
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		assert.Equal(t, ws.OpPing, ev.op)
		assert.Equal(t, "hi", string(ev.payload))
		_, n, _, err = sc.scan(stream[used:])
		require.NoError(t, err)
		assert.Equal(t, 1, n)
	})
	for name, stream := range map[string][]byte{
		"wrong size":        frame(ws.OpBinary, true, 9),
		"wrong opcode":      frame(ws.OpText, true, 10),
		"lone continuation": frame(ws.OpContinuation, true, 10),
		"masked":            ws.AppendFrame(nil, ws.NewBinaryFrame(make([]byte, 10)).Masked(benchMask)),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc := frameScanner{frames: frames}
			_, _, _, err := sc.scan(stream)
			assert.Error(t, err)
		})
	}
}

func TestBenchJSONLikeText(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 2, 100, 1024, 4096} {
		p := jsonLikeText(n)
		assert.Len(t, p, n)
		assert.True(t, wsutil.ValidUTF8(p))
		assert.Equal(t, byte(']'), p[n-1])
	}
	compressed, err := wsflate.AppendCompress(nil, jsonLikeText(1024), wsflate.DefaultLevel, 0)
	require.NoError(t, err)
	assert.Less(t, len(compressed), 1024/2, "JSON-like text compresses like JSON")
}

func itoa(n int) string { return strconv.Itoa(n) }

func msDuration(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }
