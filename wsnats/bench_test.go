package wsnats_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsnats"
	"github.com/sluice-ws/sluice/wsnats/internal/natstest"
	"github.com/sluice-ws/sluice/wsutil"
)

// BenchmarkRoom is one room of 1,000 members, 1 KiB messages, on one node
// (in-process, no NATS) and on three nodes behind one NATS server, the
// members spread evenly and the messages published on the nodes in turn.
// Every member is a WebSocket client over loopback TCP in this process.
// It reports the deliveries per second (messages × members) and the
// latency from Publish to a member's Inbound, p50 and p99, over every
// delivery. At most window messages are in flight (1, then 16), so that
// a correct run drops nothing; a member that falls 1 MiB behind is closed and fails the
// run. b.N is the number of messages: use -benchtime 2000x (make
// bench-rooms, docs/scale-out.md).
func BenchmarkRoom(b *testing.B) {
	for _, window := range []int{1, 16} {
		for _, nodes := range []int{1, 3} {
			b.Run(fmt.Sprintf("window=%d/nodes=%d", window, nodes), func(b *testing.B) { benchRoom(b, nodes, 1000, 1024, window) })
		}
	}
}

// benchRoom publishes b.N messages of size bytes to a room of members
// spread over nodes, with at most window messages in flight: 1 measures
// the latency of one message alone, more the throughput, where the
// latency is mostly the wait behind the window.
func benchRoom(b *testing.B, nodes, members, size, window int) {
	natsURL := ""
	if nodes > 1 {
		natsURL = natstest.Start(b, 0).ClientURL()
	}
	cfg := wsutil.Config{OutboundBytes: 1 << 20, Overflow: wsutil.OverflowClose}
	var ns []*node
	for i := range nodes {
		ns = append(ns, newNode(b, fmt.Sprint("node", i), natsURL, cfg, wsnats.Config{}))
	}

	var delivered atomic.Int64
	lat := make([][]time.Duration, members)
	var readers sync.WaitGroup
	b.Cleanup(readers.Wait) // the members end first: cleanups run last in, first out
	for m := range members {
		c := ns[m%nodes].member(b, wsutil.Config{})
		lat[m] = make([]time.Duration, 0, b.N)
		readers.Go(func() {
			for msg := range c.Inbound() {
				sent := int64(binary.BigEndian.Uint64(msg.Payload))
				lat[m] = append(lat[m], time.Duration(time.Now().UnixNano()-sent))
				delivered.Add(1)
			}
		})
	}
	ctx, cancel := wstest.RunContext("the deliveries of BenchmarkRoom")
	defer cancel()
	for _, n := range ns {
		if n.backend != nil {
			require.NoError(b, n.backend.Flush(ctx))
		}
	}
	// wait waits until want deliveries have been made.
	wait := func(want int64) {
		for delivered.Load() < want {
			select {
			case <-ctx.Done():
				b.Fatalf("%v: %d of %d deliveries", wstest.Err(ctx), delivered.Load(), want)
			case <-time.After(50 * time.Microsecond):
			}
		}
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		wait(int64(i-window) * int64(members))
		p := make([]byte, size)
		binary.BigEndian.PutUint64(p, uint64(time.Now().UnixNano()))
		if _, err := ns[i%nodes].hub.Publish(context.Background(), room, wsutil.Message{OpCode: ws.OpBinary, Payload: p}); err != nil {
			b.Fatal(err)
		}
	}
	wait(int64(b.N) * int64(members))
	elapsed := time.Since(start)
	b.StopTimer()

	for i, n := range ns {
		want := (members + nodes - 1 - i) / nodes // members m with m%nodes == i
		require.Equal(b, want, len(n.hub.Members(room)), "%s: no member was closed", n.name)
		if n.backend != nil {
			require.Zero(b, n.backend.Stats().Dropped, "%s: NATS dropped nothing", n.name)
		}
	}
	all := make([]time.Duration, 0, b.N*members)
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "delivered/s")
	b.ReportMetric(float64(all[len(all)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100])/1e6, "p99-ms")
}
