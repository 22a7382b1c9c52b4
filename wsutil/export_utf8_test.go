package wsutil

// Internals of utf8.go for the external tests.
var (
	// ValidUTF8Go is the portable implementation, which ValidUTF8 uses where
	// there is no vector code, and for short inputs.
	ValidUTF8Go = validGo
	// ValidUTF8SIMD is the vector implementation, or nil when the build or
	// the CPU has none. It pads inputs shorter than it takes with ASCII.
	ValidUTF8SIMD func([]byte) bool
)

func init() {
	if !useSIMD {
		return
	}
	ValidUTF8SIMD = func(p []byte) bool {
		if len(p) < simdMin {
			q := make([]byte, simdMin)
			copy(q, p)
			p = q
		}
		return validSIMD(p)
	}
}
