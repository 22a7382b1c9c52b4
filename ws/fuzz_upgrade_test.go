package ws

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/gobwas/httphead"
)

// FuzzUpgradeBuffer feeds arbitrary request bytes to UpgradeBuffer, with a
// zero Upgrader and with one that negotiates, and checks that nothing
// panics and that the outcome is one of: io.ErrShortBuffer with nothing
// written, a valid 101 response, or a *RejectError with the response it
// stands for. It also checks that a prefix of the input that already holds
// a complete head gives the same answer as the whole, and that Upgrade on
// a connection answers as UpgradeBuffer does.
func FuzzUpgradeBuffer(f *testing.F) {
	f.Add(upRequest(), uint16(10))
	f.Add(append(upRequest(), upFrame...), uint16(200))
	f.Add(upRequest("Sec-WebSocket-Protocol: v2.chat, chat", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-foo; a=\"b c\""), uint16(60))
	f.Add(upRequest("+Sec-WebSocket-Extensions: a; p=\"x\\\"y\"", "+Sec-WebSocket-Protocol: chat"), uint16(0))
	f.Add(upBenchRequest(), uint16(300))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), uint16(5))
	f.Add([]byte("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), uint16(1))
	// HTAB as list whitespace (RFC 9110 §5.6.1), and as data in a quoted-string.
	f.Add(upRequest("Connection: keep-alive,\tUpgrade", "Sec-WebSocket-Protocol: a,\tchat", "Sec-WebSocket-Extensions: x;\tp=\"a\tb\""), uint16(40))
	for _, tc := range upInvalid {
		if tc.max == 0 {
			f.Add(tc.req, uint16(len(tc.req)/2))
		}
	}
	zero := &Upgrader{MaxHeaderBytes: 2048}
	negotiating := &Upgrader{
		MaxHeaderBytes: 2048,
		Protocols:      []string{"chat", "v2.chat"},
		Extension:      func(o httphead.Option) (httphead.Option, bool) { return o, true },
		CheckOrigin:    AnyOrigin,
	}
	f.Fuzz(func(t *testing.T, req []byte, split uint16) {
		for _, u := range []*Upgrader{zero, negotiating} {
			resp, hs, err := u.UpgradeBuffer([]byte("x"), req)
			if resp == nil || resp[0] != 'x' {
				t.Fatalf("dst not kept: %q", resp)
			}
			resp = resp[1:]
			upFuzzCheck(t, u, req, resp, hs, err)

			if int(split) < len(req) {
				presp, phs, perr := u.UpgradeBuffer(nil, req[:split])
				if perr != io.ErrShortBuffer {
					// The head ends within the prefix: the rest is
					// only Buffered.
					if !upSameError(perr, err) || !bytes.Equal(presp, resp) || phs.Protocol != hs.Protocol ||
						!bytes.Equal(append(slices.Clone(phs.Buffered), req[split:]...), hs.Buffered) && err == nil {
						t.Fatalf("prefix %d answers %v %q, whole %v %q", split, perr, presp, err, resp)
					}
				}
			}

			var conn upConn
			conn.reset(req)
			chs, cerr := u.Upgrade(&conn)
			switch {
			case err == io.ErrShortBuffer:
				if !errors.Is(cerr, io.ErrUnexpectedEOF) && !errors.Is(cerr, io.EOF) {
					t.Fatalf("Upgrade on an incomplete head: %v", cerr)
				}
			case !upSameError(cerr, err) || len(conn.out) != len(resp) || chs.Protocol != hs.Protocol:
				t.Fatalf("Upgrade answers %v %q, UpgradeBuffer %v %q", cerr, conn.out, err, resp)
			}
		}
	})
}

// upSameError reports whether two handshake outcomes are the same error.
func upSameError(a, b error) bool {
	return a == b || a != nil && b != nil && a.Error() == b.Error()
}

// upFuzzCheck checks one UpgradeBuffer outcome.
func upFuzzCheck(t *testing.T, u *Upgrader, req, resp []byte, hs Handshake, err error) {
	t.Helper()
	if err == io.ErrShortBuffer {
		if len(resp) != 0 || hs.Protocol != "" || hs.Extensions != nil || hs.Buffered != nil {
			t.Fatalf("short buffer with output: %q %+v", resp, hs)
		}
		if len(req) >= u.maxHeaderBytes() {
			t.Fatalf("short buffer at %d bytes, bound %d", len(req), u.maxHeaderBytes())
		}
		return
	}
	br := bufio.NewReader(bytes.NewReader(resp))
	r, perr := http.ReadResponse(br, nil)
	if perr != nil {
		t.Fatalf("response does not parse: %v\n%q", perr, resp)
	}
	body, berr := io.ReadAll(r.Body)
	if berr != nil || br.Buffered() != 0 {
		t.Fatalf("response body: %v, %d bytes left\n%q", berr, br.Buffered(), resp)
	}
	if err == nil {
		if r.StatusCode != http.StatusSwitchingProtocols || !bytes.HasPrefix(resp, []byte("HTTP/1.1 101 Switching Protocols\r\n")) {
			t.Fatalf("success answered with %q", resp)
		}
		if r.Header.Get("Upgrade") != "websocket" || len(r.Header.Get("Sec-WebSocket-Accept")) != acceptSize {
			t.Fatalf("101 response lacks fields: %q", resp)
		}
		if hs.Protocol != r.Header.Get("Sec-WebSocket-Protocol") ||
			hs.Protocol != "" && !slices.Contains(u.Protocols, hs.Protocol) {
			t.Fatalf("protocol %q, response %q", hs.Protocol, resp)
		}
		if got := string(appendOptions(nil, hs.Extensions)); got != r.Header.Get("Sec-WebSocket-Extensions") {
			t.Fatalf("extensions %q, response %q", got, resp)
		}
		if hs.Buffered != nil && (len(hs.Buffered) == 0 || &hs.Buffered[len(hs.Buffered)-1] != &req[len(req)-1]) {
			t.Fatalf("Buffered is not the tail of req")
		}
		return
	}
	var re *RejectError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not a *RejectError", err, err)
	}
	if r.StatusCode != re.Status || !bytes.HasPrefix(resp, []byte("HTTP/1.1 "+strconv.Itoa(re.Status)+" ")) {
		t.Fatalf("%v answered with %q", err, resp)
	}
	if string(body) != re.Reason || r.Header.Get("X-WebSocket-Reject-Reason") != re.Reason || !r.Close {
		t.Fatalf("%v answered with %q", err, resp)
	}
}

// FuzzOrigin checks that the origin checks never panic, answer nil or
// ErrHandshakeOrigin, and agree: AllowOrigins accepts what SameOrigin
// accepts, and with a pattern matching every host accepts every
// well-formed origin without a port.
func FuzzOrigin(f *testing.F) {
	f.Add("http://example.com", "example.com")
	f.Add("https://[::1]:443", "[::1]")
	f.Add("null", "example.com")
	f.Add("http://a@b", "b")
	f.Add("ws://x:99999", "x:99999")
	all := AllowOrigins("*")
	none := AllowOrigins()
	f.Fuzz(func(t *testing.T, origin, host string) {
		o, h := []byte(origin), []byte(host)
		same := SameOrigin(o, h)
		if same != nil && same != ErrHandshakeOrigin {
			t.Fatalf("SameOrigin: %v", same)
		}
		if err := none(o, h); err != same {
			t.Fatalf("AllowOrigins() = %v, SameOrigin = %v", err, same)
		}
		allErr := all(o, h)
		if allErr != nil && allErr != ErrHandshakeOrigin || same == nil && allErr != nil {
			t.Fatalf("AllowOrigins(*) = %v, SameOrigin = %v", allErr, same)
		}
		if AnyOrigin(o, h) != nil {
			t.Fatal("AnyOrigin refused")
		}
	})
}
