package ws

import (
	"bufio"
	"bytes"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lengthCases covers every boundary of the three length encodings.
var lengthCases = []struct {
	name   string
	length int64
	size   int // header size unmasked
}{
	{"zero", 0, 2},
	{"one", 1, 2},
	{"max7bit", 125, 2},
	{"min16bit", 126, 4},
	{"127", 127, 4},
	{"max16bit", 65535, 4},
	{"min64bit", 65536, 10},
	{"32bit", 1 << 32, 10},
	{"max63bit", 1<<63 - 1, 10},
}

func TestHeaderRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range lengthCases {
		for _, masked := range []bool{false, true} {
			name := tc.name
			if masked {
				name += "/masked"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				h := Header{Fin: true, Rsv: Rsv1 | Rsv3, OpCode: OpBinary, Length: tc.length,
					Masked: masked}
				want := tc.size
				if masked {
					h.Mask = [4]byte{1, 2, 3, 4}
					want += 4
				}
				b := AppendHeader(nil, h)
				require.Len(t, b, want)
				assert.Equal(t, want, HeaderSize(h))

				got, n, err := ParseHeader(b)
				require.NoError(t, err)
				assert.Equal(t, want, n)
				assert.Equal(t, h, got)

				// Every strict prefix is too short, and says so without consuming.
				for i := range b {
					_, n, err := ParseHeader(b[:i])
					require.ErrorIs(t, err, io.ErrShortBuffer, "prefix %d", i)
					assert.Zero(t, n)
				}

				// Stream forms: bufio, a bare reader, and one byte per Read.
				for _, r := range []io.Reader{
					bufio.NewReader(bytes.NewReader(b)),
					bytes.NewReader(b),
					iotest.OneByteReader(bytes.NewReader(b)),
				} {
					got, err := ReadHeader(r)
					require.NoError(t, err)
					assert.Equal(t, h, got)
				}
				var buf bytes.Buffer
				require.NoError(t, WriteHeader(&buf, h))
				assert.Equal(t, b, buf.Bytes())
				buf.Reset()
				bw := bufio.NewWriter(&buf)
				require.NoError(t, WriteHeader(bw, h))
				require.NoError(t, bw.Flush())
				assert.Equal(t, b, buf.Bytes())
			})
		}
	}
}

func TestParseHeaderFields(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		wire []byte
		want Header
	}{
		{"fin text", []byte{0x81, 0x00}, Header{Fin: true, OpCode: OpText}},
		{"continuation no fin", []byte{0x00, 0x03}, Header{OpCode: OpContinuation, Length: 3}},
		{"rsv1", []byte{0xc1, 0x00}, Header{Fin: true, Rsv: Rsv1, OpCode: OpText}},
		{"rsv2", []byte{0xa2, 0x00}, Header{Fin: true, Rsv: Rsv2, OpCode: OpBinary}},
		{"rsv3", []byte{0x92, 0x00}, Header{Fin: true, Rsv: Rsv3, OpCode: OpBinary}},
		{"reserved opcode kept", []byte{0x8b, 0x00}, Header{Fin: true, OpCode: 0xb}},
		{"non-minimal 16-bit length accepted", []byte{0x82, 0x7e, 0x00, 0x05},
			Header{Fin: true, OpCode: OpBinary, Length: 5}},
		{"masked close", []byte{0x88, 0x82, 9, 8, 7, 6},
			Header{Fin: true, OpCode: OpClose, Masked: true, Mask: [4]byte{9, 8, 7, 6}, Length: 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, n, err := ParseHeader(tc.wire)
			require.NoError(t, err)
			assert.Equal(t, len(tc.wire), n)
			assert.Equal(t, tc.want, h)
		})
	}
}

func TestParseHeaderLengthMSB(t *testing.T) {
	t.Parallel()
	wire := []byte{0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0}
	_, n, err := ParseHeader(wire)
	require.ErrorIs(t, err, ErrHeaderLengthMSB)
	assert.Zero(t, n)
	_, err = ReadHeader(bytes.NewReader(wire))
	require.ErrorIs(t, err, ErrHeaderLengthMSB)
	var pe *ProtocolError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, StatusProtocolError, pe.Code)
}

func TestReadHeaderEOF(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		wire []byte
		want error
	}{
		{"empty", nil, io.EOF},
		{"one byte", []byte{0x81}, io.ErrUnexpectedEOF},
		{"cut extended length", []byte{0x81, 0x7e, 0x01}, io.ErrUnexpectedEOF},
		{"cut mask", []byte{0x81, 0x80, 1, 2}, io.ErrUnexpectedEOF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ReadHeader(bytes.NewReader(tc.wire))
			require.ErrorIs(t, err, tc.want)
			_, err = ReadHeader(bufio.NewReader(bytes.NewReader(tc.wire)))
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestReadHeaderLeavesPayload(t *testing.T) {
	t.Parallel()
	wire := []byte{0x82, 0x03, 'a', 'b', 'c'}
	br := bufio.NewReader(bytes.NewReader(wire))
	_, err := ReadHeader(br)
	require.NoError(t, err)
	rest, err := io.ReadAll(br)
	require.NoError(t, err)
	assert.Equal(t, []byte("abc"), rest)
}

func TestWriteHeaderSmallBufio(t *testing.T) {
	t.Parallel()
	// A bufio.Writer with less room than a header falls back to the pool.
	var buf bytes.Buffer
	bw := bufio.NewWriterSize(&buf, 16)
	_, err := bw.Write(make([]byte, 10))
	require.NoError(t, err)
	h := Header{Fin: true, OpCode: OpBinary, Length: 1 << 20, Masked: true, Mask: [4]byte{1, 2, 3, 4}}
	require.NoError(t, WriteHeader(bw, h))
	require.NoError(t, bw.Flush())
	got, _, err := ParseHeader(buf.Bytes()[10:])
	require.NoError(t, err)
	assert.Equal(t, h, got)
}

func TestAppendHeaderIgnoresOutOfRangeBits(t *testing.T) {
	t.Parallel()
	b := AppendHeader(nil, Header{Rsv: 0xff, OpCode: 0xff, Length: -5})
	assert.Equal(t, []byte{0x7f, 0x00}, b)
}
