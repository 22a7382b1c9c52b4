package ws

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With DeferResponse, Upgrade writes nothing on success and returns the
// 101 response for the caller to write; a rejection is still written.
func TestUpgraderDeferResponse(t *testing.T) {
	t.Parallel()
	u := Upgrader{DeferResponse: true, Protocols: []string{"chat"}}
	var conn upConn
	conn.r.Reset(upRequest("Sec-WebSocket-Protocol: chat"))
	hs, err := u.Upgrade(&conn)
	require.NoError(t, err)
	assert.Empty(t, conn.out, "nothing written")
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(hs.Response)), nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	assert.Equal(t, upAccept, resp.Header.Get("Sec-WebSocket-Accept"))
	assert.Equal(t, "chat", resp.Header.Get("Sec-WebSocket-Protocol"))

	conn = upConn{}
	conn.r.Reset(upRequest("Sec-WebSocket-Version: 8"))
	hs, err = u.Upgrade(&conn)
	require.Error(t, err)
	assert.Nil(t, hs.Response)
	assert.True(t, bytes.HasPrefix(conn.out, []byte("HTTP/1.1 426 ")), "the rejection is written: %q", conn.out)
}

func TestHTTPUpgraderDeferResponse(t *testing.T) {
	t.Parallel()
	u := HTTPUpgrader{DeferResponse: true}
	srv, done := upServe(t, &u, nil, nil)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write(append(upServerRequest(srv), upFrame...))
	require.NoError(t, err)
	// The test server answers the frame with a frame of its own: with
	// the response deferred, that frame is the first thing to arrive.
	f, err := ReadFrame(bufio.NewReader(conn), 1<<10)
	require.NoError(t, err)
	assert.Equal(t, "hi", string(f.Payload))
	res := <-done
	require.NoError(t, res.err)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(res.hs.Response)), nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	assert.Equal(t, "yes", resp.Header.Get("X-Custom"), "fields set on w.Header() are in it")

	// Refused: the answer goes out through net/http.
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	_, hs, err := u.Upgrade(rec, r)
	require.Error(t, err)
	assert.Nil(t, hs.Response)
	assert.Equal(t, http.StatusUpgradeRequired, rec.Code)
}
