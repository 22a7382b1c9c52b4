package wsflate_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"testing"

	"github.com/gobwas/httphead"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nodeFrames is testdata/nodews/frames.json (see testdata/README.md).
type nodeFrames struct {
	Generator string   `json:"generator"`
	Plain     [][]byte `json:"plain"`
	Cases     []struct {
		Name      string `json:"name"`
		Direction string `json:"direction"`
		Offer     string `json:"offer"`
		Response  string `json:"response"`
		Messages  []struct {
			Rsv1      bool     `json:"rsv1"`
			Opcode    int      `json:"opcode"`
			Fragments []string `json:"fragments"`
		} `json:"messages"`
	} `json:"cases"`
}

// TestNodeFrames reads messages that Node's ws package compressed, with
// and without context takeover and with several window sizes, on the side
// that would have received them.
func TestNodeFrames(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/nodews/frames.json")
	require.NoError(t, err)
	var nf nodeFrames
	require.NoError(t, json.Unmarshal(data, &nf))
	require.NotEmpty(t, nf.Cases)
	for _, c := range nf.Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			offers, err := wsflate.ParseExtensions([]byte(c.Offer))
			require.NoError(t, err)
			require.Len(t, offers, 1)
			accepted, ok := httphead.ParseOptions([]byte(c.Response), nil)
			require.True(t, ok)

			var r wsflate.Receiver
			if c.Direction == "server-to-client" {
				// We are the client that made the offer.
				o := offers[0]
				e := &wsflate.Extension{ServerNoContextTakeover: o.ServerNoContextTakeover,
					ClientNoContextTakeover: o.ClientNoContextTakeover,
					ServerMaxWindowBits:     o.ServerMaxWindowBits, ClientMaxWindowBits: o.ClientMaxWindowBits}
				require.NoError(t, e.CheckResponse(accepted))
				r, _, err = e.Bind(ws.ClientSide, accepted)
			} else {
				// We are the server that answered.
				r, _, err = (&wsflate.Extension{}).Bind(ws.ServerSide, accepted)
			}
			require.NoError(t, err)
			require.NotNil(t, r)

			require.Len(t, c.Messages, len(nf.Plain))
			for i, m := range c.Messages {
				require.True(t, m.Rsv1, "message %d was sent compressed", i)
				var payload []byte
				var cuts []int
				for _, f := range m.Fragments {
					b, err := base64.StdEncoding.DecodeString(f)
					require.NoError(t, err)
					payload = append(payload, b...)
					cuts = append(cuts, len(b))
				}
				got, err := decompress(t, r, payload, cuts...)
				require.NoError(t, err, "message %d", i)
				assert.Equal(t, nf.Plain[i], got, "message %d", i)
			}
		})
	}
}
