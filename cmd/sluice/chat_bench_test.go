package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gobwas/httphead"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/sluice-ws/sluice/wsutil"
)

// BenchmarkChatBroadcast measures one broadcast, as /chat makes it
// (wsutil.Prepare, then Send to every member), to a room
// whose members all offered plain permessage-deflate, as browsers do, in
// three configurations:
//
//   - plain: compression off (-compress=false);
//   - shared: the chat's configuration, no server context takeover, so
//     the prepared message is compressed once for the whole room;
//   - takeover: server context takeover, so it is compressed for each
//     member against that member's history.
//
// The time per operation runs until every member's socket has taken the
// message. wire-B/member is what one member receives per message.
//
//	go test -run '^$' -bench ChatBroadcast -benchtime 200x ./cmd/sluice
func BenchmarkChatBroadcast(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10} {
		for _, members := range []int{10, 100} {
			for _, mode := range []string{"plain", "shared", "takeover"} {
				b.Run(fmt.Sprintf("size=%d/members=%d/%s", size, members, mode), func(b *testing.B) {
					benchBroadcast(b, size, members, mode)
				})
			}
		}
	}
}

func benchBroadcast(b *testing.B, size, members int, mode string) {
	var (
		cfg = wsutil.Config{OutboundBytes: 64 << 20} // OverflowBlock: nobody is dropped
		hs  ws.Handshake
	)
	if mode != "plain" {
		ext := &wsflate.Extension{ServerNoContextTakeover: mode == "shared"}
		accept, ok := ext.Negotiate(wsflate.Params{}.Option())
		require.True(b, ok)
		hs.Extensions = []httphead.Option{accept}
		cfg.Extension = ext
	}
	msgs := make([][]byte, 64)
	for i := range msgs {
		msgs[i] = jsonLines(size, uint64(i))
	}

	var (
		wg      sync.WaitGroup
		pending sync.WaitGroup // members still waiting for b.N messages
		wire    atomic.Int64
		conns   []*wsutil.Conn
		peers   []net.Conn
	)
	pending.Add(members)
	for range members {
		server, peer := net.Pipe()
		c, err := wsutil.NewConn(server, ws.ServerSide, hs, cfg)
		require.NoError(b, err)
		conns, peers = append(conns, c), append(peers, peer)
		wg.Go(func() { countFrames(peer, b.N, &wire, pending.Done) })
	}
	b.SetBytes(int64(size * members))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		m := wsutil.Prepare(ws.OpText, msgs[i%len(msgs)])
		for _, c := range conns {
			_ = c.Send(b.Context(), m)
		}
	}
	pending.Wait()
	b.StopTimer()
	b.ReportMetric(float64(wire.Load())/float64(b.N*members), "wire-B/member")

	for i, c := range conns {
		_ = c.Terminate()
		peers[i].Close()
		<-c.Done()
	}
	wg.Wait()
}

// countFrames reads frames from a member's peer end, adds their size to
// wire, and calls done once n data messages have arrived; it returns when
// the connection ends.
func countFrames(peer net.Conn, n int, wire *atomic.Int64, done func()) {
	br := bufio.NewReaderSize(peer, 64<<10)
	seen := 0
	for {
		h, err := ws.ReadHeader(br)
		if err != nil {
			break
		}
		if _, err := io.CopyN(io.Discard, br, h.Length); err != nil {
			break
		}
		wire.Add(int64(ws.HeaderSize(h)) + h.Length)
		if h.Fin && !h.OpCode.IsControl() {
			if seen++; seen == n {
				done()
			}
		}
	}
	if seen < n {
		done()
	}
}
