//go:build purego || noasm || !amd64

package wsutil

// This build has no vector code: ValidUTF8 and Write skip ASCII in Go and
// run the automaton over the rest.
const (
	useSIMD   = false
	simdMin   = 0
	simdASCII = 0
)

// validSIMD is never called when useSIMD is false.
func validSIMD(p []byte) bool { return validGo(p) }
