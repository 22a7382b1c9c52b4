package interop

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gobwas/httphead"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/sluice-ws/sluice/wsutil"
)

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
	// variantStream is ws.Upgrader on the raw listener, then a
	// wsutil.Reader and Writer carrying the halves of the extension's
	// Bind (see streamLocal): the one-call helpers cannot decompress.
	variantStream = variant{"stream", ourFragments}
)

// ourServer runs both server variants on 127.0.0.1. Each connection is
// expected by path (/ws/N) and handed to the test that expects it.
type ourServer struct {
	http *httptest.Server
	mux  *http.ServeMux
	raw  net.Listener
	wg   sync.WaitGroup // the raw accept loop and handshakes
	seq  atomic.Int64
	// polled is variantPoll's server (poll_test.go), nil where the event
	// loops are not available.
	polled *pollServer

	mu      sync.Mutex
	waiting map[string]expectation // by path; guarded by mu
}

type expectation struct {
	v   variant
	cfg wsutil.Config
	ch  chan local
}

// deflate returns the permessage-deflate configuration of e's connection,
// or nil.
func (e expectation) deflate() *wsflate.Extension {
	d, _ := e.cfg.Extension.(*wsflate.Extension)
	return d
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
	if runtime.GOOS == "linux" {
		s.startPoll(t)
	}
	return s
}

// expect registers a new path for variant v and returns it with the
// channel that will carry our end of the connection made to it. A
// *wsflate.Extension in cfg.Extension also answers the client's
// permessage-deflate offers.
func (s *ourServer) expect(v variant, cfg wsutil.Config) (string, chan local) {
	path := "/ws/" + strconv.FormatInt(s.seq.Add(1), 10)
	ch := make(chan local, 1)
	s.mu.Lock()
	s.waiting[path] = expectation{v: v, cfg: cfg, ch: ch}
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
	switch v {
	case variantConn:
		return "ws" + strings.TrimPrefix(s.http.URL, "http") + path
	case variantPoll:
		return "ws://" + s.polled.proxy.addr() + path
	}
	return "ws://" + s.raw.Addr().String() + path
}

// serveHTTP is variantConn.
func (s *ourServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	e, ok := s.take(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	u := ws.HTTPUpgrader{Protocols: serverProtocols} // SameOrigin: the browser page is ours
	if d := e.deflate(); d != nil {
		u.Extension = d.Negotiate
	}
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
		// OnRequest has run by the time offers are met.
		Extension: func(offer httphead.Option) (httphead.Option, bool) {
			if d := e.deflate(); d != nil {
				return d.Negotiate(offer)
			}
			return httphead.Option{}, false
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
	h := &helperLocal{tap: tap, rw: bufio.NewReadWriter(br, bufio.NewWriter(tap)), protocol: hs.Protocol, accepted: hs.Extensions,
		closeWait: e.cfg.CloseTimeout}
	if e.v != variantStream {
		e.ch <- h
		return
	}
	l, err := newStreamLocal(h, e.cfg)
	if err != nil {
		t.Logf("stream: %v", err)
		nc.Close()
		close(e.ch)
		return
	}
	e.ch <- l
}

// pairWithClient has p's client connect to our server variant v, and
// returns both ends.
func (s *ourServer) pairWithClient(t *caseT, ctx context.Context, p *peer, v variant, c interopCase) (local, *remote) {
	t.Helper()
	path, ch := s.expect(v, c.cfg)
	res, err := p.do(ctx, request{Op: "connect", URL: s.url(v, path), Protocols: c.protocols, Compress: c.compress})
	require.NoError(t, err, "peer connect")
	theirs := &remote{p: p, id: res.Conn, protocol: res.Protocol, extensions: res.Extensions}
	select {
	case ours, ok := <-ch:
		require.True(t, ok, "our server refused the connection")
		t.Cleanup(ours.Shutdown)
		return ours, theirs
	case <-ctx.Done():
		t.Fatalf("our server saw no connection: %v", wstest.Err(ctx))
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

// listen starts a server of p; it supports chat.v2 only, and
// permessage-deflate with the library's options compress (nil: off).
func listen(t *caseT, ctx context.Context, p *peer, compress *deflateOpts) *theirServer {
	t.Helper()
	res, err := p.do(ctx, request{Op: "listen", Protocols: []string{"chat.v2"}, Compress: compress})
	require.NoError(t, err, "peer listen")
	return &theirServer{p: p, id: res.Server, port: res.Port}
}

// pairWithServer dials srv with our Dialer and wsutil.Conn, and returns
// both ends. A *wsflate.Extension in c.cfg.Extension makes the Dialer
// offer permessage-deflate and check the answer.
func (srv *theirServer) pairWithServer(t *caseT, ctx context.Context, c interopCase) (local, *remote) {
	t.Helper()
	path := "/ws/" + strconv.FormatInt(srv.seq.Add(1), 10)
	d := ws.Dialer{Protocols: c.protocols} // bounded by ctx
	if e, ok := c.cfg.Extension.(*wsflate.Extension); ok {
		d.Extensions = []httphead.Option{e.Offer()}
		d.OnExtensions = e.CheckResponse
	}
	nc, hs, err := d.Dial(ctx, "ws://127.0.0.1:"+strconv.Itoa(srv.port)+path)
	require.NoError(t, err, "our dial")
	ours := newConnLocal(t, &tapConn{Conn: nc}, ws.ClientSide, hs, c.cfg)
	t.Cleanup(ours.Shutdown)
	res, err := srv.p.do(ctx, request{Op: "accept", Server: srv.id, Path: path})
	require.NoError(t, err, "peer accept")
	return ours, &remote{p: srv.p, id: res.Conn, protocol: res.Protocol, extensions: res.Extensions}
}
