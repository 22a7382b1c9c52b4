package wsflate_test

import (
	"testing"

	"github.com/gobwas/httphead"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// option parses one Sec-WebSocket-Extensions element.
func option(t testing.TB, s string) httphead.Option {
	t.Helper()
	opts, ok := httphead.ParseOptions([]byte(s), nil)
	require.True(t, ok, "%q does not parse", s)
	require.Len(t, opts, 1)
	return opts[0]
}

func TestParseParams(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want wsflate.Params
		err  error
	}{
		{"bare", "permessage-deflate", wsflate.Params{}, nil},
		{"all", "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=8",
			wsflate.Params{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 10, ClientMaxWindowBits: 8}, nil},
		{"client bits without value", "permessage-deflate; client_max_window_bits",
			wsflate.Params{ClientMaxWindowBits: wsflate.WindowBitsNoValue}, nil},
		{"quoted value", `permessage-deflate; server_max_window_bits="15"`, wsflate.Params{ServerMaxWindowBits: 15}, nil},
		{"9", "permessage-deflate; client_max_window_bits=9", wsflate.Params{ClientMaxWindowBits: 9}, nil},
		{"spaces", "permessage-deflate ;server_max_window_bits = 12", wsflate.Params{ServerMaxWindowBits: 12}, nil},

		{"other extension", "x-webkit-deflate-frame", wsflate.Params{}, wsflate.ErrNotDeflate},
		{"name case", "Permessage-Deflate", wsflate.Params{}, wsflate.ErrNotDeflate},
		{"unknown", "permessage-deflate; mem_level=8", wsflate.Params{}, wsflate.ErrUnknownParam},
		{"unknown after known", "permessage-deflate; server_no_context_takeover; x", wsflate.Params{}, wsflate.ErrUnknownParam},
		{"duplicate flag", "permessage-deflate; server_no_context_takeover; server_no_context_takeover", wsflate.Params{}, wsflate.ErrDuplicateParam},
		{"duplicate bits", "permessage-deflate; client_max_window_bits; client_max_window_bits=10", wsflate.Params{}, wsflate.ErrDuplicateParam},
		{"duplicate server bits", "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10", wsflate.Params{}, wsflate.ErrDuplicateParam},
		{"server bits without value", "permessage-deflate; server_max_window_bits", wsflate.Params{}, wsflate.ErrParamValue},
		{"7", "permessage-deflate; server_max_window_bits=7", wsflate.Params{}, wsflate.ErrParamValue},
		{"16", "permessage-deflate; client_max_window_bits=16", wsflate.Params{}, wsflate.ErrParamValue},
		{"0", "permessage-deflate; client_max_window_bits=0", wsflate.Params{}, wsflate.ErrParamValue},
		{"leading zero", "permessage-deflate; server_max_window_bits=09", wsflate.Params{}, wsflate.ErrParamValue},
		{"sign", "permessage-deflate; server_max_window_bits=+9", wsflate.Params{}, wsflate.ErrParamValue},
		{"hex", "permessage-deflate; server_max_window_bits=0xa", wsflate.Params{}, wsflate.ErrParamValue},
		{"three digits", "permessage-deflate; server_max_window_bits=100", wsflate.Params{}, wsflate.ErrParamValue},
		{"quoted junk", `permessage-deflate; client_max_window_bits="1 0"`, wsflate.Params{}, wsflate.ErrParamValue},
		{"value on server flag", "permessage-deflate; server_no_context_takeover=1", wsflate.Params{}, wsflate.ErrParamValue},
		{"value on client flag", `permessage-deflate; client_no_context_takeover="true"`, wsflate.Params{}, wsflate.ErrParamValue},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := wsflate.ParseParams(option(t, tc.in))
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseExtensions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want []wsflate.Params
		err  error
	}{
		{"empty", "", nil, nil},
		{"none", "x-foo; a=1, x-bar", nil, nil},
		{"browser", "permessage-deflate; client_max_window_bits",
			[]wsflate.Params{{ClientMaxWindowBits: wsflate.WindowBitsNoValue}}, nil},
		{"fallbacks", "permessage-deflate; server_max_window_bits=10; client_max_window_bits, x-foo, permessage-deflate",
			[]wsflate.Params{{ServerMaxWindowBits: 10, ClientMaxWindowBits: wsflate.WindowBitsNoValue}, {}}, nil},
		{"malformed", "permessage-deflate; =", nil, wsflate.ErrMalformedHeader},
		{"unterminated quote", `permessage-deflate; client_max_window_bits="10`, nil, wsflate.ErrMalformedHeader},
		{"invalid element", "permessage-deflate, permessage-deflate; server_max_window_bits=20", nil, wsflate.ErrParamValue},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := wsflate.ParseExtensions([]byte(tc.in))
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestParamsWrite checks that Option and String write what ParseParams and
// ParseExtensions read back, for every combination of parameters.
func TestParamsWrite(t *testing.T) {
	t.Parallel()
	bits := []int{0, 8, 9, 12, 15}
	for _, snct := range []bool{false, true} {
		for _, cnct := range []bool{false, true} {
			for _, sb := range bits {
				for _, cb := range append(bits, wsflate.WindowBitsNoValue) {
					p := wsflate.Params{ServerNoContextTakeover: snct, ClientNoContextTakeover: cnct,
						ServerMaxWindowBits: sb, ClientMaxWindowBits: cb}
					got, err := wsflate.ParseParams(p.Option())
					require.NoError(t, err, "%v", p)
					assert.Equal(t, p, got)
					all, err := wsflate.ParseExtensions([]byte(p.String()))
					require.NoError(t, err, "%v", p)
					assert.Equal(t, []wsflate.Params{p}, all)
				}
			}
		}
	}
	assert.Equal(t, "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits",
		wsflate.Params{ServerNoContextTakeover: true, ServerMaxWindowBits: 10, ClientMaxWindowBits: wsflate.WindowBitsNoValue}.String())
	assert.Equal(t, "permessage-deflate", wsflate.Params{}.String())
}
