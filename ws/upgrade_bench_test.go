package ws

import (
	"net/http"
	"testing"

	"github.com/gobwas/httphead"
)

// upBenchRequest is what a browser sends, minus the cookies.
func upBenchRequest() []byte {
	return upHead(upLine,
		"Host: server.example.com",
		"Connection: Upgrade",
		"Pragma: no-cache",
		"Cache-Control: no-cache",
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Upgrade: websocket",
		"Origin: https://server.example.com",
		"Sec-WebSocket-Version: 13",
		"Accept-Encoding: gzip, deflate, br, zstd",
		"Accept-Language: en-US,en;q=0.9",
		"Sec-WebSocket-Key: "+upKey,
	)
}

func BenchmarkUpgrade(b *testing.B) {
	pmd := upBenchRequestWith("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
		"Sec-WebSocket-Protocol: v2.chat, chat")
	cases := []struct {
		name string
		u    Upgrader
		req  []byte
	}{
		{"plain", Upgrader{}, upBenchRequest()},
		{"hooks", Upgrader{
			OnRequest: func([]byte) error { return nil },
			OnHeader:  func([]byte, []byte) error { return nil },
		}, upBenchRequest()},
		{"Protocols", Upgrader{Protocols: []string{"chat", "v2.chat"}}, pmd},
		{"Protocol+Extension", Upgrader{
			Protocol:  func(p []byte) bool { return string(p) == "chat" },
			Extension: func(o httphead.Option) (httphead.Option, bool) { return o, true },
		}, pmd},
		{"OnBeforeUpgrade", Upgrader{
			OnBeforeUpgrade: func() (http.Header, error) { return upBenchHeader, nil },
		}, upBenchRequest()},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var conn upConn
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.req)))
			for b.Loop() {
				conn.reset(tc.req)
				if _, err := tc.u.Upgrade(&conn); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkUpgradeBuffer(b *testing.B) {
	req := upBenchRequest()
	dst := make([]byte, 0, 512)
	var u Upgrader
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		if _, _, err := u.UpgradeBuffer(dst[:0], req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpgradeReject measures the cost of refusing a request.
func BenchmarkUpgradeReject(b *testing.B) {
	req := upRequest("Sec-WebSocket-Version: 8")
	dst := make([]byte, 0, 512)
	var u Upgrader
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		_, _, _ = u.UpgradeBuffer(dst[:0], req)
	}
}

var upBenchHeader = http.Header{"X-Session": {"42"}}

// upBenchRequestWith is upBenchRequest with extra field lines.
func upBenchRequestWith(fields ...string) []byte {
	head := upBenchRequest()
	head = head[:len(head)-2]
	for _, f := range fields {
		head = append(head, f+"\r\n"...)
	}
	return append(head, "\r\n"...)
}
