package wsutil_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/sluice-ws/sluice/wsutil"
)

// testContext ends a little before the test's deadline, so that a stuck
// wait fails with its own message.
func testContext(t *testing.T) context.Context {
	ctx := t.Context()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-time.Until(d)/10))
		t.Cleanup(cancel)
	}
	return ctx
}

// dialConn dials url and returns a client Conn with cfg, offering ext.
func dialConn(t *testing.T, url string, d ws.Dialer, cfg wsutil.Config) (*wsutil.Conn, ws.Handshake) {
	t.Helper()
	nc, hs, err := d.Dial(testContext(t), url)
	require.NoError(t, err)
	c, err := wsutil.NewConn(nc, ws.ClientSide, hs, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Terminate() })
	return c, hs
}

func wsURL(srv *httptest.Server) string { return "ws" + strings.TrimPrefix(srv.URL, "http") }

// receive returns the next message of c, failing the test at its deadline.
func receive(t *testing.T, c *wsutil.Conn) wsutil.Message {
	t.Helper()
	m, err := c.Receive(testContext(t))
	require.NoError(t, err)
	return m
}

// Accept returns a running server Conn: compression set once, in
// Config.Extension, is both negotiated and used.
func TestAcceptCompression(t *testing.T) {
	t.Parallel()
	ext := &wsflate.Extension{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsutil.Accept(w, r, &wsutil.AcceptOptions{Config: wsutil.Config{Extension: ext}})
		if err != nil {
			return
		}
		go func() {
			for m := range c.Inbound() {
				_ = c.Send(context.Background(), m)
			}
		}()
	}))
	defer srv.Close()
	client := &wsflate.Extension{}
	c, hs := dialConn(t, wsURL(srv), ws.Dialer{Extensions: []httphead.Option{client.Offer()}}, wsutil.Config{Extension: client})
	require.Len(t, hs.Extensions, 1, "compression negotiated")
	payload := strings.Repeat("compressible ", 100)
	require.NoError(t, c.Send(testContext(t), wsutil.Message{OpCode: ws.OpText, Payload: []byte(payload)}))
	assert.Equal(t, payload, string(receive(t, c).Payload))
	assert.Less(t, c.Stats().BytesIn, int64(len(payload)), "the echo came compressed")
	require.NoError(t, c.Close(ws.StatusNormalClosure, ""))
}

// A refused handshake is answered and leaves nothing open: the origin
// check (same host by default), a subprotocol choice that refuses.
func TestAcceptRefusals(t *testing.T) {
	t.Parallel()
	opts := &wsutil.AcceptOptions{
		SelectProtocol: func(offered []string) (string, error) {
			for _, p := range offered {
				if p == "v2" {
					return p, nil
				}
			}
			return "", ws.Reject(http.StatusNotAcceptable, "speak v2")
		},
		Header: http.Header{"X-Server": {"sluice"}},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsutil.Accept(w, r, opts)
		if err == nil {
			_ = c.Close(ws.StatusNormalClosure, "")
		}
	}))
	defer srv.Close()
	cases := []struct {
		name   string
		d      ws.Dialer
		status int
	}{
		{"other origin", ws.Dialer{Origin: "https://evil.example", Protocols: []string{"v2"}}, http.StatusForbidden},
		{"no common subprotocol", ws.Dialer{Protocols: []string{"v1"}}, http.StatusNotAcceptable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := tc.d.Dial(testContext(t), wsURL(srv))
			var he *ws.HandshakeError
			require.ErrorAs(t, err, &he)
			assert.Equal(t, tc.status, he.StatusCode)
		})
	}
	_, hs := dialConn(t, wsURL(srv), ws.Dialer{Protocols: []string{"v1", "v2"}}, wsutil.Config{})
	assert.Equal(t, "v2", hs.Protocol)

	// The opt-out says what it costs in its name.
	insecure := *opts
	insecure.InsecureAnyOrigin = true
	open := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsutil.Accept(w, r, &insecure)
		if err == nil {
			_ = c.Close(ws.StatusNormalClosure, "")
		}
	}))
	defer open.Close()
	_, hs = dialConn(t, wsURL(open), ws.Dialer{Origin: "https://evil.example", Protocols: []string{"v2"}}, wsutil.Config{})
	assert.Equal(t, "v2", hs.Protocol)
}

// AcceptConn does the same on a raw connection, without net/http.
func TestAcceptConn(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c, err := wsutil.AcceptConn(nc, &wsutil.AcceptOptions{
					SelectProtocol: func(offered []string) (string, error) {
						if len(offered) == 0 {
							return "", errors.New("a subprotocol is required")
						}
						return offered[len(offered)-1], nil
					},
					Config: wsutil.Config{OnMessage: func(c *wsutil.Conn, m wsutil.Message) { _ = c.Send(context.Background(), m) }},
				})
				if err != nil {
					return
				}
				<-c.Done()
			}()
		}
	}()
	url := "ws://" + ln.Addr().String() + "/"
	c, hs := dialConn(t, url, ws.Dialer{Protocols: []string{"a", "b"}}, wsutil.Config{})
	assert.Equal(t, "b", hs.Protocol)
	require.NoError(t, c.Send(testContext(t), wsutil.Message{OpCode: ws.OpText, Payload: []byte("raw")}))
	assert.Equal(t, "raw", string(receive(t, c).Payload))
	require.NoError(t, c.Close(ws.StatusNormalClosure, ""))

	_, _, err = ws.Dial(testContext(t), url)
	var he *ws.HandshakeError
	require.ErrorAs(t, err, &he, "no subprotocol offered: refused")
	assert.Equal(t, http.StatusBadRequest, he.StatusCode)
}

// The 101 response is the Conn's first write: bytes of the Conn cannot
// overtake it, and the client reads the response, then the message.
func TestAcceptResponseFirst(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsutil.Accept(w, r, nil)
		if err != nil {
			return
		}
		_ = c.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("welcome")})
		go func() {
			for range c.Inbound() {
			}
		}()
	}))
	defer srv.Close()
	nc, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer nc.Close()
	_, err = nc.Write([]byte("GET / HTTP/1.1\r\nHost: " + srv.Listener.Addr().String() +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	require.NoError(t, err)
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	f, err := ws.ReadFrame(br, 1<<10)
	require.NoError(t, err)
	assert.Equal(t, "welcome", string(f.Payload))
}
