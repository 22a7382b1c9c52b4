package wsutil_test

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// netConnPair returns the client and server Conns of a connection over
// TCP on 127.0.0.1.
func netConnPair(t *testing.T) (client, server *wsutil.Conn) {
	t.Helper()
	accepted := make(chan *wsutil.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsutil.Accept(w, r, nil)
		if err == nil {
			accepted <- c
		}
	}))
	t.Cleanup(srv.Close)
	c, _, err := wsutil.Dial(testContext(t), wsURL(srv), nil)
	require.NoError(t, err)
	s := <-accepted
	t.Cleanup(func() { _ = c.Terminate(); _ = s.Terminate() })
	return c, s
}

// io.Copy runs through the adapter both ways, messages become one stream
// and a clean close is io.EOF.
func TestNetConnCopy(t *testing.T) {
	t.Parallel()
	c, s := netConnPair(t)
	cn, sn := wsutil.NetConn(c, ws.OpBinary), wsutil.NetConn(s, ws.OpBinary)
	data := make([]byte, 3<<20)
	_, _ = rand.Read(data)
	echoed := make(chan error, 1)
	go func() {
		_, err := io.Copy(sn, sn) // echo until the client closes
		echoed <- err
	}()
	wrote := make(chan error, 1)
	go func() {
		_, err := io.Copy(cn, struct{ io.Reader }{bytes.NewReader(data)}) // 32 KiB writes: many messages
		wrote <- err
	}()
	got := make([]byte, len(data))
	_, err := io.ReadFull(cn, got)
	require.NoError(t, err)
	require.NoError(t, <-wrote)
	assert.True(t, bytes.Equal(data, got), "the stream came back as it was sent")
	assert.Greater(t, c.Stats().MessagesOut, int64(10))
	require.NoError(t, cn.Close())
	assert.NoError(t, <-echoed, "io.Copy ends at io.EOF")
	assert.Equal(t, c.NetConn().LocalAddr(), cn.LocalAddr())
	assert.Equal(t, c.NetConn().RemoteAddr(), cn.RemoteAddr())
}

// TLS runs inside the WebSocket connection.
func TestNetConnTLS(t *testing.T) {
	t.Parallel()
	c, s := netConnPair(t)
	serverTLS, clientTLS := wstest.TLSConfigs()
	clientTLS.ServerName = "inner.example.test"
	tc := tls.Client(wsutil.NetConn(c, ws.OpBinary), clientTLS)
	ts := tls.Server(wsutil.NetConn(s, ws.OpBinary), serverTLS)
	go func() {
		if err := ts.Handshake(); err != nil {
			return
		}
		_ = json.NewEncoder(ts).Encode(ts.ConnectionState().ServerName)
		_, _ = io.Copy(ts, ts)
	}()
	require.NoError(t, tc.HandshakeContext(testContext(t)))
	var name string
	require.NoError(t, json.NewDecoder(tc).Decode(&name))
	assert.Equal(t, "inner.example.test", name)
	_, err := tc.Write([]byte("secret inside"))
	require.NoError(t, err)
	buf := make([]byte, len("secret inside"))
	_, err = io.ReadFull(tc, buf)
	require.NoError(t, err)
	assert.Equal(t, "secret inside", string(buf))
}

// A Read past its deadline times out as on TCP, loses nothing, and the
// connection goes on.
func TestNetConnDeadline(t *testing.T) {
	t.Parallel()
	c, s := netConnPair(t)
	cn := wsutil.NetConn(c, ws.OpText)
	require.NoError(t, cn.SetReadDeadline(time.Now().Add(5*time.Millisecond)))
	_, err := cn.Read(make([]byte, 8))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
	require.NoError(t, cn.SetReadDeadline(time.Time{}))
	require.NoError(t, s.Send(testContext(t), wsutil.Message{OpCode: ws.OpText, Payload: []byte("later")}))
	buf := make([]byte, 8)
	n, err := cn.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "later", string(buf[:n]))
	require.NoError(t, cn.SetWriteDeadline(time.Now().Add(-time.Second)))
	_, err = cn.Write([]byte("too late"))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
}

// SendJSON and ReceiveJSON carry values as text messages; a message that
// does not decode is an error and the connection goes on.
func TestJSON(t *testing.T) {
	t.Parallel()
	c, s := netConnPair(t)
	type point struct{ X, Y int }
	require.NoError(t, wsutil.SendJSON(testContext(t), c, point{1, 2}))
	m := receive(t, s)
	assert.Equal(t, ws.OpText, m.OpCode)
	assert.JSONEq(t, `{"X":1,"Y":2}`, string(m.Payload))
	require.NoError(t, s.Send(testContext(t), wsutil.Message{OpCode: ws.OpText, Payload: []byte("not json")}))
	require.NoError(t, s.Send(testContext(t), wsutil.Message{OpCode: ws.OpText, Payload: []byte(`{"X":3}`)}))
	var p point
	var syntax *json.SyntaxError
	require.ErrorAs(t, wsutil.ReceiveJSON(testContext(t), c, &p), &syntax)
	require.NoError(t, wsutil.ReceiveJSON(testContext(t), c, &p))
	assert.Equal(t, point{X: 3}, p)
	require.Error(t, wsutil.SendJSON(testContext(t), c, func() {}), "not encodable")
}
