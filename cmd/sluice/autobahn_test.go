package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/sluice-ws/sluice/wsutil"
)

// fakeCase is one case of fakeFuzzingServer: the messages it sends, each
// of which must come back as it went.
type fakeCase struct {
	id   string
	msgs []wsutil.Message
	// verdict overrides the server's verdict, as when Autobahn judges a
	// case by more than the echoes.
	verdict string
}

// fakeFuzzingServer is a test double of the Autobahn Testsuite's fuzzing
// server (wstest -m fuzzingserver) with the URLs and answers a testee
// client meets: getCaseCount, getCaseInfo, runCase, getCaseStatus and
// updateReports. Its cases send a few messages and check the echoes;
// permessage-deflate is accepted when offered.
type fakeFuzzingServer struct {
	t     *testing.T
	cases []fakeCase
	srv   *httptest.Server

	mu       sync.Mutex
	requests []string       // "path agent=… case=…" in order; guarded by mu
	status   map[int]string // the verdict of each case run; guarded by mu
	offers   map[int]string // the Sec-WebSocket-Extensions of each runCase; guarded by mu
	accepted map[int]string // what the server accepted; guarded by mu
	wire     map[int]int64  // bytes the server received in each case; guarded by mu
}

func startFakeFuzzingServer(t *testing.T, cases ...fakeCase) *fakeFuzzingServer {
	t.Helper()
	f := &fakeFuzzingServer{t: t, cases: cases, status: map[int]string{}, offers: map[int]string{},
		accepted: map[int]string{}, wire: map[int]int64{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/getCaseCount", func(w http.ResponseWriter, r *http.Request) {
		f.reply(w, r, strconv.Itoa(len(f.cases)))
	})
	mux.HandleFunc("/getCaseInfo", func(w http.ResponseWriter, r *http.Request) {
		n, ok := f.caseNumber(w, r)
		if ok {
			info, _ := json.Marshal(map[string]string{"id": f.cases[n-1].id, "description": "a fake case"})
			f.reply(w, r, string(info))
		}
	})
	mux.HandleFunc("/getCaseStatus", func(w http.ResponseWriter, r *http.Request) {
		n, ok := f.caseNumber(w, r)
		if ok {
			f.mu.Lock()
			status := f.status[n]
			f.mu.Unlock()
			res, _ := json.Marshal(map[string]string{"behavior": status})
			f.reply(w, r, string(res))
		}
	})
	mux.HandleFunc("/runCase", f.runCase)
	mux.HandleFunc("/updateReports", func(w http.ResponseWriter, r *http.Request) {
		f.reply(w, r, "")
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeFuzzingServer) url() string { return "ws" + strings.TrimPrefix(f.srv.URL, "http") }

// record notes a request.
func (f *fakeFuzzingServer) record(r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	f.requests = append(f.requests, strings.TrimSpace(fmt.Sprintf("%s %s", r.URL.Path, q.Encode())))
	f.mu.Unlock()
}

func (f *fakeFuzzingServer) caseNumber(w http.ResponseWriter, r *http.Request) (int, bool) {
	n, err := strconv.Atoi(r.URL.Query().Get("case"))
	if err != nil || n < 1 || n > len(f.cases) {
		http.Error(w, "no such case", http.StatusNotFound)
		return 0, false
	}
	return n, true
}

// conn upgrades r into a server Conn; only a hang ends a closing
// handshake.
func (f *fakeFuzzingServer) conn(w http.ResponseWriter, r *http.Request, deflate *wsflate.Extension) (*wsutil.Conn, ws.Handshake, bool) {
	f.record(r)
	u := ws.HTTPUpgrader{}
	cfg := wsutil.Config{CloseTimeout: wstest.Remaining(f.t), MaxMessageSize: 1 << 20}
	if deflate != nil {
		u.Extension = deflate.Negotiate
		cfg.Extension = deflate
	}
	nc, hs, err := u.Upgrade(w, r)
	if err != nil {
		return nil, hs, false
	}
	c, err := wsutil.NewConn(nc, ws.ServerSide, hs, cfg)
	if err != nil {
		_ = nc.Close()
		return nil, hs, false
	}
	return c, hs, true
}

// reply sends text (when not empty) and closes with 1000, as the fuzzing
// server does on its service URLs.
func (f *fakeFuzzingServer) reply(w http.ResponseWriter, r *http.Request, text string) {
	c, _, ok := f.conn(w, r, nil)
	if !ok {
		return
	}
	if text != "" {
		_ = c.Send(r.Context(), wsutil.Message{OpCode: ws.OpText, Payload: []byte(text)})
	}
	_ = c.Close(ws.StatusNormalClosure, "")
}

// runCase sends the case's messages one by one, checks each echo, and
// records the verdict.
func (f *fakeFuzzingServer) runCase(w http.ResponseWriter, r *http.Request) {
	n, ok := f.caseNumber(w, r)
	if !ok {
		return
	}
	offer := r.Header.Get("Sec-WebSocket-Extensions")
	c, hs, ok := f.conn(w, r, &wsflate.Extension{})
	if !ok {
		return
	}
	verdict := "OK"
	for _, m := range f.cases[n-1].msgs {
		if err := c.Send(r.Context(), m); err != nil {
			verdict = "FAILED"
			break
		}
		select {
		case got, ok := <-c.Inbound():
			if !ok || got.OpCode != m.OpCode || !bytes.Equal(got.Payload, m.Payload) {
				verdict = "FAILED"
			}
		case <-wstest.After(f.t):
			verdict = "FAILED"
		}
	}
	if v := f.cases[n-1].verdict; v != "" {
		verdict = v
	}
	var accepted []string
	for _, o := range hs.Extensions {
		accepted = append(accepted, o.String())
	}
	// Record before closing: the client asks for the verdict as soon as
	// the closing handshake is over.
	f.mu.Lock()
	f.status[n] = verdict
	f.offers[n] = offer
	f.accepted[n] = strings.Join(accepted, ", ")
	f.wire[n] = c.Stats().BytesIn
	f.mu.Unlock()
	_ = c.Close(ws.StatusNormalClosure, "")
}

// fakeCases are three cases: small text, 64 KiB of compressible binary,
// and a multi-byte text message.
func fakeCases() []fakeCase {
	return []fakeCase{
		{id: "1.1.1", msgs: []wsutil.Message{{OpCode: ws.OpText, Payload: []byte("Hello, Autobahn")}}},
		{id: "9.1.1", msgs: []wsutil.Message{{OpCode: ws.OpBinary, Payload: bytes.Repeat([]byte("sluice "), 64<<10/7)}}},
		{id: "6.2.1", msgs: []wsutil.Message{
			{OpCode: ws.OpText, Payload: []byte("κόσμε 日本語 🌍")},
			{OpCode: ws.OpText, Payload: []byte{}},
		}},
	}
}

// autobahn-client fetches the case count, runs every case echoing with
// permessage-deflate offered (and used: 64 KiB of repetitive bytes cross
// the wire in far fewer), prints each verdict, and updates the reports
// last.
func TestAutobahnClient(t *testing.T) {
	t.Parallel()
	f := startFakeFuzzingServer(t, fakeCases()...)
	var out, errOut bytes.Buffer
	err := run(testCtx(t), []string{"autobahn-client", "-agent", "sluice-test", f.url()}, strings.NewReader(""), &out, &errOut)
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	t.Logf("output:\n%s", out.String())

	f.mu.Lock()
	defer f.mu.Unlock()
	var want []string
	want = append(want, "/getCaseCount")
	for n := 1; n <= 3; n++ {
		want = append(want,
			"/getCaseInfo case="+strconv.Itoa(n),
			"/runCase agent=sluice-test&case="+strconv.Itoa(n),
			"/getCaseStatus agent=sluice-test&case="+strconv.Itoa(n))
	}
	want = append(want, "/updateReports agent=sluice-test")
	assert.Equal(t, want, f.requests, "requests in order")
	for n := 1; n <= 3; n++ {
		assert.Equal(t, "OK", f.status[n], "case %d", n)
		assert.Contains(t, f.offers[n], "permessage-deflate", "case %d offers compression", n)
		assert.Contains(t, f.accepted[n], "permessage-deflate", "case %d negotiates it", n)
	}
	assert.Less(t, f.wire[2], int64(8<<10), "the 64 KiB echo came compressed")
	assert.Contains(t, out.String(), `3 cases, agent "sluice-test", permessage-deflate offered`)
	assert.Regexp(t, `(?m)^2 +9\.1\.1 +OK$`, out.String())
	assert.Contains(t, out.String(), `reports updated for agent "sluice-test": OK 3`)
}

// A case the server judges FAILED makes the exit status 1 and is named;
// the reports are still updated. -cases and -compress=false are honoured.
func TestAutobahnClientFailedCase(t *testing.T) {
	t.Parallel()
	cases := fakeCases()
	cases[2].verdict = "FAILED"
	f := startFakeFuzzingServer(t, cases...)
	var out bytes.Buffer
	err := run(testCtx(t), []string{"autobahn-client", "-cases", "1,3", "-compress=false", f.url()}, strings.NewReader(""), &out, io.Discard)
	require.ErrorIs(t, err, errAutobahn)
	assert.Equal(t, 1, exitCode(err, io.Discard))
	assert.Contains(t, err.Error(), "failed: 6.2.1")
	assert.Regexp(t, `(?m)^3 +6\.2\.1 +FAILED$`, out.String())
	assert.Contains(t, out.String(), "OK 1, FAILED 1")

	f.mu.Lock()
	defer f.mu.Unlock()
	assert.Equal(t, "/updateReports agent=sluice", f.requests[len(f.requests)-1])
	assert.NotContains(t, f.status, 2, "case 2 was not asked for")
	assert.Empty(t, f.offers[1], "-compress=false offers nothing")
}

func TestAutobahnClientErrors(t *testing.T) {
	t.Parallel()
	t.Run("not a count", func(t *testing.T) {
		t.Parallel()
		mux := http.NewServeMux()
		mux.HandleFunc("/getCaseCount", func(w http.ResponseWriter, r *http.Request) {
			(&fakeFuzzingServer{t: t}).reply(w, r, "many")
		})
		srv := httptest.NewServer(mux)
		defer srv.Close()
		err := run(testCtx(t), []string{"autobahn-client", "ws" + strings.TrimPrefix(srv.URL, "http")}, strings.NewReader(""), io.Discard, io.Discard)
		require.ErrorIs(t, err, errAutobahn)
		assert.Contains(t, err.Error(), `getCaseCount answered "many"`)
	})
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no URL", nil},
		{"http URL", []string{"http://127.0.0.1:9001"}},
		{"bad -cases", []string{"-cases", "3-1", "ws://127.0.0.1:9001"}},
		{"bad -agent", []string{"-agent", "a&b", "ws://127.0.0.1:9001"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var errOut bytes.Buffer
			err := run(t.Context(), append([]string{"autobahn-client"}, tc.args...), strings.NewReader(""), io.Discard, &errOut)
			require.ErrorIs(t, err, errUsage)
			assert.Contains(t, errOut.String(), "Usage: sluice autobahn-client")
		})
	}
}

func TestParseCaseList(t *testing.T) {
	t.Parallel()
	got, err := parseCaseList("1-3, 7,9-9")
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 3, 7, 9}, got)
	for _, bad := range []string{"", "0", "a", "5-2", "1-"} {
		_, err := parseCaseList(bad)
		assert.Error(t, err, "%q", bad)
	}
}
