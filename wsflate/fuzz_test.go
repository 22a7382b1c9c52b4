package wsflate_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/gobwas/httphead"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
)

// fuzzLimit bounds what one fuzz input may inflate to.
const fuzzLimit = 1 << 20

// FuzzInflate inflates arbitrary payloads under a limit, whole with
// AppendDecompress and in fragments through a Receiver with context
// takeover: no panic, nothing over the limit, only the documented errors,
// and both paths agree on the first message.
func FuzzInflate(f *testing.F) {
	for _, seed := range [][]byte{
		{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00},                                     // RFC 7692 §7.2.3.1
		{0xf2, 0x00, 0x11, 0x00, 0x00},                                                 // §7.2.3.2 without its history
		{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00},             // §7.2.3.3
		{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00},                               // §7.2.3.4
		{0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00}, // §7.2.3.5
		{0x00},       // empty message
		{},           // no payload at all
		{0x07, 0x00}, // reserved block type
		{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, // trailer
	} {
		f.Add(seed, uint8(3))
	}
	zeros, _ := wsflate.AppendCompress(nil, make([]byte, 4<<20), 0, 0) // a small bomb
	f.Add(zeros, uint8(0))
	p, _ := wsflate.AppendCompress(nil, text(3000, 1), 9, 10)
	f.Add(p, uint8(7))

	f.Fuzz(func(t *testing.T, payload []byte, cut uint8) {
		whole, err := wsflate.AppendDecompress(nil, payload, fuzzLimit)
		if len(whole) > fuzzLimit {
			t.Fatalf("inflated %d bytes over a limit of %d", len(whole), fuzzLimit)
		}
		checkDataError(t, err)
		wholeErr := err

		// Twice through one Receiver with context takeover, in fragments
		// of cut+1 bytes, reading no more than the limit and one buffer.
		e := &wsflate.Extension{}
		r, _, err := e.Bind(ws.ServerSide, []httphead.Option{wsflate.Params{}.Option()})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			var cuts []int
			for n := 0; n < len(payload); n += int(cut) + 1 {
				cuts = append(cuts, int(cut)+1)
			}
			dec, err := r.NextReader(ws.Header{Fin: true, Rsv: ws.Rsv1, OpCode: ws.OpBinary}, split(payload, cuts...))
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			buf := make([]byte, 4096)
			for got.Len() <= fuzzLimit {
				var n int
				n, err = dec.Read(buf)
				if n > len(buf) {
					t.Fatalf("Read returned %d bytes into %d", n, len(buf))
				}
				got.Write(buf[:n])
				if err != nil {
					break
				}
			}
			if err == io.EOF {
				err = nil
			}
			checkDataError(t, err)
			if i == 0 && wholeErr == nil && (err != nil || !bytes.Equal(whole, got.Bytes())) {
				t.Fatalf("the Receiver read %d bytes (%v) where AppendDecompress read %d", got.Len(), err, len(whole))
			}
			if err != nil || got.Len() > fuzzLimit {
				return
			}
		}
	})
}

// checkDataError fails unless err is nil or one of the data errors.
func checkDataError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var pe *ws.ProtocolError
	if !errors.As(err, &pe) || (pe.Code != ws.StatusInvalidFramePayloadData && pe.Code != ws.StatusMessageTooBig) {
		t.Fatalf("unexpected error %v", err)
	}
}

// FuzzParseExtensions parses arbitrary Sec-WebSocket-Extensions values:
// no panic, and every Params it returns writes out and parses back the
// same, through String and through Option.
func FuzzParseExtensions(f *testing.F) {
	for _, seed := range []string{
		"permessage-deflate",
		"permessage-deflate; client_max_window_bits",
		"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=8",
		`permessage-deflate; server_max_window_bits="15", x-webkit-deflate-frame`,
		"permessage-deflate; client_max_window_bits=09",
		"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
		"permessage-deflate; foo=bar, permessage-deflate",
		"permessage-deflate;;,",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		ps, err := wsflate.ParseExtensions([]byte(value))
		if err != nil {
			return
		}
		for _, p := range ps {
			again, err := wsflate.ParseExtensions([]byte(p.String()))
			if err != nil || len(again) != 1 || again[0] != p {
				t.Fatalf("%q: %+v wrote %q, read back %+v, %v", value, p, p.String(), again, err)
			}
			back, err := wsflate.ParseParams(p.Option())
			if err != nil || back != p {
				t.Fatalf("%+v: Option read back %+v, %v", p, back, err)
			}
			// A server answers every valid offer, and its client accepts
			// the answer.
			var server wsflate.Extension
			answer, ok := server.Negotiate(p.Option())
			if !ok {
				t.Fatalf("%+v declined", p)
			}
			client := wsflate.Extension{ServerNoContextTakeover: p.ServerNoContextTakeover,
				ClientNoContextTakeover: p.ClientNoContextTakeover,
				ServerMaxWindowBits:     p.ServerMaxWindowBits, ClientMaxWindowBits: p.ClientMaxWindowBits}
			if err := client.CheckResponse([]httphead.Option{answer}); err != nil {
				t.Fatalf("offer %+v, answer %v: %v", p, answer, err)
			}
		}
	})
}

// FuzzRoundTrip compresses arbitrary messages at every level and window
// and checks that they inflate back, within the window.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("Hello"), int8(0), uint8(15))
	f.Add(bytes.Repeat([]byte("abcdefgh"), 1000), int8(9), uint8(8))
	f.Add(text(5000, 3), int8(-2), uint8(12))
	f.Fuzz(func(t *testing.T, msg []byte, level int8, bits uint8) {
		lvl := (int(level)%12+12)%12 - 2 // -2..9
		b := int(bits)%8 + wsflate.MinWindowBits
		p, err := wsflate.AppendCompress(nil, msg, lvl, b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := wsflate.AppendDecompress(nil, p, 0)
		if err != nil || !bytes.Equal(msg, got) {
			t.Fatalf("level %d bits %d: round trip failed: %v", lvl, b, err)
		}
		if _, _, err := refInflate(nil, p, 1<<b); err != nil {
			t.Fatalf("level %d bits %d: %v", lvl, b, err)
		}
	})
}
