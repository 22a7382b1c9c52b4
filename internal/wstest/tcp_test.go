package wstest

import (
	"io"
	"testing"
)

func TestTCPPair(t *testing.T) {
	server, client := TCPPair(t)
	if got, want := client.RemoteAddr().String(), server.LocalAddr().String(); got != want {
		t.Fatalf("client is connected to %s, not to the server end %s", got, want)
	}
	if _, err := client.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(server, got); err != nil || string(got) != "ping" {
		t.Fatalf("server read %q, %v; want \"ping\"", got, err)
	}
}
