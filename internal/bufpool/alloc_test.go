//go:build !race

// The race detector makes sync.Pool drop some of what it is given, so the
// allocation count is only meaningful without it.

package bufpool

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestGetAllocationFree(t *testing.T) {
	b := Get(1000)
	b.Release()
	allocs := testing.AllocsPerRun(100, func() {
		Get(1000).Release()
	})
	assert.Zero(t, allocs)
}
