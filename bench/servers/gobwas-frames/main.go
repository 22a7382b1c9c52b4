// Command gobwas-frames is an echo server on gobwas/ws v1.5.0's frame
// functions: a hand-tuned frame loop, the twin of sluice-frames line for
// line. It reads through the 4 KiB bufio.Reader the upgrade hands over,
// reuses its header scratch buffers (gobwas's ReadHeader and WriteHeader
// allocate one per call), echoes each frame as it comes, and flushes only
// when no more input is buffered.
package main

import (
	"bufio"
	"io"
	"net/http"

	"github.com/gobwas/ws"

	"github.com/sluice-ws/sluice/bench/internal/server"
)

func main() {
	f := server.Parse("gobwas-frames", false)
	u := ws.HTTPUpgrader{}
	server.ServeHTTP("gobwas-frames", f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, rw, _, err := u.Upgrade(r, w)
		if err != nil {
			return
		}
		defer nc.Close()
		echo(rw.Reader, rw.Writer)
	}))
}

// echo echoes frames until the peer closes or breaks the protocol.
func echo(br *bufio.Reader, bw *bufio.Writer) {
	var payload []byte
	rhdr := make([]byte, ws.MaxHeaderSize)
	whdr := make([]byte, ws.MaxHeaderSize)
	for {
		h, err := ws.ReadHeaderBuffer(br, rhdr)
		if err != nil {
			return
		}
		if ws.CheckHeader(h, ws.StateServerSide) != nil {
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
		if ws.WriteHeaderBuffer(bw, out, whdr) != nil {
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
	_ = ws.WriteFrame(bw, ws.NewCloseFrame(ws.NewCloseFrameBody(code, "")))
	_ = bw.Flush()
}
