package wsflate_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/gobwas/httphead"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/stretchr/testify/require"
)

// conn is both ends of a negotiated connection.
type conn struct {
	answer                 wsflate.Params
	serverRecv, clientRecv wsflate.Receiver
	serverSend, clientSend wsflate.Sender
}

// handshake negotiates between a client and a server configuration the way
// ws.Dialer and ws.Upgrader would, and binds both ends.
func handshake(t testing.TB, client, server *wsflate.Extension) conn {
	t.Helper()
	answer, ok := server.Negotiate(client.Offer())
	require.True(t, ok, "server declined %v", client.Offer())
	accepted := []httphead.Option{answer.Clone()}
	require.NoError(t, client.CheckResponse(accepted))
	var c conn
	var err error
	c.answer, err = wsflate.ParseParams(accepted[0])
	require.NoError(t, err)
	c.serverRecv, c.serverSend, err = server.Bind(ws.ServerSide, accepted)
	require.NoError(t, err)
	c.clientRecv, c.clientSend, err = client.Bind(ws.ClientSide, accepted)
	require.NoError(t, err)
	require.NotNil(t, c.serverRecv)
	require.NotNil(t, c.clientSend)
	return c
}

// compress sends msg through s as one message, writing it in pieces of
// the given sizes (the rest in one piece), and returns the payload.
func compress(t testing.TB, s wsflate.Sender, msg []byte, size int, pieces ...int) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, rsv := s.NextWriter(&buf, size)
	require.NotNil(t, enc)
	require.Equal(t, ws.Rsv1, rsv)
	rest := msg
	for _, n := range pieces {
		n = min(n, len(rest))
		k, err := enc.Write(rest[:n])
		require.NoError(t, err)
		require.Equal(t, n, k)
		rest = rest[n:]
	}
	if len(rest) > 0 {
		_, err := enc.Write(rest)
		require.NoError(t, err)
	}
	require.NoError(t, enc.Finish())
	return buf.Bytes()
}

// fragments is a reader that yields a payload one fragment at a time, the
// way wsutil's Reader yields one frame's payload after another: a Read
// never crosses into the next fragment.
type fragments struct{ parts [][]byte }

// split cuts p into fragments of the given lengths; the rest is the last
// fragment.
func split(p []byte, cuts ...int) *fragments {
	f := &fragments{}
	for _, n := range cuts {
		n = min(n, len(p))
		f.parts = append(f.parts, p[:n])
		p = p[n:]
	}
	f.parts = append(f.parts, p)
	return f
}

func (f *fragments) Read(b []byte) (int, error) {
	for len(f.parts) > 0 && len(f.parts[0]) == 0 {
		f.parts = f.parts[1:] // an empty frame yields nothing
	}
	if len(f.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(b, f.parts[0])
	f.parts[0] = f.parts[0][n:]
	return n, nil
}

// decompress reads one compressed message whose payload arrives in the
// given fragments.
func decompress(t testing.TB, r wsflate.Receiver, payload []byte, cuts ...int) ([]byte, error) {
	t.Helper()
	dec, err := r.NextReader(ws.Header{Fin: true, Rsv: ws.Rsv1, OpCode: ws.OpText}, split(payload, cuts...))
	require.NoError(t, err)
	return io.ReadAll(dec)
}

// randomCuts returns fragment lengths that split n bytes at random points.
func randomCuts(rng *rand.Rand, n int) []int {
	var cuts []int
	for n > 0 {
		k := 1 + rng.IntN(max(1, n/2))
		if rng.IntN(4) == 0 {
			k = rng.IntN(3) // empty and tiny fragments too
		}
		cuts = append(cuts, k)
		n -= k
	}
	return cuts
}

// text returns n bytes of word soup from seed: compressible, but not
// trivially.
func text(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	vocab := []string{"alpha", "beta", "gamma", "delta", "user", "message", "channel",
		"sluice", "timestamp", "payload", "deflate", "window", "κόσμε"}
	var b []byte
	for len(b) < n {
		b = fmt.Appendf(b, `{"id":%d,"w":"%s","v":%d} `, rng.IntN(100000), vocab[rng.IntN(len(vocab))], rng.IntN(1000))
	}
	return b[:n]
}
