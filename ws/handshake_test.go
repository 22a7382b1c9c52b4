package ws

import (
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAcceptRFCExample uses the key and accept value of RFC 6455 §1.3.
func TestAcceptRFCExample(t *testing.T) {
	t.Parallel()
	key := []byte("dGhlIHNhbXBsZSBub25jZQ==")
	assert.Equal(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", string(AppendAccept(nil, key)))
	assert.True(t, CheckAccept(key, []byte("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")))
	assert.False(t, CheckAccept(key, []byte("s3pPLMBiTxaQ9kYGzzhZRbK+xOp=")))
	assert.False(t, CheckAccept(key, []byte("short")))
	// An over-long key still gives a defined answer and no panic.
	assert.Len(t, AppendAccept(nil, make([]byte, 100)), 28)
}

func TestGenerateKey(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 32 {
		k := GenerateKey()
		require.Len(t, k, KeySize)
		assert.True(t, validKey([]byte(k)))
		raw, err := base64.StdEncoding.DecodeString(k)
		require.NoError(t, err)
		assert.Len(t, raw, 16)
		seen[k] = true
	}
	assert.Len(t, seen, 32)
}

func TestValidKey(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		"dGhlIHNhbXBsZSBub25jZQ==":  true,
		"dGhlIHNhbXBsZSBub25jZQ=":   false,
		"dGhlIHNhbXBsZSBub25jZQ===": false,
		"dGhlIHNhbXBsZSBub25jZ!==":  false,
		"AAAAAAAAAAAAAAAAAAAAAAAA":  false, // 18 bytes, not 16
		"":                          false,
	}
	for k, want := range cases {
		assert.Equal(t, want, validKey([]byte(k)), k)
	}
}

func TestHasToken(t *testing.T) {
	t.Parallel()
	cases := []struct {
		v, tok string
		want   bool
	}{
		{"Upgrade", "upgrade", true},
		{"keep-alive, Upgrade", "upgrade", true},
		{"keep-alive,upgrade", "upgrade", true},
		{"keep-alive", "upgrade", false},
		{"upgraded", "upgrade", false},
		{"websocket", "websocket", true},
		{"WebSocket", "websocket", true},
		{"h2c, websocket", "websocket", true},
		{"", "upgrade", false},
		// RFC 9110 §5.6.1: OWS = *( SP / HTAB ), which httphead's lexer
		// alone refuses.
		{"keep-alive,\tUpgrade", "upgrade", true},
		{"\tkeep-alive\t,\t upgrade\t", "upgrade", true},
		{"keep-alive,\tclose", "upgrade", false},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, hasToken([]byte(tc.v), tc.tok), "%q", tc.v)
	}
}
