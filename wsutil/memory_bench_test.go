package wsutil_test

import (
	"context"
	"flag"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

var idleConns = flag.Int("idle-conns", 1000, "connections BenchmarkIdleConnMemory holds open (two file descriptors each)")

// idleForms are the ways an application holds a connection, from the
// leanest to the channel API with a goroutine of its own.
var idleForms = []struct {
	name  string
	serve func(nc net.Conn) *wsutil.Conn
}{
	{"handler", func(nc net.Conn) *wsutil.Conn {
		c, _ := wsutil.NewConn(nc, ws.ServerSide, ws.Handshake{}, wsutil.Config{
			PingInterval: time.Minute,
			OnMessage:    func(c *wsutil.Conn, m wsutil.Message) { _ = c.Send(context.Background(), m) },
		})
		return c
	}},
	{"channel", func(nc net.Conn) *wsutil.Conn {
		c, _ := wsutil.NewConn(nc, ws.ServerSide, ws.Handshake{}, wsutil.Config{PingInterval: time.Minute})
		go func() {
			for m := range c.Inbound() {
				_ = c.Send(context.Background(), m)
			}
		}()
		return c
	}},
	{"channel+outbound", func(nc net.Conn) *wsutil.Conn {
		c, _ := wsutil.NewConn(nc, ws.ServerSide, ws.Handshake{}, wsutil.Config{PingInterval: time.Minute})
		go func() {
			for m := range c.Inbound() {
				c.Outbound() <- m
			}
		}()
		return c
	}},
}

// BenchmarkIdleConnMemory measures what an idle server Conn costs, with
// keepalive on, over TCP on 127.0.0.1: the heap and goroutine stacks a
// connection adds once it has echoed one message and gone quiet, against
// the same number of bare TCP connections. Both ends live in this process,
// so the TCP connections themselves are measured first and taken away.
// -idle-conns sets the count; the load tool (sluice bench -mode idle)
// measures the same thing as server RSS at 10,000 connections.
func BenchmarkIdleConnMemory(b *testing.B) {
	for _, form := range idleForms {
		b.Run(form.name, func(b *testing.B) {
			for range b.N {
				measureIdle(b, *idleConns, form.serve)
			}
		})
	}
}

func measureIdle(b *testing.B, n int, serve func(net.Conn) *wsutil.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	servers := make([]net.Conn, n)
	clients := make([]net.Conn, n)
	defer func() {
		for i := range n {
			if clients[i] != nil {
				clients[i].Close()
			}
			if servers[i] != nil {
				servers[i].Close()
			}
		}
	}()
	for i := range n {
		if clients[i], err = net.Dial("tcp", ln.Addr().String()); err != nil {
			b.Fatal(err)
		}
		if servers[i], err = ln.Accept(); err != nil {
			b.Fatal(err)
		}
	}
	before := memNow()
	frame := ws.AppendFrame(nil, ws.NewTextFrame([]byte("hello")).Masked([4]byte{1, 2, 3, 4}))
	reply := make([]byte, 7)
	conns := make([]*wsutil.Conn, n)
	for i := range n {
		conns[i] = serve(servers[i])
		if _, err := clients[i].Write(frame); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(clients[i], reply); err != nil {
			b.Fatal(err)
		}
	}
	// A reading goroutine hands its wait to a fresh one, with a minimal
	// stack, once the connection has been quiet for IdleGrace.
	time.Sleep(wsutil.IdleGrace + 500*time.Millisecond)
	after := memNow()
	heap := float64(after.heap-before.heap) / float64(n)
	stack := float64(after.stack-before.stack) / float64(n)
	b.ReportMetric(heap, "heapB/conn")
	b.ReportMetric(stack, "stackB/conn")
	b.ReportMetric(heap+stack, "B/conn")
	b.ReportMetric(float64(after.goroutines-before.goroutines)/float64(n), "goroutines/conn")
	for _, c := range conns {
		_ = c.Terminate()
	}
}

type memSample struct {
	heap, stack uint64
	goroutines  int
}

// memNow returns the live heap and the stacks in use, after the garbage
// collector has run twice: pooled buffers nobody holds are gone then.
func memNow() memSample {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return memSample{heap: ms.HeapAlloc, stack: ms.StackInuse, goroutines: runtime.NumGoroutine()}
}
