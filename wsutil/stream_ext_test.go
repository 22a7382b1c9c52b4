package wsutil_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/sluice-ws/sluice/wsutil"
)

// Streamed messages are compressed with permessage-deflate, context
// takeover included: whole messages and streamed ones alternate on one
// connection, both ways, and each arrives intact, smaller on the wire.
func TestWriterDeflate(t *testing.T) {
	t.Parallel()
	cfg := wsutil.Config{Extension: &wsflate.Extension{}, FragmentSize: 1000}
	accepted := make(chan *wsutil.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsutil.Accept(w, r, &wsutil.AcceptOptions{Config: cfg})
		if err == nil {
			accepted <- c
		}
	}))
	t.Cleanup(srv.Close)
	c, resp, err := wsutil.Dial(testContext(t), wsURL(srv), &wsutil.DialOptions{Config: cfg})
	require.NoError(t, err)
	require.Len(t, resp.Extensions, 1, "permessage-deflate negotiated")
	s := <-accepted
	t.Cleanup(func() { _ = c.Terminate(); _ = s.Terminate() })
	ctx := testContext(t)

	msg := func(i int) []byte { return []byte(strings.Repeat("streamed and deflated ", 2000+i)) }
	for _, pair := range [][2]*wsutil.Conn{{c, s}, {s, c}} {
		from, to := pair[0], pair[1]
		before := to.Stats().BytesIn
		var sent int
		for i := range 4 {
			p := msg(i)
			sent += len(p)
			if i%2 == 0 {
				require.NoError(t, from.Send(ctx, wsutil.Message{OpCode: ws.OpText, Payload: p}))
				continue
			}
			w, err := from.Writer(ctx, ws.OpText)
			require.NoError(t, err)
			_, err = io.Copy(w, bytes.NewReader(p)) // 32 KiB writes
			require.NoError(t, err)
			require.NoError(t, w.Close())
		}
		for i := range 4 {
			op, r, err := to.Reader(ctx)
			require.NoError(t, err)
			assert.Equal(t, ws.OpText, op)
			got, err := io.ReadAll(r)
			require.NoError(t, err)
			require.Equal(t, string(msg(i)), string(got), "message %d", i)
		}
		assert.Less(t, to.Stats().BytesIn-before, int64(sent/10), "compressed on the wire")
	}
	ended := make(chan error, 1)
	go func() { _, _, err := s.Reader(ctx); ended <- err }() // sees the close
	require.NoError(t, c.Close(ws.StatusNormalClosure, ""))
	assert.True(t, wsutil.IsCleanClose(<-ended))
}
