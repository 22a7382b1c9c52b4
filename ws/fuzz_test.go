package ws

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzParseHeader checks that no input panics, that a parsed header
// re-encodes to bytes that parse back to the same header, and that the
// stream readers agree with the buffer parser.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0x81, 0x05})
	f.Add([]byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d})
	f.Add([]byte{0x82, 0x7e, 0x01, 0x00})
	f.Add([]byte{0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0})
	f.Add([]byte{0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, p []byte) {
		h, n, err := ParseHeader(p)
		rh, rerr := ReadHeader(bytes.NewReader(p))
		bh, berr := ReadHeader(bufio.NewReader(bytes.NewReader(p)))
		if err != nil {
			if n != 0 {
				t.Fatalf("error %v with n=%d", err, n)
			}
			if rerr == nil || berr == nil {
				t.Fatalf("ParseHeader failed (%v) but ReadHeader did not (%v, %v)", err, rerr, berr)
			}
			return
		}
		if rerr != nil || berr != nil || rh != h || bh != h {
			t.Fatalf("readers disagree: %+v %v / %+v %v / %+v", rh, rerr, bh, berr, h)
		}
		if n > len(p) || n != headerSizeFrom(p[1]) || h.Length < 0 {
			t.Fatalf("bad size n=%d len=%d length=%d", n, len(p), h.Length)
		}
		enc := AppendHeader(nil, h)
		if len(enc) != HeaderSize(h) || len(enc) > n {
			t.Fatalf("re-encoding has %d bytes, HeaderSize %d, parsed %d", len(enc), HeaderSize(h), n)
		}
		h2, n2, err := ParseHeader(enc)
		if err != nil || n2 != len(enc) || h2 != h {
			t.Fatalf("round trip: %+v %d %v, want %+v", h2, n2, err, h)
		}
	})
}

// FuzzParser feeds arbitrary bytes to ReadFrame, ParseFrame and the
// incremental Parser (split at a fuzzed point) and checks that they agree
// frame by frame and never panic or read past a declared length.
func FuzzParser(f *testing.F) {
	seed := AppendFrame(nil, NewTextFrame([]byte("Hello")).Masked(rfcMask))
	seed = AppendFrame(seed, NewPingFrame([]byte("p")).Masked(rfcMask))
	f.Add(seed, uint16(3), false)
	f.Add(AppendFrame(nil, NewBinaryFrame(make([]byte, 300))), uint16(1), true)
	f.Add([]byte{0x88, 0x80, 1, 2, 3, 4}, uint16(0), false)
	f.Add([]byte{0x82, 0x7f, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2}, uint16(5), true)
	f.Fuzz(func(t *testing.T, p []byte, split uint16, client bool) {
		side := ServerSide
		if client {
			side = ClientSide
		}
		const limit = 1 << 16
		// Reference: ReadFrame + CheckHeader.
		var want []Frame
		var wantErr error
		r := bytes.NewReader(p)
		for {
			// The Parser checks the protocol rules before the size limit.
			fr, err := ReadFrame(r, 0)
			if err == nil {
				err = CheckHeader(fr.Header, side, 0)
			}
			if err == nil && fr.Header.Length > limit {
				err = ErrFrameTooBig
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					wantErr = err
				}
				break
			}
			if int64(len(fr.Payload)) != fr.Header.Length {
				t.Fatalf("payload %d bytes, header says %d", len(fr.Payload), fr.Header.Length)
			}
			want = append(want, fr)
		}

		// ParseFrame over one buffer.
		buf := bytes.Clone(p)
		for i := 0; ; i++ {
			fr, n, err := ParseFrame(buf)
			if err != nil {
				break
			}
			if n > len(buf) {
				t.Fatalf("ParseFrame consumed %d of %d", n, len(buf))
			}
			if i < len(want) && !bytes.Equal(fr.Payload, want[i].Payload) {
				t.Fatalf("ParseFrame frame %d differs", i)
			}
			buf = buf[n:]
		}

		// Parser, split in two pieces.
		ps := Parser{Side: side, MaxPayload: limit}
		in := bytes.Clone(p)
		cut := int(split) % (len(in) + 1)
		var got []Frame
		var cur []byte
		var curH Header
		var gotErr error
	pieces:
		for _, piece := range [][]byte{in[:cut], in[cut:]} {
			for len(piece) > 0 {
				c, n, err := ps.Parse(piece)
				if n > len(piece) {
					t.Fatalf("Parse consumed %d of %d", n, len(piece))
				}
				piece = piece[n:]
				if err == io.ErrShortBuffer {
					break
				}
				if err != nil {
					gotErr = err
					break pieces
				}
				if c.First {
					cur, curH = []byte{}, c.Header
				}
				cur = append(cur, c.Payload...)
				if c.Final {
					got = append(got, Frame{Header: curH, Payload: cur})
				}
			}
		}
		if len(got) < len(want) {
			t.Fatalf("Parser found %d frames (err %v), ReadFrame %d", len(got), gotErr, len(want))
		}
		for i := range want {
			if got[i].Header != want[i].Header || !bytes.Equal(got[i].Payload, want[i].Payload) {
				t.Fatalf("frame %d differs", i)
			}
		}
		var pe *ProtocolError
		if wantErr != nil && errors.As(wantErr, &pe) && !errors.Is(gotErr, wantErr) {
			t.Fatalf("Parser error %v, ReadFrame+CheckHeader %v", gotErr, wantErr)
		}
	})
}

// FuzzParseCloseBody checks that close bodies never panic and that a body
// that parses re-encodes to the same bytes.
func FuzzParseCloseBody(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x03})
	f.Add([]byte{0x03, 0xe8})
	f.Add([]byte{0x03, 0xe8, 'b', 'y', 'e'})
	f.Add([]byte{0x03, 0xe8, 0xff})
	f.Add([]byte{0x0f, 0xa0, 0xce, 0xba})
	f.Fuzz(func(t *testing.T, p []byte) {
		code, reason, err := ParseCloseBody(p)
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ProtocolError", err)
			}
			return
		}
		if len(p) == 0 {
			if code != StatusNoStatusRcvd {
				t.Fatalf("empty body gave %d", code)
			}
			return
		}
		if !code.ValidOnWire() {
			t.Fatalf("accepted code %d", code)
		}
		if len(reason) <= MaxCloseReason {
			if enc := AppendCloseBody(nil, code, string(reason)); !bytes.Equal(enc, p) {
				t.Fatalf("round trip %x != %x", enc, p)
			}
		}
	})
}

// FuzzCipher checks the fast masking path against the byte loop.
func FuzzCipher(f *testing.F) {
	f.Add([]byte("hello, world"), uint32(0x37fa213d), uint8(1))
	f.Add(make([]byte, 300), uint32(0xffffffff), uint8(3))
	f.Fuzz(func(t *testing.T, p []byte, m uint32, off uint8) {
		mask := [4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}
		a, b := bytes.Clone(p), bytes.Clone(p)
		Cipher(a, mask, int(off))
		cipherBytes(b, mask, int(off))
		if !bytes.Equal(a, b) {
			t.Fatalf("Cipher and reference differ for %d bytes at offset %d", len(p), off)
		}
	})
}
