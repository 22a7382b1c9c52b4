package wsutil_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// echoServers are three ways to write the same echo server, from the most
// convenient to the most hand-tuned.
var echoServers = []struct {
	name  string
	serve func(net.Conn)
}{
	{"channel", func(nc net.Conn) {
		c, err := wsutil.NewConn(nc, ws.ServerSide, ws.Handshake{}, wsutil.Config{MaxMessageSize: -1})
		if err != nil {
			panic(err)
		}
		for m := range c.Inbound() {
			c.Outbound() <- m
		}
	}},
	{"send", func(nc net.Conn) {
		// The channel API at its leanest: Send keeps a received payload
		// alive until written, so it can be released at once.
		c, err := wsutil.NewConn(nc, ws.ServerSide, ws.Handshake{}, wsutil.Config{MaxMessageSize: -1})
		if err != nil {
			panic(err)
		}
		ctx := context.Background()
		for m := range c.Inbound() {
			_ = c.Send(ctx, m)
			m.Release()
		}
	}},
	{"handler", func(nc net.Conn) {
		// The handler form: no application goroutine at all.
		ctx := context.Background()
		c, err := wsutil.NewConn(nc, ws.ServerSide, ws.Handshake{}, wsutil.Config{
			MaxMessageSize: -1,
			OnMessage:      func(c *wsutil.Conn, m wsutil.Message) { _ = c.Send(ctx, m) },
		})
		if err != nil {
			panic(err)
		}
		<-c.Done()
	}},
	{"helpers", func(nc net.Conn) {
		rw := bufio.NewReadWriter(bufio.NewReader(nc), bufio.NewWriter(nc))
		buf := make([]byte, 0, 64<<10)
		for {
			op, p, err := wsutil.ReadMessage(rw, ws.ServerSide, buf)
			if err != nil {
				return
			}
			if err := wsutil.WriteMessage(rw, ws.ServerSide, op, p); err != nil {
				return
			}
			if rw.Reader.Buffered() == 0 {
				if err := rw.Flush(); err != nil {
					return
				}
			}
		}
	}},
	{"frames", func(nc net.Conn) {
		// A hand-tuned frame loop on package ws alone: one buffered read
		// brings many frames, replies are flushed only before blocking.
		br := bufio.NewReaderSize(nc, 64<<10)
		bw := bufio.NewWriterSize(nc, 64<<10)
		buf := make([]byte, 64<<10)
		for {
			h, err := ws.ReadHeader(br)
			if err != nil {
				return
			}
			p := buf[:h.Length]
			if _, err := io.ReadFull(br, p); err != nil {
				return
			}
			ws.Cipher(p, h.Mask, 0)
			h.Masked = false
			if err := ws.WriteFrame(bw, ws.Frame{Header: h, Payload: p}); err != nil {
				return
			}
			if br.Buffered() == 0 {
				if err := bw.Flush(); err != nil {
					return
				}
			}
		}
	}},
}

// BenchmarkEcho measures echo throughput over TCP on 127.0.0.1 for each
// server style. A client goroutine pipelines b.N masked frames while
// another reads the echoes. allocs/op counts both ends; the client is
// allocation-free, so they are the server's.
func BenchmarkEcho(b *testing.B) {
	for _, size := range []int{16, 1 << 10, 64 << 10} {
		for _, srv := range echoServers {
			b.Run(srv.name+"/"+sizeLabel(size), func(b *testing.B) {
				benchEcho(b, srv.serve, size)
			})
		}
	}
}

func sizeLabel(n int) string {
	if n >= 1<<10 {
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

func benchEcho(b *testing.B, serve func(net.Conn), size int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	served := make(chan struct{})
	go func() {
		defer close(served)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		serve(nc)
		nc.Close()
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	frame := ws.AppendFrame(nil, ws.NewBinaryFrame(make([]byte, size)).Masked([4]byte{1, 2, 3, 4}))
	br := bufio.NewReaderSize(nc, 64<<10)
	buf := make([]byte, size)

	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	go func() {
		bw := bufio.NewWriterSize(nc, 64<<10)
		for range b.N {
			if _, err := bw.Write(frame); err != nil {
				return
			}
		}
		_ = bw.Flush()
	}()
	for range b.N {
		h, err := ws.ReadHeader(br)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(br, buf[:h.Length]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	b.StopTimer()
	nc.Close()
	<-served
}
