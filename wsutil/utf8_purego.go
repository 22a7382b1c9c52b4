//go:build purego || noasm || !amd64

package wsutil

// This build has no vector code: validFrom always runs the automaton.
const (
	useSIMD = false
	simdMin = 0
)

// validSIMD is never called when useSIMD is false.
func validSIMD(p []byte) bool { return validGo(p) }
