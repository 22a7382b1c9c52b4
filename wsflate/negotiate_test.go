package wsflate_test

import (
	"bytes"
	"testing"

	"github.com/gobwas/httphead"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNegotiate(t *testing.T) {
	t.Parallel()
	nv := wsflate.WindowBitsNoValue
	cases := []struct {
		name   string
		server wsflate.Extension
		offer  string
		want   wsflate.Params
		ok     bool
	}{
		{"bare", wsflate.Extension{}, "permessage-deflate", wsflate.Params{}, true},
		{"browser", wsflate.Extension{}, "permessage-deflate; client_max_window_bits", wsflate.Params{}, true},
		{"offer bounds server", wsflate.Extension{}, "permessage-deflate; server_max_window_bits=10",
			wsflate.Params{ServerMaxWindowBits: 10}, true},
		{"server bounds itself", wsflate.Extension{ServerMaxWindowBits: 12}, "permessage-deflate",
			wsflate.Params{ServerMaxWindowBits: 12}, true},
		{"smaller of both, offer", wsflate.Extension{ServerMaxWindowBits: 12}, "permessage-deflate; server_max_window_bits=10",
			wsflate.Params{ServerMaxWindowBits: 10}, true},
		{"smaller of both, server", wsflate.Extension{ServerMaxWindowBits: 12}, "permessage-deflate; server_max_window_bits=14",
			wsflate.Params{ServerMaxWindowBits: 12}, true},
		{"server bounds client", wsflate.Extension{ClientMaxWindowBits: 10}, "permessage-deflate; client_max_window_bits",
			wsflate.Params{ClientMaxWindowBits: 10}, true},
		{"client hint kept", wsflate.Extension{ClientMaxWindowBits: 10}, "permessage-deflate; client_max_window_bits=9",
			wsflate.Params{ClientMaxWindowBits: 9}, true},
		{"client hint bounded", wsflate.Extension{ClientMaxWindowBits: 10}, "permessage-deflate; client_max_window_bits=12",
			wsflate.Params{ClientMaxWindowBits: 10}, true},
		{"client hint echoed", wsflate.Extension{}, "permessage-deflate; client_max_window_bits=11",
			wsflate.Params{ClientMaxWindowBits: 11}, true},
		{"client cannot be bounded", wsflate.Extension{ClientMaxWindowBits: 10}, "permessage-deflate",
			wsflate.Params{ClientNoContextTakeover: true}, true},
		{"no value config is no bound", wsflate.Extension{ClientMaxWindowBits: nv}, "permessage-deflate; client_max_window_bits",
			wsflate.Params{}, true},
		{"offer asks server takeover off", wsflate.Extension{}, "permessage-deflate; server_no_context_takeover",
			wsflate.Params{ServerNoContextTakeover: true}, true},
		{"server turns its takeover off", wsflate.Extension{ServerNoContextTakeover: true}, "permessage-deflate",
			wsflate.Params{ServerNoContextTakeover: true}, true},
		{"client hint of no takeover echoed", wsflate.Extension{}, "permessage-deflate; client_no_context_takeover",
			wsflate.Params{ClientNoContextTakeover: true}, true},
		{"server turns client takeover off", wsflate.Extension{ClientNoContextTakeover: true}, "permessage-deflate",
			wsflate.Params{ClientNoContextTakeover: true}, true},
		{"everything", wsflate.Extension{}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=8",
			wsflate.Params{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 8, ClientMaxWindowBits: 8}, true},

		{"other extension", wsflate.Extension{}, "x-webkit-deflate-frame", wsflate.Params{}, false},
		{"unknown parameter", wsflate.Extension{}, "permessage-deflate; foo", wsflate.Params{}, false},
		{"duplicate parameter", wsflate.Extension{}, "permessage-deflate; client_no_context_takeover; client_no_context_takeover", wsflate.Params{}, false},
		{"bad value", wsflate.Extension{}, "permessage-deflate; server_max_window_bits=7", wsflate.Params{}, false},
		{"value on flag", wsflate.Extension{}, "permessage-deflate; server_no_context_takeover=yes", wsflate.Params{}, false},
		{"invalid level", wsflate.Extension{Level: 10}, "permessage-deflate", wsflate.Params{}, false},
		{"invalid bits", wsflate.Extension{ServerMaxWindowBits: 16}, "permessage-deflate", wsflate.Params{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			answer, ok := tc.server.Negotiate(option(t, tc.offer))
			require.Equal(t, tc.ok, ok)
			if !ok {
				return
			}
			got, err := wsflate.ParseParams(answer)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			// A client that made the offer accepts the answer.
			offer, err := wsflate.ParseParams(option(t, tc.offer))
			require.NoError(t, err)
			client := wsflate.Extension{
				ServerNoContextTakeover: offer.ServerNoContextTakeover, ClientNoContextTakeover: offer.ClientNoContextTakeover,
				ServerMaxWindowBits: offer.ServerMaxWindowBits, ClientMaxWindowBits: offer.ClientMaxWindowBits,
			}
			require.NoError(t, client.CheckResponse([]httphead.Option{answer}))
		})
	}
}

// upgrade runs ws.Upgrader on a request offering the given
// Sec-WebSocket-Extensions value and returns the handshake and response.
func upgrade(t *testing.T, e *wsflate.Extension, offers string) (ws.Handshake, string) {
	t.Helper()
	req := "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Extensions: " + offers + "\r\n\r\n"
	u := ws.Upgrader{Extension: e.Negotiate}
	resp, hs, err := u.UpgradeBuffer(nil, []byte(req))
	require.NoError(t, err)
	return hs, string(resp)
}

// TestUpgraderPicksFirstHonourable checks, through ws.Upgrader, that the
// server accepts the first offer it can honour among several.
func TestUpgraderPicksFirstHonourable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		offers string
		want   string // the response's Sec-WebSocket-Extensions line, "" for none
	}{
		{"first", "permessage-deflate; server_max_window_bits=10, permessage-deflate",
			"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n"},
		{"skips invalid", "permessage-deflate; foo=1, permessage-deflate; server_max_window_bits=7, permessage-deflate; client_max_window_bits, permessage-deflate; server_no_context_takeover",
			"Sec-WebSocket-Extensions: permessage-deflate\r\n"},
		{"skips other extensions", "x-webkit-deflate-frame, permessage-deflate; client_no_context_takeover",
			"Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n"},
		{"none honourable", "permessage-deflate; server_max_window_bits=16, permessage-deflate; bogus", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := &wsflate.Extension{}
			hs, resp := upgrade(t, e, tc.offers)
			if tc.want == "" {
				assert.NotContains(t, resp, "Sec-WebSocket-Extensions")
				assert.Empty(t, hs.Extensions)
				r, s, err := e.Bind(ws.ServerSide, hs.Extensions)
				require.NoError(t, err)
				assert.Nil(t, r, "no compression")
				assert.Nil(t, s)
				return
			}
			assert.Contains(t, resp, tc.want)
			require.Len(t, hs.Extensions, 1)
			r, s, err := e.Bind(ws.ServerSide, hs.Extensions)
			require.NoError(t, err)
			assert.NotNil(t, r)
			assert.NotNil(t, s)
		})
	}
}

func TestCheckResponse(t *testing.T) {
	t.Parallel()
	nv := wsflate.WindowBitsNoValue
	cases := []struct {
		name     string
		client   wsflate.Extension
		response []string
		err      error
	}{
		{"not accepted", wsflate.Extension{}, nil, nil},
		{"other extension only", wsflate.Extension{}, []string{"x-foo"}, nil},
		{"bare", wsflate.Extension{}, []string{"permessage-deflate"}, nil},
		{"server bounds itself unasked", wsflate.Extension{}, []string{"permessage-deflate; server_max_window_bits=9"}, nil},
		{"server drops takeover unasked", wsflate.Extension{}, []string{"permessage-deflate; server_no_context_takeover"}, nil},
		{"client takeover off", wsflate.Extension{}, []string{"permessage-deflate; client_no_context_takeover"}, nil},
		{"client bits chosen", wsflate.Extension{ClientMaxWindowBits: nv}, []string{"permessage-deflate; client_max_window_bits=9"}, nil},
		{"client bits lowered", wsflate.Extension{ClientMaxWindowBits: 12}, []string{"permessage-deflate; client_max_window_bits=10"}, nil},
		{"client bits equal", wsflate.Extension{ClientMaxWindowBits: 12}, []string{"permessage-deflate; client_max_window_bits=12"}, nil},
		{"client bits ignored", wsflate.Extension{ClientMaxWindowBits: 12}, []string{"permessage-deflate"}, nil},
		{"server bits honoured", wsflate.Extension{ServerMaxWindowBits: 10}, []string{"permessage-deflate; server_max_window_bits=9"}, nil},
		{"takeover off honoured", wsflate.Extension{ServerNoContextTakeover: true}, []string{"permessage-deflate; server_no_context_takeover"}, nil},

		{"client bits not offered", wsflate.Extension{}, []string{"permessage-deflate; client_max_window_bits=10"}, wsflate.ErrResponseClientWindow},
		{"client bits raised", wsflate.Extension{ClientMaxWindowBits: 10}, []string{"permessage-deflate; client_max_window_bits=11"}, wsflate.ErrResponseClientWindow},
		{"client bits without value", wsflate.Extension{ClientMaxWindowBits: nv}, []string{"permessage-deflate; client_max_window_bits"}, wsflate.ErrParamValue},
		{"server bits raised", wsflate.Extension{ServerMaxWindowBits: 10}, []string{"permessage-deflate; server_max_window_bits=11"}, wsflate.ErrResponseServerWindow},
		{"server bits missing", wsflate.Extension{ServerMaxWindowBits: 10}, []string{"permessage-deflate"}, wsflate.ErrResponseServerWindow},
		{"takeover off ignored", wsflate.Extension{ServerNoContextTakeover: true}, []string{"permessage-deflate"}, wsflate.ErrResponseServerTakeover},
		{"unknown parameter", wsflate.Extension{}, []string{"permessage-deflate; foo"}, wsflate.ErrUnknownParam},
		{"duplicate parameter", wsflate.Extension{}, []string{"permessage-deflate; server_no_context_takeover; server_no_context_takeover"}, wsflate.ErrDuplicateParam},
		{"bad value", wsflate.Extension{}, []string{"permessage-deflate; server_max_window_bits=5"}, wsflate.ErrParamValue},
		{"accepted twice", wsflate.Extension{}, []string{"permessage-deflate", "permessage-deflate"}, wsflate.ErrResponseRepeated},
		{"invalid config", wsflate.Extension{Level: -3}, []string{"permessage-deflate"}, wsflate.ErrLevel},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var accepted []httphead.Option
			for _, s := range tc.response {
				accepted = append(accepted, option(t, s))
			}
			err := tc.client.CheckResponse(accepted)
			_, _, bindErr := tc.client.Bind(ws.ClientSide, accepted)
			if tc.err == nil {
				require.NoError(t, err)
				require.NoError(t, bindErr)
				return
			}
			require.ErrorIs(t, err, tc.err)
			require.ErrorIs(t, bindErr, tc.err, "Bind checks the response too")
		})
	}
}

// TestBindServerRejects checks what a server's Bind refuses: a response it
// could not have written.
func TestBindServerRejects(t *testing.T) {
	t.Parallel()
	e := &wsflate.Extension{}
	_, _, err := e.Bind(ws.ServerSide, []httphead.Option{option(t, "permessage-deflate; client_max_window_bits")})
	require.ErrorIs(t, err, wsflate.ErrParamValue)
	_, _, err = e.Bind(ws.ServerSide, []httphead.Option{option(t, "permessage-deflate; x=1")})
	require.ErrorIs(t, err, wsflate.ErrUnknownParam)
	_, _, err = (&wsflate.Extension{ServerMaxWindowBits: 7}).Bind(ws.ServerSide, []httphead.Option{option(t, "permessage-deflate")})
	require.ErrorIs(t, err, wsflate.ErrWindowBits)
}

// TestClientKeepsItsPromises checks that a client compresses within the
// window it offered and without context takeover when it said so, even if
// the server's answer does not repeat it.
func TestClientKeepsItsPromises(t *testing.T) {
	t.Parallel()
	msg := text(3000, 4)
	t.Run("window", func(t *testing.T) {
		t.Parallel()
		client := &wsflate.Extension{ClientMaxWindowBits: 9, Threshold: -1}
		_, s, err := client.Bind(ws.ClientSide, []httphead.Option{option(t, "permessage-deflate")})
		require.NoError(t, err)
		p1 := compress(t, s, msg, -1)
		p2 := compress(t, s, msg, -1)
		_, _, err = refInflate(nil, p1, 512)
		require.NoError(t, err)
		_, _, err = refInflate(msg, p2, 512)
		require.NoError(t, err)
	})
	t.Run("no context takeover", func(t *testing.T) {
		t.Parallel()
		client := &wsflate.Extension{ClientNoContextTakeover: true, Threshold: -1}
		_, s, err := client.Bind(ws.ClientSide, []httphead.Option{option(t, "permessage-deflate")})
		require.NoError(t, err)
		p1 := compress(t, s, msg, -1)
		p2 := compress(t, s, msg, -1)
		assert.Equal(t, p1, p2)
	})
}

// TestThreshold checks that a message of known size under the threshold
// goes out uncompressed, and one of unknown size does not.
func TestThreshold(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		threshold int
		size      int
		encoded   bool
	}{
		{"default, small", 0, wsflate.DefaultThreshold - 1, false},
		{"default, at threshold", 0, wsflate.DefaultThreshold, true},
		{"unknown size", 0, -1, true},
		{"custom", 1000, 999, false},
		{"compress all", -1, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := bind(t, ws.ServerSide, &wsflate.Extension{Threshold: tc.threshold})
			var buf bytes.Buffer
			enc, rsv := s.NextWriter(&buf, tc.size)
			if !tc.encoded {
				assert.Nil(t, enc)
				assert.Zero(t, rsv)
				return
			}
			require.NotNil(t, enc)
			assert.Equal(t, ws.Rsv1, rsv)
			require.NoError(t, enc.Finish())
		})
	}
}

func TestExtensionCheck(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		e    wsflate.Extension
		err  error
	}{
		{"zero", wsflate.Extension{}, nil},
		{"full", wsflate.Extension{Level: 9, ServerMaxWindowBits: 8, ClientMaxWindowBits: wsflate.WindowBitsNoValue}, nil},
		{"level 10", wsflate.Extension{Level: 10}, wsflate.ErrLevel},
		{"server bits 16", wsflate.Extension{ServerMaxWindowBits: 16}, wsflate.ErrWindowBits},
		{"client bits 7", wsflate.Extension{ClientMaxWindowBits: 7}, wsflate.ErrWindowBits},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.e.Check()
			if tc.err == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.err)
			_, ok := tc.e.Negotiate((&wsflate.Extension{}).Offer())
			assert.False(t, ok, "an invalid Extension must decline")
		})
	}
}
