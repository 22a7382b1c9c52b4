//go:build !race

package wsutil_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/sluice-ws/sluice/wsutil"
)

// TestUTF8ZeroAllocs proves that validation allocates nothing, whole or
// streamed, on every path: ASCII, short and long multi-byte text, and
// sequences split across writes.
func TestUTF8ZeroAllocs(t *testing.T) {
	for _, in := range utf8Inputs {
		t.Run(in.name, func(t *testing.T) {
			assert.Zero(t, testing.AllocsPerRun(100, func() {
				utf8Sink = wsutil.ValidUTF8(in.p)
			}), "ValidUTF8")
			assert.Zero(t, testing.AllocsPerRun(100, func() {
				utf8Sink = wsutil.ValidUTF8Go(in.p)
			}), "portable")
			var v wsutil.UTF8Validator
			assert.Zero(t, testing.AllocsPerRun(100, func() {
				v.Reset()
				for p := in.p; len(p) > 0; {
					n := min(7, len(p))
					utf8Sink = v.Write(p[:n])
					p = p[n:]
				}
				utf8Sink = v.Valid()
			}), "Write in 7-byte chunks")
			assert.Zero(t, testing.AllocsPerRun(100, func() {
				v.Reset()
				utf8Sink = v.Write(in.p) && v.Valid()
			}), "Write")
		})
	}
}
