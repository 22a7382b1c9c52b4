package bufpool

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClassSize(t *testing.T) {
	t.Parallel()
	cases := []struct{ n, want int }{
		{0, 256}, {1, 256}, {256, 256}, {257, 512}, {4096, 4096}, {4097, 8192},
		{64 << 10, 64 << 10}, {MaxPooled, MaxPooled}, {MaxPooled + 1, MaxPooled + 1},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, ClassSize(tc.n), "ClassSize(%d)", tc.n)
	}
}

func TestGetPut(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 300, 4096, 70000, MaxPooled, MaxPooled + 10} {
		b := Get(n)
		require.Len(t, b.B, n)
		assert.Equal(t, ClassSize(n), cap(b.B))
		b.Release()
	}
	// A buffer grown past its class is not pooled: Put must not panic
	// and a later Get must still get a class-sized buffer.
	b := Get(10)
	b.B = append(b.B, make([]byte, 1000)...)
	b.Release()
	assert.Equal(t, 256, cap(Get(10).B))
}

func TestRefCount(t *testing.T) {
	t.Parallel()
	b := Get(100)
	assert.False(t, b.Shared())
	b.Retain()
	assert.True(t, b.Shared())
	b.Release()
	assert.False(t, b.Shared())
	assert.Len(t, b.B, 100, "one holder left: the buffer is still in use")
	b.Release()
	assert.Panics(t, b.Release, "a third release of a buffer held twice")
}
