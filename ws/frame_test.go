package ws

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// rfcMask is the masking key of the RFC 6455 §5.7 examples.
var rfcMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// goldenFrames are the examples of RFC 6455 §5.7, in the order of the
// golden file.
func goldenFrames() []struct {
	name string
	f    Frame
} {
	return []struct {
		name string
		f    Frame
	}{
		{"unmasked-text-hello", NewTextFrame([]byte("Hello"))},
		{"masked-text-hello", NewTextFrame([]byte("Hello")).Masked(rfcMask)},
		{"fragment-1-hel", NewFrame(OpText, false, []byte("Hel"))},
		{"fragment-2-lo", NewFrame(OpContinuation, true, []byte("lo"))},
		{"unmasked-ping-hello", NewPingFrame([]byte("Hello"))},
		{"masked-pong-hello", NewPongFrame([]byte("Hello")).Masked(rfcMask)},
		{"binary-256", NewBinaryFrame(bytes.Repeat([]byte{0xab}, 256))},
		{"binary-65536", NewBinaryFrame(bytes.Repeat([]byte{0xcd}, 65536))},
		{"close-1000-bye", NewCloseFrame(StatusNormalClosure, "bye")},
	}
}

// TestGoldenRFC6455Examples compares AppendFrame and WriteFrame with the
// wire bytes of RFC 6455 §5.7, kept in testdata/rfc6455-examples.golden.
// Run with -update to rewrite it; a mismatch writes the .got file.
func TestGoldenRFC6455Examples(t *testing.T) {
	var sb strings.Builder
	for _, g := range goldenFrames() {
		wire := AppendFrame(nil, g.f)
		var buf bytes.Buffer
		require.NoError(t, WriteFrame(&buf, g.f))
		require.Equal(t, wire, buf.Bytes(), g.name)
		// Long payloads repeat one byte; keep the file readable.
		shown := wire
		if len(shown) > 32 {
			shown = shown[:32]
		}
		sb.WriteString(g.name + " " + hex.EncodeToString(shown) + "\n")
	}
	got := sb.String()
	path := filepath.Join("testdata", "rfc6455-examples.golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	if got != string(want) {
		_ = os.WriteFile(path+".got", []byte(got), 0o644)
		t.Fatalf("wire bytes differ from %s; see %s.got", path, path)
	}
}

// TestRFCExampleBytes pins the §5.7 examples literally, independent of the
// golden file.
func TestRFCExampleBytes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		f    Frame
		hex  string
	}{
		{"unmasked text", NewTextFrame([]byte("Hello")), "810548656c6c6f"},
		{"masked text", NewTextFrame([]byte("Hello")).Masked(rfcMask), "818537fa213d7f9f4d5158"},
		{"first fragment", NewFrame(OpText, false, []byte("Hel")), "010348656c"},
		{"last fragment", NewFrame(OpContinuation, true, []byte("lo")), "80026c6f"},
		{"unmasked ping", NewPingFrame([]byte("Hello")), "890548656c6c6f"},
		{"masked pong", NewPongFrame([]byte("Hello")).Masked(rfcMask), "8a8537fa213d7f9f4d5158"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.hex, hex.EncodeToString(AppendFrame(nil, tc.f)))
		})
	}
	assert.Equal(t, "827e0100", hex.EncodeToString(AppendFrame(nil, NewBinaryFrame(make([]byte, 256)))[:4]))
	assert.Equal(t, "827f0000000000010000", hex.EncodeToString(AppendFrame(nil, NewBinaryFrame(make([]byte, 65536)))[:10]))
}

func TestFrameRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range lengthCases {
		if tc.length > 1<<17 {
			continue
		}
		for _, masked := range []bool{false, true} {
			payload := bytes.Repeat([]byte("0123456789abcdef"), int(tc.length)/16+1)[:tc.length]
			orig := bytes.Clone(payload)
			f := NewBinaryFrame(payload)
			if masked {
				f = f.Masked([4]byte{0xa1, 0xb2, 0xc3, 0xd4})
			}
			for _, mkw := range []func(io.Writer) (io.Writer, func() error){
				func(w io.Writer) (io.Writer, func() error) { return w, func() error { return nil } },
				func(w io.Writer) (io.Writer, func() error) {
					bw := bufio.NewWriterSize(w, 100)
					return bw, bw.Flush
				},
			} {
				var buf bytes.Buffer
				w, flush := mkw(&buf)
				require.NoError(t, WriteFrame(w, f))
				require.NoError(t, flush())
				assert.Equal(t, orig, payload, "WriteFrame modified the payload")
				assert.Equal(t, AppendFrame(nil, f), buf.Bytes())

				got, err := ReadFrame(&buf, 0)
				require.NoError(t, err)
				assert.Equal(t, f.Header, got.Header)
				assert.Equal(t, orig, got.Payload)
			}
		}
	}
}

func TestReadFrameLimits(t *testing.T) {
	t.Parallel()
	wire := AppendFrame(nil, NewBinaryFrame(make([]byte, 1000)))
	_, err := ReadFrame(bytes.NewReader(wire), 999)
	require.ErrorIs(t, err, ErrFrameTooBig)
	var pe *ProtocolError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, StatusMessageTooBig, pe.Code)

	f, err := ReadFrame(bytes.NewReader(wire), 1000)
	require.NoError(t, err)
	assert.Len(t, f.Payload, 1000)

	_, err = ReadFrame(bytes.NewReader(nil), 0)
	require.ErrorIs(t, err, io.EOF)
	_, err = ReadFrame(bytes.NewReader(wire[:500]), 0)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

// TestReadFrameLyingHeader sends a header claiming 1 TiB followed by a few
// bytes: ReadFrame must fail on the short stream instead of allocating what
// the header claims.
func TestReadFrameLyingHeader(t *testing.T) {
	t.Parallel()
	wire := AppendHeader(nil, Header{Fin: true, OpCode: OpBinary, Length: 1 << 40})
	wire = append(wire, bytes.Repeat([]byte{1}, 200_000)...)
	_, err := ReadFrame(bytes.NewReader(wire), 0)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

func TestNewCloseFrame(t *testing.T) {
	t.Parallel()
	f := NewCloseFrame(StatusGoingAway, "bye")
	assert.Equal(t, OpClose, f.Header.OpCode)
	assert.True(t, f.Header.Fin)
	assert.Equal(t, []byte{0x03, 0xe9, 'b', 'y', 'e'}, f.Payload)
	assert.Equal(t, int64(5), f.Header.Length)

	empty := NewCloseFrame(0, "ignored")
	assert.Empty(t, empty.Payload)

	long := NewCloseFrame(StatusNormalClosure, strings.Repeat("é", 100))
	assert.LessOrEqual(t, len(long.Payload), MaxControlPayload)
	_, reason, err := ParseCloseBody(long.Payload)
	require.NoError(t, err, "truncation must keep the reason valid UTF-8")
	assert.Len(t, reason, 122) // 61 two-byte runes; a 62nd would need 124 bytes
	require.NoError(t, CheckHeader(long.Header, ClientSide, 0))
}

func TestCompiledFrames(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		wire []byte
		op   OpCode
		body []byte
	}{
		{"ping", CompiledPing, OpPing, nil},
		{"pong", CompiledPong, OpPong, nil},
		{"close normal", CompiledCloseNormal, OpClose, []byte{0x03, 0xe8}},
		{"close going away", CompiledCloseGoingAway, OpClose, []byte{0x03, 0xe9}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := ReadFrame(bytes.NewReader(tc.wire), 0)
			require.NoError(t, err)
			assert.Equal(t, tc.op, f.Header.OpCode)
			assert.True(t, f.Header.Fin)
			assert.False(t, f.Header.Masked)
			assert.Equal(t, string(tc.body), string(f.Payload))
		})
	}
}
