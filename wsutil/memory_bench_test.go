package wsutil_test

import (
	"net"
	"runtime"
	"testing"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// BenchmarkIdleConnMemory measures what an idle server Conn costs: heap
// (buffers, channels, state) plus the stacks of its two goroutines, over
// 1,000 connections that have each echoed one message. The peers are bare
// net.Pipe ends, so they add no goroutines; the pipes themselves are
// counted in the heap figure.
func BenchmarkIdleConnMemory(b *testing.B) {
	const conns = 1000
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		cs := make([]*wsutil.Conn, conns)
		peers := make([]net.Conn, conns)
		frame := ws.AppendFrame(nil, ws.NewTextFrame([]byte("hello")).Masked([4]byte{1, 2, 3, 4}))
		reply := make([]byte, 64)
		for i := range cs {
			a, p := net.Pipe()
			c, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
			if err != nil {
				b.Fatal(err)
			}
			go func() {
				for m := range c.Inbound() {
					c.Outbound() <- m
				}
			}()
			_, _ = p.Write(frame)
			_, _ = p.Read(reply)
			cs[i], peers[i] = c, p
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap := float64(after.HeapAlloc-before.HeapAlloc) / conns
		stack := float64(after.StackInuse-before.StackInuse) / conns
		b.ReportMetric(heap, "heapB/conn")
		b.ReportMetric(stack, "stackB/conn")
		b.ReportMetric(heap+stack, "B/conn")
		for i, c := range cs {
			_ = c.Terminate()
			peers[i].Close()
		}
	}
}
