//go:build amd64 && !purego && !noasm

package wsutil

import "golang.org/x/sys/cpu"

// useSIMD is checked once: x/sys/cpu also confirms that the OS saves the YMM
// registers.
var useSIMD = cpu.X86.HasAVX2

// simdMin is the shortest input validAVX2 takes. Below it, the automaton is
// about as fast as loading the vector constants.
const simdMin = 16

// simdASCII is the length from which ValidUTF8 and Write hand their input to
// validAVX2 at once (see goASCII). Below it, skipping an ASCII prefix in Go
// first is faster than entering the vector code; from it on, validAVX2 skips
// ASCII faster itself.
const simdASCII = 96

// validSIMD reports whether p, of at least simdMin bytes, is valid UTF-8.
func validSIMD(p []byte) bool { return validAVX2(&p[0], len(p)) }

// validAVX2 reports whether the n bytes at p (n >= simdMin) are valid UTF-8,
// 32 bytes at a time. It classifies every byte together with the one before it
// by three table look-ups (see utf8Vec), and checks apart that the third and
// fourth bytes of long sequences are continuation bytes: the method of
// Keiser and Lemire, "Validating UTF-8 In Less Than One Instruction Per
// Byte" (2021). An ASCII block needs only a check that no sequence was left
// open before it, and a run of them is skipped four blocks at a time. A last
// partial block is checked as the 32 bytes that end the input, so nothing is
// read outside p[:n].
//
//go:noescape
func validAVX2(p *byte, n int) bool

// Error classes of a byte pair (previous byte, current byte). A pair belongs
// to a class when the previous byte's high nibble, its low nibble and the
// current byte's high nibble are each in the class's set, so the class of a
// pair is the AND of three 16-entry look-ups. Every invalid sequence of
// Table 3-7 shows up as one of these classes, except a missing or surplus
// third or fourth byte: twoConts marks a continuation after a continuation,
// which is right exactly where the byte two or three back starts a 3- or
// 4-byte sequence, and the code checks that with a comparison instead.
const (
	tooShort  = 1 << 0 // lead byte, then not a continuation byte
	tooLong   = 1 << 1 // ASCII, then a continuation byte
	overlong3 = 1 << 2 // E0 80..9F
	tooLarge  = 1 << 3 // F4 90..BF, F5..FF 90..BF
	surrogate = 1 << 4 // ED A0..BF
	overlong2 = 1 << 5 // C0 or C1, then a continuation byte
	overlong4 = 1 << 6 // F0 80..8F, and F5..FF 80..8F (above U+10FFFF)
	twoConts  = 1 << 7 // continuation, then continuation
)

// utf8Vec holds the constants of validAVX2, 32 bytes each: the nibble mask,
// the three class tables (repeated in both 16-byte lanes, as VPSHUFB looks up
// per lane), the bias for "byte two back is E0 or more" and "byte three back
// is F0 or more", the limits for a sequence left open at the end of a block,
// and the 0x80 mask.
var utf8Vec = buildUTF8Vec()

func buildUTF8Vec() (v [8][32]byte) {
	var prevHi, prevLo, curHi [16]byte
	// class adds c to the pairs whose previous byte has its high nibble in
	// h0..h1 and its low nibble in l0..l1, and whose current byte has its
	// high nibble in c0..c1. Two calls for one class must differ in one
	// range only, or the tables would also take in the pairs that mix them.
	class := func(c byte, h0, h1, l0, l1, c0, c1 int) {
		for i := h0; i <= h1; i++ {
			prevHi[i] |= c
		}
		for i := l0; i <= l1; i++ {
			prevLo[i] |= c
		}
		for i := c0; i <= c1; i++ {
			curHi[i] |= c
		}
	}
	class(tooShort, 0xC, 0xF, 0x0, 0xF, 0x0, 0x7)
	class(tooShort, 0xC, 0xF, 0x0, 0xF, 0xC, 0xF)
	class(tooLong, 0x0, 0x7, 0x0, 0xF, 0x8, 0xB)
	class(overlong3, 0xE, 0xE, 0x0, 0x0, 0x8, 0x9)
	class(tooLarge, 0xF, 0xF, 0x4, 0xF, 0x9, 0xB)
	class(surrogate, 0xE, 0xE, 0xD, 0xD, 0xA, 0xB)
	class(overlong2, 0xC, 0xC, 0x0, 0x1, 0x8, 0xB)
	class(overlong4, 0xF, 0xF, 0x0, 0x0, 0x8, 0x8)
	class(overlong4, 0xF, 0xF, 0x5, 0xF, 0x8, 0x8)
	class(twoConts, 0x8, 0xB, 0x0, 0xF, 0x8, 0xB)
	for i := range 32 {
		v[0][i] = 0x0F
		v[1][i] = prevHi[i&15]
		v[2][i] = prevLo[i&15]
		v[3][i] = curHi[i&15]
		v[4][i] = 0xE0 - 0x80
		v[5][i] = 0xF0 - 0x80
		v[6][i] = 0xFF
		v[7][i] = 0x80
	}
	v[6][29], v[6][30], v[6][31] = 0xF0-1, 0xE0-1, 0xC0-1
	return v
}
