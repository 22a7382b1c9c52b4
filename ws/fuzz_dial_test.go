package ws

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/gobwas/httphead"
)

// fuzzKey and fuzzAccept are the key and accept of RFC 6455 §1.3.
const (
	fuzzKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	fuzzAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

// chunkReader returns at most n bytes per Read, to exercise heads that
// arrive in pieces.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	return c.r.Read(p[:min(len(p), c.n)])
}

// FuzzReadResponse feeds arbitrary bytes to the client's response reader.
// It checks that the reader never panics, never keeps more than it read,
// accepts only what the Dialer offered, bounds error bodies, and gives the
// same result however the bytes are split into reads.
func FuzzReadResponse(f *testing.F) {
	ok := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + fuzzAccept + "\r\n"
	for _, s := range []string{
		ok + "\r\n",
		ok + "Sec-WebSocket-Protocol: chat\r\n\r\n",
		ok + "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=10\r\n\r\n",
		ok + "Sec-WebSocket-Extensions: permessage-deflate; x=\"a\\\"b\"\r\n\r\n\x81\x05hello",
		ok + "Sec-WebSocket-Extensions: permessage-deflate; ;=\r\n\r\n",
		ok + "Sec-WebSocket-Protocol: superchat\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
		ok + "X-Fold: a\r\n b\r\n\tc\r\n\r\n",
		ok + "\r\n\x81\x05hello\x82\x00",
		"HTTP/1.1 100 Continue\r\n\r\n" + ok + "\r\n",
		"HTTP/1.1 101\nUpgrade: websocket\nConnection: keep-alive,\tUpgrade\nSec-WebSocket-Accept: " + fuzzAccept + "\n\n",
		"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!",
		"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nx",
		"HTTP/1.0 500 Oops\r\n\r\nuntil the end",
		"HTTP/1.1 426 \r\nSec-WebSocket-Version: 13\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\n Upgrade: websocket\r\n\r\n",
		"HTTP/9.9 101 x\r\n\r\n",
		"HTTP/1.: 101 x\r\n\r\n", // httphead.ParseVersion reads HTTP/1.10
		"HTTP/1.1 99999999999999999999 x\r\n\r\n",
		"\r\n\r\n",
		"\n\n",
		"",
		"SSH-2.0-OpenSSH\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := &Dialer{
			Protocols:      []string{"chat", "superchat"},
			Extensions:     []httphead.Option{{Name: []byte("permessage-deflate")}},
			MaxHeaderBytes: 1024,
		}
		var chunk int
		if len(data) > 0 {
			chunk = 1 + int(data[0])%13
		}
		whole, errWhole := d.readResponse(context.Background(), bytes.NewReader(data), fuzzKey)
		split, errSplit := d.readResponse(context.Background(), &chunkReader{bytes.NewReader(data), max(chunk, 1)}, fuzzKey)

		if (errWhole == nil) != (errSplit == nil) {
			t.Fatalf("whole: %v; split into %d-byte reads: %v", errWhole, chunk, errSplit)
		}
		if errWhole != nil {
			var he, he2 *HandshakeError
			if errors.As(errWhole, &he) {
				if !errors.As(errSplit, &he2) || he.Status != he2.Status || !bytes.Equal(he.Body, he2.Body) {
					t.Fatalf("whole: %v; split: %v", errWhole, errSplit)
				}
				if he.StatusCode < 100 || he.StatusCode > 999 || he.StatusCode == 101 {
					t.Fatalf("status %d", he.StatusCode)
				}
				if len(he.Body) > maxErrorBody {
					t.Fatalf("body of %d bytes", len(he.Body))
				}
			}
			return
		}
		// One Read of a bytes.Reader fills the buffer: Buffered is what
		// followed the head in it. Smaller reads stop sooner, so their
		// Buffered is a prefix of that.
		k := min(len(data), d.MaxHeaderBytes)
		if len(whole.Buffered) > k || !bytes.Equal(whole.Buffered, data[k-len(whole.Buffered):k]) {
			t.Fatalf("Buffered %q is not what followed the head", whole.Buffered)
		}
		if !bytes.HasPrefix(whole.Buffered, split.Buffered) {
			t.Fatalf("split Buffered %q is not a prefix of %q", split.Buffered, whole.Buffered)
		}
		for _, hs := range []Handshake{whole, split} {
			if hs.Buffered != nil && len(hs.Buffered) == 0 {
				t.Fatal("Buffered is empty but not nil")
			}
			if hs.Protocol != "" && hs.Protocol != "chat" && hs.Protocol != "superchat" {
				t.Fatalf("protocol %q was not offered", hs.Protocol)
			}
			for _, e := range hs.Extensions {
				if string(e.Name) != "permessage-deflate" {
					t.Fatalf("extension %q was not offered", e.Name)
				}
			}
		}
		if whole.Protocol != split.Protocol || len(whole.Extensions) != len(split.Extensions) {
			t.Fatalf("whole: %+v; split: %+v", whole, split)
		}
		for i := range whole.Extensions {
			if !whole.Extensions[i].Equal(split.Extensions[i]) {
				t.Fatalf("extension %d: %v vs %v", i, whole.Extensions[i], split.Extensions[i])
			}
		}
	})
}

// FuzzParseHead checks the head parser on its own: no panic, and the
// fields it returns lie inside the head.
func FuzzParseHead(f *testing.F) {
	f.Add([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\nA: b\n c\n\n"))
	f.Add([]byte("HTTP/1.1 200\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		end := headEnd(data, 0)
		if end < 0 {
			return
		}
		head := bytes.Clone(data[:end])
		h, err := parseHead(head)
		if err != nil {
			return
		}
		if h.status < 100 || h.status > 999 {
			t.Fatalf("status %d", h.status)
		}
		for _, fl := range h.fields {
			if len(fl.k) == 0 || bytes.ContainsAny(fl.k, "\r\n: \t") || bytes.ContainsAny(fl.v, "\r\n") {
				t.Fatalf("field %q: %q", fl.k, fl.v)
			}
		}
	})
}

// headEnd returns the length of the response head at the start of b, up
// to and including the empty line that ends it, or -1 when b holds no
// complete head (see headScanner). The search resumes at from: 0, or the
// start of a line after the status line. Only FuzzParseHead uses it.
func headEnd(b []byte, from int) int {
	s := headScanner{pos: from, started: from > 0}
	end, err := s.scan(b, len(b)+1)
	if err != nil {
		return -1
	}
	return end
}
