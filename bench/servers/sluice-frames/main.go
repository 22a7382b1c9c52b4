// Command sluice-frames is an echo server on sluice's package ws alone: a
// hand-tuned frame loop, the twin of gobwas-frames line for line, so that
// the two measure the frame primitives (header read and write, masking)
// and nothing else. It reads through a 4 KiB bufio.Reader, echoes each
// frame as it comes, and flushes only when no more input is buffered, so
// pipelined messages leave in one write.
package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"

	"github.com/sluice-ws/sluice/ws"

	"github.com/sluice-ws/sluice/bench/internal/server"
)

func main() {
	f := server.Parse("sluice-frames", false)
	u := ws.HTTPUpgrader{CheckOrigin: ws.AnyOrigin}
	server.ServeHTTP("sluice-frames", f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, hs, err := u.Upgrade(w, r)
		if err != nil {
			return
		}
		defer nc.Close()
		echo(bufio.NewReaderSize(source(nc, hs), 4096), bufio.NewWriterSize(nc, 4096))
	}))
}

// echo echoes frames until the peer closes or breaks the protocol.
func echo(br *bufio.Reader, bw *bufio.Writer) {
	var payload []byte
	for {
		h, err := ws.ReadHeader(br)
		if err != nil {
			return
		}
		if ws.CheckHeader(h, ws.ServerSide, 0) != nil {
			writeClose(bw, ws.StatusProtocolError)
			return
		}
		if h.Length > server.MaxMessage {
			writeClose(bw, ws.StatusMessageTooBig)
			return
		}
		if int64(cap(payload)) < h.Length {
			payload = make([]byte, h.Length)
		}
		payload = payload[:h.Length]
		if _, err := io.ReadFull(br, payload); err != nil {
			return
		}
		ws.Cipher(payload, h.Mask, 0)
		out := ws.Header{Fin: h.Fin, OpCode: h.OpCode, Length: h.Length}
		switch h.OpCode {
		case ws.OpPong:
			continue
		case ws.OpPing:
			out.OpCode = ws.OpPong
		}
		if ws.WriteHeader(bw, out) != nil {
			return
		}
		if _, err := bw.Write(payload); err != nil {
			return
		}
		if h.OpCode == ws.OpClose {
			_ = bw.Flush() // the close frame echoed: we are done
			return
		}
		if br.Buffered() == 0 {
			if bw.Flush() != nil {
				return
			}
		}
	}
}

// writeClose sends a close frame with code.
func writeClose(bw *bufio.Writer, code ws.StatusCode) {
	_ = ws.WriteFrame(bw, ws.NewCloseFrame(code, ""))
	_ = bw.Flush()
}

// source is what to read frames from: the bytes that came with the
// handshake, then the connection.
func source(nc net.Conn, hs ws.Handshake) io.Reader {
	if len(hs.Buffered) == 0 {
		return nc
	}
	return io.MultiReader(bytes.NewReader(hs.Buffered), nc)
}
