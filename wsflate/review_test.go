package wsflate_test

import (
	"testing"

	"github.com/gobwas/httphead"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
)

// TestReviewParseExtensionsAgreesWithUpgrader checks that ParseExtensions
// reads a Sec-WebSocket-Extensions value as ws.Upgrader does: the
// permessage-deflate offers the Upgrader hands to its Extension hook,
// through ParseParams, are the ones ParseExtensions returns. RFC 9110
// §5.6.3 lets optional whitespace be HTAB as well as SP; ws accepts both,
// and ParseExtensions used to refuse the HTAB (ErrMalformedHeader).
func TestReviewParseExtensionsAgreesWithUpgrader(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		value string
		want  []wsflate.Params
	}{
		{"spaces", "permessage-deflate; client_max_window_bits, permessage-deflate",
			[]wsflate.Params{{ClientMaxWindowBits: wsflate.WindowBitsNoValue}, {}}},
		{"tab before parameter", "permessage-deflate;\tclient_max_window_bits",
			[]wsflate.Params{{ClientMaxWindowBits: wsflate.WindowBitsNoValue}}},
		{"tab after comma", "permessage-deflate; server_max_window_bits=10,\tpermessage-deflate",
			[]wsflate.Params{{ServerMaxWindowBits: 10}, {}}},
		{"tabs around everything", "\tpermessage-deflate\t;\tserver_no_context_takeover\t",
			[]wsflate.Params{{ServerNoContextTakeover: true}}},
		{"tab in another extension's quoted value", "x-foo; p=\"a\tb\",\tpermessage-deflate; client_max_window_bits=\"9\"",
			[]wsflate.Params{{ClientMaxWindowBits: 9}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var offered []wsflate.Params
			u := ws.Upgrader{Extension: func(o httphead.Option) (httphead.Option, bool) {
				if p, err := wsflate.ParseParams(o); err == nil {
					offered = append(offered, p)
				}
				return o, false
			}}
			req := "GET / HTTP/1.1\r\n" +
				"Host: example.com\r\n" +
				"Upgrade: websocket\r\n" +
				"Connection: Upgrade\r\n" +
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
				"Sec-WebSocket-Version: 13\r\n" +
				"Sec-WebSocket-Extensions: " + tc.value + "\r\n\r\n"
			_, _, err := u.UpgradeBuffer(nil, []byte(req))
			require.NoError(t, err, "ws.Upgrader accepts the value")
			assert.Equal(t, tc.want, offered, "what ws.Upgrader offers")

			got, err := wsflate.ParseExtensions([]byte(tc.value))
			require.NoError(t, err)
			assert.Equal(t, tc.want, got, "what ParseExtensions returns")
		})
	}
}
