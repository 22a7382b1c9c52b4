package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestByteSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want byteSize
		str  string
	}{
		{"0", 0, "0"},
		{"1000", 1000, "1000"},
		{"512B", 512, "512"},
		{"1024", 1 << 10, "1KiB"},
		{"64K", 64 << 10, "64KiB"},
		{"64KiB", 64 << 10, "64KiB"},
		{"16M", 16 << 20, "16MiB"},
		{" 64MiB ", 64 << 20, "64MiB"},
		{"1536KiB", 1536 << 10, "1536KiB"},
		{"2G", 2 << 30, "2GiB"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			var s byteSize
			require.NoError(t, s.Set(tc.in))
			assert.Equal(t, tc.want, s)
			assert.Equal(t, tc.str, s.String())
		})
	}
}

func TestByteSizeInvalid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "-1", "12X", "MiB", "1.5M", "64GB", "99999999999G"} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			var s byteSize
			assert.Error(t, s.Set(in))
		})
	}
}

func TestHeaderList(t *testing.T) {
	t.Parallel()
	var l headerList
	require.NoError(t, l.Set("X-Token: abc"))
	require.NoError(t, l.Set("x-token:  def "))
	require.NoError(t, l.Set("Authorization: Bearer a:b"))
	assert.Equal(t, []string{"abc", "def"}, l.h.Values("X-Token"))
	assert.Equal(t, "Bearer a:b", l.h.Get("Authorization"))
	for _, bad := range []string{"no colon", ": value", "Bad Name: x"} {
		assert.Error(t, l.Set(bad), bad)
	}
}
