package ws

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckHeader(t *testing.T) {
	t.Parallel()
	masked := func(h Header) Header { h.Masked = true; return h }
	cases := []struct {
		name string
		h    Header
		side Side
		rsv  byte
		want error
	}{
		{"client text to server", masked(Header{Fin: true, OpCode: OpText, Length: 5}), ServerSide, 0, nil},
		{"server text to client", Header{Fin: true, OpCode: OpText, Length: 5}, ClientSide, 0, nil},
		{"unmasked to server", Header{Fin: true, OpCode: OpText}, ServerSide, 0, ErrMaskRequired},
		{"masked to client", masked(Header{Fin: true, OpCode: OpText}), ClientSide, 0, ErrMaskUnexpected},
		{"rsv1 without extension", Header{Fin: true, Rsv: Rsv1, OpCode: OpText}, ClientSide, 0, ErrReservedBits},
		{"rsv1 with extension", Header{Fin: true, Rsv: Rsv1, OpCode: OpText}, ClientSide, Rsv1, nil},
		{"rsv2 with rsv1 extension", Header{Fin: true, Rsv: Rsv2, OpCode: OpText}, ClientSide, Rsv1, ErrReservedBits},
		{"rsv3", Header{Fin: true, Rsv: Rsv3, OpCode: OpText}, ClientSide, 0, ErrReservedBits},
		{"opcode 3", Header{Fin: true, OpCode: 3}, ClientSide, 0, ErrReservedOpCode},
		{"opcode 7", Header{Fin: true, OpCode: 7}, ClientSide, 0, ErrReservedOpCode},
		{"opcode 0xb", Header{Fin: true, OpCode: 0xb}, ClientSide, 0, ErrReservedOpCode},
		{"opcode 0xf", Header{Fin: true, OpCode: 0xf}, ClientSide, 0, ErrReservedOpCode},
		{"ping 125", Header{Fin: true, OpCode: OpPing, Length: 125}, ClientSide, 0, nil},
		{"ping 126", Header{Fin: true, OpCode: OpPing, Length: 126}, ClientSide, 0, ErrControlTooLong},
		{"close 126", Header{Fin: true, OpCode: OpClose, Length: 126}, ClientSide, 0, ErrControlTooLong},
		{"fragmented pong", Header{OpCode: OpPong}, ClientSide, 0, ErrControlFragmented},
		{"fragmented text", Header{OpCode: OpText, Length: 1 << 40}, ClientSide, 0, nil},
		{"continuation", Header{OpCode: OpContinuation}, ClientSide, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := CheckHeader(tc.h, tc.side, tc.rsv)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
			var pe *ProtocolError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, StatusProtocolError, pe.Code)
		})
	}
}

func TestOpCodePredicates(t *testing.T) {
	t.Parallel()
	for c := OpCode(0); c < 16; c++ {
		known := c == OpContinuation || c == OpText || c == OpBinary ||
			c == OpClose || c == OpPing || c == OpPong
		assert.Equal(t, !known, c.IsReserved(), "%d reserved", c)
		assert.Equal(t, c >= 8, c.IsControl(), "%d control", c)
		assert.Equal(t, c < 8, c.IsData(), "%d data", c)
	}
	assert.Equal(t, "text", OpText.String())
	assert.Equal(t, "pong", OpPong.String())
	assert.Equal(t, "OpCode(3)", OpCode(3).String())
}

func TestStatusCodeValidOnWire(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code StatusCode
		want bool
	}{
		{0, false}, {999, false}, {1000, true}, {1001, true}, {1002, true}, {1003, true},
		{1004, false}, {1005, false}, {1006, false}, {1007, true}, {1008, true},
		{1009, true}, {1010, true}, {1011, true}, {1012, true}, {1013, true},
		{1014, true}, {1015, false}, {1016, false}, {1100, false}, {2000, false},
		{2999, false}, {3000, true}, {3999, true}, {4000, true}, {4999, true},
		{5000, false}, {65535, false},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, tc.code.ValidOnWire(), "code %d", tc.code)
	}
	assert.True(t, StatusCode(3500).IsApplication())
	assert.True(t, StatusCode(4500).IsPrivate())
	assert.True(t, StatusTLSHandshake.IsRegistered())
	assert.False(t, StatusCode(1016).IsRegistered())
	assert.Equal(t, "going away", StatusGoingAway.String())
}

func TestSide(t *testing.T) {
	t.Parallel()
	assert.Equal(t, ClientSide, ServerSide.Peer())
	assert.Equal(t, ServerSide, ClientSide.Peer())
	assert.Equal(t, "server", ServerSide.String())
	assert.Equal(t, "client", ClientSide.String())
}
