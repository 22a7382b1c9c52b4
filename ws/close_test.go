package ws

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCloseBody(t *testing.T) {
	t.Parallel()
	body := func(code StatusCode, reason string) []byte { return AppendCloseBody(nil, code, reason) }
	cases := []struct {
		name   string
		p      []byte
		code   StatusCode
		reason string
		err    error
	}{
		{"empty", nil, StatusNoStatusRcvd, "", nil},
		{"one byte", []byte{0x03}, 0, "", ErrCloseBodyShort},
		{"normal", body(1000, ""), 1000, "", nil},
		{"with reason", body(1001, "going"), 1001, "going", nil},
		{"utf8 reason", body(4000, "κόσμε"), 4000, "κόσμε", nil},
		{"code 0", []byte{0, 0}, 0, "", ErrCloseCodeInvalid},
		{"code 999", body(999, ""), 999, "", ErrCloseCodeInvalid},
		{"code 1004", body(1004, ""), 1004, "", ErrCloseCodeInvalid},
		{"code 1005", body(1005, ""), 1005, "", ErrCloseCodeInvalid},
		{"code 1006", body(1006, ""), 1006, "", ErrCloseCodeInvalid},
		{"code 1015", body(1015, ""), 1015, "", ErrCloseCodeInvalid},
		{"code 1016", body(1016, ""), 1016, "", ErrCloseCodeInvalid},
		{"code 2999", body(2999, ""), 2999, "", ErrCloseCodeInvalid},
		{"code 3000", body(3000, ""), 3000, "", nil},
		{"code 4999", body(4999, ""), 4999, "", nil},
		{"code 5000", body(5000, ""), 5000, "", ErrCloseCodeInvalid},
		{"code 65535", []byte{0xff, 0xff}, 65535, "", ErrCloseCodeInvalid},
		{"invalid utf8", append(body(1000, ""), 0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80, 0x65, 0x64, 0x69, 0x74, 0x65, 0x64), 1000, "", ErrCloseReasonUTF8},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, reason, err := ParseCloseBody(tc.p)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				var pe *ProtocolError
				require.ErrorAs(t, err, &pe)
				want := StatusProtocolError
				if tc.err == ErrCloseReasonUTF8 {
					want = StatusInvalidFramePayloadData
				}
				assert.Equal(t, want, pe.Code)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.code, code)
			assert.Equal(t, tc.reason, string(reason))
		})
	}
}

func TestAppendCloseBodyTruncation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		reason string
		want   int
	}{
		{"fits", strings.Repeat("a", 123), 123},
		{"ascii over", strings.Repeat("a", 200), 123},
		{"two-byte runes", strings.Repeat("é", 70), 122},
		{"three-byte runes", strings.Repeat("€", 50), 123},
		{"four-byte runes", strings.Repeat("😀", 40), 120},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := AppendCloseBody(nil, StatusNormalClosure, tc.reason)
			_, reason, err := ParseCloseBody(b)
			require.NoError(t, err)
			assert.Len(t, reason, tc.want)
			assert.True(t, strings.HasPrefix(tc.reason, string(reason)))
		})
	}
}

func TestCloseErrorAndStatus(t *testing.T) {
	t.Parallel()
	err := error(CloseError{Code: StatusGoingAway, Reason: "restart"})
	assert.Equal(t, StatusGoingAway, CloseStatus(err))
	wrapped := wrapErr(err)
	assert.Equal(t, StatusGoingAway, CloseStatus(wrapped))
	var ce CloseError
	require.ErrorAs(t, wrapped, &ce)
	assert.Equal(t, "restart", ce.Reason)
	assert.Equal(t, StatusCode(0), CloseStatus(ErrCloseBodyShort))
	assert.Contains(t, err.Error(), "1001")
}

type wrapped struct{ err error }

func (w wrapped) Error() string { return "wrapped: " + w.err.Error() }
func (w wrapped) Unwrap() error { return w.err }

func wrapErr(err error) error { return wrapped{err} }

func TestCloseErrorMessage(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "ws: closed by peer: 1001 going away: restart",
		CloseError{Code: StatusGoingAway, Reason: "restart"}.Error())
	assert.Equal(t, "ws: closed by peer: 4000: bye", CloseError{Code: 4000, Reason: "bye"}.Error())
	assert.Equal(t, "ws: closed by peer: 3001", CloseError{Code: 3001}.Error())
}
