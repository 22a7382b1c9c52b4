package wsutil_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// echoServer returns a Server that echoes on the handler form.
func echoServer() *wsutil.Server {
	return &wsutil.Server{AcceptOptions: wsutil.AcceptOptions{Config: wsutil.Config{
		OnMessage: func(c *wsutil.Conn, m wsutil.Message) { _ = c.Send(context.Background(), m) },
	}}}
}

// CheckRequest sees the request and may refuse it with a status, a
// reason and fields, or admit it with data that stays with the
// connection.
func TestServerCheckRequest(t *testing.T) {
	t.Parallel()
	s := echoServer()
	seen := make(chan *wsutil.Request, 1)
	s.CheckRequest = func(r *wsutil.Request) error {
		seen <- r
		if r.HTTP.URL.Query().Get("token") != "secret" {
			return &ws.RejectError{Status: http.StatusUnauthorized, Reason: "bad token",
				Header: http.Header{"Www-Authenticate": {"Token"}}}
		}
		r.Data = "user-1"
		return nil
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	host := srv.Listener.Addr().String()

	_, _, err := (&ws.Dialer{Protocols: []string{"p1"}}).Dial(testContext(t), wsURL(srv)+"/room?token=wrong")
	var he *ws.HandshakeError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, http.StatusUnauthorized, he.StatusCode)
	assert.Equal(t, "bad token", he.Header.Get("X-WebSocket-Reject-Reason"))
	assert.Equal(t, "Token", he.Header.Get("Www-Authenticate"))
	r := <-seen
	assert.Equal(t, "/room", r.HTTP.URL.Path)
	assert.Equal(t, host, r.HTTP.Host)
	assert.Equal(t, "127.0.0.1", r.RemoteAddr.String())
	assert.Equal(t, []string{"p1"}, r.Protocols)
	assert.Nil(t, r.TLS)

	c, _ := dialConn(t, wsURL(srv)+"/room?token=secret", ws.Dialer{Origin: "http://" + host}, wsutil.Config{})
	r = <-seen
	assert.Equal(t, "http://"+host, r.Origin)
	require.Equal(t, 1, s.Len())
	s.Range(func(sc *wsutil.Conn, data any) bool {
		assert.Equal(t, "user-1", data)
		got, ok := s.Data(sc)
		assert.True(t, ok)
		assert.Equal(t, "user-1", got)
		return true
	})
	require.NoError(t, c.Close(ws.StatusNormalClosure, ""))
}

// A broadcast made as soon as a client has its 101 response reaches that
// client: the connection is registered before the response goes out.
func TestServerNoJoinRace(t *testing.T) {
	t.Parallel()
	s := echoServer()
	srv := httptest.NewServer(s)
	defer srv.Close()
	var clients []*wsutil.Conn
	for i := range 20 {
		c, _ := dialConn(t, wsURL(srv), ws.Dialer{}, wsutil.Config{})
		clients = append(clients, c)
		n := s.Broadcast(testContext(t), wsutil.Message{OpCode: ws.OpText, Payload: fmt.Append(nil, i)}, nil)
		require.Equal(t, i+1, n, "every client so far got broadcast %d", i)
	}
	for j, c := range clients {
		for i := j; i < len(clients); i++ {
			assert.Equal(t, fmt.Sprint(i), string(receive(t, c).Payload), "client %d", j)
		}
	}
}

// Broadcast with a filter reaches the connections it selects by their
// data; CloseAll closes every connection; Unmount refuses new ones and
// keeps the open ones, Mount accepts again.
func TestServerRegistry(t *testing.T) {
	t.Parallel()
	s := echoServer()
	s.CheckRequest = func(r *wsutil.Request) error {
		r.Data = r.HTTP.URL.Query().Get("room")
		return nil
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	red1, _ := dialConn(t, wsURL(srv)+"?room=red", ws.Dialer{}, wsutil.Config{})
	red2, _ := dialConn(t, wsURL(srv)+"?room=red", ws.Dialer{}, wsutil.Config{})
	blue, _ := dialConn(t, wsURL(srv)+"?room=blue", ws.Dialer{}, wsutil.Config{})
	n := s.Broadcast(testContext(t), wsutil.Message{OpCode: ws.OpText, Payload: []byte("to red")},
		func(_ *wsutil.Conn, room any) bool { return room == "red" })
	assert.Equal(t, 2, n)
	s.Broadcast(testContext(t), wsutil.Message{Payload: []byte("to all")}, nil)
	for _, c := range []*wsutil.Conn{red1, red2} {
		assert.Equal(t, "to red", string(receive(t, c).Payload))
		assert.Equal(t, "to all", string(receive(t, c).Payload))
	}
	m := receive(t, blue)
	assert.Equal(t, "to all", string(m.Payload), "blue got nothing before")
	assert.Equal(t, ws.OpBinary, m.OpCode, "no opcode: binary")

	s.Unmount()
	_, _, err := ws.Dial(testContext(t), wsURL(srv))
	var he *ws.HandshakeError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, http.StatusServiceUnavailable, he.StatusCode)
	assert.Equal(t, 3, s.Len(), "open connections stay")
	s.Mount()
	late, _ := dialConn(t, wsURL(srv), ws.Dialer{}, wsutil.Config{})

	// The clients read on (with Receive, whose end lets a Conn answer a
	// close at once).
	for _, c := range []*wsutil.Conn{red1, red2, blue, late} {
		go func() {
			for {
				if _, err := c.Receive(context.Background()); err != nil {
					return
				}
			}
		}()
	}
	closed, dropped := s.CloseAll(testContext(t), ws.StatusGoingAway, "maintenance")
	assert.Equal(t, 4, closed)
	assert.Zero(t, dropped)
	for _, c := range []*wsutil.Conn{red1, red2, blue, late} {
		<-c.Done()
		assert.Equal(t, ws.CloseError{Code: ws.StatusGoingAway, Reason: "maintenance"}, c.Err())
	}
	assert.Zero(t, s.Len())
}

// http.Server.Shutdown shuts the WebSocket Server down too: every client
// gets 1001 and no goroutine is left.
func TestServerHTTPShutdown(t *testing.T) {
	t.Parallel()
	s := echoServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &http.Server{Handler: s}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	url := "ws://" + ln.Addr().String() + "/"
	const n = 200
	clients := make([]*wsutil.Conn, n)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() { clients[i], _ = dialConn(t, url, ws.Dialer{}, wsutil.Config{}) })
	}
	wg.Wait()
	require.Equal(t, n, s.Len())
	require.NoError(t, hs.Shutdown(testContext(t)))
	require.ErrorIs(t, <-served, http.ErrServerClosed)
	require.NoError(t, s.Shutdown(testContext(t)), "waits for the shutdown http.Server began")
	for i, c := range clients {
		<-c.Done()
		assert.Equal(t, ws.StatusGoingAway, ws.CloseStatus(c.Err()), "client %d", i)
	}
	assert.Zero(t, s.Len())
}

// Shutdown drops the connections whose peer does not answer the close
// before its deadline, and says so.
func TestServerShutdownDrops(t *testing.T) {
	t.Parallel()
	s := echoServer()
	srv := httptest.NewServer(s)
	defer srv.Close()
	nc, _, err := ws.Dial(testContext(t), wsURL(srv)) // a peer that never reads
	require.NoError(t, err)
	defer nc.Close()
	ctx, cancel := context.WithCancel(testContext(t))
	cancel() // no time at all
	require.ErrorIs(t, s.Shutdown(ctx), context.Canceled)
	_, err = io.ReadAll(nc)
	require.NoError(t, err, "the connection was closed")
}

// Hijack hands the raw connection over after the handshake (watershed's
// accept(..., true)).
func TestServerHijack(t *testing.T) {
	t.Parallel()
	s := &wsutil.Server{}
	done := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, hs, _, err := s.Hijack(w, r)
		if err != nil {
			done <- err
			return
		}
		defer nc.Close()
		assert.Nil(t, hs.Buffered)
		done <- ws.WriteFrame(nc, ws.NewTextFrame([]byte("raw")))
	}))
	defer srv.Close()
	nc, hs, err := ws.Dial(testContext(t), wsURL(srv))
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, <-done)
	// The frame may have come with the response: it is in hs.Buffered.
	rw := struct {
		io.Reader
		io.Writer
	}{io.MultiReader(bytes.NewReader(hs.Buffered), nc), nc}
	op, p, err := wsutil.ReadMessage(rw, ws.ClientSide, nil)
	require.NoError(t, err)
	assert.Equal(t, ws.OpText, op)
	assert.Equal(t, "raw", string(p))
	assert.Zero(t, s.Len(), "a hijacked connection is not registered")
}

// The client's address comes from the forwarding fields only when the
// TCP peer is a trusted proxy.
func TestServerTrustedProxies(t *testing.T) {
	t.Parallel()
	s := echoServer()
	addrs := make(chan netip.Addr, 1)
	s.CheckRequest = func(r *wsutil.Request) error {
		addrs <- r.RemoteAddr
		return nil
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	dial := func(header http.Header) netip.Addr {
		c, _ := dialConn(t, wsURL(srv), ws.Dialer{Header: header}, wsutil.Config{})
		_ = c.Close(ws.StatusNormalClosure, "")
		return <-addrs
	}
	spoofed := http.Header{"X-Forwarded-For": {"203.0.113.7"}}
	assert.Equal(t, "127.0.0.1", dial(spoofed).String(), "untrusted peer: its fields are ignored")
	s.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	assert.Equal(t, "203.0.113.7", dial(spoofed).String())
	assert.Equal(t, "2001:db8::1", dial(http.Header{"Forwarded": {`for="[2001:db8::1]:4711";proto=https`}}).String())
}
