// Command gobwas-helpers is the echo server of gobwas/ws v1.5.0's wsutil
// package, written as its README: UpgradeHTTP, then ReadClientData and
// WriteServerMessage on a goroutine of their own while the handler
// returns.
//
// The one-call helpers know no extensions. With -compress, a connection
// that negotiated permessage-deflate is served by wsutil's Reader and
// Writer with wsflate's MessageState, Reader and Writer plugged into their
// extension hooks (stdlib compress/flate at level 1, the default of every
// other server here), which is how gobwas composes compression.
package main

import (
	"bytes"
	"compress/flate"
	"io"
	"net"
	"net/http"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/gobwas/ws/wsutil"

	"github.com/sluice-ws/sluice/bench/internal/server"
)

func main() {
	f := server.Parse("gobwas-helpers", true)
	server.ServeHTTP("gobwas-helpers", f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A wsflate.Extension records what it negotiated: one per
		// connection.
		var ext wsflate.Extension
		u := ws.HTTPUpgrader{}
		if f.Compress {
			ext.Parameters = wsflate.Parameters{ServerNoContextTakeover: true, ClientNoContextTakeover: true}
			u.Negotiate = ext.Negotiate
		}
		conn, _, _, err := u.Upgrade(r, w)
		if err != nil {
			return
		}
		if _, ok := ext.Accepted(); ok {
			go echoDeflate(conn)
			return
		}
		go echo(conn)
	}))
}

// echo is the README's loop.
func echo(conn net.Conn) {
	defer conn.Close()
	for {
		msg, op, err := wsutil.ReadClientData(conn)
		if err != nil {
			return
		}
		if err := wsutil.WriteServerMessage(conn, op, msg); err != nil {
			return
		}
	}
}

// echoDeflate echoes messages with permessage-deflate (no context
// takeover): each message is inflated on the way in and compressed on
// the way out.
func echoDeflate(conn net.Conn) {
	defer conn.Close()
	var state wsflate.MessageState
	control := wsutil.ControlFrameHandler(conn, ws.StateServerSide)
	// StateExtended lets RSV1 through the header check, which runs
	// before the extensions. No CheckUTF8: it would check the compressed
	// bytes and fail every compressed text message.
	rd := &wsutil.Reader{
		Source:         conn,
		State:          ws.StateServerSide | ws.StateExtended,
		Extensions:     []wsutil.RecvExtension{&state},
		OnIntermediate: control,
	}
	wr := wsutil.NewWriter(conn, ws.StateServerSide|ws.StateExtended, ws.OpText)
	wr.SetExtensions(&state)
	inflate := wsflate.NewReader(nil, func(r io.Reader) wsflate.Decompressor { return flate.NewReader(r) })
	deflate := wsflate.NewWriter(nil, func(w io.Writer) wsflate.Compressor {
		fw, _ := flate.NewWriter(w, flate.BestSpeed)
		return fw
	})
	var msg bytes.Buffer
	for {
		h, err := rd.NextFrame()
		if err != nil {
			return
		}
		if h.OpCode.IsControl() {
			if control(h, rd) != nil {
				return
			}
			continue
		}
		var src io.Reader = rd
		if state.IsCompressed() {
			inflate.Reset(rd)
			src = inflate
		}
		msg.Reset()
		if _, err := msg.ReadFrom(src); err != nil {
			return
		}
		wr.ResetOp(h.OpCode)
		state.SetCompressed(true)
		deflate.Reset(wr)
		if _, err := deflate.Write(msg.Bytes()); err != nil {
			return
		}
		if deflate.Close() != nil || wr.Flush() != nil {
			return
		}
	}
}
