package ws

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSameOrigin(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, origin, host string
		ok                 bool
	}{
		{"same host", "http://example.com", "example.com", true},
		{"https", "https://example.com", "example.com", true},
		{"case", "HTTPS://Example.COM", "EXAMPLE.com", true},
		{"explicit port", "http://example.com:8080", "example.com:8080", true},
		{"default port in origin", "http://example.com:80", "example.com", true},
		{"default port in host", "https://example.com", "example.com:443", true},
		{"ws scheme", "ws://example.com", "example.com:80", true},
		{"wss scheme", "wss://example.com:443", "example.com", true},
		{"IPv4", "http://127.0.0.1:9000", "127.0.0.1:9000", true},
		{"IPv6", "http://[::1]:9000", "[::1]:9000", true},
		{"IPv6 default port", "https://[::1]", "[::1]:443", true},
		{"trailing slash tolerated", "http://example.com/", "example.com", true},
		{"empty port", "http://example.com:", "example.com", true},
		{"other host", "http://evil.com", "example.com", false},
		{"subdomain", "http://a.example.com", "example.com", false},
		{"suffix trick", "http://example.com.evil.com", "example.com", false},
		{"other port", "http://example.com:8080", "example.com:8081", false},
		{"port only on one side", "http://example.com:8080", "example.com", false},
		{"wrong default port", "http://example.com:443", "example.com", false},
		{"unknown scheme, no ports", "chrome-extension://abc", "abc", true},
		{"unknown scheme, one port", "foo://example.com", "example.com:80", false},
		{"null", "null", "example.com", false},
		{"empty", "", "example.com", false},
		{"no scheme", "example.com", "example.com", false},
		{"empty scheme", "://example.com", "example.com", false},
		{"empty host", "http://", "", false},
		{"userinfo", "http://example.com@evil.com", "example.com", false},
		{"userinfo matching host", "http://user@example.com", "user@example.com", false},
		{"port not a number", "http://example.com:80a", "example.com", false},
		{"port too large", "http://example.com:65536", "example.com:65536", false},
		{"port too long", "http://example.com:000080", "example.com", false},
		{"unclosed IPv6", "http://[::1", "[::1", false},
		{"junk after IPv6", "http://[::1]x", "[::1]", false},
		{"empty Host", "http://example.com", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := SameOrigin([]byte(tc.origin), []byte(tc.host))
			if tc.ok {
				assert.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrHandshakeOrigin)
			}
		})
	}
}

func TestAnyOrigin(t *testing.T) {
	t.Parallel()
	for _, origin := range []string{"null", "", "http://evil.com", "garbage"} {
		assert.NoError(t, AnyOrigin([]byte(origin), []byte("example.com")), origin)
	}
}

func TestAllowOrigins(t *testing.T) {
	t.Parallel()
	check := AllowOrigins("*.Example.com", "localhost:*", "https://*.trusted.org", "exact.net")
	cases := []struct {
		name, origin, host string
		ok                 bool
	}{
		{"same origin", "http://api.local", "api.local", true},
		{"subdomain pattern", "https://app.example.com", "api.other.net", true},
		{"pattern case", "https://APP.EXAMPLE.COM", "api.other.net", true},
		{"pattern without port", "https://app.example.com:8443", "api.other.net", false},
		{"apex not matched by *.", "https://example.com", "api.other.net", false},
		{"deeper subdomain", "https://a.b.example.com", "api.other.net", true},
		{"port pattern", "http://localhost:3000", "api.other.net", true},
		{"port pattern needs a port", "http://localhost", "api.other.net", false},
		{"scheme pattern", "https://x.trusted.org", "api.other.net", true},
		{"scheme pattern, other scheme", "http://x.trusted.org", "api.other.net", false},
		{"exact", "http://exact.net", "api.other.net", true},
		{"exact, other host", "http://exact.net.evil.com", "api.other.net", false},
		{"unlisted", "https://evil.com", "api.other.net", false},
		{"null", "null", "api.other.net", false},
		{"userinfo", "https://app.example.com@evil.com", "api.other.net", false},
		{"malformed", "not an origin", "api.other.net", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := check([]byte(tc.origin), []byte(tc.host))
			if tc.ok {
				assert.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrHandshakeOrigin)
			}
		})
	}
}

func TestAllowOriginsNoPatterns(t *testing.T) {
	t.Parallel()
	check := AllowOrigins()
	assert.NoError(t, check([]byte("http://example.com"), []byte("example.com")))
	require.ErrorIs(t, check([]byte("http://evil.com"), []byte("example.com")), ErrHandshakeOrigin)
}

func TestAllowOriginsBadPattern(t *testing.T) {
	t.Parallel()
	assert.PanicsWithValue(t, `ws: AllowOrigins: malformed pattern "[a-"`, func() { AllowOrigins("ok.com", "[a-") })
}
