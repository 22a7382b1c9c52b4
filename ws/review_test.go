package ws

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reviewConn is a hijacked connection that swallows writes without
// allocating.
type reviewConn struct {
	net.Conn
	out []byte
}

func (c *reviewConn) Write(p []byte) (int, error) {
	c.out = append(c.out[:0], p...)
	return len(p), nil
}
func (c *reviewConn) SetDeadline(time.Time) error     { return nil }
func (c *reviewConn) Close() error                    { return nil }
func (c *reviewConn) RemoteAddr() net.Addr            { return nil }
func (c *reviewConn) SetReadDeadline(time.Time) error { return nil }

// reviewHijacker is a ResponseWriter whose Hijack allocates nothing, so
// that a benchmark counts HTTPUpgrader's own allocations only.
type reviewHijacker struct {
	h    http.Header
	conn *reviewConn
	brw  *bufio.ReadWriter
}

func newReviewHijacker() *reviewHijacker {
	c := &reviewConn{}
	return &reviewHijacker{
		h:    http.Header{},
		conn: c,
		brw:  bufio.NewReadWriter(bufio.NewReader(bytes.NewReader(nil)), bufio.NewWriter(c)),
	}
}

func (w *reviewHijacker) Header() http.Header         { return w.h }
func (w *reviewHijacker) Write(p []byte) (int, error) { return len(p), nil }
func (w *reviewHijacker) WriteHeader(int)             {}
func (w *reviewHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.conn, w.brw, nil
}

// TestReviewHTTPUpgraderValues checks that HTTPUpgrader hands its hooks the
// values of the request, and answers as Upgrader does, now that it copies
// them into its pooled buffer instead of converting each one.
func TestReviewHTTPUpgraderValues(t *testing.T) {
	t.Parallel()
	long := bytes.Repeat([]byte("x"), 5000) // more than the pooled buffer holds
	req := upRequest(
		"Host: Server.Example.com:80",
		"Origin: http://server.example.com",
		"Sec-WebSocket-Protocol: a, b",
		"+Sec-WebSocket-Protocol: c",
		"Sec-WebSocket-Extensions: x-long; p="+string(long)+", x-foo; q=1",
	)
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(req)))
	require.NoError(t, err)

	var origin, host string
	var protocols []string
	var offers []string
	u := HTTPUpgrader{
		CheckOrigin: func(o, h []byte) error {
			origin, host = string(o), string(h)
			return SameOrigin(o, h)
		},
		Protocol: func(p string) bool {
			protocols = append(protocols, p)
			return p == "c"
		},
		Extension: func(o httphead.Option) (httphead.Option, bool) {
			offers = append(offers, upOptionString(o))
			return o, true
		},
	}
	w := newReviewHijacker()
	conn, hs, err := u.Upgrade(w, r)
	require.NoError(t, err)
	require.NotNil(t, conn)
	assert.Equal(t, "http://server.example.com", origin)
	assert.Equal(t, "Server.Example.com:80", host)
	assert.Equal(t, []string{"a", "b", "c"}, protocols)
	assert.Equal(t, "c", hs.Protocol)
	require.Len(t, offers, 2)
	assert.Equal(t, "x-long; p="+string(long), offers[0])
	assert.Equal(t, "x-foo; q=1", offers[1])
	require.Len(t, hs.Extensions, 2)
	v, ok := hs.Extensions[0].Parameters.Get("p")
	require.True(t, ok)
	assert.Equal(t, long, v)

	// The same request through Upgrader gets the same answer.
	resp, _, err := (&Upgrader{
		Protocol:  func(p []byte) bool { return string(p) == "c" },
		Extension: func(o httphead.Option) (httphead.Option, bool) { return o, true },
	}).UpgradeBuffer(nil, req)
	require.NoError(t, err)
	assert.Equal(t, string(resp), string(w.conn.out))
}

// TestReviewHTTPUpgraderAllocs pins that HTTPUpgrader.Upgrade no longer
// allocates a copy of each field value it checks (6 allocations per
// handshake before). It asserts under one allocation per run on average
// rather than zero, so that it holds under -race too, where sync.Pool
// drops some of the buffers put back on purpose.
func TestReviewHTTPUpgraderAllocs(t *testing.T) {
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(upBenchRequest())))
	require.NoError(t, err)
	w := newReviewHijacker()
	var u HTTPUpgrader
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := u.Upgrade(w, r); err != nil {
			panic(err)
		}
	})
	assert.Less(t, allocs, 1.0)
	assert.Equal(t, upGolden, string(w.conn.out))
}

// BenchmarkReviewHTTPUpgrader measures HTTPUpgrader.Upgrade without the
// network or net/http's own allocations: a request already parsed, and a
// Hijack that allocates nothing.
func BenchmarkReviewHTTPUpgrader(b *testing.B) {
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(upBenchRequest())))
	require.NoError(b, err)
	w := newReviewHijacker()
	var u HTTPUpgrader
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := u.Upgrade(w, r); err != nil {
			b.Fatal(err)
		}
	}
}

// reviewCountWriter counts Write calls and keeps the bytes written.
type reviewCountWriter struct {
	calls int
	buf   bytes.Buffer
}

func (w *reviewCountWriter) Write(p []byte) (int, error) {
	w.calls++
	return w.buf.Write(p)
}

// TestReviewWriteFrameOneWrite checks that WriteFrame sends a frame that
// fits in its scratch buffer with a single Write when w is not a
// *bufio.Writer, as wsutil.WriteMessage and the control replies do on a
// bare net.Conn: header and payload in two Writes are two syscalls and,
// with TCP_NODELAY (Go's default), two segments per message. Larger frames
// take the Writes they did, or one fewer for a masked one, and the bytes
// stay those of AppendFrame.
func TestReviewWriteFrameOneWrite(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		n      int
		masked bool
		calls  int
	}{
		{"empty", 0, false, 1},
		{"small", 16, false, 1},
		{"small masked", 16, true, 1},
		{"control masked", MaxControlPayload, true, 1},
		{"fits", maskChunk - 4, false, 1},
		{"fits masked", maskChunk - 8, true, 1},
		{"large", 64 << 10, false, 2},
		{"large masked", 64 << 10, true, 17},
		{"just over masked", maskChunk - 7, true, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			payload := make([]byte, tc.n)
			for i := range payload {
				payload[i] = byte(i * 7)
			}
			f := NewBinaryFrame(payload)
			if tc.masked {
				f = f.Masked([4]byte{1, 2, 3, 4})
			}
			orig := bytes.Clone(payload)
			var w reviewCountWriter
			require.NoError(t, WriteFrame(&w, f))
			assert.Equal(t, AppendFrame(nil, f), w.buf.Bytes())
			assert.Equal(t, tc.calls, w.calls)
			assert.Equal(t, orig, payload, "the payload is left alone")
		})
	}
}

// BenchmarkReviewWriteFrameConn writes frames to a loopback TCP connection
// without a bufio.Writer, as wsutil.WriteMessage does on a net.Conn.
func BenchmarkReviewWriteFrameConn(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(io.Discard, c)
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(b, err)
	defer func() {
		conn.Close()
		<-done
	}()
	for _, n := range []int{16, 1 << 10, 64 << 10} {
		for _, masked := range []bool{false, true} {
			f := NewBinaryFrame(make([]byte, n))
			name := "server/" + sizeName(n)
			if masked {
				f, name = f.Masked([4]byte{1, 2, 3, 4}), "client/"+sizeName(n)
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(n))
				for b.Loop() {
					if err := WriteFrame(conn, f); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
