package wsproxy_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsproxy"
	"github.com/sluice-ws/sluice/wsutil"
)

// testContext is bounded by the test's deadline, with room to report.
func testContext(t *testing.T) context.Context {
	ctx := t.Context()
	if dl, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-time.Until(dl)/10))
		t.Cleanup(cancel)
	}
	return ctx
}

// echoServer starts a WebSocket echo server on 127.0.0.1, over TLS with
// tlsConf when it is not nil.
func echoServer(t *testing.T, tlsConf bool) *httptest.Server {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsutil.Accept(w, r, nil)
		if err != nil {
			return
		}
		go func() {
			for m := range c.Inbound() {
				_ = c.Send(context.Background(), m)
			}
		}()
	})
	if !tlsConf {
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		return s
	}
	s := httptest.NewUnstartedServer(h)
	s.TLS, _ = wstest.TLSConfigs()
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func TestSOCKS5(t *testing.T) {
	t.Parallel()
	plain := echoServer(t, false)
	secure := echoServer(t, true)
	_, clientTLS := wstest.TLSConfigs()
	route := map[string]string{
		"ws.example.test:80":   plain.Listener.Addr().String(),
		"wss.example.test:443": secure.Listener.Addr().String(),
	}
	open := wstest.StartSOCKS5Proxy(t, "", "", func(target string) string { return route[target] })
	locked := wstest.StartSOCKS5Proxy(t, "user", "p:ss", func(target string) string { return route[target] })
	for _, tc := range []struct {
		name, url, proxy string
		p                *wstest.Proxy
		want             wstest.ProxyRequest
	}{
		{"ws", "ws://ws.example.test/", "socks5://" + open.Addr, open, wstest.ProxyRequest{Target: "ws.example.test:80"}},
		{"wss", "wss://wss.example.test/", "socks5h://" + open.Addr, open, wstest.ProxyRequest{Target: "wss.example.test:443"}},
		{"credentials", "ws://ws.example.test/", "socks5://user:p%3Ass@" + locked.Addr, locked,
			wstest.ProxyRequest{Target: "ws.example.test:80", Auth: "user:p:ss"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pu, err := url.Parse(tc.proxy)
			require.NoError(t, err)
			d := ws.Dialer{Proxy: http.ProxyURL(pu), ProxyTunnel: wsproxy.SOCKS5, TLSConfig: clientTLS}
			nc, hs, err := d.Dial(testContext(t), tc.url)
			require.NoError(t, err)
			c, err := wsutil.NewConn(nc, ws.ClientSide, hs, wsutil.Config{})
			require.NoError(t, err)
			defer c.Terminate()
			require.NoError(t, c.Send(testContext(t), wsutil.Message{OpCode: ws.OpText, Payload: []byte("through socks")}))
			m, err := c.Receive(testContext(t))
			require.NoError(t, err)
			assert.Equal(t, "through socks", string(m.Payload))
			reqs := tc.p.Requests()
			require.NotEmpty(t, reqs)
			assert.Equal(t, tc.want, reqs[len(reqs)-1])
		})
	}
}

func TestSOCKS5Refused(t *testing.T) {
	t.Parallel()
	locked := wstest.StartSOCKS5Proxy(t, "user", "secret", nil)
	for _, tc := range []struct{ name, proxy string }{
		{"no credentials", "socks5://" + locked.Addr},
		{"wrong password", "socks5://user:wrong@" + locked.Addr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pu, err := url.Parse(tc.proxy)
			require.NoError(t, err)
			d := ws.Dialer{Proxy: http.ProxyURL(pu), ProxyTunnel: wsproxy.SOCKS5}
			_, _, err = d.Dial(testContext(t), "ws://ws.example.test/")
			require.Error(t, err)
			assert.Empty(t, locked.Requests(), "no tunnel without the right credentials")
		})
	}
}

func TestSOCKS5Scheme(t *testing.T) {
	t.Parallel()
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	_, err := wsproxy.SOCKS5(testContext(t), c1, &url.URL{Scheme: "socks4", Host: "127.0.0.1:1080"}, "example.test:80")
	require.ErrorIs(t, err, ws.ErrProxyScheme)
}
